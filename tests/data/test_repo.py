"""Dataset versions end to end: add, log, status, checkout, open, diff, checks, remotes."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import loopml
from loopml.config import Settings, load_settings
from loopml.data import INPUT_DATASET_TAG, DataRepo
from loopml.errors import Conflict, InvalidInput, NotFound
from loopml.tracking import Client
from tests.blobs.conftest import MOTO_BUCKET


@pytest.fixture
def repo(client: Client) -> DataRepo:
    return DataRepo(client)


def _folder(root: Path, files: dict[str, str]) -> Path:
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


CSV = "id,age,plan\n1,34,pro\n2,51,free\n3,29,pro\n"


def test_add_records_versions_and_skips_unchanged_content(repo: DataRepo, tmp_path: Path) -> None:
    data = _folder(tmp_path / "raw", {"a.txt": "alpha", "sub/b.txt": "beta", "people.csv": CSV})
    first = repo.add(data, "raw", message="first")
    assert (first.version, first.file_count, first.message) == (1, 3, "first")
    assert first.total_bytes == len("alpha") + len("beta") + len(CSV)
    assert repo.add(data, "raw") == first
    (data / "a.txt").write_text("ALPHA")
    second = repo.add(data, "raw", message="upper")
    assert second.version == 2
    assert [v.version for v in repo.log("raw")] == [2, 1]
    assert sorted(e.path for e in repo.entries(second)) == ["a.txt", "people.csv", "sub/b.txt"]


def test_bad_paths_names_and_refs_are_refused(repo: DataRepo, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="nowhere"):
        repo.add(tmp_path / "nowhere", "x")
    data = _folder(tmp_path / "d", {"a.txt": "a"})
    with pytest.raises(InvalidInput, match="Dataset name"):
        repo.add(data, "bad/name")
    repo.add(data, "d")
    with pytest.raises(NotFound, match="no version 7"):
        repo.get_version("d@v7")
    with pytest.raises(NotFound, match="No dataset named 'other'"):
        repo.get_version("other")
    with pytest.raises(InvalidInput, match="NAME@vN"):
        repo.get_version("d@seven")


def test_a_ragged_csv_records_no_version(repo: DataRepo, tmp_path: Path) -> None:
    data = _folder(tmp_path / "r", {"t.csv": "a,b\n1,2\n3,4,5\n"})
    with pytest.raises(InvalidInput, match=r"t\.csv"):
        repo.add(data, "ragged")
    assert repo.list_datasets() == []


def test_tables_get_a_schema_and_a_profile(repo: DataRepo, tmp_path: Path) -> None:
    data = _folder(tmp_path / "p", {"people.csv": CSV, "notes.txt": "n"})
    version = repo.add(data, "people")
    schema = repo.schema(version.ref)
    assert list(schema) == ["people.csv"]
    assert [c["name"] for c in schema["people.csv"]["columns"]] == ["id", "age", "plan"]
    profile = repo.profile("people")["people.csv"]
    assert profile["rows"] == 3
    assert profile["columns"]["age"]["max"] == 51


def test_status_reports_changes_since_the_held_version(repo: DataRepo, tmp_path: Path) -> None:
    data = _folder(tmp_path / "s", {"a.txt": "a", "b.txt": "b", "c.txt": "c"})
    repo.add(data, "s")
    (clean,) = repo.status("s")
    assert clean.is_clean
    (data / "a.txt").write_text("changed")
    (data / "b.txt").unlink()
    (data / "new.txt").write_text("new")
    (report,) = repo.status()
    assert (report.modified, report.removed, report.added) == (["a.txt"], ["b.txt"], ["new.txt"])
    with pytest.raises(NotFound, match="not tracked"):
        repo.status("other")


def test_status_of_a_single_file(repo: DataRepo, tmp_path: Path) -> None:
    file = tmp_path / "one.csv"
    file.write_text(CSV)
    repo.add(file, "one")
    assert repo.status("one")[0].is_clean
    file.write_text(CSV + "4,40,team\n")
    assert repo.status("one")[0].modified == ["one.csv"]


def test_checkout_refuses_unsaved_changes_unless_forced(repo: DataRepo, tmp_path: Path) -> None:
    data = _folder(tmp_path / "c", {"a.txt": "v1"})
    repo.add(data, "c")
    (data / "a.txt").write_text("v2")
    repo.add(data, "c")
    (data / "a.txt").write_text("unsaved")
    with pytest.raises(Conflict, match="unsaved changes"):
        repo.checkout("c@v1")
    assert (data / "a.txt").read_text() == "unsaved"
    repo.checkout("c@v1", force=True)
    assert (data / "a.txt").read_text() == "v1"
    assert repo.status("c")[0].is_clean and repo.status("c")[0].version == 1


def test_checkout_of_an_older_version_removes_files_it_did_not_have(
    repo: DataRepo, tmp_path: Path
) -> None:
    data = _folder(tmp_path / "h", {"a.txt": "a"})
    repo.add(data, "h")
    (data / "b.txt").write_text("b")
    repo.add(data, "h")
    repo.checkout("h@v1")
    assert sorted(p.name for p in data.iterdir()) == ["a.txt"]
    assert repo.status("h")[0].is_clean
    repo.checkout("h@v2")
    assert (data / "b.txt").read_text() == "b"


def test_checkout_to_another_folder(repo: DataRepo, tmp_path: Path) -> None:
    data = _folder(tmp_path / "src", {"a.txt": "a", "d/b.txt": "b"})
    repo.add(data, "t")
    target = tmp_path / "copy"
    repo.checkout("t@v1", target)
    assert (target / "d" / "b.txt").read_text() == "b"
    (target / "a.txt").chmod(0o644)
    (target / "a.txt").write_text("mine")
    with pytest.raises(Conflict, match="overwrite 1 file"):
        repo.checkout("t@v1", target)
    repo.checkout("t@v1", target, force=True)
    assert (target / "a.txt").read_text() == "a"


def test_open_gives_paths_and_tables_and_records_the_input(repo: DataRepo, tmp_path: Path) -> None:
    file = tmp_path / "people.csv"
    file.write_text(CSV)
    repo.add(file, "people")
    with loopml.start_run() as run:
        frame = repo.open("people@v1", as_="pandas")
        path = repo.open("people")
    assert isinstance(frame, pd.DataFrame) and list(frame["age"]) == [34, 51, 29]
    assert Path(path).read_text() == CSV
    tags = repo.client.get_run(run.id).tags
    assert tags[f"{INPUT_DATASET_TAG}people"] == "1"


def test_a_version_added_in_a_run_records_the_run(repo: DataRepo, tmp_path: Path) -> None:
    data = _folder(tmp_path / "out", {"x.txt": "x"})
    with loopml.start_run() as run:
        version = repo.add(data, "features")
    assert version.run_id == run.id


def test_diff_lists_files_and_table_rows(repo: DataRepo, tmp_path: Path) -> None:
    data = _folder(tmp_path / "df", {"people.csv": CSV, "gone.txt": "g", "same.txt": "s"})
    repo.add(data, "df")
    (data / "people.csv").write_text("id,age,plan\n1,34,pro\n3,29,pro\n4,40,team\n5,22,free\n")
    (data / "gone.txt").unlink()
    (data / "new.txt").write_text("n")
    repo.add(data, "df")
    diff = repo.diff("df@v1", "df@v2")
    assert (diff.added, diff.removed, diff.changed) == (["new.txt"], ["gone.txt"], ["people.csv"])
    table = diff.tables["people.csv"]
    assert (table["rows_added"], table["rows_removed"]) == (2, 1)


def test_checks_run_and_their_reports_are_stored(repo: DataRepo, tmp_path: Path) -> None:
    file = tmp_path / "people.csv"
    file.write_text(CSV)
    repo.add(file, "people")
    suite = tmp_path / "checks.yaml"
    suite.write_text(
        "name: people-input\nchecks:\n  - not_null: age\n"
        "  - in_range: {column: age, min: 30, max: 120}\n  - schema_matches: people@v1\n"
    )
    report = repo.check("people@v1", suite)
    assert not report.passed
    assert [r.passed for r in report.results] == [True, False, True]
    (stored,) = repo.client.stores.datasets.list_check_reports("people", 1)
    assert (stored.passed, stored.suite) == (False, "people-input")
    suite.write_text("checks:\n  - not_nul: age\n")
    with pytest.raises(InvalidInput, match="not_nul"):
        repo.check("people@v1", suite)


@pytest.mark.s3
def test_push_and_pull_through_an_s3_remote(
    settings: Settings, tmp_path: Path, moto_server: str
) -> None:
    from loopml.blobs import open_blob_store

    remote_settings = load_settings(
        {"home": settings.home, "s3_endpoint_url": moto_server}, environ={}
    )
    remote = open_blob_store(f"s3://{MOTO_BUCKET}/data-{tmp_path.name}", remote_settings)
    data = _folder(tmp_path / "pp", {"a.txt": "a" * 1000, "b.csv": CSV})
    with Client(settings, capture_environment=False) as client:
        pushed = DataRepo(client).add(data, "pp")
        assert DataRepo(client).push("pp@v1", remote) >= 2
        assert DataRepo(client).push("pp@v1", remote) == 0
    # another machine: the same metadata store, an empty blob folder
    other = load_settings({"home": tmp_path / "other", "store_uri": settings.store_uri}, environ={})
    with Client(other, capture_environment=False) as client:
        repo = DataRepo(client)
        with pytest.raises(NotFound):
            repo.open("pp@v1")
        assert repo.pull("pp@v1", remote) >= 2
        path = repo.open(pushed.ref)
        assert (Path(path) / "b.csv").read_text() == CSV


def test_lineage_of_a_model_shows_the_dataset_it_was_trained_on(
    repo: DataRepo, tmp_path: Path
) -> None:
    from sklearn.linear_model import LogisticRegression

    file = tmp_path / "train.csv"
    file.write_text("x,y\n" + "".join(f"{i},{i % 2}\n" for i in range(20)))
    repo.add(file, "train")
    with loopml.start_run():
        frame = repo.open("train", as_="pandas")
        model = LogisticRegression().fit(frame[["x"]], frame["y"])
        version = loopml.log_model(model, "m", input_example=frame[["x"]].head())
    graph = loopml.ModelRegistry(repo.client).lineage(version.ref)
    assert "dataset_version:train@1" in {node.id for node in graph.nodes}


def test_adding_files_that_are_not_tables_never_loads_pyarrow(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    _folder(tmp_path / "d", {"a.txt": "a", "b/c.bin": "c"})
    code = (
        "import sys, loopml\n"
        "loopml.data.add('d', 'd')\n"
        "print(sorted(m for m in ('pyarrow', 'pandas') if m in sys.modules))\n"
    )
    env = {**os.environ, "LOOPML_HOME": str(tmp_path / ".loopml")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert out.strip() == "[]"
