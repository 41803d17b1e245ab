"""Cron expressions: syntax, aliases, the Vixie OR rule, firing times, DST and errors."""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest

from loopml.domain.cron import CronExpression, parse_cron
from loopml.errors import InvalidInput

_MINUTE = timedelta(minutes=1)
_FIELD_ATTRIBUTES = ("minutes", "hours", "days", "months", "weekdays")


def _utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, micro: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)


def _between(text: str, start: datetime, end: datetime, timezone: str = "UTC") -> list[datetime]:
    return list(parse_cron(text, timezone).times_between(start, end))


def _error(text: str, timezone: str = "UTC") -> str:
    with pytest.raises(InvalidInput) as caught:
        parse_cron(text, timezone)
    return str(caught.value)


# --- syntax ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("position", "raw", "expected"),
    [
        (0, "*", set(range(60))),
        (0, "7", {7}),
        (0, "007", {7}),
        (0, "1-3", {1, 2, 3}),
        (0, "*/15", {0, 15, 30, 45}),
        (0, "5-59/20", {5, 25, 45}),
        (0, "10/20", {10, 30, 50}),
        (0, "1,2,30-32", {1, 2, 30, 31, 32}),
        (0, "1-10/3,50", {1, 4, 7, 10, 50}),
        (0, "*/100", {0}),
        (0, "3,3,3", {3}),
        (1, "*/6", {0, 6, 12, 18}),
        (1, "9-17", set(range(9, 18))),
        (1, "23", {23}),
        (2, "1,15,31", {1, 15, 31}),
        (2, "*/10", {1, 11, 21, 31}),
        (3, "JAN", {1}),
        (3, "jan-Mar", {1, 2, 3}),
        (3, "JUN,dec", {6, 12}),
        (3, "*/3", {1, 4, 7, 10}),
        (3, "FEB/5", {2, 7, 12}),
        (3, "1-12", set(range(1, 13))),
        (4, "MON-FRI", {1, 2, 3, 4, 5}),
        (4, "sun", {0}),
        (4, "7", {0}),
        (4, "0,7", {0}),
        (4, "5-7", {5, 6, 0}),
        (4, "FRI-SUN", {5, 6, 0}),
        (4, "SUN-TUE", {0, 1, 2}),
        (4, "SUN-SAT", set(range(7))),
        (4, "*/2", {0, 2, 4, 6}),
        (4, "mon,WED,Fri", {1, 3, 5}),
        (4, "MON-FRI/2", {1, 3, 5}),
    ],
    ids=lambda value: None if isinstance(value, set) else str(value),
)
def test_field_syntax_selects_values(position: int, raw: str, expected: set[int]) -> None:
    fields = ["*"] * 5
    fields[position] = raw
    cron = parse_cron(" ".join(fields))
    assert getattr(cron, _FIELD_ATTRIBUTES[position]) == frozenset(expected)


def test_unrestricted_fields_select_everything() -> None:
    cron = parse_cron("* * * * *")
    assert (cron.minutes, cron.hours) == (frozenset(range(60)), frozenset(range(24)))
    assert (cron.days, cron.months) == (frozenset(range(1, 32)), frozenset(range(1, 13)))
    assert cron.weekdays == frozenset(range(7))


def test_text_is_stripped_and_whitespace_collapsed() -> None:
    cron = parse_cron("  0   8 *\t* *\n", "Europe/Berlin")
    assert (cron.text, cron.timezone) == ("0 8 * * *", "Europe/Berlin")


@pytest.mark.parametrize(
    ("alias", "fields"),
    [
        ("@yearly", "0 0 1 1 *"),
        ("@annually", "0 0 1 1 *"),
        ("@monthly", "0 0 1 * *"),
        ("@weekly", "0 0 * * 0"),
        ("@daily", "0 0 * * *"),
        ("@midnight", "0 0 * * *"),
        ("@hourly", "0 * * * *"),
        ("@DAILY", "0 0 * * *"),
        ("@Weekly", "0 0 * * SUN"),
    ],
)
def test_alias_equals_its_five_fields(alias: str, fields: str) -> None:
    cron = parse_cron(alias)
    assert cron.text == alias
    assert dataclasses.replace(cron, text=fields) == parse_cron(fields)


