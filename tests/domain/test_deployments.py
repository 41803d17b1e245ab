"""Traffic policies: building, checking, describing and the JSON round trip; route
targets and the checks shared by the deployment stores and their clients."""

from __future__ import annotations

import math

import pytest

from loopml.domain.deployments import (
    MAX_ROUTES,
    DeploymentDraft,
    Route,
    TrafficPolicy,
    check_deployment_draft,
    check_expected_revision,
    check_note,
    check_policy,
    check_target,
    parse_route,
)
from loopml.errors import InvalidInput


def _error(call: object, *args: object, **kwargs: object) -> str:
    with pytest.raises(InvalidInput) as caught:
        call(*args, **kwargs)  # type: ignore[operator]
    return str(caught.value)


# -- targets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "canonical"),
    [
        ("champion", "champion"),
        ("shadow-2", "shadow-2"),
        ("latest", "latest"),
        ("7", "7"),
        ("v7", "7"),
        ("V7", "7"),
        ("007", "7"),
        (7, "7"),
        ("v", "v"),  # an alias that merely starts like a version
        ("vnext", "vnext"),
    ],
    ids=repr,
)
def test_a_target_is_returned_in_its_canonical_form(target: object, canonical: str) -> None:
    assert check_target(target) == canonical


@pytest.mark.parametrize(
    "target",
    ["", "0", "v0", "-1", 0, -3, True, 7.0, None, "Champion", "two words", "a/b", "٣", "v٣"],
    ids=repr,
)
def test_a_bad_target_is_refused_naming_the_forms(target: object) -> None:
    message = _error(check_target, target)
    assert message == (
        f"Route target {target!r} is invalid: use an alias (e.g. 'champion'), 'latest', "
        "or a version number (e.g. 7)."
    )


# -- routes as typed ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "route"),
    [
        ("champion=90", Route("champion", 90.0)),
        ("v7=10", Route("7", 10.0)),
        (" latest = 33.3", Route("latest", 33.3)),
        ("8=100", Route("8", 100.0)),
    ],
    ids=repr,
)
def test_parse_route_reads_target_equals_percent(text: str, route: Route) -> None:
    assert parse_route(text) == route


def test_parse_route_needs_an_equals_sign() -> None:
    assert _error(parse_route, "champion") == (
        "Route 'champion' is invalid: expected TARGET=PERCENT (e.g. 'champion=90')."
    )


def test_parse_route_needs_a_number() -> None:
    assert _error(parse_route, "champion=most") == (
        "Route 'champion=most' is invalid: the weight 'most' is not a number of percent."
    )


@pytest.mark.parametrize("weight", ["nan", "inf", "-5", "0", "100.5"])
def test_parse_route_checks_the_weight(weight: str) -> None:
    assert "The weight of route 'champion' must be above 0 and at most 100 percent" in _error(
        parse_route, f"champion={weight}"
    )


def test_parse_route_checks_the_target() -> None:
    assert _error(parse_route, "=90").startswith("Route target '' is invalid")


# -- building policies --------------------------------------------------------------------


def test_of_takes_a_mapping_pairs_or_routes_alike() -> None:
    expected = TrafficPolicy((Route("champion", 90.0), Route("7", 10.0)))
    assert TrafficPolicy.of({"champion": 90, "v7": 10}) == expected
    assert TrafficPolicy.of([("champion", 90), ("7", 10)]) == expected
    assert TrafficPolicy.of([Route("champion", 90.0), Route("v7", 10)]) == expected
    assert TrafficPolicy.of((["champion", 90.0], [7, 10])) == expected


def test_of_canonicalises_shadows_and_sticky_key() -> None:
    policy = TrafficPolicy.of({"champion": 100}, shadows="V8", sticky_key="customer.id")
    assert (policy.shadows, policy.sticky_key) == (("8",), "customer.id")
    assert TrafficPolicy.of({"champion": 100}, sticky_key="").sticky_key is None
    assert policy.targets == ("champion", "8")


@pytest.mark.parametrize(
    "weights",
    [[33.3, 33.3, 33.4], [10.1, 20.2, 69.7], [0.1] * 10 + [99.0], [100 / 3] * 3, [12.5] * 8],
    ids=["thirds", "tenths", "many-small", "repeating", "eighths"],
)
def test_float_weights_that_add_up_to_100_are_accepted(weights: list[float]) -> None:
    routes = [(str(n + 1), w) for n, w in enumerate(weights)]
    assert math.isclose(sum(r.weight for r in TrafficPolicy.of(routes).routes), 100.0)


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        ({"a": 60}, "Traffic weights must add up to 100%, got 60% (a=60)."),
        (
            {"a": 33.3, "b": 33.3, "c": 33.3},
            "Traffic weights must add up to 100%, got 99.9% (a=33.3, b=33.3, c=33.3).",
        ),
        (
            {"a": 50, "b": 49.99999},
            "Traffic weights must add up to 100%, got 99.99999% (a=50, b=49.99999).",
        ),
        ({"a": 60, "b": 60}, "Traffic weights must add up to 100%, got 120% (a=60, b=60)."),
    ],
    ids=["short", "float-short", "just-short", "over"],
)
def test_weights_that_do_not_add_up_to_100_are_refused(
    routes: dict[str, float], message: str
) -> None:
    assert _error(TrafficPolicy.of, routes) == message


