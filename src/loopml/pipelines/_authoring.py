"""Steps and pipelines as plain Python functions; the DAG comes from the calls.

A :class:`Step` wraps a function. Called outside a pipeline it simply runs; called while
a :class:`Pipeline` is being built it runs nothing and returns an :class:`Output`, a
placeholder for its future value. Passing that placeholder to another step is what
makes an edge, so the graph is derived from the code, not declared twice::

    @step
    def load(rows: int = 1000) -> pd.DataFrame: ...

    @step
    def train(df: pd.DataFrame, C: float = 1.0) -> LogisticRegression: ...

    @pipeline
    def training(rows: int = 1000, C: float = 1.0):
        return train(load(rows=rows), C=C)

Building calls the pipeline function once with its parameters. A step can only receive
an output that exists already, so the call order is a topological order and a cycle
cannot be written. Calling the pipeline function directly (not through
``run_pipeline``) runs every step in place, in order: the plain-Python version of it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import math
import types
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, ParamSpec, TypeVar, get_type_hints, overload

from loopml.errors import InvalidInput

__all__ = [
    "DatasetInput",
    "Graph",
    "Node",
    "Output",
    "Pipeline",
    "Step",
    "dataset",
    "pipeline",
    "step",
]

P = ParamSpec("P")
R = TypeVar("R")

_BUILDING: contextvars.ContextVar[_Builder | None] = contextvars.ContextVar(
    "loopml_pipeline_builder", default=None
)
_PARAM_TYPES = (bool, int, float, str)


@dataclass(frozen=True, slots=True)
class Output:
    """The future value of one step of a pipeline being built."""

    node: str

    def __repr__(self) -> str:
        return f"<output of step {self.node!r}>"

    def __bool__(self) -> bool:
        raise InvalidInput(
            f"The output of step {self.node!r} has no value while the pipeline is built: "
            "branch inside a step, not in the pipeline function."
        )

    def __iter__(self) -> Iterator[Any]:
        raise InvalidInput(
            f"The output of step {self.node!r} cannot be unpacked while the pipeline is "
            "built: return one value (a tuple is fine) and unpack it in the next step."
        )


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset version a step reads: ``NAME`` (the newest at run start) or ``NAME@vN``.

    The step receives the local path of the version's file or folder; the version is
    resolved once per run, recorded as the step's input and part of its cache key.
    """

    ref: str


def dataset(ref: str) -> DatasetInput:
    """Mark a step argument as a dataset version, e.g. ``load(dataset("churn@v3"))``.

    Raises:
        InvalidInput: ``ref`` is not ``NAME``, ``NAME@latest`` or ``NAME@vN``.
    """
    from loopml.data._refs import parse_dataset_ref

    parse_dataset_ref(ref)
    return DatasetInput(ref)


class Step(Generic[P, R]):
    """A function marked as a pipeline step (see :func:`step`)."""

    def __init__(
        self,
        func: Callable[P, R],
        *,
        name: str | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        cache: bool = True,
    ) -> None:
        if not callable(func) or isinstance(func, Step | Pipeline):
            raise TypeError(f"@step needs a plain function, got {func!r}.")
        if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
            raise InvalidInput(f"Step {func.__name__!r}: retries must be an int >= 0.")
        if not isinstance(backoff, int | float) or not math.isfinite(backoff) or backoff < 0:
            raise InvalidInput(f"Step {func.__name__!r}: backoff must be seconds >= 0.")
        self.func = func
        self.name = _check_name("step", name or func.__name__)
        self.retries = retries
        self.backoff = float(backoff)
        self.cache = bool(cache)
        self.signature = inspect.signature(func)
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<step {self.name}>"

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        builder = _BUILDING.get()
        if builder is None:
            return self.func(*args, **kwargs)
        return builder.add(self, args, kwargs)  # type: ignore[return-value]


@overload
def step(func: Callable[P, R], /) -> Step[P, R]: ...


@overload
def step(
    *, name: str | None = None, retries: int = 0, backoff: float = 1.0, cache: bool = True
) -> Callable[[Callable[P, R]], Step[P, R]]: ...


def step(
    func: Callable[P, R] | None = None,
    /,
    *,
    name: str | None = None,
    retries: int = 0,
    backoff: float = 1.0,
    cache: bool = True,
) -> Step[P, R] | Callable[[Callable[P, R]], Step[P, R]]:
    """Mark a function as a pipeline step: ``@step`` or ``@step(retries=2, cache=False)``.

    Args:
        func: the function (when used as a bare decorator).
        name: the step's name in runs and the DAG (default: the function's name).
        retries: extra attempts after a failure (an exception or a killed worker).
        backoff: seconds before the first retry, doubled for each next one.
        cache: whether a previous identical execution may stand in for this one.

    Raises:
        InvalidInput: a bad name, retries or backoff.
    """
    if func is not None:
        return Step(func)

    def decorate(function: Callable[P, R]) -> Step[P, R]:
        return Step(function, name=name, retries=retries, backoff=backoff, cache=cache)

    return decorate


