"""Flavors: how each kind of model is saved, loaded and asked for predictions.

A :class:`Flavor` knows one family of models. Detection tries them in the order of
:data:`FLAVORS` (XGBoost and LightGBM before scikit-learn, because their scikit-learn
wrappers are scikit-learn estimators too; ``python_function`` last, as the catch-all).

Detection never imports a model library: an object can only be an instance of a class
from a module that is already imported, so each flavor looks in ``sys.modules``.

**Arrays for models fit on DataFrames.** scikit-learn checks a DataFrame's column names
and dtypes, column by column, on every call: ~350 µs of a ~450 µs one-row predict of a
logistic regression over 30 columns. Handed an array instead, it predicts the same but
warns that the input has no feature names, and no thread-safe switch turns that warning
off (``warnings.catch_warnings`` swaps a process-wide filter list; scikit-learn's config
has no such option; stripping ``feature_names_in_`` from the model would change it for
every thread; computing each estimator's answer by hand, say ``X @ coef_.T``, would skip
its input validation and hold for one class at a time). So :meth:`Flavor.array_call` offers a *view* of the estimator: a second
instance sharing every fitted attribute but ``feature_names_in_``, made once at load.
Called with a float array whose columns are in the fit order, it runs the same
validation and computation as the original on the DataFrame, without the name check
(the signature's own check and the column order stand in for it), in ~80 µs. Only
estimators that hold the names themselves and hold nothing else fit on named columns
(a ColumnTransformer, the members of a stacking or calibrated model, a Pipeline's
steps) get one: anything inside would check the names again.
"""

from __future__ import annotations

import importlib
import json
import pickle
import sys
import types
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import pandas as pd

from loopml.errors import InvalidInput, StoreError
from loopml.registry._enforce import NUMERIC_DTYPES, Want

if TYPE_CHECKING:
    from loopml.registry._signature import ColumnSpec

__all__ = [
    "FLAVORS",
    "ArrayCall",
    "Flavor",
    "LightGBMFlavor",
    "PyTorchFlavor",
    "PythonFunctionFlavor",
    "SklearnFlavor",
    "XGBoostFlavor",
    "get_flavor",
    "resolve_flavor",
]

_SUPPORTED = (
    "supported: scikit-learn estimators, XGBoost, LightGBM, PyTorch modules, or any object "
    "with a predict method."
)
_PICKLE_FILE = "model.pkl"
_NAMES = "feature_names_in_"
# How much of a model's object graph is searched for parts fit on named columns; past
# this the model keeps getting DataFrames (a search that gives up never says "none").
_MAX_SEARCHED = 100_000
_NOT_SEARCHED = (type, types.ModuleType, types.FunctionType, types.MethodType, str, bytes)


@dataclass(frozen=True, slots=True)
class ArrayCall:
    """How to call a model fit on a DataFrame with a float array instead (see the module
    docstring): same answers, a fraction of the time.

    Attributes:
        model: what to call in place of the fitted model (a view of it that does not
            check column names; the fitted model itself is left as it is).
        order: the positions, among the signature's columns, of the columns in the order
            the model was fit on; None when that is the signature's order.
    """

    model: object
    order: tuple[int, ...] | None


class Flavor(Protocol):
    """How one family of models is saved, loaded and called.

    ``predict`` and ``predict_proba`` receive input already prepared by the signature, in
    the form :meth:`wants` asked for.
    """

    @property
    def name(self) -> str:
        """The flavor's name, stored in the manifest."""
        ...

    def matches(self, model: object) -> bool:
        """Whether this flavor can save ``model``; never imports a model library."""
        ...

    def save(self, model: object, dest_dir: Path, options: Mapping[str, Any]) -> dict[str, Any]:
        """Write the model's files into ``dest_dir``; return the loader config to store."""
        ...

    def load(self, src_dir: Path, loader_config: Mapping[str, Any]) -> object:
        """Rebuild the model from files written by :meth:`save` (already verified)."""
        ...

    def predict(self, raw: Any, prepared: Any) -> Any:
        """Call the model on prepared input."""
        ...

    def has_predict_proba(self, raw: object) -> bool:
        """Whether :meth:`predict_proba` is available for this model."""
        ...

    def predict_proba(self, raw: Any, prepared: Any) -> Any:
        """Class probabilities for prepared input."""
        ...

    def wants(self, raw: object) -> Want:
        """Whether the model takes a DataFrame or a numpy array."""
        ...

    def array_call(self, raw: object, columns: Sequence[ColumnSpec]) -> ArrayCall | None:
        """How to call a model that :meth:`wants` a frame with an array of ``columns``
        instead, when it answers the same; None when it needs the frame."""
        ...

    def libraries(self) -> list[str]:
        """Top-level modules the flavor needs; their distributions' versions are recorded."""
        ...


