"""Automatic logging of training: after ``loopml.autolog()``, every fit is recorded.

Patched, for each library imported now or later (``_patching``): the ``fit`` of every
scikit-learn estimator (Pipeline and the search CVs included) and of XGBoost's and
LightGBM's scikit-learn models, ``xgboost.train`` and ``lightgbm.train``. Only the
outermost fit of a thread records, so a Pipeline fitting its steps is one run. A failure to log is a warning of
this module's logger; an error of the fit itself propagates unchanged. The depth is per
thread: sub-estimators fitted on other threads (joblib's threading backend) record too.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import inspect
import logging
import math
import numbers
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from loopml.domain import ParamValue, RunStatus
from loopml.domain.names import check_model_name
from loopml.domain.validation import MAX_KEY_LENGTH, MAX_PARAM_LENGTH
from loopml.registry._patching import Function, Patcher
from loopml.tracking import DEFAULT_EXPERIMENT, Client, active_run, default_client

__all__ = ["autolog"]

log = logging.getLogger(__name__)

_EXAMPLE_ROWS = 5
_INVALID_KEY_CHARS = re.compile(r"[^A-Za-z0-9_\-.: ]")
_DOTS = re.compile(r"\.{2,}")

T = TypeVar("T")
Args = tuple[Any, ...]
Kwargs = dict[str, Any]


@dataclass(frozen=True, slots=True)
class _Options:
    log_models: bool
    registered_model_name: str | None
    log_input_examples: bool


_PATCHER = Patcher()


def autolog(
    *,
    log_models: bool = True,
    registered_model_name: str | None = None,
    log_input_examples: bool = True,
    disable: bool = False,
) -> None:
    """Record every fit of scikit-learn, XGBoost and LightGBM models from now on.

    Each outermost fit logs into the active run, else into a run of its own
    (``autolog-CLASS`` in ``Default``) that ends with it, failed if the fit raised:
    params, ``training_*`` metrics, a search's ``best_*`` params and ``best_cv_score``,
    eval results per iteration as steps, and the model as a new registered version.

    Args:
        log_models: register the fitted model after each fit.
        registered_model_name: the model to register versions of; by default the
            model's class name (``LogisticRegression``, ``Booster``).
        log_input_examples: store the first 5 rows of the training data with the model.
        disable: put back every patched function and stop recording.

    Raises:
        InvalidInput: ``registered_model_name`` cannot name a registered model.

    Example:
        >>> loopml.autolog()
        >>> clf = LogisticRegression().fit(X, y)
        >>> loopml.autolog(disable=True)
    """
    if disable:
        _PATCHER.disable()
        return
    if registered_model_name is not None:
        check_model_name(registered_model_name)
    options = _Options(log_models, registered_model_name, log_input_examples)
    _PATCHER.enable(
        functools.partial(_record_fit, options),
        lambda library: functools.partial(_record_train, library, options),
    )


@dataclass(slots=True)
class _Recording:
    """The run one outermost fit logs to; every write is best effort."""

    client: Client
    run_id: str
    owned: bool

    @classmethod
    def open(cls, subject: str) -> _Recording | None:
        """The active run, else a new run; None (and a warning) when neither works."""
        try:
            active = active_run()
            if active is not None:
                return cls(active.client, active.id, owned=False)
            client = default_client()
            run = client.create_run(DEFAULT_EXPERIMENT, name=f"autolog-{subject}")
            return cls(client, run.id, owned=True)
        except Exception as exc:
            log.warning("loopml.autolog could not start a run for %s: %s", subject, exc)
            return None

    def attempt(self, what: str, action: Callable[[], T]) -> T | None:
        """``action()``, or None and a warning when it raises."""
        try:
            return action()
        except Exception as exc:
            log.warning("loopml.autolog could not %s for run %r: %s", what, self.run_id, exc)
            return None

    def log_params(self, params: Mapping[str, object]) -> None:
        clean = {_clean_key(key): _param_value(value) for key, value in params.items()}
        self.client.log_params(self.run_id, clean)

    def log_metrics(self, metrics: Mapping[str, float]) -> None:
        self.client.log_metrics(self.run_id, {_clean_key(k): v for k, v in metrics.items()})

    def log_search(self, search: Any) -> None:
        self.log_params({f"best_{key}": value for key, value in search.best_params_.items()})
        self.log_metrics({"best_cv_score": float(search.best_score_)})

    def log_history(self, history: Mapping[str, Mapping[str, Any]] | None) -> None:
        """Log ``{"validation_0": {"logloss": [...]}}`` as metric ``validation_0-logloss``."""
        for data, series in (history or {}).items():
            for metric, values in series.items():
                key = _clean_key(f"{data}-{metric}")
                for step, value in enumerate(values):
                    self.client.log_metric(self.run_id, key, float(value), step)

    def log_model(self, options: _Options, model: Any, example: Callable[[], Any]) -> None:
        if not options.log_models or not hasattr(model, "predict"):
            return  # a lone transformer is a step of a model, not a model
        from loopml.registry._registry import ModelRegistry

        ModelRegistry(self.client).log_model(
            model,
            options.registered_model_name or type(model).__name__,
            input_example=example() if options.log_input_examples else None,
            run_id=self.run_id,
        )

    def call(self, original: Function, args: Args, kwargs: Kwargs) -> Any:
        """Run the user's training; its error ends an owned run failed and propagates."""
        try:
            return original(*args, **kwargs)
        except BaseException as exc:
            killed = isinstance(exc, KeyboardInterrupt)
            self.finish(RunStatus.KILLED if killed else RunStatus.FAILED)
            raise

    def finish(self, status: RunStatus = RunStatus.FINISHED) -> None:
        if self.owned:
            self.attempt("end the run", lambda: self.client.end_run(self.run_id, status))


