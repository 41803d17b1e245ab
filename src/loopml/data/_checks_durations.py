"""Durations as written in check files: ``7d``, ``12h``, ``30m``, ``45s``, ``2w``, ``1d12h``."""

from __future__ import annotations

import re
from datetime import timedelta

from loopml.errors import InvalidInput

__all__ = ["format_duration", "parse_duration"]

_UNITS = {"w": 604_800, "d": 86_400, "h": 3_600, "m": 60, "s": 1}
_PART = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[wdhms])+")


def parse_duration(text: str) -> timedelta:
    """Parse a duration such as ``7d``, ``12h``, ``30m`` or ``1d12h``.

    Args:
        text: one or more ``<number><unit>`` parts; units are ``w``, ``d``, ``h``, ``m``
            and ``s``.

    Returns:
        The duration.

    Raises:
        InvalidInput: if ``text`` is not such a duration.

    Example:
        >>> parse_duration("1d12h")
        datetime.timedelta(days=1, seconds=43200)
    """
    compact = text.strip().replace(" ", "")
    if not _WHOLE.fullmatch(compact):
        raise InvalidInput(
            f"Not a duration: {text!r}; write a number and a unit, e.g. 7d, 12h, 30m, 45s "
            "or 1d12h (units: w, d, h, m, s)."
        )
    seconds = sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(compact))
    return timedelta(seconds=seconds)


def format_duration(duration: timedelta) -> str:
    """Write ``duration`` the way :func:`parse_duration` reads it, largest units first.

    Example:
        >>> format_duration(timedelta(days=1, hours=12))
        '1d12h'
    """
    total = duration.total_seconds()
    sign = "-" if total < 0 else ""
    whole, fraction = divmod(abs(total), 1)
    remaining = int(whole)
    parts = []
    for unit in ("d", "h", "m"):
        count, remaining = divmod(remaining, _UNITS[unit])
        if count:
            parts.append(f"{count}{unit}")
    if remaining or fraction or not parts:
        parts.append(f"{remaining + fraction:g}s")
    return sign + "".join(parts)