class _EstimatorCalls:
    """``predict`` and ``predict_proba`` of a scikit-learn-style estimator, called on the
    input in the form it was fit on; shared by the flavors of such estimators."""

    def predict(self, raw: Any, prepared: Any) -> Any:
        """``raw.predict`` on the input in the form the estimator was fit on."""
        return raw.predict(_as_fitted(raw, prepared))

    def has_predict_proba(self, raw: object) -> bool:
        """Whether the model offers ``predict_proba`` (scikit-learn hides it otherwise)."""
        return hasattr(raw, "predict_proba")

    def predict_proba(self, raw: Any, prepared: Any) -> Any:
        """``raw.predict_proba`` on the input in the form the estimator was fit on."""
        return raw.predict_proba(_as_fitted(raw, prepared))


class SklearnFlavor(_EstimatorCalls):
    """Any scikit-learn estimator, pipelines included, pickled with cloudpickle."""

    name = "sklearn"

    def matches(self, model: object) -> bool:
        """Whether ``model`` is a scikit-learn ``BaseEstimator``."""
        return _is_instance(model, "sklearn.base", "BaseEstimator")

    def save(self, model: object, dest_dir: Path, options: Mapping[str, Any]) -> dict[str, Any]:
        """Pickle ``model`` to ``model.pkl``."""
        _check_options(self.name, options, ())
        return dump_pickle(model, dest_dir / _PICKLE_FILE)

    def load(self, src_dir: Path, loader_config: Mapping[str, Any]) -> object:
        """Unpickle the estimator."""
        return load_pickle(src_dir, loader_config)

    def wants(self, raw: object) -> Want:
        """A DataFrame for estimators fit on one (they record ``feature_names_in_``)."""
        return "frame" if hasattr(raw, "feature_names_in_") else "array"

    def array_call(self, raw: object, columns: Sequence[ColumnSpec]) -> ArrayCall | None:
        """A view of an estimator fit on the numeric ``columns`` (in any order), to call
        with a float array in its fit order; None for anything else (string or datetime
        columns, other names, a Pipeline, a model holding parts fit on named columns)."""
        fitted = _own_feature_names(raw)
        if fitted is None or any(column.type not in NUMERIC_DTYPES for column in columns):
            return None
        positions = {column.name: i for i, column in enumerate(columns)}
        if len(fitted) != len(columns) or set(fitted) != set(positions):
            return None
        if _holds_fitted_names(raw):
            return None
        view = _without_names(raw)
        if view is None:
            return None
        order = tuple(positions[name] for name in fitted)
        return ArrayCall(view, None if order == tuple(range(len(order))) else order)

    def libraries(self) -> list[str]:
        """scikit-learn."""
        return ["sklearn"]


