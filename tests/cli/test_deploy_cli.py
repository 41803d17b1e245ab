"""``loopml deploy``, in-process (exit codes, output, JSON) over real registered
scikit-learn models, and once as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from loopml.serving._deployments import deployment_history, get_deployment, list_deployments
from loopml.tracking import Client
from tests.cli.test_models_cli import _wide_console, fails, home_client, run_cli
from tests.serving.test_deployments import register_churn

__all__ = ["_wide_console", "home_client"]

CANARY = ("--route", "champion=90", "--route", "challenger=10")


@pytest.fixture
def churn(home_client: Client) -> Client:
    """Model ``churn`` in the CLI's home: versions 1-3, champion → 2, challenger → 3."""
    register_churn(home_client)
    return home_client


@pytest.fixture
def api(churn: Client, capsys: pytest.CaptureFixture[str]) -> Client:
    """Deployment ``api`` of ``churn``: 90/10 canary with shadow 1."""
    code, _, err = run_cli(capsys, "deploy", "create", "api", "--model", "churn", *CANARY,
                           "--shadow", "1")  # fmt: skip
    assert code == 0, err
    return churn


def json_of(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    code, out, err = run_cli(capsys, *argv)
    assert code == 0, err
    return json.loads(out)


def _revisions(client: Client) -> list[tuple[int, str]]:
    return [(c.revision, c.kind.value) for c in deployment_history("api", client)]


# -- each command ------------------------------------------------------------------------


def test_create_prints_the_deployment_and_stores_it(
    churn: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(
        capsys, "deploy", "create", "api", "--model", "churn", *CANARY, "--shadow", "latest",
        "--sticky", "customer_id", "--description", "CRM scores", "--reason", "first release",
    )  # fmt: skip
    assert code == 0, err
    assert "Deployment api of model churn at revision 1" in out
    assert "champion 90% / challenger 10% · shadow: latest · sticky on customer_id" in out
    stored = get_deployment("api", churn)
    assert (stored.description, stored.policy.sticky_key) == ("CRM scores", "customer_id")
    assert deployment_history("api", churn)[0].reason == "first release"
    code, out, _ = run_cli(capsys, "deploy", "show", "api")
    assert code == 0 and "about:     CRM scores" in out and "sticky on: customer_id" in out
    assert "shadow:    latest → version 3" in out


def test_create_json_is_the_stored_deployment(
    churn: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    body = json_of(capsys, "deploy", "create", "api", "--model", "churn", "-r", "3=100", "--json")
    assert (body["name"], body["model"], body["revision"]) == ("api", "churn", 1)
    assert body["policy"] == {
        "routes": [{"target": "3", "weight": 100.0}],
        "shadows": [],
        "sticky_key": None,
    }
    assert body["created_at"] == get_deployment("api", churn).created_at.isoformat()


def test_show_gives_each_target_its_version_now_and_the_last_changes(
    api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    from loopml.registry import ModelRegistry

    ModelRegistry(api).remove_alias("churn", "challenger")
    code, out, err = run_cli(capsys, "deploy", "show", "api")
    assert code == 0, err
    assert "api (revision 1)" in out and "model:     churn" in out
    assert "champion 90% → version 2" in out
    assert "challenger 10% → resolves to no version" in out
    assert "shadow:    1 → version 1" in out and "sticky on: -" in out
    assert "Last 1 change(s)" in out and "create" in out


def test_show_json_has_the_versions_and_the_history(
    api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    for share in range(1, 8):  # seven more changes: show keeps the last five
        run_cli(capsys, "deploy", "update", "api", "-r", f"champion={100 - share}",
                "-r", f"challenger={share}")  # fmt: skip
    body = json_of(capsys, "deploy", "show", "api", "--json")
    assert body["versions"] == {"champion": 2, "challenger": 3, "1": 1}
    assert body["revision"] == 8
    assert [change["revision"] for change in body["history"]] == [8, 7, 6, 5, 4]
    assert body["history"][0]["kind"] == "update"


def test_update_changes_what_is_given_and_keeps_the_rest(
    api: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run_cli(capsys, "deploy", "update", "api", "--sticky", "region",
                             "--reason", "pin customers")  # fmt: skip
    assert code == 0, err
    assert "revision 2" in out and "shadow: 1 · sticky on region" in out
    body = json_of(capsys, "deploy", "update", "api", "-r", "champion=100", "--no-shadows",
                   "--expect-revision", "2", "--json")  # fmt: skip
    assert body["revision"] == 3
    assert body["policy"]["shadows"] == [] and body["policy"]["sticky_key"] == "region"
    body = json_of(capsys, "deploy", "update", "api", "--no-sticky", "--shadow", "challenger",
                   "--json")  # fmt: skip
    assert body["policy"] == {
        "routes": [{"target": "champion", "weight": 100.0}],
        "shadows": ["challenger"],
        "sticky_key": None,
    }
    assert deployment_history("api", api)[2].reason == "pin customers"


def test_rollback_history_list_and_delete(api: Client, capsys: pytest.CaptureFixture[str]) -> None:
    run_cli(capsys, "deploy", "update", "api", "-r", "challenger=100")
    code, out, _ = run_cli(capsys, "deploy", "rollback", "api", "--reason", "errors up")
    assert code == 0 and "revision 3: champion 90% / challenger 10%" in out
    code, out, _ = run_cli(capsys, "deploy", "history", "api")
    assert code == 0 and "rollback to 1" in out and "errors up" in out
    changes = json_of(capsys, "deploy", "history", "api", "--json")
    assert [(c["revision"], c["kind"], c["restores"]) for c in changes] == [
        (3, "rollback", 1),
        (2, "update", None),
        (1, "create", None),
    ]
    code, out, _ = run_cli(capsys, "deploy", "list")
    assert code == 0 and "1 deployment(s)" in out
    assert "api" in out and "churn" in out and "shadow: 1" in out
    assert [d["name"] for d in json_of(capsys, "deploy", "list", "--json")] == ["api"]
    code, out, _ = run_cli(capsys, "deploy", "delete", "api", "--yes")
    assert code == 0 and "Deleted deployment api." in out
    assert json_of(capsys, "deploy", "list", "--json") == []


def test_list_of_no_deployments_says_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "deploy", "list")
    assert code == 0 and "0 deployment(s)" in out


@pytest.mark.parametrize(
    ("answer", "code", "left"), [("y\n", 0, []), ("n\n", 130, ["api"])], ids=["yes", "no"]
)
def test_delete_asks_first_without_yes(
    api: Client,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    answer: str,
    code: int,
    left: list[str],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
    assert run_cli(capsys, "deploy", "delete", "api")[0] == code
    assert [d.name for d in list_deployments(api)] == left


# -- refusals ----------------------------------------------------------------------------


_CREATE = ("deploy", "create", "new", "--model", "churn")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (("deploy", "create", "new", "--model", "ghost", *CANARY), "No registered model named"),
        ((*_CREATE, "-r", "gold=100"), "has no alias 'gold'; its aliases: challenger→3"),
        ((*_CREATE, "-r", "9=100"), "has no version 9; its aliases"),
        ((*_CREATE, *CANARY, "--shadow", "bronze"), "no alias 'bronze'"),
        ((*_CREATE, "-r", "champion=80", "-r", "challenger=10"), "add up to 100%, got 90%"),
        ((*_CREATE, *CANARY, "--shadow", "champion"), "'champion' is named twice"),
        ((*_CREATE, *CANARY, "--sticky", "a b"), "Sticky key 'a b' is invalid"),
        ((*_CREATE, "-r", "champion"), "expected TARGET=PERCENT"),
        (_CREATE, "at least one route"),
        (("deploy", "create", "api", "--model", "churn", *CANARY), "'api' exists"),
        (("deploy", "update", "api"), "Nothing to change in deployment 'api'"),
        (("deploy", "update", "api", "-r", "gold=100"), "no alias 'gold'"),
        (("deploy", "update", "api", "--shadow", "2", "--no-shadows"), "--no-shadows, not both"),
        (("deploy", "update", "api", "--sticky", "x", "--no-sticky"), "--no-sticky, not both"),
        (("deploy", "update", "api", "-r", "2=100", "--expect-revision", "4"), "not 4 as expected"),
        (("deploy", "rollback", "api"), "nothing to roll back to"),
        (("deploy", "show", "ghost"), "No deployment named 'ghost'"),
        (("deploy", "update", "ghost", "-r", "2=100"), "No deployment named 'ghost'"),
        (("deploy", "rollback", "ghost"), "No deployment named 'ghost'"),
        (("deploy", "history", "ghost"), "No deployment named 'ghost'"),
        (("deploy", "delete", "ghost", "--yes"), "No deployment named 'ghost'"),
        (("deploy", "show", "a b"), "Deployment name 'a b'"),
    ],
    ids=[
        "unknown-model",
        "unknown-alias",
        "unknown-version",
        "unknown-shadow",
        "weights",
        "duplicate-target",
        "bad-sticky-key",
        "route-text",
        "no-route",
        "name-taken",
        "nothing-to-change",
        "update-unknown-alias",
        "shadow-and-no-shadows",
        "sticky-and-no-sticky",
        "stale-revision",
        "nothing-to-roll-back",
        "show-unknown",
        "update-unknown",
        "rollback-unknown",
        "history-unknown",
        "delete-unknown",
        "malformed-name",
    ],
)
def test_bad_input_is_one_error_line_exit_2_and_changes_nothing(
    api: Client, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...], message: str
) -> None:
    before = get_deployment("api", api)
    assert message in fails(capsys, *argv)
    assert list_deployments(api) == [before]
    assert _revisions(api) == [(1, "create")]


@pytest.mark.parametrize(
    "argv",
    [
        ("deploy", "create", "new", *CANARY),
        ("deploy", "update", "api", "--expect-revision", "0"),
        ("deploy", "update", "api", "--expect-revision", "latest"),
    ],
    ids=["model-missing", "revision-zero", "revision-not-a-number"],
)
def test_a_malformed_option_is_a_usage_error(
    api: Client, capsys: pytest.CaptureFixture[str], argv: tuple[str, ...]
) -> None:
    code, _, err = run_cli(capsys, *argv)
    assert code == 2 and "Traceback" not in err
    assert "--model" in err or "--expect-revision" in err
    assert _revisions(api) == [(1, "create")]


# -- a real process ----------------------------------------------------------------------


def test_real_subprocess_creates_and_shows_a_deployment(churn: Client, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}  # LOOPML_HOME: the test's isolated home
    script = Path(sys.executable).parent / "loopml"

    def loopml(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *argv], capture_output=True, text=True, env=env, check=False
        )

    created = loopml("deploy", "create", "api", "--model", "churn", *CANARY)
    assert created.returncode == 0, created.stderr
    shown = loopml("deploy", "show", "api", "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["versions"] == {"champion": 2, "challenger": 3}
    refused = loopml("deploy", "create", "other", "--model", "churn", "-r", "gold=100")
    assert refused.returncode == 2
    assert refused.stderr.startswith("Error: Model 'churn' has no alias 'gold'")
