"""Outcomes as they are parsed: when each became known, an arrival's or a report's own time."""

from datetime import UTC, datetime

import pytest

from loopline.config import load_config
from loopline.errors import BadRequest
from loopline.predictions.outcomes import parse_outcomes

CONFIG = load_config("flights")
FLIGHT = {"carrier": "UA", "flight": 1545, "origin": "EWR", "scheduled_departure": "2013-04-01T17:15:00-04:00"}


def test_an_arrival_is_known_at_the_gate_and_a_cancellation_when_reported():
    items = [
        FLIGHT | {"arr_delay": 12.0, "tailnum": "N14228", "arrived_at": "2013-04-01T20:10:00-05:00"},
        FLIGHT | {"flight": 7, "arr_delay": None, "reported_at": "2013-04-01T23:30:00-04:00"},
        FLIGHT | {"flight": 8, "arr_delay": None},
    ]
    arrived, cancelled, unsaid = parse_outcomes(items, CONFIG).records
    assert arrived["known_at"] == datetime(2013, 4, 2, 1, 10, tzinfo=UTC)
    assert cancelled["known_at"] == datetime(2013, 4, 2, 3, 30, tzinfo=UTC) and cancelled["value"] is None
    assert unsaid["known_at"] is None  # known when the store receives it
    assert len(parse_outcomes(items, CONFIG).arrivals) == 1  # a cancellation is no aircraft at a gate


@pytest.mark.parametrize(
    "change, named",
    [
        ({"arr_delay": 3.0, "reported_at": "2013-04-01T23:30:00-04:00"}, "reported_at is for a flight that never"),
        ({"arr_delay": None, "reported_at": "2013-04-01T23:30:00"}, "reported_at '2013-04-01T23:30:00' needs its"),
        ({"arr_delay": None, "reported_at": "late"}, "outcomes[0].reported_at 'late' is not an ISO 8601 time"),
    ],
)
def test_a_bad_report_time_is_named(change, named):
    with pytest.raises(BadRequest, match=named.replace("[", r"\[").replace("]", r"\]")):
        parse_outcomes([FLIGHT | change], CONFIG)