class XGBoostFlavor:
    """XGBoost boosters and their scikit-learn wrappers, in XGBoost's own UBJSON format."""

    name = "xgboost"
    _FILE = "model.ubj"

    def matches(self, model: object) -> bool:
        """Whether ``model`` is an ``xgboost.Booster`` or an ``XGBModel`` wrapper."""
        return _is_instance(model, "xgboost.core", "Booster") or _is_instance(
            model, "xgboost.sklearn", "XGBModel"
        )

    def save(self, model: Any, dest_dir: Path, options: Mapping[str, Any]) -> dict[str, Any]:
        """Write the native model file; the config records the class to rebuild."""
        _check_options(self.name, options, ())
        model.save_model(str(dest_dir / self._FILE))
        cls = type(model)
        return {"file": self._FILE, "class": f"{cls.__module__}.{cls.__qualname__}"}

    def load(self, src_dir: Path, loader_config: Mapping[str, Any]) -> object:
        """Instantiate the recorded XGBoost class and load the native file into it."""
        import xgboost  # only packages of this flavor need it

        module_name, _, class_name = config_str(loader_config, "class").rpartition(".")
        cls = _import_class(module_name, class_name, "xgboost")
        if not issubclass(cls, xgboost.Booster | xgboost.XGBModel):
            raise StoreError(
                f"The model manifest is malformed: loader.class {module_name}.{class_name} is "
                "not an XGBoost model class."
            )
        model = cls()
        model.load_model(str(src_dir / config_str(loader_config, "file")))
        return model

    def predict(self, raw: Any, prepared: Any) -> Any:
        """Predict; a bare booster needs its input wrapped in a ``DMatrix``."""
        if self._is_booster(raw):
            import xgboost

            return raw.predict(xgboost.DMatrix(prepared))
        return raw.predict(_as_fitted(raw, prepared))

    def has_predict_proba(self, raw: object) -> bool:
        """Whether the model is a classifier wrapper."""
        return hasattr(raw, "predict_proba")

    def predict_proba(self, raw: Any, prepared: Any) -> Any:
        """The wrapper's ``predict_proba``."""
        return raw.predict_proba(_as_fitted(raw, prepared))

    def wants(self, raw: Any) -> Want:
        """A DataFrame for models trained with feature names, else an array."""
        if self._is_booster(raw):
            return "frame" if raw.feature_names else "array"
        return "frame" if hasattr(raw, "feature_names_in_") else "array"

    def array_call(self, raw: object, columns: Sequence[ColumnSpec]) -> ArrayCall | None:
        """None: XGBoost takes its frame as it is."""
        return None

    def libraries(self) -> list[str]:
        """XGBoost."""
        return ["xgboost"]

    def _is_booster(self, raw: object) -> bool:
        return _is_instance(raw, "xgboost.core", "Booster")


class LightGBMFlavor(_EstimatorCalls):
    """LightGBM boosters (native text) and scikit-learn wrappers (pickled, since the
    native format loses the wrapper's attributes such as ``classes_``)."""

    name = "lightgbm"
    _FILE = "model.txt"

    def matches(self, model: object) -> bool:
        """Whether ``model`` is a ``lightgbm.Booster`` or an ``LGBMModel`` wrapper."""
        return _is_instance(model, "lightgbm.basic", "Booster") or _is_instance(
            model, "lightgbm.sklearn", "LGBMModel"
        )

    def save(self, model: Any, dest_dir: Path, options: Mapping[str, Any]) -> dict[str, Any]:
        """Write ``model.txt`` for a booster, ``model.pkl`` for a wrapper."""
        _check_options(self.name, options, ())
        if _is_instance(model, "lightgbm.basic", "Booster"):
            model.save_model(str(dest_dir / self._FILE))
            return {"file": self._FILE, "format": "native"}
        return {**dump_pickle(model, dest_dir / _PICKLE_FILE), "format": "pickle"}

    def load(self, src_dir: Path, loader_config: Mapping[str, Any]) -> object:
        """Load the booster or unpickle the wrapper, as recorded."""
        if config_str(loader_config, "format") == "pickle":
            return load_pickle(src_dir, loader_config)
        import lightgbm  # only packages of this flavor need it

        return lightgbm.Booster(model_file=str(src_dir / config_str(loader_config, "file")))

    def wants(self, raw: object) -> Want:
        """A DataFrame for wrappers fit on one and boosters with pandas categoricals."""
        if hasattr(raw, "feature_names_in_") or getattr(raw, "pandas_categorical", None):
            return "frame"
        return "array"

    def array_call(self, raw: object, columns: Sequence[ColumnSpec]) -> ArrayCall | None:
        """None: LightGBM takes its frame as it is."""
        return None

    def libraries(self) -> list[str]:
        """LightGBM."""
        return ["lightgbm"]