@pytest.mark.parametrize(
    ("weight", "shown"),
    [
        (0, "0"),
        (-10, "-10"),
        (math.nan, "nan"),
        (math.inf, "inf"),
        (100.5, "100.5"),
        (10**400, "1000000000000000000000000000000000000..."),
    ],
    ids=["zero", "negative", "nan", "inf", "over-100", "huge-int"],
)
def test_a_weight_out_of_range_is_refused(weight: float, shown: str) -> None:
    assert _error(TrafficPolicy.of, [("champion", weight), ("b", 100)]) == (
        f"The weight of route 'champion' must be above 0 and at most 100 percent, got {shown}."
    )


@pytest.mark.parametrize("weight", ["90", None, True], ids=repr)
def test_a_weight_that_is_not_a_number_is_refused(weight: object) -> None:
    assert _error(TrafficPolicy.of, [("champion", weight)]) == (
        f"The weight of route 'champion' must be a number, got {weight!r}."
    )


@pytest.mark.parametrize(
    "routes",
    [[("a", 50, "x")], ["a"], [{"target": "a", "weight": 100}]],
    ids=["triple", "bare", "dict-item"],
)
def test_a_route_that_is_not_a_pair_is_refused(routes: list[object]) -> None:
    assert "expected a target and a weight" in _error(TrafficPolicy.of, routes)


@pytest.mark.parametrize(
    ("routes", "message"),
    [
        (None, "The traffic policy's routes must be a list, got None."),
        (100, "The traffic policy's routes must be a list, got 100."),
        ("champion", "Route 'champion' is invalid: expected a target and a weight."),
    ],
    ids=repr,
)
def test_routes_that_are_not_a_list_are_refused(routes: object, message: str) -> None:
    assert _error(TrafficPolicy.of, routes) == message


def test_a_policy_needs_a_route() -> None:
    assert _error(TrafficPolicy.of, {}) == (
        "A traffic policy needs at least one route (e.g. 'champion=100')."
    )
    assert "at least one route" in _error(TrafficPolicy.of, [], shadows=["champion"])


@pytest.mark.parametrize(
    ("routes", "shadows", "target"),
    [
        ([("7", 50), ("v7", 50)], (), "7"),
        ({"champion": 100}, ["champion"], "champion"),
        ({"champion": 100}, ["8", "v8"], "8"),
    ],
    ids=["routes", "shadow-is-a-route", "shadows"],
)
def test_a_target_named_twice_is_refused(routes: object, shadows: list[str], target: str) -> None:
    assert _error(TrafficPolicy.of, routes, shadows) == (
        f"Target {target!r} is named twice in the traffic policy; a target is either one "
        "route or one shadow."
    )


def test_too_many_targets_are_refused() -> None:
    routes = [(str(n), 100 / MAX_ROUTES) for n in range(1, MAX_ROUTES + 1)]
    assert len(TrafficPolicy.of(routes).routes) == MAX_ROUTES
    message = _error(TrafficPolicy.of, routes, shadows=["latest"])
    assert message == f"A traffic policy may name at most {MAX_ROUTES} targets, got 17."


@pytest.mark.parametrize(
    "key", ["1st", "has space", "a/b", "x" * 129, 7, "-lead"], ids=lambda k: repr(k)[:12]
)
def test_a_bad_sticky_key_is_refused(key: object) -> None:
    message = _error(TrafficPolicy.of, {"champion": 100}, sticky_key=key)
    assert message == (
        f"Sticky key {key!r} is invalid: name a request field (1-128 letters, digits, "
        "'_', '.' or '-', starting with a letter or '_')."
    )


def test_shadows_must_be_a_list() -> None:
    assert _error(TrafficPolicy.of, {"champion": 100}, shadows=8) == (
        "The traffic policy's shadows must be a list, got 8."
    )


# -- describing and JSON ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("policy", "text"),
    [
        (TrafficPolicy.of({"champion": 100}), "champion 100%"),
        (
            TrafficPolicy.of({"champion": 90, "v8": 10}, shadows=["latest"], sticky_key="uid"),
            "champion 90% / 8 10% · shadow: latest · sticky on uid",
        ),
        (
            TrafficPolicy.of({"a": 33.3, "b": 33.3, "c": 33.4}, shadows=["7", "8"]),
            "a 33.3% / b 33.3% / c 33.4% · shadow: 7, 8",
        ),
        (TrafficPolicy.of({"a": 50, "b": 50}, sticky_key="k"), "a 50% / b 50% · sticky on k"),
    ],
    ids=["one", "everything", "floats", "sticky"],
)
def test_describe_is_one_line(policy: TrafficPolicy, text: str) -> None:
    assert policy.describe() == text


