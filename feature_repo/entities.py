"""Entities: what the flight features are keyed by."""

from feast import Entity, ValueType

origin = Entity(
    name="origin",
    join_keys=["origin"],
    value_type=ValueType.STRING,
    description="Departure airport (EWR, JFK, LGA): weather is observed per airport and hour.",
)

aircraft = Entity(
    name="aircraft", join_keys=["tailnum"], value_type=ValueType.STRING, description="The aircraft by tail number."
)

dest = Entity(name="dest", join_keys=["dest"], value_type=ValueType.STRING, description="Arrival airport.")

carrier = Entity(name="carrier", join_keys=["carrier"], value_type=ValueType.STRING, description="The airline.")