class PyTorchFlavor:
    """A ``torch.nn.Module``: its ``state_dict`` plus the class and constructor arguments.

    Options:
        init_kwargs: JSON-serialisable keyword arguments for the class's constructor
            (default ``{}``); the module is rebuilt with them and given the weights.

    The input is passed as a float32 tensor; ``predict`` returns a numpy array.
    """

    name = "pytorch"
    _FILE = "state_dict.pt"

    def matches(self, model: object) -> bool:
        """Whether ``model`` is a ``torch.nn.Module``."""
        return _is_instance(model, "torch.nn", "Module")

    def save(self, model: Any, dest_dir: Path, options: Mapping[str, Any]) -> dict[str, Any]:
        """Save the weights and check the module can be rebuilt from class and kwargs.

        Raises:
            InvalidInput: the class is not importable (defined in ``__main__`` or a
                function) or ``init_kwargs`` is not JSON or does not rebuild the module.
        """
        import torch  # heavy: imported only when a PyTorch model is packaged

        _check_options(self.name, options, ("init_kwargs",))
        init_kwargs = _init_kwargs(options.get("init_kwargs", {}))
        class_path = _importable_class_path(type(model))
        state = model.state_dict()
        torch.save(state, dest_dir / self._FILE)
        try:  # fail now rather than when someone loads the model in production
            type(model)(**init_kwargs).load_state_dict(state)
        except Exception as exc:
            raise InvalidInput(
                f"Cannot rebuild {class_path} from init_kwargs={init_kwargs!r}: {exc}. Pass "
                "options={'init_kwargs': {...}} with the arguments its constructor needs."
            ) from exc
        return {"file": self._FILE, "class": class_path, "init_kwargs": init_kwargs}

    def load(self, src_dir: Path, loader_config: Mapping[str, Any]) -> object:
        """Rebuild the module, load its weights (tensors only) and switch to eval mode."""
        import torch  # heavy: imported only when a PyTorch model is loaded

        module_name, _, qualname = config_str(loader_config, "class").partition(":")
        cls = _import_class(module_name, qualname, None)
        init_kwargs = loader_config.get("init_kwargs", {})
        if not issubclass(cls, torch.nn.Module) or not isinstance(init_kwargs, dict):
            raise StoreError(
                f"The model manifest is malformed: loader.class {module_name}:{qualname} is "
                "not a torch.nn.Module, or loader.init_kwargs is not an object."
            )
        model = cls(**init_kwargs)
        state = torch.load(
            src_dir / config_str(loader_config, "file"), weights_only=True, map_location="cpu"
        )
        model.load_state_dict(state)
        return model.eval()

    def predict(self, raw: Any, prepared: Any) -> Any:
        """Run the module on a float32 tensor without tracking gradients."""
        import torch

        tensor = torch.from_numpy(np.ascontiguousarray(prepared, dtype=np.float32))
        with torch.no_grad():
            output = raw(tensor)
        return output.detach().cpu().numpy() if isinstance(output, torch.Tensor) else output

    def has_predict_proba(self, raw: object) -> bool:
        """Always False: a module's output has no fixed meaning."""
        return False

    def predict_proba(self, raw: Any, prepared: Any) -> Any:
        """Not available; see :meth:`has_predict_proba`."""
        raise NotImplementedError("PyTorch modules have no predict_proba.")

    def wants(self, raw: object) -> Want:
        """Always an array (turned into a tensor)."""
        return "array"

    def array_call(self, raw: object, columns: Sequence[ColumnSpec]) -> ArrayCall | None:
        """None: a module always gets an array anyway."""
        return None

    def libraries(self) -> list[str]:
        """PyTorch."""
        return ["torch"]


class PythonFunctionFlavor:
    """Any other object with a ``predict`` method, pickled with cloudpickle."""

    name = "python_function"

    def matches(self, model: object) -> bool:
        """Whether ``model`` is an instance with a callable ``predict``."""
        return not isinstance(model, type) and callable(getattr(model, "predict", None))

    def save(self, model: object, dest_dir: Path, options: Mapping[str, Any]) -> dict[str, Any]:
        """Pickle ``model`` to ``model.pkl``."""
        _check_options(self.name, options, ())
        return dump_pickle(model, dest_dir / _PICKLE_FILE)

    def load(self, src_dir: Path, loader_config: Mapping[str, Any]) -> object:
        """Unpickle the object."""
        return load_pickle(src_dir, loader_config)

    def predict(self, raw: Any, prepared: Any) -> Any:
        """``raw.predict(prepared)``."""
        return raw.predict(prepared)

    def has_predict_proba(self, raw: object) -> bool:
        """Whether the object has a callable ``predict_proba``."""
        return callable(getattr(raw, "predict_proba", None))

    def predict_proba(self, raw: Any, prepared: Any) -> Any:
        """``raw.predict_proba(prepared)``."""
        return raw.predict_proba(prepared)

    def wants(self, raw: object) -> Want:
        """A DataFrame for column signatures (tensor signatures always give arrays)."""
        return "frame"

    def array_call(self, raw: object, columns: Sequence[ColumnSpec]) -> ArrayCall | None:
        """None: what the object does with a frame is its own business."""
        return None

    def libraries(self) -> list[str]:
        """None beyond what the pickle references."""
        return []