@dataclass(frozen=True, slots=True)
class Node:
    """One call of a step in a pipeline: its bound arguments, in call order.

    ``args`` maps each parameter of the step to a plain value (a parameter of the run),
    an :class:`Output` of an earlier node or a :class:`DatasetInput`.
    """

    name: str
    step: Step[..., Any]
    args: Mapping[str, Any]

    @property
    def upstream(self) -> tuple[str, ...]:
        """The nodes whose outputs this one takes, in argument order."""
        return tuple(value.node for value in self.args.values() if isinstance(value, Output))

    @property
    def params(self) -> dict[str, Any]:
        """The plain-value arguments."""
        return {
            key: value
            for key, value in self.args.items()
            if not isinstance(value, Output | DatasetInput)
        }

    @property
    def datasets(self) -> dict[str, DatasetInput]:
        """The dataset arguments."""
        return {k: v for k, v in self.args.items() if isinstance(v, DatasetInput)}


@dataclass(frozen=True, slots=True)
class Graph:
    """The DAG of one build: nodes in a topological order, and what the pipeline returns.

    Raises:
        InvalidInput: a node takes an output that no earlier node produces (a cycle or
            a dangling edge), or two nodes share a name.
    """

    pipeline: str
    params: Mapping[str, Any]
    nodes: tuple[Node, ...]
    result: Any = None
    _index: dict[str, Node] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for node in self.nodes:
            if node.name in self._index:
                raise InvalidInput(f"Pipeline {self.pipeline!r} has two steps named {node.name!r}.")
            for upstream in node.upstream:
                if upstream not in self._index:
                    raise InvalidInput(
                        f"Step {node.name!r} of pipeline {self.pipeline!r} takes the output of "
                        f"{upstream!r}, which does not run before it: a cycle or a missing step."
                    )
            self._index[node.name] = node

    def __getitem__(self, name: str) -> Node:
        return self._index[name]

    def downstream(self, name: str) -> set[str]:
        """Every node that depends on ``name``, directly or not."""
        found: set[str] = set()
        for node in self.nodes:
            if name in node.upstream or found.intersection(node.upstream):
                found.add(node.name)
        return found

    def edges(self) -> list[tuple[str, str]]:
        """``(upstream, downstream)`` pairs."""
        return [(up, node.name) for node in self.nodes for up in node.upstream]


