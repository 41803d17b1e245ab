"""Cron expressions for pipeline schedules: text in, firing times out, no I/O.

The syntax is the five fields of Vixie cron, ``minute hour day-of-month month
day-of-week``, separated by whitespace::

    0 8 * * MON-FRI        08:00 on weekdays
    */15 * * * *           every 15 minutes
    0 0 1,15 * *           midnight on the 1st and the 15th

Each field is ``*``, a number, a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n``
(``a`` up to the field's maximum), or a comma-separated list of these. Minutes are
0-59, hours 0-23, days 1-31, months 1-12 or JAN-DEC, weekdays 0-7 or SUN-SAT, where
both 0 and 7 are Sunday and a range may end on SUN (``FRI-SUN``). Names are
case-insensitive. The aliases ``@yearly`` (``@annually``), ``@monthly``, ``@weekly``,
``@daily`` (``@midnight``) and ``@hourly`` stand for their usual five fields.

When both day-of-month and day-of-week are restricted, that is neither is exactly
``*``, a day matches if *either* matches (the Vixie cron rule): ``0 0 1 * MON`` fires
on the 1st and on every Monday. When one of them is ``*``, only the other counts.
Unlike Vixie cron, a field such as ``*/2`` counts as restricted: only a bare ``*``
does not. An expression that can never fire, such as ``0 0 30 2 *``, is rejected.

Times are wall-clock times in the expression's IANA time zone, and every time
returned is an aware ``datetime`` in UTC. Daylight saving time follows one rule: the
selected wall times are taken in order and each is mapped to the instant of its first
occurrence (``fold=0``); a wall time that does not exist, inside a spring-forward gap,
maps to the first instant after the gap. So on the day Berlin moves its clocks from
02:00 to 03:00, ``30 2 * * *`` fires at 03:00 local time, and on the day it moves them
back from 03:00 to 02:00, ``30 2 * * *`` fires once, at 02:30 summer time. An instant
is never returned twice: an hourly schedule fires once in the gap's place on spring
forward, and skips the repeated hour's second pass on fall back.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import MAXYEAR, UTC, date, datetime, time, timedelta
from itertools import islice
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from loopml.errors import InvalidInput

__all__ = ["CronExpression", "parse_cron"]

_MAX_LENGTH = 200
# The longest wait between two firings is eight years: 0 0 29 2 * from 2096 to 2104,
# since 2100 is not a leap year. Parsing rejects every expression that never fires.
_LOOKAHEAD_YEARS = 8
_MINUTE = timedelta(minutes=1)
_SECOND = timedelta(seconds=1)

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")
# The most days each month can have; February counts its leap day.
_MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_EN_DASH = "\u2013"  # joins a weekday range in describe(): Mon, the dash, Fri


@dataclass(frozen=True, slots=True)
class _Field:
    name: str
    low: int
    high: int
    names: dict[str, int]
    allowed: str


_FIELDS = (
    _Field("minute", 0, 59, {}, "0-59"),
    _Field("hour", 0, 23, {}, "0-23"),
    _Field("day-of-month", 1, 31, {}, "1-31"),
    _Field("month", 1, 12, {n: i for i, n in enumerate(_MONTHS, 1)}, "1-12 or JAN-DEC"),
    _Field("day-of-week", 0, 7, {n: i for i, n in enumerate(_WEEKDAYS)}, "0-7 or SUN-SAT"),
)


@dataclass(frozen=True, slots=True)
class CronExpression:
    """A parsed cron expression and the zone its wall-clock times are read in.

    Build one with :func:`parse_cron`. See the module docstring for the syntax and
    the daylight-saving rules.

    Attributes:
        text: the expression as given, stripped, with runs of whitespace collapsed.
        timezone: the IANA time zone name, such as ``"UTC"`` or ``"Europe/Berlin"``.
        minutes, hours, days, months: the values each field selects.
        weekdays: the weekdays selected, 0 for Sunday to 6 for Saturday.
        day_restricted, weekday_restricted: whether day-of-month or day-of-week was
            anything but ``*``; when both are, a day matches if either field does.
    """

    text: str
    timezone: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]
    day_restricted: bool
    weekday_restricted: bool

    def next_after(self, moment: datetime) -> datetime:
        """Return the first firing time strictly after ``moment``.

        Args:
            moment: an aware datetime in any zone; seconds and microseconds count.

        Returns:
            An aware datetime in UTC.

        Raises:
            ValueError: if ``moment`` is naive, or (defensively) if nothing fires in
                the following eight years.

        Example:
            >>> cron = parse_cron("0 8 * * MON-FRI", "Europe/Berlin")
            >>> cron.next_after(datetime(2024, 6, 1, tzinfo=UTC)).isoformat()
            '2024-06-03T06:00:00+00:00'
        """
        after = _as_utc(moment, "moment")
        zone = ZoneInfo(self.timezone)
        wall = after.astimezone(zone).replace(tzinfo=None, second=0, microsecond=0, fold=0)
        last_year = min(wall.year + _LOOKAHEAD_YEARS, MAXYEAR - 1)
        candidate = _next_wall(self, wall + _MINUTE, last_year)
        while candidate is not None:
            instant = _wall_to_utc(candidate, zone)
            # Only the second pass through a repeated hour yields instants not after.
            if instant > after:
                return instant
            candidate = _next_wall(self, candidate + _MINUTE, last_year)
        raise ValueError(
            f"cron {self.text!r} ({self.timezone}) does not fire within "
            f"{_LOOKAHEAD_YEARS} years after {moment.isoformat()}"
        )

    def times_between(
        self, start: datetime, end: datetime, limit: int | None = None
    ) -> Iterator[datetime]:
        """Return the firing times ``t`` with ``start < t <= end``, in increasing order.

        Args:
            start, end: aware datetimes in any zone.
            limit: the most times to yield; ``None`` for all of them.

        Returns:
            An iterator of aware UTC datetimes, strictly increasing.

        Raises:
            ValueError: if ``start`` or ``end`` is naive, or ``limit`` is negative.
        """
        first, last = _as_utc(start, "start"), _as_utc(end, "end")
        if limit is not None and limit < 0:
            raise ValueError(f"limit must be None or at least 0, got {limit}")
        return islice(self._firings(first, last), limit)

    def _firings(self, start: datetime, end: datetime) -> Iterator[datetime]:
        moment = self.next_after(start)
        while moment <= end:
            yield moment
            moment = self.next_after(moment)

    def describe(self) -> str:
        """Return a short human description, such as ``at 08:00 every day (UTC)``.

        Common shapes get words; anything else reads ``cron '<text>' (<zone>)``.
        """
        return f"{_summary(self) or f'cron {self.text!r}'} ({self.timezone})"


def parse_cron(text: str, timezone: str = "UTC") -> CronExpression:
    """Parse a five-field cron expression or an alias such as ``@daily``.

    Args:
        text: the expression; surrounding and repeated whitespace is ignored.
        timezone: the IANA zone whose wall-clock times the expression names.

    Returns:
        The checked expression.

    Raises:
        InvalidInput: if the text, a field or the zone is malformed, or the
            expression can never fire; the message names the field and the value.
        TypeError: if ``text`` or ``timezone`` is not a str.

    Example:
        >>> parse_cron("@daily", "Europe/Berlin").describe()
        'at 00:00 every day (Europe/Berlin)'
    """
    for name, value in (("text", text), ("timezone", timezone)):
        if not isinstance(value, str):
            raise TypeError(f"{name} must be a str, got {type(value).__name__}")
    text = " ".join(text.split())
    if len(text) > _MAX_LENGTH:
        raise InvalidInput(
            f"Cron expression {text[:40]!r}... is {len(text)} characters long; "
            f"the limit is {_MAX_LENGTH}."
        )
    _zone(timezone)
    fields = _expand_alias(text).split(" ")
    if len(fields) != 5:
        raise InvalidInput(
            f"Cron expression {text!r} has {len(fields) if text else 0} fields; expected 5 "
            "(minute hour day-of-month month day-of-week) or an alias such as @daily."
        )
    minutes, hours, days, months, weekdays = (
        _parse_field(spec, raw, text) for spec, raw in zip(_FIELDS, fields, strict=True)
    )
    cron = CronExpression(
        text, timezone, minutes, hours, days, months, weekdays, fields[2] != "*", fields[4] != "*"
    )
    _check_fires(cron)
    return cron


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput(
            f"Unknown time zone {name[:60]!r}; use an IANA name such as 'UTC' or 'Europe/Berlin'."
        ) from None


def _expand_alias(text: str) -> str:
    if not text.startswith("@"):
        return text
    fields = _ALIASES.get(text.lower())
    if fields is None:
        raise InvalidInput(
            f"Unknown cron alias {text!r}; use one of {', '.join(_ALIASES)}, or five fields."
        )
    return fields


def _parse_field(spec: _Field, raw: str, text: str) -> frozenset[int]:
    values: set[int] = set()
    for item in raw.split(","):
        if not item:
            raise _field_error(
                spec,
                f"the list {raw!r} with an empty item, expected values separated by single commas",
                text,
            )
        values.update(_parse_item(spec, item, text))
    # Weekday 7 is another name for Sunday.
    return frozenset(0 if spec.name == "day-of-week" and value == 7 else value for value in values)


def _parse_item(spec: _Field, item: str, text: str) -> range:
    base, slash, step_text = item.partition("/")
    step = _step(spec, step_text, text) if slash else 1
    if base == "*":
        return range(spec.low, spec.high + 1, step)
    first, dash, last = base.partition("-")
    low = _value(spec, first, item, text)
    if not dash:
        return range(low, (spec.high if slash else low) + 1, step)
    high = _value(spec, last, item, text)
    if last.upper() == "SUN" and low > 0:
        high = 7  # a weekday range may end on Sunday by name: FRI-SUN is Friday to Sunday
    if low > high:
        raise _field_error(
            spec, f"reversed range {base!r}, expected low-high such as '{last}-{first}'", text
        )
    return range(low, high + 1, step)


def _step(spec: _Field, step_text: str, text: str) -> int:
    if step_text.isascii() and step_text.isdigit() and int(step_text) > 0:
        return int(step_text)
    raise _field_error(spec, f"step {step_text!r}, expected a whole number of 1 or more", text)


def _value(spec: _Field, token: str, item: str, text: str) -> int:
    if token.isascii() and token.isdigit():
        if not spec.low <= int(token) <= spec.high:
            raise _field_error(spec, f"{token}, outside {spec.low}-{spec.high}", text)
        return int(token)
    if token.isascii() and token.isalpha() and spec.names:
        if token.upper() not in spec.names:
            raise _field_error(spec, f"unknown name {token!r}, expected {spec.allowed}", text)
        return spec.names[token.upper()]
    raise _field_error(
        spec,
        f"{item!r}, expected *, a number, a range a-b or a step such as */2 within {spec.allowed}",
        text,
    )


def _field_error(spec: _Field, detail: str, text: str) -> InvalidInput:
    return InvalidInput(f"Cron field {spec.name!r} has {detail}, in {text!r}.")


def _check_fires(cron: CronExpression) -> None:
    if cron.weekday_restricted or not cron.day_restricted:
        return  # every month has every weekday, and '*' has day 1
    if any(min(cron.days) <= _MONTH_DAYS[month - 1] for month in cron.months):
        return
    names = ", ".join(_MONTHS[month - 1].title() for month in sorted(cron.months))
    raise InvalidInput(
        f"Cron expression {cron.text!r} never fires: none of its months ({names}) has any of "
        f"its days ({', '.join(map(str, sorted(cron.days)))}); choose days that exist."
    )


def _as_utc(moment: datetime, name: str) -> datetime:
    if not isinstance(moment, datetime):
        raise TypeError(f"{name} must be a datetime, got {type(moment).__name__}")
    if moment.utcoffset() is None:
        raise ValueError(
            f"{name} must be timezone-aware, got the naive {moment.isoformat()}; "
            "attach a zone, e.g. moment.replace(tzinfo=datetime.UTC)"
        )
    return moment.astimezone(UTC)


def _next_wall(cron: CronExpression, start: datetime, last_year: int) -> datetime | None:
    """The first selected wall time at or after ``start``, or None after ``last_year``."""
    months, hours, minutes = sorted(cron.months), sorted(cron.hours), sorted(cron.minutes)
    day, hour, minute = start.date(), start.hour, start.minute
    while day.year <= last_year:
        if _day_matches(cron, day):
            found = _time_at_or_after(hours, minutes, hour, minute)
            if found is not None:
                return datetime.combine(day, time(*found))
        day, hour, minute = _next_day(months, day), 0, 0
    return None


def _day_matches(cron: CronExpression, day: date) -> bool:
    if day.month not in cron.months:
        return False
    day_ok = day.day in cron.days
    weekday_ok = day.isoweekday() % 7 in cron.weekdays
    if cron.day_restricted and cron.weekday_restricted:
        return day_ok or weekday_ok
    # A field that is '*' selects everything, so requiring both leaves the other one.
    return day_ok and weekday_ok


def _next_day(months: list[int], day: date) -> date:
    """The day after ``day``, skipping ahead to the next selected month if need be."""
    following = day + timedelta(days=1)
    if following.month in months:
        return following
    index = bisect_left(months, following.month)
    if index < len(months):
        return date(following.year, months[index], 1)
    return date(following.year + 1, months[0], 1)


def _time_at_or_after(
    hours: list[int], minutes: list[int], hour: int, minute: int
) -> tuple[int, int] | None:
    if hour in hours:
        index = bisect_left(minutes, minute)
        if index < len(minutes):
            return hour, minutes[index]
        hour += 1
    index = bisect_left(hours, hour)
    return (hours[index], minutes[0]) if index < len(hours) else None


def _wall_to_utc(wall: datetime, zone: ZoneInfo) -> datetime:
    """The first instant showing ``wall``, or the end of the gap it falls in."""
    instant = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == wall:
        return instant
    # In a gap, fold=0 reads the wall time with the offset from before the jump and
    # fold=1 with the one after; the jump lies between the two readings.
    before = wall.replace(tzinfo=zone, fold=1).astimezone(UTC)
    return _gap_end(before, instant, zone)


def _gap_end(before: datetime, after: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in ``(before, after]`` on the later offset, by bisection."""
    offset = after.astimezone(zone).utcoffset()
    low, high = 0, int((after - before) / _SECOND)
    while high - low > 1:
        middle = (low + high) // 2
        if (before + middle * _SECOND).astimezone(zone).utcoffset() == offset:
            high = middle
        else:
            low = middle
    return before + high * _SECOND