FLAVORS: tuple[Flavor, ...] = (
    XGBoostFlavor(),
    LightGBMFlavor(),
    PyTorchFlavor(),
    SklearnFlavor(),
    PythonFunctionFlavor(),
)
"""Every flavor, in detection order."""


def get_flavor(name: str) -> Flavor:
    """The flavor called ``name``.

    Raises:
        InvalidInput: no flavor has that name; the message lists the known ones.
    """
    for flavor in FLAVORS:
        if flavor.name == name:
            return flavor
    known = ", ".join(flavor.name for flavor in FLAVORS)
    raise InvalidInput(f"Unknown model flavor {name!r}; known flavors: {known}.")


def resolve_flavor(model: object, requested: str | None = None) -> Flavor:
    """The flavor that packages ``model``: ``requested`` if given, else the first match.

    Raises:
        InvalidInput: no flavor supports ``model``, ``requested`` is unknown, or it does
            not match ``model``.
    """
    kind = f"{type(model).__module__}.{type(model).__qualname__}"
    if requested is not None:
        flavor = get_flavor(requested)
        if not flavor.matches(model):
            raise InvalidInput(
                f"Flavor {requested!r} cannot package a {kind} object; leave flavor unset to "
                "detect it, or pass a model of that flavor."
            )
        return flavor
    if isinstance(model, type):
        raise InvalidInput(
            f"Cannot package the class {model.__qualname__}; pass a fitted instance."
        )
    for flavor in FLAVORS:
        if flavor.matches(model):
            return flavor
    raise InvalidInput(f"Cannot package a {kind} object: {_SUPPORTED}")


def dump_pickle(model: object, path: Path) -> dict[str, Any]:
    """Pickle ``model`` with cloudpickle when it is installed (it also saves lambdas and
    classes defined in ``__main__``), else with the standard library's pickle. Plain
    ``pickle`` reads either back, so loading never needs cloudpickle.

    Returns:
        The loader config: the file name.
    """
    try:
        import cloudpickle  # needed only while saving
    except ImportError:  # pragma: no cover - cloudpickle is installed with loopml[sklearn]
        pickler: Any = pickle
    else:
        pickler = cloudpickle
    with open(path, "wb") as stream:
        pickler.dump(model, stream, protocol=pickle.DEFAULT_PROTOCOL)
    return {"file": path.name}


def load_pickle(src_dir: Path, loader_config: Mapping[str, Any]) -> object:
    """Unpickle the file the loader config names (verified against the manifest first)."""
    with open(src_dir / config_str(loader_config, "file"), "rb") as stream:
        return pickle.load(stream)


def config_str(config: Mapping[str, Any], key: str) -> str:
    """A string field of a loader config.

    Raises:
        StoreError: the field is missing or not a string.
    """
    value = config.get(key)
    if not isinstance(value, str) or not value:
        raise StoreError(f"The model manifest is malformed: loader.{key} is {value!r}.")
    return value


def _is_instance(model: object, module: str, class_name: str) -> bool:
    """``isinstance`` against a class of ``module``, False when the module isn't imported."""
    loaded = sys.modules.get(module)
    cls = getattr(loaded, class_name, None) if loaded is not None else None
    return isinstance(cls, type) and isinstance(model, cls)


def _own_feature_names(raw: object) -> list[str] | None:
    """The names ``raw`` itself was fit on (not a Pipeline's, which are its first
    step's), or None."""
    names = getattr(raw, "__dict__", {}).get(_NAMES)
    if names is None:
        return None
    listed = [name for name in np.asarray(names, dtype=object).tolist() if isinstance(name, str)]
    return listed if len(listed) == len(names) else None


