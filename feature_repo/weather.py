"""Origin weather: the latest hourly observations of the departure airport known at departure
(an hour's row is stamped when its last report is in, HH:51)."""

from datetime import timedelta

from entities import origin
from feast import FeatureView, Field
from feast.types import Float32
from sources import weather_source

# An observation counts for the two hours after it: a flight whose hour is missing in the data
# gets the previous one; older than that it gets nothing rather than stale weather.
origin_weather = FeatureView(
    name="origin_weather",
    entities=[origin],
    ttl=timedelta(hours=2),
    schema=[
        Field(name=name, dtype=Float32)
        for name in ("temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust", "precip", "pressure", "visib")
    ],
    source=weather_source,
    online=True,
)
