"""The departure airport right now: its departures of the last two hours (streamed as flights
leave) and the departures scheduled in the hour (published in advance)."""

from datetime import timedelta

from entities import origin
from feast import FeatureView, Field
from feast.types import Float32
from sources import departures_source, origin_schedule_source

# Pushed at every departure, whenever one leaves the two-hour window, and every hour, so the
# latest state is never older than an hour: a TTL of one hour then keeps the point-in-time join
# to recent states. (Without a TTL, Feast's DuckDB join pairs each flight with every earlier
# state of its airport: a view keyed this coarsely needs one.)
origin_live = FeatureView(
    name="origin_live",
    entities=[origin],
    ttl=timedelta(hours=1),
    schema=[Field(name="recent_departures", dtype=Float32), Field(name="recent_mean_delay", dtype=Float32)],
    source=departures_source,
    online=True,
)

# Stamped at the start of each hour: the schedule is known in advance.
origin_schedule = FeatureView(
    name="origin_schedule",
    entities=[origin],
    ttl=timedelta(hours=1),
    schema=[Field(name="scheduled_departures", dtype=Float32)],
    source=origin_schedule_source,
    online=True,
)
