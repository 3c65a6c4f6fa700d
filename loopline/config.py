"""The one configuration of a use case: schema, label, entity keys, timestamp, features, gates.

A configuration is a YAML file validated on load: an unknown or misspelt key is an error that
names it. `load_config("flights")` reads the packaged `configs/flights.yaml`; any other value is
a path (local or gs://) to a YAML file of the same shape.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from loopline import storage
from loopline.errors import ConfigError

ColumnKind = Literal["string", "int", "float", "timestamp"]
TimeFeature = Literal["hour", "weekday", "month"]
ENVIRONMENT = "LOOPLINE_CONFIG"  # names the config for code that gets nothing else (the on-demand view)
PREVIOUS_AT = "previous_known_at"
HOURS_SINCE_PREVIOUS = "hours_since_previous"
LIVE_COLUMNS = ("recent_departures", "recent_mean_delay")
SCHEDULED = "scheduled_departures"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Lookup(_Strict):
    """A context table joined to each event on its keys (weather by origin and hour, say)."""

    table: str
    keys: list[str] = Field(min_length=1)
    columns: dict[str, ColumnKind] = Field(min_length=1)
    prefix: str = ""
    known_after_minutes: int = Field(default=0, ge=0)  # a row stamped T is known at T + this

    def output_name(self, column: str) -> str:
        return f"{self.prefix}{column}"


class Source(_Strict):
    """The event table: its required columns and the column that stamps each event; `minute`
    names a column of minutes after that stamp when events happen within its hour."""

    table: str
    timestamp: str
    minute: str | None = None
    timezone: str = "UTC"
    columns: dict[str, ColumnKind] = Field(min_length=1)
    lookups: list[Lookup] = []

    @model_validator(mode="after")
    def _timestamp_is_a_column(self) -> Source:
        if self.columns.get(self.timestamp) != "timestamp":
            raise ValueError(f"timestamp '{self.timestamp}' must be a column of kind timestamp")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"timezone '{self.timezone}' is not an IANA time zone") from None
        return self


class Label(_Strict):
    """A binary label: `column >= threshold`; rows where the column is missing count as `missing`."""

    column: str
    threshold: float
    name: str
    missing: Literal["positive", "negative", "drop"]


class Split(_Strict):
    eval_days: int = Field(gt=0)


class Attributes(_Strict):
    """Event columns that are constant per `keys` (a route's distance): the feature store serves
    them by key, so that a request need not carry them."""

    keys: list[str] = Field(min_length=1)
    columns: list[str] = Field(min_length=1)


class Features(_Strict):
    """The model's inputs, read through one Feast feature service for training and serving alike.
    `attributes` names tables of event columns served by key."""

    service: str
    attributes: dict[str, Attributes] = {}
    categorical: list[str] = []
    numeric: list[str] = []
    time: list[TimeFeature] = []


class Zones(_Strict):
    """Where a place's time zone comes from: a table of the source (`key` -> IANA `column`), and
    `extra` zones for places the table lacks."""

    table: str
    key: str
    column: str
    extra: dict[str, str] = {}


class Arrival(_Strict):
    """When an event's outcome becomes known: the `scheduled` local time (HHMM) at the place in
    the `place` column, after the event, plus `delay` minutes. No delay: it never becomes known."""

    scheduled: str
    place: str
    delay: str
    zones: Zones


class Live(_Strict):
    """A place's live state, streamed as events happen: per `key`, the events that happened
    (event time + `delay` minutes; no delay: it never happened) in the last `window_minutes`,
    their count and mean delay; and how many events are scheduled there in each hour."""

    key: str
    delay: str
    window_minutes: int = Field(default=120, gt=0)


class History(_Strict):
    """Features from past events, each as of the moment it became known.

    An event's outcome (the label column's value) becomes known at its `arrival`. `previous`
    names an entity key: each event sees the latest outcome of the same entity known before it
    (streamed through Feast as the outcomes happen). `trailing` names groups of keys: each event
    sees its group's label rate over the `trailing_days` before its day. `live` streams a place's
    recent events.
    """

    arrival: Arrival | None = None
    previous: str | None = None
    trailing_days: int = Field(default=28, gt=0)
    trailing: dict[str, list[str]] = {}
    live: Live | None = None

    @model_validator(mode="after")
    def _outcomes_need_an_arrival(self) -> History:
        if (self.previous or self.trailing) and not self.arrival:
            raise ValueError("previous and trailing need `arrival`: when an outcome becomes known")
        return self


class Validation(_Strict):
    """TFDV gates: the curated schema and per-feature train/eval drift thresholds."""

    schema_file: str
    drift: dict[str, float] = {}


class Thresholds(_Strict):
    """Blessing gates on the overall slice; a contender must pass every one that is set."""

    auc_min: float | None = Field(default=None, ge=0, le=1)
    auc_max_drop: float | None = Field(default=None, ge=0, le=1)


class Evaluation(_Strict):
    slices: list[list[str]] = []
    thresholds: Thresholds | None = None


class Serving(_Strict):
    """What a prediction request carries besides the event's keys: one timestamp field, in ISO
    8601 (without an offset it is local time in `source.timezone`); the probability at which
    the answer's label turns positive; how far the store may lag a departure."""

    time_field: str = "time"
    threshold: float = Field(default=0.5, gt=0, lt=1)
    # An answer says `stale` when the online store is loaded only up to more than this before
    # the departure, `ahead` when it holds values from after the departure.
    stale_after_hours: float = Field(default=2.0, gt=0)


