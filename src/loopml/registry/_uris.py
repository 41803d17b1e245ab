"""Model URIs: ``name/3``, ``name@champion``, ``name@latest`` (``models:/`` optional)."""

from __future__ import annotations

from dataclasses import dataclass

from loopml.domain.names import check_alias, check_model_name
from loopml.errors import InvalidInput

__all__ = ["ModelRef", "parse_model_uri"]

LATEST = "latest"


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A parsed model URI: a model name with exactly one of a version or an alias."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        return f"{self.name}/{self.version}" if self.version else f"{self.name}@{self.alias}"


def parse_model_uri(uri: str) -> ModelRef:
    """Parse ``name/3``, ``name@alias`` or ``name@latest``; a ``models:/`` prefix is
    accepted.

    Raises:
        InvalidInput: naming the URI and the accepted forms.
    """
    if not isinstance(uri, str):
        raise InvalidInput(f"A model URI must be a string, got {type(uri).__name__}.")
    text = uri.removeprefix("models:/")
    try:
        if "@" in text:
            name, alias = text.split("@", 1)
            if alias == LATEST:
                return ModelRef(check_model_name(name), alias=LATEST)
            return ModelRef(check_model_name(name), alias=check_alias(alias))
        if "/" in text:
            name, number = text.split("/", 1)
            if not number.isdecimal() or int(number) < 1:
                raise InvalidInput(f"version {number!r} is not a whole number from 1")
            return ModelRef(check_model_name(name), version=int(number))
    except InvalidInput as exc:
        raise InvalidInput(f"Invalid model URI {uri!r}: {exc}") from exc
    raise InvalidInput(
        f"Invalid model URI {uri!r}: expected 'name/VERSION', 'name@ALIAS' or 'name@latest' "
        "(e.g. 'churn/3', 'churn@champion')."
    )
