"""The registry API end to end: log, register, load verified, aliases, approvals, lineage."""

from __future__ import annotations

import logging
import multiprocessing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression
from sqlalchemy import create_engine, update

import loopml
from loopml.config import Settings, load_settings
from loopml.domain import ApprovalStatus, RunStatus, VersionStatus
from loopml.errors import Conflict, InvalidInput, NotFound, PermissionDenied, StoreError
from loopml.registry._registry import INPUT_MODEL_TAG, ModelRegistry
from loopml.tracking import Client
from tests.blobs.conftest import MOTO_BUCKET


def _data(rows: int = 120, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {"age": rng.integers(18, 80, rows), "income": rng.normal(50, 10, rows)}
    )
    target = (frame["income"] + rng.normal(0, 5, rows) > 50).to_numpy().astype(int)
    return frame, target


@pytest.fixture
def trained() -> tuple[LogisticRegression, pd.DataFrame]:
    frame, target = _data()
    return LogisticRegression(max_iter=200).fit(frame, target), frame


@pytest.fixture
def registry(client: Client) -> ModelRegistry:
    return ModelRegistry(client)


def test_log_model_registers_a_version_linked_to_the_active_run(
    registry: ModelRegistry, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    with loopml.start_run(experiment="churn") as run:
        version = loopml.log_model(model, "churn", input_example=frame.head())
    assert (version.name, version.version, version.run_id) == ("churn", 1, run.id)
    assert version.flavor == "sklearn"
    paths = [a.path for a in registry.client.list_artifacts(run.id, "models/churn")]
    assert "models/churn/loopml-model.json" in paths
    assert "models/churn/model.pkl" in paths
    loaded = loopml.load_model("churn/1")
    assert (loaded.name, loaded.version) == ("churn", 1)
    np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))