@pytest.mark.parametrize(
    ("text", "day_restricted", "weekday_restricted"),
    [
        ("0 0 * * *", False, False),
        ("0 0 1 * *", True, False),
        ("0 0 * * MON", False, True),
        ("0 0 1 * MON", True, True),
        ("0 0 */2 * *", True, False),
        ("0 0 1-31 * *", True, False),
        ("0 0 * * 0-7", False, True),
        ("@weekly", False, True),
        ("@monthly", True, False),
    ],
)
def test_restricted_means_not_a_bare_star(
    text: str, day_restricted: bool, weekday_restricted: bool
) -> None:
    cron = parse_cron(text)
    assert (cron.day_restricted, cron.weekday_restricted) == (day_restricted, weekday_restricted)


def test_expression_of_200_characters_parses() -> None:
    text = "0," * 95 + "00 * * * *"
    assert len(text) == 200
    assert parse_cron(text).minutes == frozenset({0})


# --- the Vixie OR rule -----------------------------------------------------------------


def test_day_and_weekday_both_restricted_fire_on_either() -> None:
    # 2024-01-01 is a Monday.
    fired = _between("0 0 1 * MON", _utc(2023, 12, 31), _utc(2024, 2, 6))
    days = [(moment.month, moment.day) for moment in fired]
    assert days == [(1, 1), (1, 8), (1, 15), (1, 22), (1, 29), (2, 1), (2, 5)]


def test_friday_the_13th_fires_on_every_13th_and_every_friday() -> None:
    fired = _between("0 0 13 * FRI", _utc(2024, 9, 1), _utc(2024, 9, 30))
    assert [moment.day for moment in fired] == [6, 13, 20, 27]


@pytest.mark.parametrize(
    ("text", "days"),
    [("0 0 1 * *", [1]), ("0 0 * * MON", [1, 8, 15, 22, 29]), ("0 0 */10 * *", [1, 11, 21, 31])],
)
def test_only_the_restricted_field_counts_when_the_other_is_star(
    text: str, days: list[int]
) -> None:
    fired = _between(text, _utc(2023, 12, 31), _utc(2024, 1, 31, 23, 59))
    assert [moment.day for moment in fired] == days


# --- next_after in UTC -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "moment", "expected"),
    [
        ("*/15 * * * *", _utc(2024, 1, 1), _utc(2024, 1, 1, 0, 15)),
        ("*/15 * * * *", _utc(2024, 1, 1, 0, 14, 59, 999999), _utc(2024, 1, 1, 0, 15)),
        ("*/15 * * * *", _utc(2024, 1, 1, 0, 15, 0, 1), _utc(2024, 1, 1, 0, 30)),
        ("*/15 * * * *", _utc(2024, 1, 1, 0, 15, 30), _utc(2024, 1, 1, 0, 30)),
        ("5-59/20 * * * *", _utc(2024, 1, 1, 0, 45), _utc(2024, 1, 1, 1, 5)),
        ("5-59/20 * * * *", _utc(2024, 1, 1, 0, 5), _utc(2024, 1, 1, 0, 25)),
        ("* * * * *", _utc(2024, 1, 1, 0, 0, 30), _utc(2024, 1, 1, 0, 1)),
        ("0 * * * *", _utc(2024, 1, 31, 23, 30), _utc(2024, 2, 1)),
        ("0 0 * * *", _utc(2023, 12, 31, 12), _utc(2024, 1, 1)),
        ("59 23 31 12 *", _utc(2023, 12, 31, 23, 59), _utc(2024, 12, 31, 23, 59)),
        ("0 0 1 1 *", _utc(2024, 1, 1), _utc(2025, 1, 1)),
        ("15 14 1 * *", _utc(2024, 12, 1, 14, 15), _utc(2025, 1, 1, 14, 15)),
        ("0 9 * JUN *", _utc(2024, 7, 1), _utc(2025, 6, 1, 9)),
        ("0 0 29 2 *", _utc(2023, 3, 1), _utc(2024, 2, 29)),
        ("0 0 29 2 *", _utc(2024, 2, 29), _utc(2028, 2, 29)),
        ("0 0 29 2 *", _utc(2096, 2, 29), _utc(2104, 2, 29)),
        ("0 0 28-31 2 *", _utc(2023, 2, 28), _utc(2024, 2, 28)),
        ("0 0 28-31 2 *", _utc(2024, 2, 28), _utc(2024, 2, 29)),
        ("0 0 31 * *", _utc(2024, 4, 1), _utc(2024, 5, 31)),
        ("0 0 30 * *", _utc(2024, 2, 1), _utc(2024, 3, 30)),
        ("0 0 31 * *", _utc(2024, 7, 31), _utc(2024, 8, 31)),
        ("30 8 * * 1-5", _utc(2024, 6, 7, 9), _utc(2024, 6, 10, 8, 30)),
        ("0 0 * * 7", _utc(2024, 6, 3), _utc(2024, 6, 9)),
        ("0 0 * * SUN", _utc(2024, 6, 3), _utc(2024, 6, 9)),
        ("0 12 * * SAT", _utc(2024, 12, 29), _utc(2025, 1, 4, 12)),
    ],
    ids=lambda value: value if isinstance(value, str) else value.isoformat(),
)
def test_next_after_in_utc(text: str, moment: datetime, expected: datetime) -> None:
    assert parse_cron(text).next_after(moment) == expected