class Pipeline:
    """A function whose step calls make a DAG (see :func:`pipeline`)."""

    def __init__(self, func: Callable[..., Any], *, name: str | None = None) -> None:
        if not callable(func) or isinstance(func, Step | Pipeline):
            raise TypeError(f"@pipeline needs a plain function, got {func!r}.")
        self.func = func
        self.name = _check_name("pipeline", name or func.__name__)
        self.signature = inspect.signature(func)
        functools.update_wrapper(self, func)

    def __repr__(self) -> str:
        return f"<pipeline {self.name}>"

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        """Inside another pipeline's build: add this one's steps. Otherwise: run every
        step in place, in order (plain Python; no records, no cache)."""
        return self.func(*args, **kwargs)

    def bind_params(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The pipeline's parameters: defaults, replaced by ``overrides``.

        Values given as strings (from a command line) are converted to the annotated
        type (``int``, ``float``, ``bool``, ``str``); other values must already have it.

        Raises:
            InvalidInput: an unknown parameter, a missing one, or a value of the wrong
                type, each named.
        """
        overrides = dict(overrides or {})
        hints = _hints(self.func)
        unknown = sorted(set(overrides) - set(self.signature.parameters))
        if unknown:
            known = ", ".join(self.signature.parameters) or "none"
            raise InvalidInput(
                f"Pipeline {self.name!r} has no parameter {', '.join(map(repr, unknown))} "
                f"(its parameters: {known})."
            )
        bound: dict[str, Any] = {}
        for name, parameter in self.signature.parameters.items():
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise InvalidInput(f"Pipeline {self.name!r}: *args and **kwargs are not supported.")
            if name in overrides:
                bound[name] = _coerce(self.name, name, overrides[name], hints.get(name))
            elif parameter.default is not parameter.empty:
                bound[name] = parameter.default
            else:
                raise InvalidInput(
                    f"Pipeline {self.name!r} needs parameter {name!r}"
                    + (f" ({_type_name(hints[name])})" if name in hints else "")
                    + "; pass it with --param "
                    + f"{name}=VALUE or params={{{name!r}: ...}}."
                )
        return bound

    def build(self, params: Mapping[str, Any] | None = None) -> Graph:
        """Call the pipeline function with its parameters and record the step calls.

        Raises:
            InvalidInput: bad parameters, a step called with arguments it does not take,
                or a step argument that cannot be a parameter (see :func:`step`).
        """
        bound = self.bind_params(params)
        builder = _Builder(self.name)
        token = _BUILDING.set(builder)
        try:
            result = self.func(**bound)
        finally:
            _BUILDING.reset(token)
        _check_result(self.name, result)
        return Graph(self.name, bound, tuple(builder.nodes), result)


def pipeline(func: Callable[..., Any] | None = None, /, *, name: str | None = None) -> Any:
    """Mark a function as a pipeline: ``@pipeline`` or ``@pipeline(name="training")``.

    Its parameters (typed, with defaults) are the run's parameters; its body calls
    steps. Run it with :func:`loopml.run_pipeline` or ``loopml pipeline run FILE:NAME``.
    """
    if func is not None:
        return Pipeline(func)
    return lambda function: Pipeline(function, name=name)


class _Builder:
    def __init__(self, pipeline: str) -> None:
        self.pipeline = pipeline
        self.nodes: list[Node] = []
        self._counts: dict[str, int] = {}

    def add(self, step: Step[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Output:
        try:
            bound = step.signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise InvalidInput(f"Step {step.name!r} in pipeline {self.pipeline!r}: {exc}.") from exc
        bound.apply_defaults()
        count = self._counts[step.name] = self._counts.get(step.name, 0) + 1
        name = step.name if count == 1 else f"{step.name}_{count}"
        values: dict[str, Any] = {}
        for key, value in bound.arguments.items():
            parameter = step.signature.parameters[key]
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise InvalidInput(f"Step {step.name!r}: *args and **kwargs are not supported.")
            values[key] = _check_argument(name, key, value)
        self.nodes.append(Node(name, step, types.MappingProxyType(values)))
        return Output(name)


def _check_argument(node: str, key: str, value: Any) -> Any:
    if isinstance(value, Output | DatasetInput):
        return value
    if _is_plain(value):
        return value
    if _holds_output(value):
        raise InvalidInput(
            f"Step {node!r} argument {key!r} holds a step output inside a "
            f"{type(value).__name__}: pass each output as its own argument."
        )
    raise InvalidInput(
        f"Step {node!r} argument {key!r} is a {type(value).__name__}; step arguments are "
        "parameters (numbers, strings, booleans, None, and lists or dicts of them), outputs "
        "of other steps, or dataset(...) versions. Make the value in a step instead."
    )


def _is_plain(value: Any) -> bool:
    if value is None or isinstance(value, _PARAM_TYPES):
        return True
    if isinstance(value, list | tuple):
        return all(_is_plain(item) for item in value)
    if isinstance(value, dict):
        return all(isinstance(k, str) and _is_plain(v) for k, v in value.items())
    return False


def _holds_output(value: Any) -> bool:
    if isinstance(value, Output):
        return True
    if isinstance(value, list | tuple):
        return any(_holds_output(item) for item in value)
    if isinstance(value, dict):
        return any(_holds_output(item) for item in value.values())
    return False


def _check_result(pipeline: str, result: Any) -> None:
    if result is None or isinstance(result, Output):
        return
    if isinstance(result, tuple | list) and all(isinstance(r, Output) for r in result):
        return
    if isinstance(result, dict) and all(isinstance(r, Output) for r in result.values()):
        return
    raise InvalidInput(
        f"Pipeline {pipeline!r} returns a {type(result).__name__}; a pipeline returns "
        "nothing, a step output, or a tuple or dict of step outputs."
    )


def _coerce(pipeline: str, name: str, value: Any, hint: Any) -> Any:
    if hint is None or hint is Any:
        return value
    target = hint
    optional = False
    if isinstance(hint, types.UnionType) or getattr(hint, "__origin__", None) is not None:
        options = [a for a in getattr(hint, "__args__", ()) if a is not type(None)]
        optional = len(options) < len(getattr(hint, "__args__", ()))
        target = options[0] if len(options) == 1 else None
    if target not in _PARAM_TYPES:
        return value  # lists, dicts and other hints are taken as given
    if value is None and optional:
        return None
    if isinstance(value, str) and target is not str:
        return _parse_text(pipeline, name, value, target)
    if target is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, target) and not (target is int and isinstance(value, bool)):
        return value
    raise InvalidInput(
        f"Pipeline {pipeline!r} parameter {name!r} must be {_type_name(target)}, "
        f"got {type(value).__name__} {value!r}."
    )


def _parse_text(pipeline: str, name: str, text: str, target: type) -> Any:
    try:
        if target is bool:
            lowered = text.strip().lower()
            if lowered in ("true", "1", "yes", "on"):
                return True
            if lowered in ("false", "0", "no", "off"):
                return False
            raise ValueError(text)
        return target(text)
    except ValueError:
        raise InvalidInput(
            f"Pipeline {pipeline!r} parameter {name!r} must be {_type_name(target)}, got {text!r}."
        ) from None


def _type_name(hint: Any) -> str:
    names = {bool: "a boolean (true/false)", int: "an integer", float: "a number", str: "text"}
    return names.get(hint, getattr(hint, "__name__", str(hint)))


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    try:
        return get_type_hints(func)
    except Exception:
        return {}


def _check_name(kind: str, name: str) -> str:
    if not name or not name.replace("_", "a").replace("-", "a").isalnum() or len(name) > 128:
        raise InvalidInput(
            f"Invalid {kind} name {name!r}: use letters, digits, '_' and '-' (at most 128)."
        )
    return name
