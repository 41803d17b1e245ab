"""The serving app fuzzed from its own OpenAPI spec: schemathesis sends generated bodies,
parameters and headers, valid and invalid, to every documented route of a real uvicorn
server on 127.0.0.1 serving a deployment (a split policy with a sticky key and a shadow,
the prediction log on, as ``loopml serve`` runs it). No answer may be a 5xx, and every
answer must have a documented status, content type and body.

The spec's record schema allows any fields, so most of what it generates is refused by
the model's signature before any model runs; a second test sends records shaped like the
model's (its fields, plus the sticky key and strays, holding any JSON value: huge
integers, NaN, lists, objects), in every body shape, small and over the inline limit,
so that routing, input building and the models see hostile values too.

Bounded (a fixed number of examples per test, a deadline per example, derandomized) so
that it runs in well under a minute.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from loopml.serving._deployments import create_deployment
from loopml.serving._server import build_serving_app
from loopml.tracking import Client
from tests.server.conftest import serve_in_thread
from tests.serving._helpers import register, serving_settings, set_alias, wait_for

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
MAX_EXAMPLES = 120
DEADLINE_MS = 2000
# A failing example is reported as found: shrinking a batch of 70 records can take
# minutes, which would break the bound on the test's time.
NO_SHRINKING = [Phase.explicit, Phase.reuse, Phase.generate]


@pytest.fixture(scope="module")
def serving_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A deployment of ``churn`` (champion 1 at 70%, version 2 at 30%, sticky on
    ``customer``, shadowed by ``latest``), served with its prediction log."""
    home = tmp_path_factory.mktemp("fuzz") / ".loopml"
    home.mkdir()
    served_settings = serving_settings(home, poll=0.5)
    register(served_settings, seeds=(0, 1))
    set_alias(served_settings, "champion", 1)
    with Client(served_settings, capture_environment=False) as client:
        create_deployment(
            "churn-api",
            "churn",
            {"champion": 70, "2": 30},
            shadows=["latest"],
            sticky_key="customer",
            client=client,
        )
    app = build_serving_app("churn-api", served_settings)
    with serve_in_thread(app) as url:
        wait_for(lambda: httpx.get(f"{url}/ready").status_code == 200, what="/ready")
        yield url


@pytest.fixture(scope="module")
def served_schema(serving_url: str) -> Any:
    loaded = schemathesis.openapi.from_url(f"{serving_url}/openapi.json")
    operations = {f"{op.method.upper()} {op.path}" for op in _operations(loaded)}
    assert operations == {f"{method} {path}" for method, path, _ in CASES}
    return loaded


def _operations(loaded: Any) -> list[Any]:
    return [result.ok() for result in loaded.get_all_operations()]


CASES = [
    ("POST", "/predict", GenerationMode.POSITIVE),
    ("POST", "/predict", GenerationMode.NEGATIVE),
    ("POST", "/feedback", GenerationMode.POSITIVE),
    ("POST", "/feedback", GenerationMode.NEGATIVE),
    ("GET", "/health", GenerationMode.POSITIVE),
    ("GET", "/ready", GenerationMode.POSITIVE),
    ("GET", "/metrics", GenerationMode.POSITIVE),
]


@pytest.mark.parametrize(
    ("method", "path", "mode"),
    [pytest.param(*case, id=f"{case[0]} {case[1]} {case[2]}") for case in CASES],
)
def test_no_answer_is_a_server_error_or_undocumented(
    served_schema: Any, method: str, path: str, mode: GenerationMode
) -> None:
    operation = served_schema[path][method.lower()]

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=MAX_EXAMPLES,
        phases=NO_SHRINKING,
        deadline=DEADLINE_MS,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(checks=CHECKS, timeout=10)

    fuzz()


_ANY = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=2**63 - 2, max_value=2**70),
    st.floats(),
    st.text(max_size=6),
    st.lists(st.integers(), max_size=2),
    st.dictionaries(st.text(max_size=2), st.integers(), max_size=2),
)
_FITTING = st.fixed_dictionaries(
    {
        "age": st.integers(0, 120),
        "income": st.floats(0, 500),
        "plan": st.sampled_from(["free", "pro"]),
    },
    optional={"customer": _ANY},
)
_HOSTILE = st.fixed_dictionaries(
    {"age": _ANY, "income": _ANY, "plan": _ANY},
    optional={"customer": _ANY, "colour": _ANY},
)
_RECORD = st.one_of(_FITTING, _FITTING, _HOSTILE)
_RECORDS = st.one_of(
    st.lists(_RECORD, min_size=1, max_size=4), st.lists(_FITTING, min_size=60, max_size=70)
)
_BODIES = st.one_of(
    _RECORD,
    _RECORDS,
    _RECORDS.map(lambda records: {"records": records}),
    _RECORDS.map(
        lambda records: {"columns": {key: [r.get(key) for r in records] for key in records[0]}}
    ),
)


@given(body=_BODIES, proba=st.sampled_from([None, "true", "false"]))
@settings(
    max_examples=MAX_EXAMPLES * 2,
    phases=NO_SHRINKING,
    deadline=DEADLINE_MS,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
def test_records_shaped_like_the_models_are_answered_or_refused_never_failed(
    serving_url: str, served_schema: Any, body: Any, proba: str | None
) -> None:
    query = {"proba": proba} if proba is not None else {}
    case = served_schema["/predict"]["post"].Case(
        body=body, query=query, media_type="application/json"
    )
    # Sent by hand: the standard library writes NaN and Infinity (requests refuses to),
    # and so do clients in the wild.
    response = httpx.post(
        f"{serving_url}/predict",
        content=json.dumps(body).encode(),
        params=query,
        headers={"content-type": "application/json"},
        timeout=10,
    )
    case.validate_response(response, checks=CHECKS)