def test_log_model_without_a_run_makes_and_ends_its_own(
    registry: ModelRegistry, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    version = registry.log_model(model, "churn", input_example=frame.head())
    run = registry.client.get_run(version.run_id or "")
    assert run.status is RunStatus.FINISHED
    assert run.name == "log_model-churn"


def test_load_by_alias_and_latest(
    registry: ModelRegistry, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    for _ in range(3):
        registry.log_model(model, "churn", input_example=frame.head())
    registry.set_alias("churn", "champion", 2, reason="best AUC")
    registry.update_version("churn/3", status="archived")
    assert registry.resolve("churn@champion").version == 2
    assert registry.resolve("churn@latest").version == 2
    assert registry.resolve("models:/churn/1").version == 1
    proba = registry.load_model("churn@champion").predict_proba(frame)
    np.testing.assert_allclose(proba, model.predict_proba(frame))


@pytest.mark.parametrize(
    ("uri", "error", "message"),
    [
        ("nope/1", NotFound, "No registered model named 'nope'"),
        ("churn/9", NotFound, "no version 9"),
        ("churn@challenger", NotFound, "aliases: champion"),
        ("churn", InvalidInput, "expected 'name/VERSION'"),
        ("churn/zero", InvalidInput, "not a whole number"),
        ("churn@Bad", InvalidInput, "Alias 'Bad' is invalid"),
    ],
)
def test_bad_uris_are_refused_with_a_clear_message(
    registry: ModelRegistry,
    trained: tuple[LogisticRegression, pd.DataFrame],
    uri: str,
    error: type[Exception],
    message: str,
) -> None:
    model, frame = trained
    registry.log_model(model, "churn", input_example=frame.head())
    registry.set_alias("churn", "champion", 1)
    with pytest.raises(error, match=message):
        registry.load_model(uri)


def test_unsupported_model_or_bad_example_registers_nothing(registry: ModelRegistry) -> None:
    with pytest.raises(InvalidInput, match="Cannot package"):
        registry.log_model(object(), "weird")
    frame, target = _data()
    model = LogisticRegression(max_iter=200).fit(frame, target)
    with pytest.raises(InvalidInput):
        registry.log_model(model, "weird", input_example=pd.DataFrame())
    assert [m.name for m in registry.list_models()] == []


def test_a_run_that_loaded_a_version_makes_it_a_parent(
    registry: ModelRegistry, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    registry.log_model(model, "base", input_example=frame.head())
    registry.log_model(model, "other", input_example=frame.head())
    with loopml.start_run() as run:
        loopml.load_model("base/1")
        tuned = registry.log_model(
            model, "tuned", input_example=frame.head(), parents=["other@latest"]
        )
    assert registry.client.get_run(run.id).tags[f"{INPUT_MODEL_TAG}base"] == "1"
    assert tuned.parents == (("base", 1), ("other", 1))


def test_lineage_walks_runs_parents_and_promotions(
    registry: ModelRegistry, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    with loopml.start_run(experiment="churn") as first:
        loopml.log_params({"C": 1.0})
        loopml.log_metric("auc", 0.9)
        registry.log_model(model, "churn", input_example=frame.head())
    with loopml.start_run(experiment="churn"):
        loopml.set_tag("loopml.input_dataset:customers", "3")
        registry.log_model(model, "churn", input_example=frame.head(), parents=["churn/1"])
    registry.set_alias("churn", "champion", 2, reason="retrained")
    graph = registry.lineage("churn@champion")
    assert graph.root == "model_version:churn/2"
    kinds = {node.id: node.kind for node in graph.nodes}
    assert kinds["model_version:churn/1"] == "model_version"
    assert kinds["dataset_version:customers@3"] == "dataset_version"
    relations = {(e.source, e.target, e.relation) for e in graph.edges}
    assert ("model_version:churn/1", "model_version:churn/2", "parent of") in relations
    assert (f"run:{first.id}", "model_version:churn/1", "produced") in relations
    first_run = graph.node(f"run:{first.id}")
    assert first_run.attributes["params"] == {"C": 1.0}
    assert first_run.attributes["metrics"] == {"auc": 0.9}
    (promotion,) = graph.node("model_version:churn/2").attributes["promotions"]  # type: ignore[misc]
    assert promotion["alias"] == "champion" and promotion["reason"] == "retrained"


def test_protected_alias_needs_an_approved_request(
    registry: ModelRegistry, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    registry.create_model("churn", protected_aliases=["champion"])
    registry.log_model(model, "churn", input_example=frame.head())
    with pytest.raises(PermissionDenied, match="approval"):
        registry.set_alias("churn", "champion", 1)
    request = registry.request_approval("churn", "champion", 1, "holdout AUC 0.91")
    assert [r.id for r in registry.list_approvals("churn", "pending")] == [request.id]
    registry.approve(request.id, "checked the fairness report")
    assert registry.resolve("churn@champion").version == 1
    assert registry.list_approvals(status=ApprovalStatus.APPROVED)[0].id == request.id
    with pytest.raises(InvalidInput, match="Unknown approval status"):
        registry.list_approvals(status="maybe")


def test_aliased_versions_cannot_be_archived_or_deleted(
    registry: ModelRegistry, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    registry.log_model(model, "churn", input_example=frame.head())
    registry.set_alias("churn", "champion", 1)
    with pytest.raises(Conflict, match="champion"):
        registry.delete_version("churn/1")
    with pytest.raises(Conflict, match="champion"):
        registry.update_version("churn@champion", status=VersionStatus.ARCHIVED)
    with pytest.raises(InvalidInput, match="Unknown version status"):
        registry.update_version("churn/1", status="gone")
    registry.remove_alias("churn", "champion", reason="retired")
    registry.delete_version("churn/1")
    with pytest.raises(NotFound):
        registry.resolve("churn/1")


# -- tampering ---------------------------------------------------------------------


def _blob_path(settings: Settings, digest: str) -> Path:
    return settings.home / "blobs" / digest[:2] / digest[2:]


def _model_pkl_digest(registry: ModelRegistry, uri: str) -> str:
    from loopml.registry._package import Manifest

    manifest = Manifest.from_json(registry.resolve(uri).manifest)
    (entry,) = [f for f in manifest.files if f.path == "model.pkl"]
    return entry.digest


def test_a_changed_byte_in_the_blob_store_is_refused(
    settings: Settings, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    with Client(settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        registry.log_model(model, "churn", input_example=frame.head())
        blob = _blob_path(settings, _model_pkl_digest(registry, "churn/1"))
        blob.chmod(0o644)
        data = bytearray(blob.read_bytes())
        data[len(data) // 2] ^= 0x01
        blob.write_bytes(bytes(data))
        with pytest.raises(StoreError, match=r"digest|hash"):
            registry.load_model("churn/1")
        assert not list((settings.home / "cache").rglob("model.pkl"))


def test_an_edited_cache_file_is_fetched_again_not_loaded(
    settings: Settings,
    trained: tuple[LogisticRegression, pd.DataFrame],
    caplog: pytest.LogCaptureFixture,
) -> None:
    model, frame = trained
    with Client(settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        registry.log_model(model, "churn", input_example=frame.head())
        registry.load_model("churn/1")
        (cached,) = (settings.home / "cache").rglob("model.pkl")
        cached.write_bytes(b"not a pickle at all")
        with caplog.at_level(logging.WARNING):
            loaded = registry.load_model("churn/1")
        np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
        assert "changed" in caplog.text


def test_an_altered_manifest_record_is_refused(
    settings: Settings, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    from loopml.store.sql._schema import model_versions

    model, frame = trained
    with Client(settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        registry.log_model(model, "churn", input_example=frame.head())
        engine = create_engine(settings.store_uri)
        with engine.begin() as conn:
            manifest = conn.execute(model_versions.select()).one().manifest
            conn.execute(update(model_versions).values(manifest=manifest.replace("sklearn", "sk")))
        engine.dispose()
        with pytest.raises(StoreError, match="altered"):
            registry.load_model("churn/1")


@pytest.mark.s3
def test_a_package_edited_in_the_bucket_is_refused(
    home: Path, moto_server: str, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    import boto3

    model, frame = trained
    settings = load_settings(
        {"home": home, "blob_uri": f"s3://{MOTO_BUCKET}/reg", "s3_endpoint_url": moto_server},
        environ={},
    )
    with Client(settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        registry.log_model(model, "churn", input_example=frame.head())
        np.testing.assert_array_equal(
            registry.load_model("churn/1").predict(frame), model.predict(frame)
        )
        digest = _model_pkl_digest(registry, "churn/1")
        s3 = boto3.client("s3", endpoint_url=moto_server)
        key = f"reg/{digest[:2]}/{digest[2:]}"
        s3.head_object(Bucket=MOTO_BUCKET, Key=key)  # the blob is where the store put it
        s3.put_object(Bucket=MOTO_BUCKET, Key=key, Body=b"tampered")
        s3.close()
        for cached in (home / "cache").rglob("model.pkl"):
            cached.unlink()  # a fresh machine: nothing cached, everything from the bucket
        with pytest.raises(StoreError):
            registry.load_model("churn/1")


# -- two processes, one alias --------------------------------------------------------


def _move_alias(home: str, store_uri: str, target: int, go: object, results: object) -> None:
    settings = load_settings({"home": home, "store_uri": store_uri}, environ={})
    with Client(settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        registry.get_model("churn")  # connect before the start signal
        go.wait()  # type: ignore[attr-defined]
        try:
            registry.set_alias("churn", "champion", target, expected=1, reason=f"to {target}")
            results.put("won")  # type: ignore[attr-defined]
        except Conflict:
            results.put("conflict")  # type: ignore[attr-defined]


def test_two_processes_moving_one_alias_one_wins(
    backend_settings: Settings, trained: tuple[LogisticRegression, pd.DataFrame]
) -> None:
    model, frame = trained
    with Client(backend_settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        for _ in range(3):
            registry.log_model(model, "churn", input_example=frame.head())
        registry.set_alias("churn", "champion", 1)
        context = multiprocessing.get_context("spawn")
        go, results = context.Event(), context.Queue()
        args = (str(backend_settings.home), backend_settings.store_uri)
        workers = [
            context.Process(target=_move_alias, args=(*args, target, go, results))
            for target in (2, 3)
        ]
        for worker in workers:
            worker.start()
        go.set()
        for worker in workers:
            worker.join(60)
        outcomes = sorted(results.get(timeout=5) for _ in workers)
        assert outcomes == ["conflict", "won"]
        history = registry.alias_history("churn", "champion")
        assert [m.seq for m in history] == [1, 2]
        assert history[1].from_version == 1
        assert registry.resolve("churn@champion").version == history[1].to_version


def test_a_same_size_edit_of_a_cached_file_is_fetched_again_not_loaded(
    settings: Settings,
    trained: tuple[LogisticRegression, pd.DataFrame],
    caplog: pytest.LogCaptureFixture,
) -> None:
    model, frame = trained
    with Client(settings, capture_environment=False) as client:
        registry = ModelRegistry(client)
        registry.log_model(model, "churn", input_example=frame.head())
        registry.load_model("churn/1")
        (cached,) = (settings.home / "cache").rglob("model.pkl")
        data = bytearray(cached.read_bytes())
        data[len(data) // 2] ^= 0x01
        cached.chmod(0o644)
        cached.write_bytes(bytes(data))
        with caplog.at_level(logging.WARNING):
            loaded = registry.load_model("churn/1")
        np.testing.assert_array_equal(loaded.predict(frame), model.predict(frame))
        assert "changed" in caplog.text
