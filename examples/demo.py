"""The loopml demo: version a dataset and check it, train a few scikit-learn models on
it, track and register them, promote the best to ``champion`` and load it back,
verified, to score the validation set.

Run with ``make demo`` (or ``python examples/demo.py``). It uses the embedded default,
a SQLite file and a local blob folder under ``./.loopml``: no server needed.
"""

from __future__ import annotations

import json
import tempfile
import warnings
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

import loopml
from loopml.project import init_project

EXPERIMENT = "breast-cancer-demo"
MODEL = "breast-cancer"
DATASET = "breast-cancer"
console = Console()


def candidates() -> list[tuple[str, Any, dict[str, Any]]]:
    """The models to compare: (name, estimator, params)."""
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    models: list[tuple[str, Any, dict[str, Any]]] = []
    for c in (0.01, 0.1, 1.0):
        params = {"model": "logreg", "C": c}
        models.append(
            (
                f"logreg-C{c}",
                make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=2000)),
                params,
            )
        )
    for depth in (3, 8):
        params = {"model": "random_forest", "max_depth": depth, "n_estimators": 200}
        models.append(
            (
                f"rf-depth{depth}",
                RandomForestClassifier(max_depth=depth, n_estimators=200, random_state=0, n_jobs=2),
                params,
            )
        )
    params = {"model": "gradient_boosting", "n_estimators": 150, "learning_rate": 0.1}
    models.append(
        (
            "gbm",
            GradientBoostingClassifier(n_estimators=150, learning_rate=0.1, random_state=0),
            params,
        )
    )
    return models


def train_one(
    name: str, model: Any, params: dict[str, Any], data: Any, data_version: int
) -> str:
    """Fit one model inside a tracked run and register it; returns the run id."""
    from sklearn.metrics import accuracy_score, f1_score, log_loss, roc_auc_score

    x_train, x_val, y_train, y_val = data
    with loopml.start_run(experiment=EXPERIMENT, name=name) as run:
        # trained on the dataset version (loopml.data.open inside the run records it too)
        loopml.set_tag(f"{loopml.data.INPUT_DATASET_TAG}{DATASET}", str(data_version))
        loopml.log_params(params)
        loopml.set_tags({"dataset": "sklearn.breast_cancer", "demo": "true"})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model.fit(x_train, y_train)
        if hasattr(model, "staged_predict_proba"):  # a learning curve, one point per stage
            for step, proba in enumerate(model.staged_predict_proba(x_val), start=1):
                loopml.log_metric("val_log_loss", log_loss(y_val, proba), step=step)
        proba = model.predict_proba(x_val)[:, 1]
        predicted = (proba >= 0.5).astype(int)
        loopml.log_metrics(
            {
                "val_accuracy": accuracy_score(y_val, predicted),
                "val_f1": f1_score(y_val, predicted),
                "val_roc_auc": roc_auc_score(y_val, proba),
                "train_accuracy": accuracy_score(y_train, model.predict(x_train)),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            report = Path(tmp) / "validation.json"
            report.write_text(json.dumps({"n_val": len(y_val), "positives": int(y_val.sum())}))
            loopml.log_artifact(report, artifact_path="reports")
        version = loopml.log_model(model, MODEL, input_example=x_train.head(), description=name)
        loopml.set_tag("model_version", str(version.version))
        return run.id


def version_the_data(home: Path) -> Any:
    """Write breast_cancer as a CSV, version it, check it; returns (features, target,
    version number)."""
    from sklearn.datasets import load_breast_cancer

    from loopml.data import checks

    folder = home.parent / "data"
    folder.mkdir(exist_ok=True)
    frame = load_breast_cancer(as_frame=True).frame
    frame.to_csv(folder / "breast_cancer.csv", index=False)
    version = loopml.data.add(folder / "breast_cancer.csv", name=DATASET, message="sklearn copy")
    suite = checks.Checks(
        [
            checks.row_count(min=500),
            checks.not_null("target"),
            checks.in_set("target", [0, 1]),
            checks.in_range("mean radius", min=0),
        ],
        name="breast-cancer-input",
    )
    report = loopml.data.check(version.ref, suite).raise_for_failures()
    console.print(
        f"Dataset [bold]{version.ref}[/]: {version.total_bytes:,} bytes, "
        f"{len(report.results)} data checks passed"
    )
    with loopml.start_run(experiment=EXPERIMENT, name="load-data"):
        table = loopml.data.open(version.ref, as_="pandas")  # recorded as the run's input
    return table.drop(columns="target"), table["target"], version.version


def main() -> None:
    from sklearn.model_selection import train_test_split

    home = init_project(Path.cwd())
    settings = loopml.load_settings({"home": home})
    console.print(f"[bold]loopml demo[/] — project home [cyan]{home}[/]")
    features, target, data_version = version_the_data(home)
    data = train_test_split(features, target, test_size=0.25, random_state=42, stratify=target)
    models = candidates()
    with Progress(console=console) as progress:
        task = progress.add_task("Training and tracking", total=len(models))
        for name, model, params in models:
            progress.update(task, description=f"Training {name}")
            train_one(name, model, params, data, data_version)
            progress.advance(task)
    best = loopml.search_runs(
        EXPERIMENT, order_by=["-metrics.val_roc_auc", "-metrics.val_accuracy"], limit=1
    )
    row = best.iloc[0]
    table = Table(title="Best run of the demo", show_header=False)
    for label, value in (
        ("run", f"{row['name']} ({row['run_id']})"),
        ("model", str(row["params.model"])),
        ("val ROC AUC", f"{row['metrics.val_roc_auc']:.4f}"),
        ("val accuracy", f"{row['metrics.val_accuracy']:.4f}"),
    ):
        table.add_row(label, value)
    console.print(table)
    promote_and_score(int(row["tags.model_version"]), str(row["name"]), data)
    console.print(f"Metadata: [cyan]{settings.store_uri}[/]")
    console.print(f"Artifacts and blobs: [cyan]{settings.blob_uri}[/]")
    console.print(
        f"Next: [bold]loopml runs list -e {EXPERIMENT}[/], [bold]loopml runs show {row['run_id']}[/], "
        f"[bold]loopml models versions {MODEL}[/] or [bold]loopml models lineage {MODEL}@champion[/]"
    )


def promote_and_score(version: int, run_name: str, data: Any) -> None:
    """Point ``champion`` at the best version, then load it as production would: by alias,
    every file's hash checked before anything is unpickled."""
    from sklearn.metrics import accuracy_score

    registry = loopml.ModelRegistry()
    registry.set_alias(MODEL, "champion", version, reason=f"best validation ROC AUC ({run_name})")
    champion = loopml.load_model(f"{MODEL}@champion")
    _, x_val, _, y_val = data
    accuracy = accuracy_score(y_val, champion.predict(x_val))
    console.print(
        f"Registered [bold]{MODEL}[/] versions 1-{registry.get_model(MODEL).latest_version}; "
        f"[green]champion[/] = version {version}, loaded verified: "
        f"validation accuracy {accuracy:.4f}"
    )


if __name__ == "__main__":
    main()
