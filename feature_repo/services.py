"""The one feature service: training reads it offline, serving reads it online."""

from feast import FeatureService
from planes import plane
from weather import origin_weather

flight_delay = FeatureService(
    name="flight_delay",
    features=[origin_weather, plane],
    description="Context of a flight at its scheduled departure: origin weather and aircraft.",
)