def test_next_after_returns_utc_for_a_moment_in_another_zone() -> None:
    moment = datetime(2024, 1, 1, 1, 0, tzinfo=ZoneInfo("Europe/Berlin"))  # 00:00 UTC
    result = parse_cron("0 * * * *").next_after(moment)
    assert result == _utc(2024, 1, 1, 1)
    assert result.tzinfo is UTC


@pytest.mark.parametrize(
    ("text", "timezone", "moment", "expected"),
    [
        ("0 8 * * *", "Europe/Berlin", _utc(2024, 1, 15), _utc(2024, 1, 15, 7)),
        ("0 8 * * *", "Europe/Berlin", _utc(2024, 7, 15), _utc(2024, 7, 15, 6)),
        ("0 8 * * *", "America/New_York", _utc(2024, 1, 15), _utc(2024, 1, 15, 13)),
        ("0 0 * * *", "Asia/Kolkata", _utc(2024, 1, 15), _utc(2024, 1, 15, 18, 30)),
        ("0 0 1 1 *", "Pacific/Auckland", _utc(2024, 6, 1), _utc(2024, 12, 31, 11)),
        ("0 8 * * MON-FRI", "Europe/Berlin", _utc(2024, 6, 1), _utc(2024, 6, 3, 6)),
    ],
    ids=lambda value: value if isinstance(value, str) else value.isoformat(),
)
def test_wall_times_are_read_in_the_expression_zone(
    text: str, timezone: str, moment: datetime, expected: datetime
) -> None:
    assert parse_cron(text, timezone).next_after(moment) == expected


_NAIVE = datetime(2024, 1, 1)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda cron: cron.next_after(_NAIVE), id="next_after"),
        # times_between refuses at the call, before any iteration.
        pytest.param(lambda cron: cron.times_between(_NAIVE, _utc(2024, 1, 2)), id="start"),
        pytest.param(lambda cron: cron.times_between(_utc(2024, 1, 1), _NAIVE), id="end"),
    ],
)
def test_naive_datetimes_are_refused(call: Callable[[CronExpression], object]) -> None:
    with pytest.raises(ValueError, match="must be timezone-aware, got the naive 2024-01-01T00:00"):
        call(parse_cron("@hourly"))


def test_non_datetime_moment_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="moment must be a datetime, got str"):
        parse_cron("@hourly").next_after("2024-01-01")  # type: ignore[arg-type]


# --- times_between ---------------------------------------------------------------------


def test_times_between_excludes_start_and_includes_end() -> None:
    fired = _between("0 */6 * * *", _utc(2024, 1, 1), _utc(2024, 1, 2))
    assert fired == [
        _utc(2024, 1, 1, 6),
        _utc(2024, 1, 1, 12),
        _utc(2024, 1, 1, 18),
        _utc(2024, 1, 2),
    ]


@pytest.mark.parametrize(("limit", "count"), [(None, 4), (0, 0), (2, 2), (4, 4), (10, 4)])
def test_times_between_stops_at_the_limit(limit: int | None, count: int) -> None:
    cron = parse_cron("0 */6 * * *")
    fired = list(cron.times_between(_utc(2024, 1, 1), _utc(2024, 1, 2), limit))
    assert fired == _between("0 */6 * * *", _utc(2024, 1, 1), _utc(2024, 1, 2))[:count]


def test_times_between_is_empty_when_end_is_not_after_start() -> None:
    assert _between("* * * * *", _utc(2024, 1, 2), _utc(2024, 1, 1)) == []
    assert _between("* * * * *", _utc(2024, 1, 1), _utc(2024, 1, 1)) == []


