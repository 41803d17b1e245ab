"""The stdlib-sqlite3 read path of the registry answers exactly as the SQL adapter does."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from loopml.domain import ModelUpdate, VersionDraft, VersionStatus, VersionUpdate
from loopml.errors import NotFound
from loopml.store._sqlite_reader import KNOWN_REVISION, open_sqlite_reader
from loopml.store.sql import (
    HEAD_REVISION,
    SqlAliasStore,
    SqlModelStore,
    Transactions,
    create_store_engine,
)


def test_the_reader_knows_the_head_revision() -> None:
    assert KNOWN_REVISION == HEAD_REVISION


def test_reader_and_adapter_agree_on_every_record(tmp_path: Path) -> None:
    uri = f"sqlite:///{tmp_path / 'loopml.db'}"
    engine = create_store_engine(uri)
    tx = Transactions(engine, actor="ana@host")
    models, aliases = SqlModelStore(tx), SqlAliasStore(tx)
    models.create_model("churn", "d", ("champion",))
    models.update_model("churn", ModelUpdate(tags={"team": "risk"}))
    models.create_model("empty")
    for number in range(1, 5):
        parents = (("churn", number - 1),) if number > 1 else ()
        models.create_version(
            VersionDraft("churn", "sklearn", "{}", "ab" * 32, tags={"n": str(number)}, parents=parents)
        )
    models.update_version("churn", 4, VersionUpdate(status=VersionStatus.ARCHIVED))
    models.delete_version("churn", 3)
    aliases.move_alias("churn", "challenger", 2)
    request = aliases.request_approval("r1", "churn", "champion", 1)
    aliases.decide_approval(request.id, approve=True)
    reader = open_sqlite_reader(uri)
    assert reader is not None
    for name in ("churn", "empty"):
        assert reader.get_model(name) == models.get_model(name)
    for number in (1, 2, 4):
        assert reader.get_version("churn", number) == models.get_version("churn", number)
    for call in (
        lambda store: store.get_model("nope"),
        lambda store: store.get_version("nope", 1),
        lambda store: store.get_version("churn", 3),
    ):
        with pytest.raises(NotFound) as from_reader:
            call(reader)
        with pytest.raises(NotFound) as from_adapter:
            call(models)
        assert str(from_reader.value) == str(from_adapter.value)
    engine.dispose()


def test_no_reader_for_other_stores_or_other_revisions(tmp_path: Path) -> None:
    assert open_sqlite_reader("postgresql+psycopg://u@h/db") is None
    assert open_sqlite_reader(f"sqlite:///{tmp_path / 'absent.db'}") is None
    uri = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_store_engine(uri)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0001_tracking'"))
    engine.dispose()
    assert open_sqlite_reader(uri) is None


def test_loading_a_model_does_not_import_sqlalchemy(tmp_path: Path) -> None:
    home = tmp_path / ".loopml"
    setup = (
        "import numpy as np, loopml\n"
        "from sklearn.linear_model import LogisticRegression\n"
        "x = np.arange(20.0).reshape(10, 2); y = [0, 1] * 5\n"
        "v = loopml.log_model(LogisticRegression().fit(x, y), 'm', input_example=x[:3])\n"
        "loopml.set_alias('m', 'champion', v.version)\n"
    )
    load = (
        "import sys, numpy as np, loopml\n"
        "print(loopml.load_model('m@champion').predict(np.zeros((1, 2))))\n"
        "print('sqlalchemy' in sys.modules)\n"
    )
    env = {"LOOPML_HOME": str(home), "PATH": "/usr/bin:/bin"}
    subprocess.run([sys.executable, "-c", setup], env=env, check=True)
    out = subprocess.run(
        [sys.executable, "-c", load], env=env, check=True, capture_output=True, text=True
    ).stdout.split()
    assert out[-1] == "False"


def test_reader_and_adapter_agree_on_dataset_versions(tmp_path: Path) -> None:
    from loopml.domain import DatasetVersionDraft
    from loopml.store.sql import SqlDatasetStore

    uri = f"sqlite:///{tmp_path / 'loopml.db'}"
    engine = create_store_engine(uri)
    datasets = SqlDatasetStore(Transactions(engine, actor="ana@host"))
    for content in "ab":
        datasets.create_version(
            DatasetVersionDraft("d", "ab" * 32, content * 64, 2, 10, message=content, schema="{}")
        )
    reader = open_sqlite_reader(uri)
    assert reader is not None
    assert reader.latest_dataset_version("d") == datasets.latest_version("d")
    assert reader.get_dataset_version("d", 1) == datasets.get_version("d", 1)
    for call in (
        lambda: reader.get_dataset_version("d", 9),
        lambda: reader.get_dataset_version("nope", 1),
        lambda: reader.latest_dataset_version("nope"),
    ):
        with pytest.raises(NotFound):
            call()
    engine.dispose()
