"""The one feature service: training reads it offline, serving reads it online."""

from departure import departure
from feast import FeatureService
from history import carrier_history, previous_leg, route_history
from live import origin_live, origin_schedule
from planes import plane
from routes import route
from weather import origin_weather

flight_delay = FeatureService(
    name="flight_delay",
    features=[
        origin_weather,
        plane,
        route,
        previous_leg,
        route_history,
        carrier_history,
        origin_live,
        origin_schedule,
        departure,
    ],
    description="A flight at its scheduled departure: origin weather, aircraft, route, its previous leg, "
    "route and carrier history, the origin's departures right now and scheduled, and the local time.",
)