class Judge(_Strict):
    """How a canary is judged against production on live outcomes (loopline.monitoring.judge):
    promoted when the one-sided `confidence` lower bound of its AUC minus production's is above
    -`margin`, rolled back when the upper bound is below it, else judged again, for at most
    `max_wait_days`, then rolled back. Nothing is decided below `min_outcomes` labelled flights
    in each arm. Operations count too: a canary whose error rate exceeds production's by more
    than `error_margin` is rolled back, and one whose p99 model latency is more than
    `latency_ratio` times production's is never promoted."""

    min_outcomes: int = Field(default=3000, gt=0)
    margin: float = Field(default=0.01, ge=0, lt=0.5)
    confidence: float = Field(default=0.95, gt=0.5, lt=1)
    max_wait_days: float = Field(default=7.0, gt=0)
    error_margin: float = Field(default=0.001, ge=0, lt=1)
    latency_ratio: float = Field(default=1.5, ge=1)


class Policy(_Strict):
    """When the monitor starts a retraining (loopline.monitoring.policy): the production model's
    served inputs drifted (a share of drifted columns over `drift_share`) in `drift_windows`
    consecutive monitored windows; its live AUC fell `auc_margin` below its own evaluation AUC,
    on at least `min_outcomes` labelled flights; or its training data ended more than
    `max_age_days` ago. At most one retraining is open per model, none starts within
    `cooldown_days` of the last, and a claim older than `claim_expires_hours` (a run that died)
    is taken over. A retraining trains on the `training_days` that end `label_delay_days`
    before the clock's day."""

    drift_share: float = Field(default=0.5, gt=0, le=1)
    drift_windows: int = Field(default=3, gt=0)
    auc_margin: float = Field(default=0.03, ge=0, lt=0.5)
    min_outcomes: int = Field(default=1000, gt=0)
    max_age_days: float = Field(default=30.0, gt=0)
    cooldown_days: float = Field(default=2.0, ge=0)
    claim_expires_hours: float = Field(default=12.0, gt=0)
    training_days: int = Field(default=90, gt=0)
    # The window ends this many days before the clock's day, so that its flights' outcomes are
    # in: a flight not at the gate a day after its scheduled arrival is late by any threshold.
    label_delay_days: int = Field(default=1, ge=0)


class Replay(_Strict):
    """How `loopline replay` plays the source's events against the server on its own clock:
    steps of `step_minutes`; an outcome without an arrival (cancelled, diverted) is posted
    `unarrived_hours` after its scheduled arrival; the monitoring pipeline runs every
    `monitor_hours` on the departures of the period before."""

    step_minutes: int = Field(default=60, gt=0)
    unarrived_hours: float = Field(default=3.0, ge=0)
    monitor_hours: int = Field(default=24, gt=0)
    batch: int = Field(default=100, gt=0)  # flights per V1 request


class Drift(_Strict):
    """How served model inputs are compared with a version's reference sample: Evidently's
    statistical tests by column kind (p-value under `threshold`: drifted), which account for a
    small window, unlike its distance defaults for a large reference; `ignore` names the columns
    whose drift a window always shows by construction (a day holds one weekday of one month, one
    day's weather, one night's trailing rates)."""

    num_method: str = "ks"
    cat_method: str = "chisquare"
    threshold: float = Field(default=0.05, gt=0, lt=1)
    ignore: list[str] = []


class Monitoring(_Strict):
    # A monitored window's quality (AUC, log loss) is measured on the labelled departures of the
    # last `quality_days` up to its end (the whole window, if longer): a day holds too few
    # outcomes for an AUC that decides anything (a 10% sample of New York: about 100). Two weeks
    # hold each weekday twice.
    quality_days: float = Field(default=14.0, gt=0)
    drift: Drift = Drift()
    judge: Judge = Judge()
    policy: Policy = Policy()
    replay: Replay = Replay()


