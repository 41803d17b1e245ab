"""The tracking client: artifacts, environment, search as a DataFrame, injected clock."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

import loopml
from loopml.config import Settings
from loopml.domain import RunStatus
from loopml.tracking import Client, GitState


def test_folder_artifacts_keep_their_layout_and_dedupe(client: Client, tmp_path: Path) -> None:
    source = tmp_path / "model"
    (source / "sub").mkdir(parents=True)
    (source / "a.txt").write_text("same")
    (source / "sub" / "b.txt").write_text("same")
    run = client.create_run("e")
    logged = client.log_artifact(run.id, source, artifact_path="model")
    assert [a.path for a in logged] == ["model/a.txt", "model/sub/b.txt"]
    assert logged[0].digest == logged[1].digest  # identical content is stored once
    out = client.download_artifacts(run.id, tmp_path / "out", prefix="model/sub")
    assert [p.read_text() for p in out] == ["same"]
    assert out[0] == tmp_path / "out" / "model" / "sub" / "b.txt"


@pytest.mark.parametrize("bad", ["../up", "/abs", "a//b"], ids=["dotdot", "absolute", "empty-part"])
def test_bad_artifact_paths_are_refused(client: Client, tmp_path: Path, bad: str) -> None:
    file = tmp_path / "f.txt"
    file.write_text("x")
    run = client.create_run("e")
    with pytest.raises(loopml.InvalidInput, match="Artifact path"):
        client.log_artifact(run.id, file, artifact_path=bad)
    assert client.list_artifacts(run.id) == []


def test_missing_artifact_source_is_not_found(client: Client, tmp_path: Path) -> None:
    run = client.create_run("e")
    with pytest.raises(loopml.NotFound, match="nothing-here"):
        client.log_artifact(run.id, tmp_path / "nothing-here")


def test_run_records_git_commit_dirty_state_and_environment(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    head = subprocess.check_output([*git, "rev-parse", "HEAD"], text=True).strip()
    monkeypatch.chdir(repo)
    client = Client(settings)
    clean = client.create_run("e")
    (repo / "train.py").write_text("print(2)\n")
    dirty = client.create_run("e")
    assert (clean.git_commit, clean.git_dirty) == (head, False)
    assert (dirty.git_commit, dirty.git_dirty) == (head, True)
    env = client.get_environment(clean.id)
    assert env["python"] == clean.python_version
    assert "pydantic" in {name.lower() for name in env["packages"]}
    client.close()


def test_environment_lists_every_distribution_as_the_metadata_parser_reads_it() -> None:
    import importlib.metadata

    from loopml.tracking._system import environment

    expected: dict[str, str] = {}
    for dist in importlib.metadata.distributions():  # the full parser, first on sys.path
        expected.setdefault(dist.metadata["Name"], dist.version)
    assert environment()["packages"] == dict(sorted(expected.items(), key=lambda kv: kv[0].lower()))


def test_a_run_given_its_git_state_records_it_instead_of_asking_git(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # not a repository: asking git would record Nones
    with Client(settings) as client:
        parent = client.create_run("e", git=GitState("a" * 40, True))
        child = client.create_run("e", parent_id=parent.id, git=GitState.of_run(parent))
        stored = client.get_run(child.id)
    assert (stored.git_commit, stored.git_dirty) == ("a" * 40, True)


def test_search_returns_a_frame_with_prefixed_columns(client: Client) -> None:
    for i, model in enumerate(["rf", "lr", "rf"]):
        with loopml.start_run(experiment="s", name=f"r{i}"):
            loopml.log_params({"model": model})
            loopml.log_metric("acc", 0.8 + i / 10)
            loopml.set_tag("team", "x")
    frame = loopml.search_runs("s", filter="params.model = 'rf'", order_by=["-metrics.acc"])
    assert list(frame["name"]) == ["r2", "r0"]
    assert {"run_id", "status", "params.model", "metrics.acc", "tags.team"} <= set(frame.columns)
    assert str(frame["metrics.acc"].dtype) == "float64"
    assert frame.attrs["next_page_token"] is None
    empty = loopml.search_runs("s", filter="metrics.acc > 5")
    assert len(empty) == 0 and "run_id" in empty.columns


def test_search_pages_through_all_runs(client: Client) -> None:
    ids = {client.create_run("p").id for _ in range(5)}
    seen: list[str] = []
    token = None
    while True:
        frame = client.search_runs("p", limit=2, page_token=token)
        seen.extend(frame["run_id"])
        token = frame.attrs["next_page_token"]
        if token is None:
            break
    assert sorted(seen) == sorted(ids)


def test_search_with_bad_filter_or_experiment(client: Client) -> None:
    client.create_run("s")
    with pytest.raises(loopml.InvalidInput, match="column 13"):
        client.search_runs("s", filter="metrics.acc foo 0.9")
    with pytest.raises(loopml.NotFound, match="nope"):
        client.search_runs("nope")


def test_stale_heartbeat_fails_a_run(settings: Settings) -> None:
    now = datetime(2026, 5, 1, tzinfo=UTC)
    ids = iter(f"{i:032x}" for i in range(100))
    writer = Client(
        settings, clock=lambda: now, new_id=lambda: next(ids), capture_environment=False
    )
    run = writer.create_run("e")
    later = now + timedelta(seconds=settings.tracking_heartbeat_timeout + 1)
    reader = Client(settings, clock=lambda: later, capture_environment=False)
    # The writer is alive (this process), so only the missing heartbeat can fail it.
    reader._owned.add(run.id)
    assert reader.reap_dead_runs(force=True) == [run.id]
    assert reader.get_run(run.id).status is RunStatus.FAILED
    writer.close()
    reader.close()


def test_unknown_status_to_end_a_run(client: Client) -> None:
    run = client.create_run("e")
    with pytest.raises(loopml.InvalidInput, match="finished, failed, killed"):
        client.end_run(run.id, "done")
    assert client.get_run(run.id).status is RunStatus.RUNNING


def test_client_has_every_verb_of_the_fluent_api() -> None:
    import loopml.tracking.fluent as fluent

    run_scoped = {
        name
        for name in fluent.__all__
        if name.startswith(("log_", "set_t", "get_", "search_")) and name != "set_default_client"
    }
    assert {name for name in run_scoped if not hasattr(Client, name)} == set()


def test_single_param_and_tag_verbs(client: Client, tmp_path: Path) -> None:
    run = client.create_run("e")
    client.log_param(run.id, "lr", 0.1)
    client.set_tag(run.id, "team", "x")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "f.txt").write_text("1")
    client.log_artifacts(run.id, tmp_path / "d")
    stored = client.get_run(run.id)
    assert (stored.params, stored.tags) == ({"lr": 0.1}, {"team": "x"})
    assert [a.path for a in client.list_artifacts(run.id)] == ["f.txt"]


def test_client_as_context_manager_flushes_on_exit(settings: Settings) -> None:
    with Client(settings, capture_environment=False) as writer:
        run = writer.create_run("e")
        for step in range(10):
            writer.log_metric(run.id, "m", float(step), step=step)
    with Client(settings, capture_environment=False) as reader:
        assert len(reader.get_metric_history(run.id, "m")) == 10
