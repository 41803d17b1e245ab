"""Finding a pipeline by name: ``path/to/file.py:NAME`` or ``package.module:NAME``."""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path

import blake3

from loopml.errors import InvalidInput, NotFound
from loopml.pipelines._authoring import Pipeline

__all__ = ["LOADED_PREFIX", "absolute_target", "load_target"]

LOADED_PREFIX = "loopml_pipeline_"
"""Module names given to pipeline files loaded by path."""


def load_target(target: str) -> Pipeline:
    """Load the pipeline ``target`` names.

    A file is imported as a module of its own (its folder goes first on ``sys.path``,
    so it can import its neighbours); loading it again reuses the module unless the
    file changed since (size or mtime), so a long-lived process never runs stale code
    under the cache key of the new code.

    Raises:
        InvalidInput: ``target`` is not ``FILE:NAME``/``module:NAME``, or ``NAME`` is
            not a pipeline.
        NotFound: no such file, module or name.
    """
    location, sep, name = target.rpartition(":")
    if not sep or not location or not name.isidentifier():
        raise InvalidInput(
            f"Invalid pipeline {target!r}: expected FILE.py:NAME or module:NAME "
            "(e.g. train.py:training)."
        )
    if location.endswith(".py") or "/" in location:
        module = _load_file(Path(location))
    else:
        try:
            module = importlib.import_module(location)
        except ModuleNotFoundError as exc:
            raise NotFound(f"No module {location!r} for pipeline {target!r}: {exc}.") from exc
    found = getattr(module, name, None)
    if found is None:
        raise NotFound(f"{location} has no {name!r}; pipelines there: {_pipelines(module)}.")
    if not isinstance(found, Pipeline):
        raise InvalidInput(
            f"{location}:{name} is a {type(found).__name__}, not a pipeline; mark it "
            "with @pipeline."
        )
    return found


def absolute_target(target: str) -> str:
    """``FILE:NAME`` with FILE made absolute (module targets unchanged), so a recorded
    target loads from any working directory."""
    location, sep, name = target.rpartition(":")
    if sep and (location.endswith(".py") or "/" in location):
        return f"{Path(location).expanduser().resolve()}:{name}"
    return target


def _load_file(path: Path) -> object:
    file = path.expanduser().resolve()
    if not file.is_file():
        raise NotFound(f"No pipeline file at {str(path)!r}.")
    name = LOADED_PREFIX + blake3.blake3(str(file).encode()).hexdigest()[:16]
    stat = file.stat()
    stamp = (stat.st_mtime_ns, stat.st_size)
    loaded = sys.modules.get(name)
    if loaded is not None and getattr(loaded, "__loopml_stamp__", None) == stamp:
        return loaded  # unchanged since it was loaded; an edited file is loaded afresh
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise InvalidInput(f"Cannot load {str(path)!r} as Python.")
    module = importlib.util.module_from_spec(spec)
    if str(file.parent) not in sys.path:
        sys.path.insert(0, str(file.parent))
    module.__loopml_stamp__ = stamp  # type: ignore[attr-defined]
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def _pipelines(module: object) -> str:
    names = [key for key, value in vars(module).items() if isinstance(value, Pipeline)]
    return ", ".join(sorted(names)) or "none"
