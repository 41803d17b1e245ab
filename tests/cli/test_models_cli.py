"""``loopml models``, in-process (exit codes and output) and as a real subprocess."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from loopml.cli import main
from loopml.config import load_settings
from loopml.domain import VersionDraft
from loopml.registry._lineage import INPUT_DATASET_TAG
from loopml.tracking import Client


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    """Run the CLI in-process; returns (exit code, stdout, stderr)."""
    code = 0
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def fails(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    """Run a command that must be refused: exit 2 and one ``Error:`` line; returns it."""
    code, _, err = run_cli(capsys, *argv)
    assert code == 2, err
    assert err.startswith("Error: ") and err.strip().count("\n") == 0, err
    return err


@pytest.fixture(autouse=True)
def _wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables as wide as they like, so ids are never folded whatever the terminal."""
    from loopml.cli._render import console

    monkeypatch.setattr(console, "_width", 200)


@pytest.fixture
def home_client() -> Iterator[Client]:
    """A client over the store the CLI uses (the isolated LOOPML_HOME of the test)."""
    made = Client(load_settings(), capture_environment=False)
    yield made
    made.close()


@pytest.fixture
def churn(home_client: Client) -> str:
    """Model ``churn`` with versions 1 and 2 of one run (2 derives from 1); the run id.

    The versions are registered through the store, without a package: enough for every
    command that does not load the model.
    """
    run = home_client.create_run("train", name="rf-a")
    home_client.log_params(run.id, {"C": 0.5, "penalty": "l2"})
    home_client.log_metric(run.id, "auc", 0.91)
    home_client.set_tag(run.id, f"{INPUT_DATASET_TAG}customers", "3")
    home_client.end_run(run.id)
    for number, parents in ((1, ()), (2, (("churn", 1),))):
        draft = VersionDraft(
            "churn", "sklearn", "{}", f"digest-{number}", run_id=run.id, parents=parents
        )
        home_client.stores.models.create_version(draft)
    return run.id


def request_id_in(text: str) -> str:
    found = re.search(r"Approval request ([0-9a-f]{32})", text)
    assert found is not None, text
    return found.group(1)


# -- models and versions ------------------------------------------------------------