def test_times_between_refuses_a_negative_limit() -> None:
    with pytest.raises(ValueError, match="limit must be None or at least 0, got -1"):
        parse_cron("@daily").times_between(_utc(2024, 1, 1), _utc(2024, 2, 1), -1)


@pytest.mark.parametrize("timezone", ["UTC", "Europe/Berlin", "America/New_York"])
@pytest.mark.parametrize("text", ["*/30 0-4 * * *", "0 * * * *", "30 1,2 * * SUN"])
def test_times_between_strictly_increases_through_a_whole_year(text: str, timezone: str) -> None:
    fired = _between(text, _utc(2024, 1, 1), _utc(2025, 1, 1), timezone)
    assert fired
    assert all(earlier < later for earlier, later in pairwise(fired))
    assert all(moment.tzinfo is UTC for moment in fired)


# --- daylight saving time --------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "timezone", "start", "end", "expected"),
    [
        # Berlin springs forward at 01:00 UTC on 2024-03-31: 02:00 CET becomes 03:00 CEST.
        pytest.param(
            "30 2 * * *", "Europe/Berlin", _utc(2024, 3, 30, 12), _utc(2024, 4, 1, 12),
            [_utc(2024, 3, 31, 1), _utc(2024, 4, 1, 0, 30)],
            id="berlin-spring-gap-fires-at-gap-end",
        ),
        pytest.param(
            "0 2 * * *", "Europe/Berlin", _utc(2024, 3, 30), _utc(2024, 4, 1, 12),
            [_utc(2024, 3, 30, 1), _utc(2024, 3, 31, 1), _utc(2024, 4, 1, 0)],
            id="berlin-spring-gap-start",
        ),
        pytest.param(
            "*/30 * * * *", "Europe/Berlin", _utc(2024, 3, 30, 23, 30), _utc(2024, 3, 31, 2),
            [_utc(2024, 3, 31, 0), _utc(2024, 3, 31, 0, 30), _utc(2024, 3, 31, 1),
             _utc(2024, 3, 31, 1, 30), _utc(2024, 3, 31, 2)],
            id="berlin-spring-gap-never-twice",
        ),
        # Berlin falls back at 01:00 UTC on 2024-10-27: 03:00 CEST becomes 02:00 CET.
        pytest.param(
            "30 2 * * *", "Europe/Berlin", _utc(2024, 10, 26, 12), _utc(2024, 10, 28, 12),
            [_utc(2024, 10, 27, 0, 30), _utc(2024, 10, 28, 1, 30)],
            id="berlin-fall-repeat-fires-once-first",
        ),
        pytest.param(
            "0 * * * *", "Europe/Berlin", _utc(2024, 10, 26, 21, 30), _utc(2024, 10, 27, 4),
            [_utc(2024, 10, 26, 22), _utc(2024, 10, 26, 23), _utc(2024, 10, 27, 0),
             _utc(2024, 10, 27, 2), _utc(2024, 10, 27, 3), _utc(2024, 10, 27, 4)],
            id="berlin-fall-hourly-skips-second-pass",
        ),
        # New York springs forward at 07:00 UTC on 2024-03-10: 02:00 EST becomes 03:00 EDT.
        pytest.param(
            "30 2 * * *", "America/New_York", _utc(2024, 3, 9, 12), _utc(2024, 3, 11, 12),
            [_utc(2024, 3, 10, 7), _utc(2024, 3, 11, 6, 30)],
            id="new-york-spring-gap-fires-at-gap-end",
        ),
        # New York falls back at 06:00 UTC on 2024-11-03: 02:00 EDT becomes 01:00 EST.
        pytest.param(
            "30 1 * * *", "America/New_York", _utc(2024, 11, 2, 12), _utc(2024, 11, 4, 12),
            [_utc(2024, 11, 3, 5, 30), _utc(2024, 11, 4, 6, 30)],
            id="new-york-fall-repeat-fires-once-first",
        ),
        pytest.param(
            "0 * * * *", "America/New_York", _utc(2024, 11, 3, 3, 30), _utc(2024, 11, 3, 8),
            [_utc(2024, 11, 3, 4), _utc(2024, 11, 3, 5), _utc(2024, 11, 3, 7),
             _utc(2024, 11, 3, 8)],
            id="new-york-fall-hourly-skips-second-pass",
        ),
        # Lord Howe Island moves by half an hour: 02:00 +10:30 becomes 02:30 +11:00.
        pytest.param(
            "15 2 * * *", "Australia/Lord_Howe", _utc(2024, 10, 4), _utc(2024, 10, 7),
            [_utc(2024, 10, 4, 15, 45), _utc(2024, 10, 5, 15, 30), _utc(2024, 10, 6, 15, 15)],
            id="lord-howe-half-hour-gap",
        ),
    ],
)  # fmt: skip
def test_daylight_saving_transitions(
    text: str, timezone: str, start: datetime, end: datetime, expected: list[datetime]
) -> None:
    assert _between(text, start, end, timezone) == expected


