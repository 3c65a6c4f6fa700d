"""Features from past flights only: the aircraft's previous leg (streamed) and trailing on-time
history of the route and the carrier (nightly batch)."""

from datetime import timedelta

from entities import aircraft, carrier, dest, origin
from feast import FeatureView, Field
from feast.types import Float32, UnixTimestamp
from sources import carrier_rates_source, outcomes_source, route_rates_source

# The latest landing of the aircraft before the scheduled departure. Stamped when it was known,
# so a leg still in the air at the scheduled departure never joins. It does not expire: its age
# is a feature (hours_since_previous), and online reads, which Feast does not expire, agree.
previous_leg = FeatureView(
    name="previous_leg",
    entities=[aircraft],
    ttl=timedelta(0),
    schema=[Field(name="previous_arr_delay", dtype=Float32), Field(name="previous_known_at", dtype=UnixTimestamp)],
    source=outcomes_source,
    online=True,
)

# Rows are stamped at midnight UTC and hold the 28 days before it; a day's row serves that day.
route_history = FeatureView(
    name="route_history",
    entities=[origin, dest],
    ttl=timedelta(days=1),
    schema=[Field(name="route_late_rate", dtype=Float32), Field(name="route_events", dtype=Float32)],
    source=route_rates_source,
    online=True,
)

carrier_history = FeatureView(
    name="carrier_history",
    entities=[carrier],
    ttl=timedelta(days=1),
    schema=[Field(name="carrier_late_rate", dtype=Float32), Field(name="carrier_events", dtype=Float32)],
    source=carrier_rates_source,
    online=True,
)
