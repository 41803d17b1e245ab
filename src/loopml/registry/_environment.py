"""What a model package needs from its environment: library versions and pip requirements.

Requirements are found, not guessed: the flavor's libraries, the modules a pickle
refers to (read from its opcodes, without unpickling anything) and the module of a
class the loader imports, each mapped to the installed distribution that provides it.
"""

from __future__ import annotations

import functools
import importlib.metadata
import pickletools
import platform
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path

from loopml.errors import InvalidInput

__all__ = [
    "library_versions",
    "pickle_modules",
    "python_version",
    "requirement_lines",
]

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_STRING_OPS = frozenset(
    {
        "SHORT_BINUNICODE",
        "BINUNICODE",
        "BINUNICODE8",
        "UNICODE",
        "STRING",
        "BINSTRING",
        "SHORT_BINSTRING",
    }
)
_SILENT_OPS = frozenset({"FRAME", "PROTO"})  # framing: they put nothing on the stack
_GET_OPS = frozenset({"GET", "BINGET", "LONG_BINGET"})
_PUT_OPS = frozenset({"PUT", "BINPUT", "LONG_BINPUT"})
_ALWAYS_RECORDED = ("numpy", "pandas")


def python_version() -> str:
    """The running Python's version, e.g. ``3.11.7``."""
    return platform.python_version()


def pickle_modules(path: Path) -> set[str]:
    """Top-level modules a pickle file refers to, read from its opcodes (never unpickled).

    ``GLOBAL`` names its module directly; ``STACK_GLOBAL`` takes module and name from the
    two strings pushed before it, which may come back from the memo.
    """
    modules: set[str] = set()
    pushed: list[str | None] = []
    memo: dict[int, str | None] = {}
    with open(path, "rb") as stream:
        for opcode, arg, _ in pickletools.genops(stream):
            name = opcode.name
            if name in _SILENT_OPS:
                continue
            if name in _STRING_OPS:
                pushed.append(arg if isinstance(arg, str) else None)
            elif name == "MEMOIZE":
                memo[len(memo)] = pushed[-1] if pushed else None
            elif name in _PUT_OPS:
                memo[int(str(arg))] = pushed[-1] if pushed else None
            elif name in _GET_OPS:
                pushed.append(memo.get(int(str(arg))))
            elif name == "GLOBAL":
                modules.add(str(arg).split(" ", 1)[0])
            elif name == "STACK_GLOBAL" and len(pushed) >= 2 and pushed[-2]:
                modules.add(str(pushed[-2]))
            else:
                pushed.append(None)
            del pushed[:-2]  # only the last two pushes matter
    return {module.split(".", 1)[0] for module in modules}


def library_versions(modules: Iterable[str]) -> dict[str, str]:
    """Installed distribution versions for ``modules`` plus numpy and pandas.

    Modules of the standard library, ``__main__`` and modules no installed distribution
    provides (a project's own code) are skipped.

    Returns:
        Distribution name to version, sorted by name.
    """
    found: dict[str, str] = {}
    for module in {*modules, *_ALWAYS_RECORDED}:
        if module in sys.stdlib_module_names or module in ("__main__", "builtins"):
            continue
        for dist in _module_distributions().get(module, ()):
            found[dist.metadata["Name"]] = dist.version
    return dict(sorted(found.items(), key=lambda item: _normalise(item[0])))


def requirement_lines(pinned: Mapping[str, str], extra: Iterable[str]) -> tuple[str, ...]:
    """``dist==version`` lines for ``pinned``, overridden by the caller's ``extra`` lines.

    Args:
        pinned: distribution to installed version.
        extra: requirement specifiers from the caller (``"shap>=0.45"``); one naming a
            pinned distribution replaces its pin.

    Returns:
        The lines, sorted by normalised distribution name.

    Raises:
        InvalidInput: an ``extra`` line does not start with a distribution name.
    """
    lines = {_normalise(dist): f"{dist}=={version}" for dist, version in pinned.items()}
    for line in extra:
        match = _NAME.match(line) if isinstance(line, str) else None
        if match is None:
            raise InvalidInput(
                f"pip_requirements entry {line!r} is not a requirement; expected something "
                "like 'shap>=0.45'."
            )
        lines[_normalise(match.group(1))] = line.strip()
    return tuple(lines[name] for name in sorted(lines))


def _normalise(dist: str) -> str:
    return re.sub(r"[-_.]+", "-", dist).lower()


@functools.cache
def _module_distributions() -> Mapping[str, tuple[importlib.metadata.Distribution, ...]]:
    """Top-level module to the installed distributions that provide it.

    Like ``importlib.metadata.packages_distributions`` but reading ``RECORD`` as plain
    text: 13 ms instead of 130-330 ms here, which matters because the first
    ``log_model`` of a process pays it. Done once per process (packages installed
    later are not seen).
    """
    index: dict[str, list[importlib.metadata.Distribution]] = {}
    for dist in importlib.metadata.distributions():
        for module in _top_levels(dist):
            index.setdefault(module, []).append(dist)
    return {module: tuple(dists) for module, dists in index.items()}


def _top_levels(dist: importlib.metadata.Distribution) -> set[str]:
    listed = dist.read_text("top_level.txt")
    if listed:
        return set(listed.split())
    names: set[str] = set()
    for line in (dist.read_text("RECORD") or "").splitlines():
        first, nested, _ = line.split(",", 1)[0].partition("/")
        if not nested:  # a top-level module file: six.py, _cffi_backend.cpython-311-....so
            if first.endswith((".py", ".so", ".pyd")):
                names.add(first.split(".", 1)[0])
        elif not first.endswith((".dist-info", ".data")) and first not in ("..", "__pycache__"):
            names.add(first)
    return names
