"""Aircraft attributes from the FAA registry: static, so they never expire."""

from datetime import timedelta

from entities import aircraft
from feast import FeatureView, Field
from feast.types import Float32, String
from sources import planes_source

plane = FeatureView(
    name="plane",
    entities=[aircraft],
    ttl=timedelta(0),  # no expiry
    schema=[
        Field(name="plane_year", dtype=Float32),
        Field(name="plane_type", dtype=String),
        Field(name="plane_manufacturer", dtype=String),
        Field(name="plane_engines", dtype=Float32),
        Field(name="plane_seats", dtype=Float32),
    ],
    source=planes_source,
    online=True,
)