def _summary(cron: CronExpression) -> str | None:
    """Words for the common shapes, or None for the rest."""
    every_day = not (cron.day_restricted or cron.weekday_restricted) and len(cron.months) == 12
    if every_day and len(cron.hours) == 24:
        return _minutes_phrase(cron.minutes)
    if len(cron.minutes) != 1 or len(cron.hours) != 1:
        return None
    days = _days_phrase(cron)
    if days is None:
        return None
    return f"at {min(cron.hours):02d}:{min(cron.minutes):02d} {days}"


def _minutes_phrase(minutes: frozenset[int]) -> str | None:
    if len(minutes) == 1:
        return f"every hour at minute {min(minutes)}"
    step = 60 // len(minutes)
    if minutes == frozenset(range(0, 60, step)):
        return "every minute" if step == 1 else f"every {step} minutes"
    return None


def _days_phrase(cron: CronExpression) -> str | None:
    if len(cron.months) == 12 and not cron.day_restricted:
        return f"on {_weekdays_phrase(cron.weekdays)}" if cron.weekday_restricted else "every day"
    if cron.weekday_restricted or len(cron.days) != 1:
        return None
    if len(cron.months) == 12:
        return f"on day {min(cron.days)} of every month"
    if len(cron.months) == 1:
        return f"on {min(cron.days)} {_MONTHS[min(cron.months) - 1].title()}"
    return None


def _weekdays_phrase(weekdays: frozenset[int]) -> str:
    # Monday first, as people list working days.
    order = sorted((day - 1) % 7 for day in weekdays)
    names = [_WEEKDAYS[(index + 1) % 7].title() for index in order]
    if len(order) >= 3 and order[-1] - order[0] == len(order) - 1:
        return f"{names[0]}{_EN_DASH}{names[-1]}"
    return ", ".join(names)
