"""Routing records by a traffic policy: weights by draw, stickiness by stable hash."""

from __future__ import annotations

import os
import random
import subprocess
import sys
from collections import Counter

import pytest

from loopml.domain.deployments import TrafficPolicy
from loopml.serving._router import Router, sticky_point

DRAWS = 20_000


def _shares(targets: list[str]) -> dict[str, float]:
    counts = Counter(targets)
    return {target: 100 * count / len(targets) for target, count in counts.items()}


@pytest.mark.parametrize(
    "weights",
    [{"champion": 90, "challenger": 10}, {"a": 50, "b": 30, "c": 20}, {"7": 99.5, "8": 0.5}],
    ids=["90-10", "50-30-20", "99.5-0.5"],
)
def test_random_draws_respect_the_weights(weights: dict[str, float]) -> None:
    router = Router(TrafficPolicy.of(weights), rng=random.Random(1234))
    shares = _shares([router.pick() for _ in range(DRAWS)])
    for target, weight in weights.items():
        # Binomial standard deviation at 20,000 draws is at most 0.35 points.
        assert shares.get(target, 0.0) == pytest.approx(weight, abs=1.2), (target, shares)


def test_one_route_takes_everything_without_drawing() -> None:
    rng = random.Random(5)
    router = Router(TrafficPolicy.of({"champion": 100}), rng=rng)
    state = rng.getstate()
    assert {router.pick(), router.pick("key"), *router.pick_many([None, 1])} == {"champion"}
    assert rng.getstate() == state


def test_the_same_sticky_value_always_meets_the_same_route() -> None:
    router = Router(TrafficPolicy.of({"a": 50, "b": 50}, sticky_key="customer"))
    keys = [f"customer-{i}" for i in range(500)]
    first = router.pick_many(keys)
    again = [router.pick(key) for key in keys for _ in range(3)][::3]
    assert first == again
    assert set(first) == {"a", "b"}


def test_sticky_values_spread_by_the_weights() -> None:
    router = Router(TrafficPolicy.of({"a": 80, "b": 20}, sticky_key="customer"))
    shares = _shares(router.pick_many([f"id-{i}" for i in range(DRAWS)]))
    assert shares["a"] == pytest.approx(80, abs=1.5)
    assert shares["b"] == pytest.approx(20, abs=1.5)


def test_a_record_without_a_sticky_value_is_drawn_at_random() -> None:
    router = Router(
        TrafficPolicy.of({"a": 50, "b": 50}, sticky_key="customer"), rng=random.Random(3)
    )
    assert set(router.pick_many([None] * 200)) == {"a", "b"}


def test_integer_and_text_of_the_same_value_meet_the_same_route() -> None:
    assert sticky_point(42) == sticky_point("42")
    assert sticky_point("42") != sticky_point("43")
    assert 0 <= sticky_point({"nested": [1, 2]}) < 100
    # JSON has integers beyond 64 bits (orjson does not write them): found by the fuzzer.
    assert sticky_point(2**70) == sticky_point(str(2**70))
    assert 0 <= sticky_point({"big": [2**70]}) < 100


def test_sticky_routes_are_the_same_in_every_process() -> None:
    """Python's hash() changes with PYTHONHASHSEED; the routes must not."""
    keys = [f"user-{i}" for i in range(64)]
    code = (
        "from loopml.domain.deployments import TrafficPolicy\n"
        "from loopml.serving._router import Router\n"
        "router = Router(TrafficPolicy.of({'a': 30, 'b': 30, 'c': 40}, sticky_key='u'))\n"
        f"print(','.join(router.pick_many({keys!r})))\n"
    )
    outputs = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": seed},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in ("1", "2")
    }
    here = Router(TrafficPolicy.of({"a": 30, "b": 30, "c": 40}, sticky_key="u")).pick_many(keys)
    assert outputs == {",".join(here)}
    assert len(set(here)) == 3


def test_the_hash_is_blake2b_of_the_text() -> None:
    """Pinned: changing the hash would move every sticky caller to another route."""
    assert sticky_point("customer-42") == pytest.approx(20.265168573428767, abs=1e-12)
