"""Route attributes: what a request names by its route (origin, dest) rather than carries."""

from datetime import timedelta

from entities import dest, origin
from feast import FeatureView, Field
from feast.types import Float32
from sources import routes_source

route = FeatureView(
    name="route",
    entities=[origin, dest],
    ttl=timedelta(0),  # no expiry: a route's distance does not change
    schema=[Field(name="distance", dtype=Float32)],
    source=routes_source,
    online=True,
)