@pytest.mark.parametrize(
    ("moment", "expected"),
    [
        pytest.param(_utc(2024, 10, 27, 0, 30), _utc(2024, 10, 27, 0, 45), id="in-first-pass"),
        pytest.param(_utc(2024, 10, 27, 0, 50), _utc(2024, 10, 27, 2, 45), id="after-first-pass"),
        pytest.param(_utc(2024, 10, 27, 1, 30), _utc(2024, 10, 27, 2, 45), id="in-second-pass"),
    ],
)
def test_next_after_inside_a_repeated_hour(moment: datetime, expected: datetime) -> None:
    assert parse_cron("45 * * * *", "Europe/Berlin").next_after(moment) == expected


# --- errors ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 25 * * *", "Cron field 'hour' has 25, outside 0-23, in '0 25 * * *'."),
        ("60 * * * *", "Cron field 'minute' has 60, outside 0-59, in '60 * * * *'."),
        ("0 0 0 * *", "Cron field 'day-of-month' has 0, outside 1-31, in '0 0 0 * *'."),
        ("0 0 32 * *", "Cron field 'day-of-month' has 32, outside 1-31, in '0 0 32 * *'."),
        ("0 0 * 13 *", "Cron field 'month' has 13, outside 1-12, in '0 0 * 13 *'."),
        ("0 0 * * 8", "Cron field 'day-of-week' has 8, outside 0-7, in '0 0 * * 8'."),
        ("0 1-24 * * *", "Cron field 'hour' has 24, outside 0-23, in '0 1-24 * * *'."),
        (
            "*/0 * * * *",
            "Cron field 'minute' has step '0', expected a whole number of 1 or more, "
            "in '*/0 * * * *'.",
        ),
        (
            "0 */ * * *",
            "Cron field 'hour' has step '', expected a whole number of 1 or more, in '0 */ * * *'.",
        ),
        (
            "0 0 */x * *",
            "Cron field 'day-of-month' has step 'x', expected a whole number of 1 or more, "
            "in '0 0 */x * *'.",
        ),
        (
            "0 5-2 * * *",
            "Cron field 'hour' has reversed range '5-2', expected low-high such as '2-5', "
            "in '0 5-2 * * *'.",
        ),
        (
            "0 0 * * FRI-MON",
            "Cron field 'day-of-week' has reversed range 'FRI-MON', expected low-high such as "
            "'MON-FRI', in '0 0 * * FRI-MON'.",
        ),
        (
            "1,,2 * * * *",
            "Cron field 'minute' has the list '1,,2' with an empty item, expected values "
            "separated by single commas, in '1,,2 * * * *'.",
        ),
        (
            "0 0 * * MON,",
            "Cron field 'day-of-week' has the list 'MON,' with an empty item, expected values "
            "separated by single commas, in '0 0 * * MON,'.",
        ),
        (
            "0 0 * FOO *",
            "Cron field 'month' has unknown name 'FOO', expected 1-12 or JAN-DEC, "
            "in '0 0 * FOO *'.",
        ),
        (
            "0 0 * * MONDAY",
            "Cron field 'day-of-week' has unknown name 'MONDAY', expected 0-7 or SUN-SAT, "
            "in '0 0 * * MONDAY'.",
        ),
        (
            "abc * * * *",
            "Cron field 'minute' has 'abc', expected *, a number, a range a-b or a step such "
            "as */2 within 0-59, in 'abc * * * *'.",
        ),
        (
            "0 JAN * * *",
            "Cron field 'hour' has 'JAN', expected *, a number, a range a-b or a step such "
            "as */2 within 0-23, in '0 JAN * * *'.",
        ),
        (
            "1-2-3 * * * *",
            "Cron field 'minute' has '1-2-3', expected *, a number, a range a-b or a step such "
            "as */2 within 0-59, in '1-2-3 * * * *'.",
        ),
        (
            "0 0 * * ?",
            "Cron field 'day-of-week' has '?', expected *, a number, a range a-b or a step such "
            "as */2 within 0-7 or SUN-SAT, in '0 0 * * ?'.",
        ),
        (
            "0 8 * *",
            "Cron expression '0 8 * *' has 4 fields; expected 5 (minute hour day-of-month "
            "month day-of-week) or an alias such as @daily.",
        ),
        (
            "0 8 * * * 2024",
            "Cron expression '0 8 * * * 2024' has 6 fields; expected 5 (minute hour "
            "day-of-month month day-of-week) or an alias such as @daily.",
        ),
        (
            "   ",
            "Cron expression '' has 0 fields; expected 5 (minute hour day-of-month month "
            "day-of-week) or an alias such as @daily.",
        ),
        (
            "@every5m",
            "Unknown cron alias '@every5m'; use one of @yearly, @annually, @monthly, @weekly, "
            "@daily, @midnight, @hourly, or five fields.",
        ),
        (
            "@daily 0",
            "Unknown cron alias '@daily 0'; use one of @yearly, @annually, @monthly, @weekly, "
            "@daily, @midnight, @hourly, or five fields.",
        ),
        (
            "0 0 30 2 *",
            "Cron expression '0 0 30 2 *' never fires: none of its months (Feb) has any of "
            "its days (30); choose days that exist.",
        ),
        (
            "0 0 31 4,6,9,11 *",
            "Cron expression '0 0 31 4,6,9,11 *' never fires: none of its months "
            "(Apr, Jun, Sep, Nov) has any of its days (31); choose days that exist.",
        ),
        (
            "0 0 30,31 FEB *",
            "Cron expression '0 0 30,31 FEB *' never fires: none of its months (Feb) has any "
            "of its days (30, 31); choose days that exist.",
        ),
    ],
)
def test_bad_expression_message(text: str, message: str) -> None:
    assert _error(text) == message


