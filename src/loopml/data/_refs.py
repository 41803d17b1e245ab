"""Dataset references: ``NAME``, ``NAME@latest`` and ``NAME@v3`` (or ``NAME@3``)."""

from __future__ import annotations

from dataclasses import dataclass

from loopml.domain.names import check_dataset_name
from loopml.errors import InvalidInput

__all__ = ["DatasetRef", "parse_dataset_ref"]


@dataclass(frozen=True, slots=True)
class DatasetRef:
    """A dataset name and a version number, or None for the newest version."""

    name: str
    version: int | None = None

    def __str__(self) -> str:
        return self.name if self.version is None else f"{self.name}@v{self.version}"


def parse_dataset_ref(ref: str) -> DatasetRef:
    """Parse ``NAME``, ``NAME@latest``, ``NAME@v3`` or ``NAME@3``.

    Raises:
        InvalidInput: naming the reference and the accepted forms.
    """
    if not isinstance(ref, str):
        raise InvalidInput(f"A dataset reference must be a string, got {type(ref).__name__}.")
    name, _, version = ref.partition("@")
    try:
        check_dataset_name(name)
    except InvalidInput as exc:
        raise InvalidInput(f"Invalid dataset reference {ref!r}: {exc}") from exc
    if not version or version == "latest":
        return DatasetRef(name)
    number = version.removeprefix("v")
    if not number.isdecimal() or int(number) < 1:
        raise InvalidInput(
            f"Invalid dataset reference {ref!r}: expected NAME, NAME@latest or NAME@vN "
            "(e.g. 'customers@v3')."
        )
    return DatasetRef(name, int(number))
