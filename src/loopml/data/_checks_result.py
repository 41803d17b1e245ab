"""What a run of data checks found: one :class:`CheckResult` per check, in a :class:`CheckReport`.

Both travel as strict JSON (no NaN, no infinities) so a report can be stored next to the
dataset version it judged and read back by any JSON parser.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Self

from loopml.errors import GateFailed, InvalidInput

__all__ = ["CheckReport", "CheckResult", "JsonValue"]

JsonValue = None | bool | int | float | str | list[Any] | dict[str, Any]
"""A value that :func:`json.dumps` writes as strict JSON."""


@dataclass(frozen=True, slots=True)
class CheckResult:
    """The verdict of one check on one table.

    Attributes:
        check: the check's name, e.g. ``"not_null(age)"``.
        passed: whether the table satisfied the check.
        failed_rows: how many rows the check blames (for ``max_null_share``, the missing
            ones when it fails); 0 for checks that judge the whole table (``row_count``,
            ``columns``, ...) or could not look at rows (a missing column).
        message: one sentence saying what was found, e.g.
            ``"3 of 1,000 rows have age outside [0, 120]"``.
        examples: up to five failing rows, each ``{"row": <position>, "values": {...}}``
            with the row's values as plain JSON values.
    """

    check: str
    passed: bool
    failed_rows: int
    message: str
    examples: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """This result as a JSON-ready dict."""
        return {
            "check": self.check,
            "passed": self.passed,
            "failed_rows": self.failed_rows,
            "message": self.message,
            "examples": list(self.examples),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a result from :meth:`to_dict` output.

        Raises:
            InvalidInput: if a field is missing or has the wrong type.
        """
        failed = data.get("failed_rows")
        examples = data.get("examples", [])
        if (
            not isinstance(data.get("check"), str)
            or not isinstance(data.get("passed"), bool)
            or not isinstance(data.get("message"), str)
            or not isinstance(failed, int)
            or isinstance(failed, bool)
            or not isinstance(examples, list)
        ):
            raise InvalidInput(
                f"Not a check result: {dict(data)!r}; expected check (str), passed (bool), "
                "failed_rows (int), message (str) and examples (list)."
            )
        return cls(data["check"], data["passed"], failed, data["message"], list(examples))

    def to_json(self) -> str:
        """This result as strict JSON text."""
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse :meth:`to_json` output.

        Raises:
            InvalidInput: if the text is not JSON or not a check result.
        """
        return cls.from_dict(_load_object(text, "check result"))


@dataclass(frozen=True, slots=True)
class CheckReport:
    """Everything one run of a :class:`~loopml.data.checks.Checks` suite found.

    Attributes:
        passed: whether every check passed.
        rows: how many rows the checked table had.
        results: one result per check, in the suite's order.
        name: the suite's name (``""`` when unnamed).

    Example:
        >>> report = Checks([not_null("age")]).run(frame)  # doctest: +SKIP
        >>> report.raise_for_failures()  # doctest: +SKIP
    """

    passed: bool
    rows: int
    results: list[CheckResult]
    name: str = ""

    @property
    def failures(self) -> list[CheckResult]:
        """The results of the checks that failed, in order."""
        return [result for result in self.results if not result.passed]

    def raise_for_failures(self) -> Self:
        """Raise if any check failed; return this report otherwise (to allow chaining).

        Raises:
            GateFailed: listing each failed check with its message.
        """
        failures = self.failures
        if not failures:
            return self
        suite = f"Data checks {self.name!r}" if self.name else "Data checks"
        lines = "".join(f"\n  - {result.check}: {result.message}" for result in failures)
        raise GateFailed(
            f"{suite} failed {len(failures)} of {len(self.results)} checks on "
            f"{self.rows:,} rows:{lines}"
        )

    def to_dict(self) -> dict[str, Any]:
        """This report as a JSON-ready dict."""
        return {
            "name": self.name,
            "passed": self.passed,
            "rows": self.rows,
            "results": [result.to_dict() for result in self.results],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Self:
        """Rebuild a report from :meth:`to_dict` output.

        Raises:
            InvalidInput: if a field is missing or has the wrong type.
        """
        rows, results = data.get("rows"), data.get("results")
        if (
            not isinstance(data.get("passed"), bool)
            or not isinstance(rows, int)
            or isinstance(rows, bool)
            or not isinstance(results, list)
            or not isinstance(data.get("name", ""), str)
        ):
            raise InvalidInput(
                "Not a check report: expected passed (bool), rows (int), results (list) "
                "and optionally name (str)."
            )
        parsed = []
        for item in results:
            if not isinstance(item, Mapping):
                raise InvalidInput(f"Not a check result: {item!r}; expected an object.")
            parsed.append(CheckResult.from_dict(item))
        return cls(data["passed"], rows, parsed, data.get("name", ""))

    def to_json(self) -> str:
        """This report as strict JSON text (``NaN`` and infinities never appear).

        Raises:
            ValueError: if a result was built by hand with a non-finite float in it.
        """
        return json.dumps(self.to_dict(), allow_nan=False)

    @classmethod
    def from_json(cls, text: str) -> Self:
        """Parse :meth:`to_json` output.

        Raises:
            InvalidInput: if the text is not strict JSON or not a check report.
        """
        return cls.from_dict(_load_object(text, "check report"))


def _load_object(text: str, what: str) -> dict[str, Any]:
    def refuse(constant: str) -> None:
        raise InvalidInput(f"Not strict JSON: {constant} is not allowed in a {what}.")

    try:
        data = json.loads(text, parse_constant=refuse)
    except json.JSONDecodeError as exc:
        raise InvalidInput(f"Not a {what}: invalid JSON at line {exc.lineno}: {exc.msg}.") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"Not a {what}: expected a JSON object, got {type(data).__name__}.")
    return data
