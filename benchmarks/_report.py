"""Figures side by side: one :class:`Row` per measure, rendered as a Markdown table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

__all__ = ["Row", "format_value", "render_table", "save_rows"]


@dataclass(frozen=True, slots=True)
class Row:
    """One measure of one benchmark: loopml's figure, MLflow's, and the goal.

    ``ratio`` is "how many times better loopml is" whichever way the unit points, so
    above 1 always favours loopml. Informational rows have no goal (``met`` is None).
    """

    benchmark: str
    measure: str
    unit: str
    loopml: float | None
    mlflow: float | None
    higher_is_better: bool
    goal: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if not self.loopml or not self.mlflow:
            return None
        if self.higher_is_better:
            return self.loopml / self.mlflow
        return self.mlflow / self.loopml


def format_value(value: float | None) -> str:
    if value is None:
        return "—"
    if value == 0:
        return "0"
    if value >= 1000:
        return f"{value:,.0f}"
    if value >= 10:
        return f"{value:.1f}"
    if value >= 0.1:
        return f"{value:.2f}"
    return f"{value:.4f}"


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: ""}[met]


def render_table(rows: Sequence[Row]) -> str:
    lines = [
        "| benchmark | measure | unit | loopml | MLflow | loopml better by | goal | met | note |",
        "| --- | --- | --- | ---: | ---: | ---: | --- | --- | --- |",
    ]
    for row in rows:
        ratio = "—" if row.ratio is None else f"{row.ratio:,.1f}x"
        cells = [
            row.benchmark,
            row.measure,
            row.unit,
            format_value(row.loopml),
            format_value(row.mlflow),
            ratio,
            row.goal,
            _verdict(row.met),
            row.note,
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def save_rows(rows: Sequence[Row], path: Path) -> None:
    payload = [{**asdict(row), "ratio": row.ratio} for row in rows]
    path.write_text(json.dumps(payload, indent=2))