@pytest.mark.parametrize("text", ["0 0 29 2 *", "0 0 30 2 MON", "0 0 31 2,3 *", "0 0 31 * *"])
def test_rare_but_possible_expressions_are_accepted(text: str) -> None:
    cron = parse_cron(text)
    assert cron.next_after(_utc(2024, 3, 1)) > _utc(2024, 3, 1)


@pytest.mark.parametrize("timezone", ["Mars/Base", "", "Europe", "../etc/passwd", "utc"])
def test_unknown_time_zone_message(timezone: str) -> None:
    assert _error("@daily", timezone) == (
        f"Unknown time zone {timezone!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'."
    )


def test_too_long_expression_is_refused() -> None:
    message = _error("0," * 95 + "000 * * * *")
    assert message == (
        "Cron expression '0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,'... is 201 characters long; "
        "the limit is 200."
    )


@pytest.mark.parametrize(
    ("text", "timezone", "name"), [(1, "UTC", "text"), ("@daily", None, "timezone")]
)
def test_non_str_arguments_are_type_errors(text: object, timezone: object, name: str) -> None:
    with pytest.raises(TypeError, match=f"{name} must be a str"):
        parse_cron(text, timezone)  # type: ignore[arg-type]


# --- describe --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "timezone", "description"),
    [
        ("0 8 * * MON-FRI", "Europe/Berlin", "at 08:00 on Mon\u2013Fri (Europe/Berlin)"),
        ("30 6 * * SAT,SUN", "UTC", "at 06:30 on Sat, Sun (UTC)"),
        ("0 9 * * 1,3,5", "UTC", "at 09:00 on Mon, Wed, Fri (UTC)"),
        ("0 9 * * 0", "UTC", "at 09:00 on Sun (UTC)"),
        ("@daily", "UTC", "at 00:00 every day (UTC)"),
        ("@monthly", "UTC", "at 00:00 on day 1 of every month (UTC)"),
        ("@yearly", "America/New_York", "at 00:00 on 1 Jan (America/New_York)"),
        ("0 12 25 DEC *", "UTC", "at 12:00 on 25 Dec (UTC)"),
        ("* * * * *", "UTC", "every minute (UTC)"),
        ("*/15 * * * *", "UTC", "every 15 minutes (UTC)"),
        ("5 * * * *", "UTC", "every hour at minute 5 (UTC)"),
        ("0 0 1 * MON", "UTC", "cron '0 0 1 * MON' (UTC)"),
        ("*/7 * * * *", "UTC", "cron '*/7 * * * *' (UTC)"),
        ("0 8,20 * * *", "UTC", "cron '0 8,20 * * *' (UTC)"),
        ("0 8 1 1,7 *", "UTC", "cron '0 8 1 1,7 *' (UTC)"),
    ],
)
def test_describe(text: str, timezone: str, description: str) -> None:
    assert parse_cron(text, timezone).describe() == description


