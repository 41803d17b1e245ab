"""Traffic routing: which route of a policy answers one record.

With a sticky key and a value for it, the route is a pure function of the value's text:
BLAKE2b of the text gives a point in [0, 100), and the point falls in one route's share
of the cumulative weights. The same value meets the same route in every process and
after every restart (Python's ``hash()`` is salted per process, so it is not used).
Without a sticky value, each record draws its route at random by weight.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import random
from collections.abc import Sequence

import orjson

from loopml.domain.deployments import TrafficPolicy

__all__ = ["Router", "sticky_point"]

_SCALE = 100.0 / 2**64


def sticky_point(value: object) -> float:
    """Where ``value`` falls in [0, 100): stable across processes, platforms and runs.

    Text is hashed as it is; any other JSON value as its compact JSON text (``42``,
    ``true``), so the integer 42 and the text "42" meet the same route.
    """
    if isinstance(value, str):
        text = value.encode()
    else:
        try:
            text = orjson.dumps(value, option=_SORTED)
        except TypeError:  # orjson refuses integers beyond 64 bits; JSON allows them
            text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    digest = hashlib.blake2b(text, digest_size=8).digest()
    return int.from_bytes(digest, "big") * _SCALE


_SORTED = orjson.OPT_SORT_KEYS


class Router:
    """Picks a route target of ``policy`` per record.

    Args:
        policy: the traffic policy; its routes share the traffic by weight.
        rng: the random source of records without a sticky value (seed it in tests).

    Example:
        >>> router = Router(TrafficPolicy.of({"champion": 90, "challenger": 10}, sticky_key="user"))
        >>> router.pick("user-42") == router.pick("user-42")
        True
    """

    __slots__ = ("_bounds", "_only", "_random", "policy", "targets")

    def __init__(self, policy: TrafficPolicy, *, rng: random.Random | None = None) -> None:
        self.policy = policy
        self.targets: tuple[str, ...] = tuple(route.target for route in policy.routes)
        bounds, total = [], 0.0
        for route in policy.routes:
            total += route.weight
            bounds.append(total)
        # Weights add up to 100 within a tolerance: the last route takes the remainder.
        bounds[-1] = 100.0
        self._bounds = bounds
        self._only = self.targets[0] if len(self.targets) == 1 else None
        self._random = rng or random.Random()

    @property
    def sticky_key(self) -> str | None:
        """The record field whose value pins a record to a route, if any."""
        return self.policy.sticky_key

    def pick(self, sticky_value: object = None) -> str:
        """The target for one record; ``sticky_value`` None draws at random by weight."""
        if self._only is not None:
            return self._only
        point = (
            self._random.random() * 100.0 if sticky_value is None else sticky_point(sticky_value)
        )
        return self.targets[bisect.bisect_right(self._bounds, point)]

    def pick_many(self, sticky_values: Sequence[object]) -> list[str]:
        """The target of each record, given each record's sticky value (or None)."""
        if self._only is not None:
            return [self._only] * len(sticky_values)
        return [self.pick(value) for value in sticky_values]