def _record_fit(options: _Options, original: Function, args: Args, kwargs: Kwargs) -> Any:
    model = args[0]
    rec = _Recording.open(type(model).__name__)
    if rec is None:
        return original(*args, **kwargs)
    rec.attempt("log params", lambda: rec.log_params(model.get_params(deep=True)))
    result = rec.call(original, args, kwargs)
    x = args[1] if len(args) > 1 else kwargs.get("X")
    y = args[2] if len(args) > 2 else kwargs.get("y")
    metrics = functools.partial(_training_metrics, model, x, y, kwargs.get("sample_weight"))
    rec.attempt("log training metrics", lambda: rec.log_metrics(metrics()))
    if hasattr(model, "best_params_"):
        rec.attempt("log the search results", lambda: rec.log_search(model))
    rec.attempt("log eval results", lambda: rec.log_history(getattr(model, "evals_result_", None)))
    rec.attempt("log the model", lambda: rec.log_model(options, model, lambda: _head(x)))
    rec.finish()
    return result


def _record_train(
    library: str, options: _Options, original: Function, args: Args, kwargs: Kwargs
) -> Any:
    signature = inspect.signature(original)
    try:
        call = signature.bind(*args, **kwargs)
    except TypeError:
        return original(*args, **kwargs)  # the user's own mistake: let train report it
    rec = _Recording.open(f"{library}.train")
    if rec is None:
        return original(*args, **kwargs)
    arguments = call.arguments
    rounds = arguments.get("num_boost_round", signature.parameters["num_boost_round"].default)
    params = {**dict(arguments.get("params") or {}), "num_boost_round": rounds}
    rec.attempt("log params", lambda: rec.log_params(params))
    history = rec.attempt("keep the eval results", lambda: _keep_history(library, arguments))
    example = None
    if options.log_models and options.log_input_examples:
        # Taken before training: LightGBM frees a Dataset's raw data once it is built.
        example = rec.attempt("take an input example", lambda: _train_head(library, arguments))
    booster = rec.call(original, call.args, call.kwargs)
    rec.attempt("log eval results", lambda: rec.log_history(history))
    rec.attempt("log the model", lambda: rec.log_model(options, booster, lambda: example))
    rec.finish()
    return booster


def _keep_history(library: str, arguments: dict[str, Any]) -> dict[str, Any]:
    """The dict training fills with eval results: the user's, or one passed for autolog."""
    if library == "xgboost":
        if arguments.get("evals_result") is None:
            arguments["evals_result"] = {}
        return arguments["evals_result"]  # type: ignore[no-any-return]
    history: dict[str, Any] = {}

    def record(env: Any) -> None:
        for data, metric, value, *_ in env.evaluation_result_list or ():
            history.setdefault(data, {}).setdefault(metric, []).append(value)

    arguments["callbacks"] = [*(arguments.get("callbacks") or []), record]
    return history


