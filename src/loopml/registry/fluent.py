"""The registry verbs of the fluent API, over the default client."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from loopml.registry._registry import ModelRegistry

if TYPE_CHECKING:
    from loopml.domain import AliasMove, ModelVersion
    from loopml.registry._model import PackagedModel
    from loopml.registry._signature import Signature

__all__ = ["load_model", "log_model", "set_alias"]


def log_model(
    model: object,
    name: str,
    *,
    input_example: object = None,
    signature: Signature | None = None,
    flavor: str | None = None,
    init_kwargs: Mapping[str, Any] | None = None,
    pip_requirements: Sequence[str] = (),
    description: str = "",
    tags: Mapping[str, str] | None = None,
    parents: Iterable[str] = (),
) -> ModelVersion:
    """Package ``model``, log it with the active run and register the next version of
    ``name``; see :meth:`ModelRegistry.log_model`.

    Example:
        >>> with loopml.start_run(experiment="churn"):
        ...     version = loopml.log_model(clf, "churn", input_example=X_train.head())
        >>> version.version
        1
    """
    return ModelRegistry().log_model(
        model,
        name,
        input_example=input_example,
        signature=signature,
        flavor=flavor,
        init_kwargs=init_kwargs,
        pip_requirements=pip_requirements,
        description=description,
        tags=tags,
        parents=parents,
    )


def load_model(uri: str) -> PackagedModel:
    """Load ``name@alias``, ``name/3`` or ``name@latest`` after verifying every file's
    hash; see :meth:`ModelRegistry.load_model`.

    Example:
        >>> model = loopml.load_model("churn@champion")
        >>> model.predict({"age": 42, "plan": "pro"})
        array([1])
    """
    return ModelRegistry().load_model(uri)


def set_alias(name: str, alias: str, version: int, *, reason: str = "") -> AliasMove:
    """Point ``alias`` of model ``name`` at ``version``; see :meth:`ModelRegistry.set_alias`."""
    return ModelRegistry().set_alias(name, alias, version, reason=reason)