def test_a_route_prints_as_typed() -> None:
    assert str(Route("champion", 90.0)) == "champion=90"
    assert parse_route(str(Route("7", 12.5))) == Route("7", 12.5)


@pytest.mark.parametrize(
    "policy",
    [
        TrafficPolicy.of({"champion": 100}),
        TrafficPolicy.of({"champion": 90, "7": 10}, shadows=["latest", "8"], sticky_key="u"),
        TrafficPolicy.of({"a": 33.3, "b": 33.3, "c": 33.4}),
        TrafficPolicy.of({"a": 100 / 3, "b": 100 / 3, "c": 100 / 3}),
    ],
    ids=["one", "everything", "floats", "thirds"],
)
def test_json_round_trips(policy: TrafficPolicy) -> None:
    import json

    document = policy.to_json()
    assert TrafficPolicy.from_json(document) == policy
    assert TrafficPolicy.from_json(json.loads(json.dumps(document))) == policy


def test_to_json_writes_plain_values() -> None:
    policy = TrafficPolicy.of({"champion": 90, "v8": 10}, shadows="latest")
    assert policy.to_json() == {
        "routes": [{"target": "champion", "weight": 90.0}, {"target": "8", "weight": 10.0}],
        "shadows": ["latest"],
        "sticky_key": None,
    }


def test_from_json_fills_optional_fields() -> None:
    policy = TrafficPolicy.from_json({"routes": [{"target": "v3", "weight": 100}]})
    assert policy == TrafficPolicy((Route("3", 100.0),))
    assert TrafficPolicy.from_json({"routes": [{"target": 3, "weight": 100}], "shadows": None})


@pytest.mark.parametrize(
    "document", [None, [], {}, {"routes": "champion=100"}, {"routes": None}], ids=repr
)
def test_from_json_refuses_what_is_not_a_policy(document: object) -> None:
    assert _error(TrafficPolicy.from_json, document).startswith(
        "A traffic policy must be an object with 'routes'"
    )


@pytest.mark.parametrize(
    "item",
    [{"target": "a"}, {"target": "a", "weight": 100, "extra": 1}, ["a", 100], "a=100"],
    ids=repr,
)
def test_from_json_refuses_a_malformed_route(item: object) -> None:
    assert _error(TrafficPolicy.from_json, {"routes": [item]}) == (
        f"Route {item!r} is invalid: expected {{'target': ..., 'weight': ...}}."
    )


def test_from_json_checks_the_policy_again() -> None:
    document = {"routes": [{"target": "a", "weight": 70}, {"target": "b", "weight": 20}]}
    assert "got 90%" in _error(TrafficPolicy.from_json, document)


# -- checks shared by stores and clients --------------------------------------------------


def test_check_policy_checks_a_policy_built_without_of() -> None:
    assert check_policy(TrafficPolicy((Route("v7", 100),))) == TrafficPolicy.of({"7": 100})
    assert "got 50%" in _error(check_policy, TrafficPolicy((Route("a", 50.0),)))
    assert _error(check_policy, {"champion": 100}) == (
        "A deployment's policy must be a TrafficPolicy (build it with TrafficPolicy.of), got dict."
    )


def test_check_deployment_draft_names_the_field() -> None:
    policy = TrafficPolicy.of({"champion": 100})
    checked = check_deployment_draft(DeploymentDraft("churn-api", "churn", policy, "about"))
    assert checked == DeploymentDraft("churn-api", "churn", policy, "about")
    assert _error(check_deployment_draft, DeploymentDraft("a/b", "m", policy)).startswith(
        "Deployment name 'a/b' is invalid"
    )
    assert _error(check_deployment_draft, DeploymentDraft("ok", "a@b", policy)).startswith(
        "Model name 'a@b' is invalid"
    )
    long_text = DeploymentDraft("ok", "m", policy, "d" * 8001)
    assert _error(check_deployment_draft, long_text) == (
        "The description must be text of at most 8000 characters."
    )


def test_check_note_and_expected_revision() -> None:
    assert check_note("reason", "r" * 8000) == "r" * 8000
    assert _error(check_note, "reason", None) == (
        "The reason must be text of at most 8000 characters."
    )
    assert check_expected_revision(None) is None
    assert check_expected_revision(3) == 3
    for bad in (0, -1, True, "3", 3.0):
        assert _error(check_expected_revision, bad) == (
            f"expected_revision must be a revision number from 1 or None, got {bad!r}."
        )