def _holds_fitted_names(root: object) -> bool:
    """Whether anything ``root`` holds, however deep (sub-estimators, lists and arrays
    of them, their attributes), was fit on named columns too; True when that cannot be
    told within a bounded search."""
    seen = {id(root)}
    pending: list[object] = list(vars(root).values())
    while pending:
        if len(seen) > _MAX_SEARCHED:
            return True
        item = pending.pop()
        if id(item) in seen or item is None or isinstance(item, _NOT_SEARCHED):
            continue
        seen.add(id(item))
        if isinstance(item, list | tuple | set | frozenset):
            pending.extend(item)
        elif isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, np.ndarray):
            if item.dtype == object:
                pending.extend(item.ravel().tolist())
        else:
            attributes = getattr(item, "__dict__", None)
            if isinstance(attributes, dict):
                if _NAMES in attributes:
                    return True
                pending.extend(attributes.values())
    return False


def _without_names(raw: object) -> object | None:
    """A second instance of ``raw``'s class sharing all its attributes but
    ``feature_names_in_`` (not a copy: nothing is duplicated, and ``raw`` is untouched);
    None when the class cannot be instantiated that way."""
    try:
        view = object.__new__(type(raw))
        view.__dict__.update((k, v) for k, v in vars(raw).items() if k != _NAMES)
    except (TypeError, AttributeError):
        return None
    return view


def _as_fitted(raw: object, prepared: Any) -> Any:
    """The input in the form an estimator was fit on, so scikit-learn raises no warning:
    a DataFrame named by ``feature_names_in_``, or a plain array."""
    names = getattr(raw, "feature_names_in_", None)
    if names is None:
        return prepared.to_numpy() if isinstance(prepared, pd.DataFrame) else prepared
    if isinstance(prepared, np.ndarray):
        return pd.DataFrame(prepared, columns=names, copy=False)
    return prepared


def _check_options(flavor: str, options: Mapping[str, Any], known: tuple[str, ...]) -> None:
    unknown = sorted(str(key) for key in options if key not in known)
    if unknown:
        takes = f"it takes: {', '.join(known)}" if known else "it takes none"
        raise InvalidInput(f"Unknown option {unknown[0]!r} for flavor {flavor!r}; {takes}.")


def _init_kwargs(value: object) -> dict[str, Any]:
    if not isinstance(value, dict) or not all(isinstance(key, str) for key in value):
        raise InvalidInput(f"Option 'init_kwargs' must be a dict of arguments, got {value!r}.")
    try:
        return dict(json.loads(json.dumps(value)))
    except (TypeError, ValueError) as exc:
        raise InvalidInput(
            f"Option 'init_kwargs' must be JSON-serialisable (it is stored in the manifest): {exc}."
        ) from exc


def _importable_class_path(cls: type) -> str:
    """``module:QualName`` of ``cls``, checked to lead back to ``cls`` on import."""
    where = f"{cls.__module__}:{cls.__qualname__}"
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise InvalidInput(
            f"Cannot package a {cls.__qualname__} module defined in {cls.__module__} "
            f"({where}): loading rebuilds it by importing its class, so move the class into "
            "an importable module."
        )
    try:
        found = _import_class(cls.__module__, cls.__qualname__, None)
    except StoreError:
        found = None
    if found is not cls:
        raise InvalidInput(
            f"Cannot package a {cls.__qualname__} module: importing {where} does not give "
            "back its class; define the class at the top level of an importable module."
        )
    return where


def _import_class(module_name: str, qualname: str, required_package: str | None) -> Any:
    """Import ``module_name`` and resolve ``qualname`` in it.

    Raises:
        StoreError: the module lies outside ``required_package`` or the class is missing.
    """
    if required_package and module_name.split(".", 1)[0] != required_package:
        raise StoreError(
            f"The model manifest is malformed: loader class {module_name}.{qualname} is not "
            f"from {required_package}."
        )
    try:
        found: Any = importlib.import_module(module_name)
        for part in qualname.split("."):
            found = getattr(found, part)
    except (ImportError, AttributeError, ValueError) as exc:
        raise StoreError(
            f"Cannot import the model class {module_name}:{qualname} ({exc}); install the "
            "package that defines it."
        ) from exc
    if not isinstance(found, type):
        raise StoreError(
            f"The model manifest is malformed: {module_name}:{qualname} is not a class."
        )
    return found
