"""A sentinel for "not given" where ``None`` is a real value."""

from __future__ import annotations

import enum
from typing import Final, Literal

__all__ = ["NOT_GIVEN", "NotGiven"]


class _NotGivenType(enum.Enum):
    NOT_GIVEN = "NOT_GIVEN"

    def __repr__(self) -> str:
        return "NOT_GIVEN"


NotGiven = Literal[_NotGivenType.NOT_GIVEN]
NOT_GIVEN: Final = _NotGivenType.NOT_GIVEN
