"""What a step's code is, for its cache key: the function and what it calls in the project.

The fingerprint of a step hashes its own source and, recursively, the source of every
function or class it names (globals, closure variables, attributes of project modules
it imports) that is defined in *project code*: any module that is neither part of the
standard library nor installed (under ``site-packages``), and not loopml itself.
Editing a helper that a step calls therefore re-runs the step; upgrading pandas does
not (its version is recorded with the run's environment instead).

Where source is unavailable (a function made in a REPL), the bytecode and constants
stand in for it.
"""

from __future__ import annotations

import inspect
import sys
import sysconfig
import types
from collections.abc import Callable, Iterator
from functools import cache
from pathlib import Path
from typing import Any

import blake3

__all__ = ["code_fingerprint", "is_project_module"]


def code_fingerprint(func: Callable[..., Any]) -> str:
    """The BLAKE3 hex digest of ``func``'s code and the project code it reaches."""
    parts: list[str] = []
    seen: set[int] = set()
    pending: list[Any] = [func]
    while pending:
        obj = pending.pop()
        obj = getattr(obj, "func", obj) if _is_step(obj) else obj
        if id(obj) in seen:
            continue
        seen.add(id(obj))
        parts.append(f"{getattr(obj, '__module__', '?')}:{getattr(obj, '__qualname__', '?')}")
        parts.append(_source(obj))
        pending.extend(_referenced(obj))
    return str(blake3.blake3("\0".join(parts).encode()).hexdigest())


def is_project_module(module_name: str | None) -> bool:
    """Whether the module is the user's code (not stdlib, not installed, not loopml)."""
    if not module_name or module_name.split(".")[0] in ("loopml", "builtins"):
        return False
    module = sys.modules.get(module_name)
    if module is None:
        return False
    file = getattr(module, "__file__", None)
    if file is None:
        return module_name == "__main__"
    return not _is_installed(str(Path(file).resolve()))


def _is_step(obj: Any) -> bool:
    from loopml.pipelines._authoring import Pipeline, Step

    return isinstance(obj, Step | Pipeline)


def _source(obj: Any) -> str:
    try:
        return inspect.getsource(obj)
    except (OSError, TypeError):
        code = getattr(obj, "__code__", None)
        if code is None:
            return repr(obj)
        return str(code.co_code.hex()) + repr(_constants(code))


def _constants(code: types.CodeType) -> list[Any]:
    return [_constants(c) if isinstance(c, types.CodeType) else c for c in code.co_consts]


def _referenced(obj: Any) -> Iterator[Any]:
    """Project functions and classes that ``obj`` names."""
    if inspect.isclass(obj):
        for member in vars(obj).values():
            function = member.__func__ if isinstance(member, classmethod | staticmethod) else member
            if inspect.isfunction(function):
                yield from _referenced(function)
        return
    code = getattr(obj, "__code__", None)
    if code is None:
        return
    namespace = getattr(obj, "__globals__", {})
    closure = dict(
        zip(code.co_freevars, (c.cell_contents for c in obj.__closure__ or ()), strict=False)
    )
    for name in _names(code):
        for value in (closure.get(name), namespace.get(name)):
            yield from _project_objects(value, name, code)


def _project_objects(value: Any, name: str, code: types.CodeType) -> Iterator[Any]:
    if value is None:
        return
    if _is_step(value) or inspect.isfunction(value) or inspect.isclass(value):
        if is_project_module(getattr(value, "__module__", None)) or _is_step(value):
            yield value
    elif inspect.ismodule(value) and is_project_module(value.__name__):
        # module.attr: follow the attributes this code names on the module
        for attr in _names(code):
            member = getattr(value, attr, None)
            if (inspect.isfunction(member) or inspect.isclass(member)) and is_project_module(
                getattr(member, "__module__", None)
            ):
                yield member


def _names(code: types.CodeType) -> Iterator[str]:
    yield from code.co_names
    yield from code.co_freevars
    for constant in code.co_consts:
        if isinstance(constant, types.CodeType):
            yield from _names(constant)


@cache
def _install_roots() -> tuple[str, ...]:
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix}
    for key in ("stdlib", "platstdlib", "purelib", "platlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            roots.add(path)
    return tuple(str(Path(root).resolve()) + "/" for root in roots)


def _is_installed(path: str) -> bool:
    return "site-packages" in path or "dist-packages" in path or path.startswith(_install_roots())