def test_list_shows_each_model_with_latest_version_and_aliases(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(capsys, "models", "alias", "set", "churn", "champion", "1")[0] == 0
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0
    assert "1 model(s)" in out
    row = next(line for line in out.splitlines() if "churn" in line)
    assert "2" in row and "champion→1" in row


def test_list_of_an_empty_registry_says_zero(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(capsys, "models", "list")
    assert code == 0 and "0 model(s)" in out


def test_show_gives_the_model_and_its_versions(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "models", "protect", "churn", "champion")
    code, out, _ = run_cli(capsys, "models", "show", "churn")
    assert code == 0
    assert "Model churn" in out and "protected aliases" in out and "champion" in out
    assert "2 version(s)" in out and churn[:12] in out


def test_versions_lists_newest_first_with_status_flavor_and_run(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "models", "describe", "churn/1", "baseline")
    code, out, _ = run_cli(capsys, "models", "versions", "churn")
    assert code == 0
    rows = [line for line in out.splitlines() if churn[:12] in line]
    assert [row.split()[1] for row in rows] == ["2", "1"]
    assert all("ready" in row and "sklearn" in row for row in rows)
    assert "baseline" in rows[1]


def test_describe_sets_the_description_of_the_version_a_uri_names(
    churn: str, capsys: pytest.CaptureFixture[str], home_client: Client
) -> None:
    code, out, _ = run_cli(capsys, "models", "describe", "churn@latest", "AUC 0.91 [holdout]")
    assert code == 0 and "churn/2" in out and "AUC 0.91 [holdout]" in out
    assert home_client.stores.models.get_version("churn", 2).description == "AUC 0.91 [holdout]"


def test_tag_sets_and_deletes_tags(
    churn: str, capsys: pytest.CaptureFixture[str], home_client: Client
) -> None:
    code, out, _ = run_cli(capsys, "models", "tag", "churn/1", "stage=prod", "team=ml=core")
    assert code == 0 and "stage=prod" in out
    code, out, _ = run_cli(capsys, "models", "tag", "churn/1", "--delete", "stage")
    assert code == 0
    assert home_client.stores.models.get_version("churn", 1).tags == {"team": "ml=core"}


def test_archive_and_restore_change_the_status(
    churn: str, capsys: pytest.CaptureFixture[str], home_client: Client
) -> None:
    code, out, _ = run_cli(capsys, "models", "archive", "churn/1")
    assert code == 0 and "archived" in out
    assert home_client.stores.models.get_version("churn", 1).status == "archived"
    code, out, _ = run_cli(capsys, "models", "restore", "churn/1")
    assert code == 0 and "ready" in out
    assert home_client.stores.models.get_version("churn", 1).status == "ready"


def test_archiving_a_version_an_alias_points_at_is_refused(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "models", "alias", "set", "churn", "champion", "2")
    assert "champion" in fails(capsys, "models", "archive", "churn/2")


def test_delete_with_yes_removes_the_version(
    churn: str, capsys: pytest.CaptureFixture[str], home_client: Client
) -> None:
    code, out, _ = run_cli(capsys, "models", "delete", "churn/2", "--yes")
    assert code == 0 and "Deleted churn/2" in out
    assert [v.version for v in home_client.stores.models.list_versions("churn")] == [1]


@pytest.mark.parametrize(
    ("answer", "code", "left"), [("y\n", 0, [1]), ("n\n", 130, [2, 1])], ids=["yes", "no"]
)
def test_delete_asks_first_without_yes(
    churn: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    home_client: Client,
    answer: str,
    code: int,
    left: list[int],
) -> None:
    monkeypatch.setattr(sys, "stdin", io.StringIO(answer))
    assert run_cli(capsys, "models", "delete", "churn/2")[0] == code
    assert [v.version for v in home_client.stores.models.list_versions("churn")] == left


# -- aliases ------------------------------------------------------------------------


def test_alias_set_remove_and_history(churn: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run_cli(
        capsys, "models", "alias", "set", "churn", "champion", "1", "--expect", "none"
    )
    assert code == 0 and "champion" in out and "- → 1" in out
    code, out, _ = run_cli(
        capsys, "models", "alias", "set", "churn", "champion", "2", "--reason", "AUC 0.91",
        "--expect", "1",
    )  # fmt: skip
    assert code == 0 and "1 → 2" in out
    assert run_cli(capsys, "models", "alias", "set", "churn", "challenger", "1")[0] == 0
    code, out, _ = run_cli(capsys, "models", "alias", "remove", "churn", "challenger")
    assert code == 0 and "1 → -" in out
    code, out, _ = run_cli(capsys, "models", "alias", "history", "churn", "champion")
    assert code == 0 and "2 alias move(s)" in out and "AUC 0.91" in out
    assert "challenger" not in out
    code, out, _ = run_cli(capsys, "models", "alias", "history", "churn")
    assert code == 0 and "4 alias move(s)" in out


def test_alias_set_with_a_stale_expect_is_refused(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "models", "alias", "set", "churn", "champion", "1")
    fails(capsys, "models", "alias", "set", "churn", "champion", "2", "--expect", "none")


def test_protected_alias_moves_only_through_an_approved_request(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "models", "protect", "churn", "champion", "challenger")
    assert code == 0 and "challenger, champion" in out
    refused = fails(capsys, "models", "alias", "set", "churn", "champion", "2")
    assert "protected" in refused and "approval" in refused

    code, out, _ = run_cli(
        capsys, "models", "approval", "request", "churn", "champion", "2", "--comment", "AUC up"
    )
    assert code == 0 and "pending" in out
    request_id = request_id_in(out)
    code, out, _ = run_cli(capsys, "models", "approvals", "churn", "--status", "pending")
    assert code == 0 and request_id in out and "AUC up" in out

    code, out, _ = run_cli(capsys, "models", "approve", request_id, "--comment", "checked")
    assert code == 0 and "approved" in out
    code, out, _ = run_cli(capsys, "models", "list")
    assert "champion→2" in out
    code, out, _ = run_cli(capsys, "models", "alias", "history", "churn", "champion")
    assert code == 0 and request_id in out and "checked" in out
    code, out, _ = run_cli(capsys, "models", "approvals", "--status", "pending")
    assert code == 0 and "0 approval request(s)" in out


def test_a_rejected_request_moves_nothing_and_cannot_be_approved_later(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "models", "protect", "churn", "champion")
    _, out, _ = run_cli(capsys, "models", "approval", "request", "churn", "champion", "1")
    request_id = request_id_in(out)
    code, out, _ = run_cli(capsys, "models", "reject", request_id, "--comment", "no")
    assert code == 0 and "rejected" in out
    code, out, _ = run_cli(capsys, "models", "alias", "history", "churn")
    assert code == 0 and "0 alias move(s)" in out
    assert request_id in fails(capsys, "models", "approve", request_id)


def test_unprotect_lets_the_alias_move_directly(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "models", "protect", "churn", "champion")
    code, out, _ = run_cli(capsys, "models", "unprotect", "churn")
    assert code == 0 and "no protected aliases" in out
    assert run_cli(capsys, "models", "alias", "set", "churn", "champion", "2")[0] == 0


# -- lineage ------------------------------------------------------------------------


def test_lineage_tree_shows_run_data_parents_and_promotions(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run_cli(capsys, "models", "alias", "set", "churn", "champion", "2", "--reason", "AUC 0.91")
    code, out, _ = run_cli(capsys, "models", "lineage", "churn@champion")
    assert code == 0
    assert out.splitlines()[0].startswith("churn/2")
    assert f"run rf-a ({churn})" in out
    assert "C=0.5" in out and "auc=0.91" in out and "dataset customers@3" in out
    assert "promoted to champion" in out and "AUC 0.91" in out
    assert "parent of: churn/1" in out and "(shown above)" in out


def test_lineage_json_holds_the_root_and_the_run(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run_cli(capsys, "models", "lineage", "churn/2", "--json")
    assert code == 0
    graph = json.loads(out)
    ids = {node["id"] for node in graph["nodes"]}
    assert graph["root"] == "model_version:churn/2"
    assert {"model_version:churn/2", "model_version:churn/1", f"run:{churn}"} <= ids
    assert {"source": f"run:{churn}", "target": "model_version:churn/2", "relation": "produced"} in graph["edges"]  # fmt: skip


def test_a_logged_sklearn_model_is_listed_and_traced_to_its_run(
    home_client: Client, capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from loopml.registry._registry import ModelRegistry

    x = pd.DataFrame({"tenure": [1.0, 30.0, 4.0, 24.0, 2.0, 36.0], "calls": [9, 1, 7, 0, 8, 2]})
    model = LogisticRegression().fit(x, [1, 0, 1, 0, 1, 0])
    version = ModelRegistry(home_client).log_model(model, "churn", input_example=x.head())
    code, out, _ = run_cli(capsys, "models", "versions", "churn")
    assert code == 0 and "sklearn" in out and str(version.run_id)[:12] in out
    code, out, _ = run_cli(capsys, "models", "lineage", "churn/1")
    assert code == 0 and str(version.run_id) in out


# -- refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["models", "show", "nope"], "'nope'"),
        (["models", "versions", "nope"], "'nope'"),
        (["models", "lineage", "nope@latest"], "'nope'"),
        (["models", "alias", "history", "nope"], "'nope'"),
        (["models", "describe", "churn/9", "x"], "no version 9"),
        (["models", "delete", "churn/9", "--yes"], "no version 9"),
        (["models", "lineage", "churn@gold"], "no alias 'gold'"),
        (["models", "alias", "set", "churn", "champion", "7"], "no version 7"),
        (["models", "approval", "request", "churn", "champion", "7"], "no version 7"),
        (["models", "describe", "churn-2", "x"], "Invalid model URI 'churn-2'"),
        (["models", "archive", "churn/zero"], "Invalid model URI 'churn/zero'"),
        (["models", "tag", "churn/1", "stage"], "'stage' is not KEY=VALUE"),
        (["models", "tag", "churn/1", "=prod"], "'=prod' is not KEY=VALUE"),
        (["models", "tag", "churn/1"], "KEY=VALUE"),
        (["models", "alias", "set", "churn", "Champion", "1"], "Alias 'Champion' is invalid"),
        (["models", "alias", "set", "churn", "champion", "1", "--expect", "x"], "--expect 'x'"),
        (["models", "approvals", "--status", "done"], "Unknown approval status 'done'"),
        (["models", "approve", "f" * 32], "f" * 32),
    ],
    ids=[
        "show-unknown-model",
        "versions-unknown-model",
        "lineage-unknown-model",
        "history-unknown-model",
        "unknown-version",
        "delete-unknown-version",
        "unknown-alias",
        "alias-to-missing-version",
        "approval-for-missing-version",
        "malformed-uri",
        "malformed-version",
        "tag-without-equals",
        "tag-without-key",
        "tag-nothing",
        "bad-alias",
        "bad-expect",
        "unknown-status",
        "unknown-request",
    ],
)
def test_bad_input_is_one_error_line_and_exit_2(
    churn: str, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    assert message in fails(capsys, *argv)


def test_a_non_numeric_version_is_a_usage_error(
    churn: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, "models", "alias", "set", "churn", "champion", "two")
    assert code == 2 and "Invalid value" in err and "Traceback" not in err


# -- a real process -----------------------------------------------------------------


def test_real_subprocess_lists_models_and_alias_history(churn: str, tmp_path: Path) -> None:
    env = {**os.environ, "COLUMNS": "200"}  # LOOPML_HOME: the test's isolated home
    script = Path(sys.executable).parent / "loopml"

    def loopml(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(script), *argv], capture_output=True, text=True, env=env, check=False
        )

    moved = loopml("models", "alias", "set", "churn", "champion", "2", "--reason", "AUC 0.91")
    assert moved.returncode == 0, moved.stderr
    listed = loopml("models", "list")
    assert listed.returncode == 0 and "champion→2" in listed.stdout
    history = loopml("models", "alias", "history", "churn")
    assert history.returncode == 0 and "AUC 0.91" in history.stdout and "- → 2" in history.stdout
    missing = loopml("models", "alias", "history", "nope")
    assert missing.returncode == 2
    assert missing.stderr.startswith("Error: ") and "'nope'" in missing.stderr
