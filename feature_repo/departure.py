"""Request-time features of the scheduled departure: local hour, weekday and month, and hours
since the aircraft's previous leg reached the gate. Computed by the model contract (loopline.model_io),
offline and online, with the config that LOOPLINE_CONFIG names (default: the packaged flights)."""

from typing import Any

from feast import Field, RequestSource
from feast.on_demand_feature_view import on_demand_feature_view
from feast.types import Float64, Int64, UnixTimestamp
from history import previous_leg

scheduled_departure = RequestSource(
    name="scheduled_departure",
    # source.timestamp and source.minute of the flights config
    schema=[Field(name="time_hour", dtype=UnixTimestamp), Field(name="minute", dtype=Int64)],
    description="The scheduled departure: its hour (UTC) and minute, given with each request.",
)


@on_demand_feature_view(
    sources=[scheduled_departure, previous_leg],
    schema=[
        Field(name="hour", dtype=Int64),
        Field(name="weekday", dtype=Int64),
        Field(name="month", dtype=Int64),
        Field(name="hours_since_previous", dtype=Float64),
    ],
    mode="python",  # columns as lists: no DataFrame per request
)
def departure(inputs: dict[str, Any]) -> dict[str, Any]:
    # Feast runs this body on its own (rebuilt from its source): everything it needs is imported here.
    import os

    from loopline.config import DEFAULT_CONFIG, load_config
    from loopline.model_io import request_features

    return request_features(inputs, load_config(os.environ.get("LOOPLINE_CONFIG", DEFAULT_CONFIG)))