# --- the fast search against minute-by-minute brute force ------------------------------


def _random_field(rng: random.Random, low: int, high: int, star_weight: int) -> str:
    kind = rng.choice(["*"] * star_weight + ["value", "range", "step", "range-step", "list"])
    a, b = sorted(rng.randint(low, high) for _ in range(2))
    if kind == "value":
        return str(a)
    if kind == "range":
        return f"{a}-{b}"
    if kind == "step":
        return rng.choice([f"*/{rng.randint(1, 12)}", f"{a}/{rng.randint(1, 12)}"])
    if kind == "range-step":
        return f"{a}-{b}/{rng.randint(1, 5)}"
    if kind == "list":
        return ",".join(str(rng.randint(low, high)) for _ in range(rng.randint(2, 4)))
    return "*"


def _random_cases(count: int) -> list[tuple[str, datetime]]:
    rng = random.Random(20240229)
    anchors = [_utc(2023, 12, 30), _utc(2024, 2, 27), _utc(2023, 2, 26), _utc(2024, 4, 29)]
    anchors += [_utc(2024, 6, 15), _utc(2099, 12, 30), _utc(2100, 2, 27)]
    cases: list[tuple[str, datetime]] = []
    while len(cases) < count:
        bounds = [(0, 59, 1), (0, 23, 2), (1, 31, 6), (1, 12, 8), (0, 7, 3)]
        text = " ".join(_random_field(rng, *bound) for bound in bounds)
        try:
            parse_cron(text)
        except InvalidInput:
            continue  # never fires; the parser's own tests cover these
        offset = timedelta(minutes=rng.randrange(24 * 60), microseconds=rng.randrange(60_000_000))
        cases.append((text, rng.choice(anchors) + offset))
    return cases


def _brute_force(cron: CronExpression, start: datetime, end: datetime) -> list[datetime]:
    """Every firing in ``(start, end]``, found by trying each minute."""
    moment = start.replace(second=0, microsecond=0) + _MINUTE
    fired = []
    while moment <= end:
        if _matches(cron, moment):
            fired.append(moment)
        moment += _MINUTE
    return fired


def _first_by_scanning(cron: CronExpression, start: datetime) -> datetime | None:
    """The first firing after ``start`` minute by minute, skipping days that cannot match."""
    moment = start.replace(second=0, microsecond=0) + _MINUTE
    while moment.year <= start.year + 9:
        if not _day_matches(cron, moment):
            moment = (moment + timedelta(days=1)).replace(hour=0, minute=0)
        elif _matches(cron, moment):
            return moment
        else:
            moment += _MINUTE
    return None


def _matches(cron: CronExpression, moment: datetime) -> bool:
    is_time = moment.minute in cron.minutes and moment.hour in cron.hours
    return is_time and _day_matches(cron, moment)


def _day_matches(cron: CronExpression, moment: datetime) -> bool:
    if moment.month not in cron.months:
        return False
    day_ok = moment.day in cron.days
    weekday_ok = (moment.weekday() + 1) % 7 in cron.weekdays
    if cron.day_restricted and cron.weekday_restricted:
        return day_ok or weekday_ok
    if cron.day_restricted:
        return day_ok
    return weekday_ok if cron.weekday_restricted else True


@pytest.mark.parametrize(("text", "start"), _random_cases(300), ids=str)
def test_fast_search_matches_brute_force(text: str, start: datetime) -> None:
    cron, end = parse_cron(text), start + timedelta(days=3)
    assert list(cron.times_between(start, end)) == _brute_force(cron, start, end)
    assert cron.next_after(start) == _first_by_scanning(cron, start)
    assert cron.next_after(end) == _first_by_scanning(cron, end)