class Config(_Strict):
    name: str
    source: Source
    label: Label
    entity_keys: list[str] = Field(min_length=1)
    split: Split
    features: Features
    history: History = History()
    validation: Validation
    evaluation: Evaluation
    serving: Serving = Serving()
    monitoring: Monitoring = Monitoring()

    @property
    def raw_columns(self) -> dict[str, ColumnKind]:
        """Every column ingest delivers: the event table's plus the looked-up ones."""
        columns = dict(self.source.columns)
        for lookup in self.source.lookups:
            columns.update({lookup.output_name(c): k for c, k in lookup.columns.items()})
        return columns

    @property
    def previous_column(self) -> str:
        """The streamed feature: the previous event's outcome (its label column)."""
        return f"previous_{self.label.column}"

    def trailing_columns(self, group: str) -> tuple[str, str]:
        """A trailing group's features: its label rate and its event count."""
        return f"{group}_{self.label.name}_rate", f"{group}_events"

    @property
    def history_columns(self) -> dict[str, ColumnKind]:
        """Columns the feature store derives from past outcomes, the request-time ones included."""
        columns: dict[str, ColumnKind] = {}
        if self.history.previous:
            columns |= {self.previous_column: "float", PREVIOUS_AT: "timestamp", HOURS_SINCE_PREVIOUS: "float"}
        for group in self.history.trailing:
            columns |= dict.fromkeys(self.trailing_columns(group), "float")
        if self.history.live:
            columns |= dict.fromkeys([*LIVE_COLUMNS, SCHEDULED], "float")
        return columns

    @property
    def request_fields(self) -> dict[str, ColumnKind]:
        """The event columns a prediction request carries (besides its time): every key and
        categorical feature of the event table that the feature store does not serve."""
        wanted = {*self.entity_keys, *self.features.categorical, *(k for lu in self.source.lookups for k in lu.keys)}
        wanted |= {k for spec in self.features.attributes.values() for k in spec.keys}
        wanted |= {self.history.previous} if self.history.previous else set()
        skip = {self.source.timestamp, self.source.minute, *self.served_attributes}
        return {c: kind for c, kind in self.source.columns.items() if c in wanted and c not in skip}

    @property
    def served_attributes(self) -> list[str]:
        """Event columns the feature store serves by key (features.attributes)."""
        return [c for spec in self.features.attributes.values() for c in spec.columns]

    @property
    def feature_names(self) -> list[str]:
        return [*self.features.categorical, *self.features.numeric, *self.features.time]

    @model_validator(mode="after")
    def _names_resolve(self) -> Config:
        known = self.raw_columns | self.history_columns
        checks = [
            ("label.column", [self.label.column]),
            ("entity_keys", self.entity_keys),
            ("features.categorical", self.features.categorical),
            ("features.numeric", self.features.numeric),
            ("validation.drift", list(self.validation.drift)),
        ]
        checks += [("evaluation.slices", s) for s in self.evaluation.slices]
        checks += [(f"source.lookups[{lu.table}].keys", lu.keys) for lu in self.source.lookups]
        if self.source.minute:
            checks += [("source.minute", [self.source.minute])]
        if self.history.arrival:
            arrival = self.history.arrival
            checks += [("history.arrival", [arrival.scheduled, arrival.place, arrival.delay])]
        if self.history.live:
            checks += [("history.live", [self.history.live.key, self.history.live.delay])]
        checks += [("history.previous", [self.history.previous])] if self.history.previous else []
        checks += [(f"history.trailing[{group}]", keys) for group, keys in self.history.trailing.items()]
        for table, spec in self.features.attributes.items():
            checks += [(f"features.attributes[{table}]", [*spec.keys, *spec.columns])]
        for field, names in checks:
            slice_names = set(self.features.time) if field == "evaluation.slices" else set()
            for name in names:
                if name not in known and name not in slice_names:
                    raise ValueError(f"{field}: '{name}' is not a column of the source or a lookup")
        if self.label.column in self.feature_names:
            raise ValueError(f"features: the label column '{self.label.column}' cannot be a feature")
        for name in self.monitoring.drift.ignore:
            if name not in self.feature_names:
                raise ValueError(f"monitoring.drift.ignore: '{name}' is not a model input")
        return self


DEFAULT_CONFIG = "flights"  # the packaged config every command and pipeline uses unless told otherwise


def load_config(name_or_path: str) -> Config:
    """Load and validate a configuration by packaged name or by path; errors name the key."""
    if name_or_path.endswith((".yaml", ".yml")):
        try:
            return _parse(storage.read_text(name_or_path), name_or_path)
        except FileNotFoundError:
            raise ConfigError(f"config file not found: {name_or_path}") from None
    return _packaged(name_or_path)


@contextmanager
def in_environment(config: Config) -> Iterator[str]:
    """While inside, LOOPLINE_CONFIG names `config` (saved as YAML), so that Feast's on-demand
    feature view computes request features with the same config as its caller."""
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder, f"{config.name}.yaml")
        path.write_text(yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False))
        saved = os.environ.get(ENVIRONMENT)
        os.environ[ENVIRONMENT] = str(path)
        try:
            yield str(path)
        finally:
            if saved is None:
                del os.environ[ENVIRONMENT]
            else:
                os.environ[ENVIRONMENT] = saved


@cache
def _packaged(name: str) -> Config:
    """A packaged configuration, loaded once per process (request-time features read it per call)."""
    packaged = resources.files("loopline") / "configs" / f"{name}.yaml"
    if not packaged.is_file():
        raise ConfigError(f"no packaged config named '{name}'")
    return _parse(packaged.read_text(), f"{name}.yaml")


@cache
def _parse(text: str, where: str) -> Config:
    """The validated config of a YAML text, parsed once per process (the on-demand feature view
    loads the run's config on every call)."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        raise ConfigError(f"{where}: not valid YAML: {error}") from None
    try:
        return Config.model_validate(data)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top level)'}: {e['msg']}" for e in error.errors()
        )
        raise ConfigError(f"{where}: {problems}") from None
