"""How autolog replaces ``fit`` and ``train``: the patcher, and a hook that patches a
library when it is imported after ``autolog()`` was called.

Patching only what is imported already keeps ``autolog()`` instant: importing every
scikit-learn estimator up front (``sklearn.utils.all_estimators``) takes seconds. The
hook on ``sys.meta_path`` lets each ``sklearn``, ``xgboost`` or ``lightgbm`` module
import as usual, then patches the estimator classes it defined.
"""

from __future__ import annotations

import functools
import importlib.abc
import importlib.machinery
import sys
import threading
import types
from collections.abc import Callable, Iterator, Sequence
from typing import Any

__all__ = ["LIBRARIES", "Function", "Patcher"]

LIBRARIES = ("sklearn", "xgboost", "lightgbm")
_MARK = "__loopml_autolog__"
Function = Callable[..., Any]
# A recorder runs one outermost fit: (original function, args, kwargs) -> its result.
Recorder = Callable[[Function, tuple[Any, ...], dict[str, Any]], Any]


class Patcher:
    """The functions replaced, the recorders that replace them, and the import hook.

    One per process on purpose: what it patches (classes, modules) is process-wide too.
    Only the outermost patched call of a thread records (``depth``), so a Pipeline
    fitting its steps, or a search fitting candidates, is one recording.
    """

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.originals: dict[tuple[object, str], Function] = {}
        self.local = threading.local()
        self._fit: Recorder | None = None
        self._train: Callable[[str], Recorder] | None = None
        self._hook = _PatchAfterImport(self)

    @property
    def is_enabled(self) -> bool:
        """Whether calls are being recorded."""
        return self._fit is not None

    def enable(self, fit: Recorder, train: Callable[[str], Recorder]) -> None:
        """Record with ``fit`` (estimators) and ``train(library)`` (booster training)
        from now on, in what is imported now and in what is imported later."""
        with self.lock:
            self._fit, self._train = fit, train
            if self._hook not in sys.meta_path:
                sys.meta_path.insert(0, self._hook)
            self.patch_loaded()

    def disable(self) -> None:
        """Put back every original and remove the import hook."""
        with self.lock:
            if self._hook in sys.meta_path:
                sys.meta_path.remove(self._hook)
            for (owner, name), original in self.originals.items():
                setattr(owner, name, original)
            self.originals.clear()
            self._fit = self._train = None

    def patch_loaded(self) -> None:
        """Patch the estimators and training functions of the modules loaded so far."""
        with self.lock:
            if self._fit is None or self._train is None:
                return
            for owner, name, library in _targets():
                current = vars(owner).get(name)
                if isinstance(current, types.FunctionType) and not getattr(current, _MARK, False):
                    self.originals[(owner, name)] = current
                    setattr(owner, name, self._wrap(current, library))

    def _recorder(self, library: str | None) -> Recorder | None:
        if library is None or self._train is None:
            return self._fit
        return self._train(library)

    def _wrap(self, original: Function, library: str | None) -> Function:
        # The recorder is looked up at each call, so autolog(...) again changes options
        # without patching twice.
        @functools.wraps(original)
        def patched(*args: Any, **kwargs: Any) -> Any:
            depth = getattr(self.local, "depth", 0)
            record = self._recorder(library)
            if depth or record is None:
                return original(*args, **kwargs)
            self.local.depth = depth + 1
            try:
                return record(original, args, kwargs)
            finally:
                self.local.depth = depth

        setattr(patched, _MARK, True)
        return patched


def _targets() -> Iterator[tuple[Any, str, str | None]]:
    """``(owner, attribute, library)``: the library for booster ``train`` functions,
    None for estimators' ``fit``."""
    classes: list[type] = []
    base = sys.modules.get("sklearn.base")
    if base is not None and hasattr(base, "BaseEstimator"):
        classes += _subclasses(base.BaseEstimator)
    for library, model_class in (("xgboost", "XGBModel"), ("lightgbm", "LGBMModel")):
        module = sys.modules.get(library)
        if module is not None and hasattr(module, model_class) and hasattr(module, "train"):
            classes += _subclasses(getattr(module, model_class))
            yield module, "train", library
    for cls in dict.fromkeys(classes):
        # Patch the class that defines fit: RandomForestClassifier inherits BaseForest.fit.
        owner = next((c for c in cls.__mro__ if "fit" in vars(c)), None)
        if owner is not None and owner is not object:
            yield owner, "fit", None


def _subclasses(cls: type) -> list[type]:
    found = [cls]
    children: list[type] = cls.__subclasses__()
    for child in children:
        found += _subclasses(child)
    return found


class _PatchAfterImport(importlib.abc.MetaPathFinder):
    """Finds modules of the covered libraries through the other finders, and wraps their
    loader so that the patcher runs once each module has executed."""

    def __init__(self, patcher: Patcher) -> None:
        self._patcher = patcher

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None,
        target: types.ModuleType | None = None,
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname.partition(".")[0] not in LIBRARIES:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec: importlib.machinery.ModuleSpec | None = finder.find_spec(fullname, path, target)
            if spec is not None:
                if spec.loader is not None and hasattr(spec.loader, "exec_module"):
                    spec.loader = _PatchingLoader(spec.loader, self._patcher)
                return spec
        return None


class _PatchingLoader(importlib.abc.Loader):
    """A module's own loader, then the patcher. Every other attribute (resource readers,
    ``is_package``, ``get_source``) is the wrapped loader's."""

    def __init__(self, loader: Any, patcher: Patcher) -> None:
        self._loader = loader
        self._patcher = patcher

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        self._patcher.patch_loaded()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)