def _train_head(library: str, arguments: dict[str, Any]) -> Any:
    if library == "xgboost":
        return _dmatrix_head(arguments["dtrain"])
    return _head(getattr(arguments["train_set"], "data", None))


def _training_metrics(model: Any, x: Any, y: Any, weight: Any) -> dict[str, float]:
    """``training_*`` metrics of a fitted classifier or regressor on its training data."""
    base = importlib.import_module("sklearn.base")
    if y is None or not (base.is_classifier(model) or base.is_regressor(model)):
        return {}
    computed = {}
    for name, scorer in _scorers(model, x, y, weight).items():
        try:
            computed[f"training_{name}"] = float(scorer())
        except Exception as exc:
            log.warning("loopml.autolog could not compute training_%s: %s", name, exc)
    return computed


def _scorers(model: Any, x: Any, y: Any, weight: Any) -> dict[str, Callable[[], Any]]:
    m = importlib.import_module("sklearn.metrics")
    predicted = model.predict(x)
    weighted = {} if weight is None else {"sample_weight": weight}
    scorers: dict[str, Callable[[], Any]] = {"score": lambda: model.score(x, y, **weighted)}
    if not importlib.import_module("sklearn.base").is_classifier(model):
        mse = functools.cache(lambda: m.mean_squared_error(y, predicted, **weighted))
        return scorers | {
            "mse": mse,
            "rmse": lambda: math.sqrt(mse()),
            "mae": lambda: m.mean_absolute_error(y, predicted, **weighted),
            "r2": lambda: m.r2_score(y, predicted, **weighted),
        }
    averaged = {"average": "weighted", "zero_division": 0, **weighted}
    prf = functools.cache(lambda: m.precision_recall_fscore_support(y, predicted, **averaged))
    scorers |= {
        "accuracy": lambda: m.accuracy_score(y, predicted, **weighted),
        "precision": lambda: prf()[0],
        "recall": lambda: prf()[1],
        "f1": lambda: prf()[2],
    }
    if hasattr(model, "predict_proba"):
        proba = functools.cache(lambda: model.predict_proba(x))
        labels = model.classes_
        scorers["log_loss"] = lambda: m.log_loss(y, proba(), labels=labels, **weighted)
        scorers["roc_auc"] = lambda: (
            m.roc_auc_score(y, proba()[:, 1], **weighted)
            if len(labels) == 2
            else m.roc_auc_score(y, proba(), multi_class="ovr", labels=labels, **weighted)
        )
    return scorers


def _head(data: Any) -> Any:
    """The first rows of training data, as the input example; None when not tabular."""
    if hasattr(data, "iloc"):
        return data.iloc[:_EXAMPLE_ROWS]
    if hasattr(data, "toarray"):  # scipy sparse: the example is stored dense
        return data[:_EXAMPLE_ROWS].toarray()
    is_rows = hasattr(data, "shape") or isinstance(data, list | tuple)
    return data[:_EXAMPLE_ROWS] if is_rows else None


def _dmatrix_head(matrix: Any) -> Any:
    """The first rows of an XGBoost DMatrix, missing values as NaN, named when it is."""
    import numpy as np
    import pandas as pd

    rows = matrix.get_data()[:_EXAMPLE_ROWS].tocoo()
    dense = np.full(rows.shape, np.nan)
    dense[rows.row, rows.col] = rows.data
    return pd.DataFrame(dense, columns=matrix.feature_names) if matrix.feature_names else dense


def _clean_key(key: object) -> str:
    """A valid param or metric key: invalid characters become ``_``, ``..`` becomes ``.``."""
    clean = _DOTS.sub(".", _INVALID_KEY_CHARS.sub("_", str(key)))
    return clean[:MAX_KEY_LENGTH].strip(" .") or "_"


def _param_value(value: object) -> ParamValue:
    """A simple value as is; anything else (an estimator, a list) as its truncated repr."""
    if getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        value = value.item()  # a numpy scalar
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real) and math.isfinite(value):
        return float(value)
    text = value if isinstance(value, str) else repr(value)
    return text[:MAX_PARAM_LENGTH]
