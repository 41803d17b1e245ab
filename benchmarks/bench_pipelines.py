"""9. Pipelines against Metaflow 2.19.39 and Prefect 3.8.8, every tool running locally.

The competitor half is ``pipelines_anchor/run_anchors.py``; this module adds loopml's
cases to its list and lets it run them all, interleaved, round after round: every run is
a fresh process (``Case``), timed from spawn to exit, its answer checked against the
plain-Python baseline's. The work is ``pipelines_anchor/_work.py``'s, the same for
every tool.

- **linear**: 10 trivial steps (``add_one``), each taking the previous one's output.
  loopml: ``loopml_linear.py``, ``run_pipeline(..., cache=False)`` on the default local
  executor (a pool of worker processes), a fresh tracking home per run. The floor is
  plain Python calling ``add_one`` ten times (``python -c``). Per-step overhead =
  (tool's whole-process time - plain Python's) / 10; also in script (the tool's own
  timer around the run against the bare loop).
- **linear-cached**: the same pipeline with caching on, run twice in one fresh home;
  the second run, every step taken from the cache, is timed (loopml's goal: under 1 s,
  whole process). Prefect's counterpart (``cache_policy=INPUTS``) keeps one
  PREFECT_HOME, as in the anchor.
- **table**: 3 steps passing a 200 MB DataFrame (1M rows x 25 float64) from step to
  step (``loopml_table.py``, local executor, ``cache=False``, fresh home per run),
  against ``direct_table.py``, the three functions called directly. Goal: loopml's
  whole process under 2x the direct calls'.

One untimed first round (it warms the OS caches), then ``REPEATS`` timed rounds;
medians. The figures of the other tools go in the report's MLflow column.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

from _report import Row, format_value, render_table
from _workers import BENCH_DIR, WORKSPACE, BenchError

sys.path.insert(0, str(BENCH_DIR / "pipelines_anchor"))
import run_anchors as anchors  # standard library only; found on the path above

BENCHMARK = "9. pipelines, against {tool} (in the MLflow column)"
TOOLS = {"metaflow": "Metaflow 2.19.39", "prefect": "Prefect 3.8.8"}
REPEATS = 5
WORKS = ("linear", "linear-cached", "table")
ORDER = ("plain", "direct", "loopml", "metaflow", "prefect")
GOAL_STEP_MS = 30.0
GOAL_STEP_RATIO = 5.0
GOAL_CACHED_S = 1.0
GOAL_TABLE_RATIO = 2.0

Figures = dict[str, Any]  # one row of run_anchors.summarise


def loopml_cases(only: set[str]) -> list[anchors.Case]:
    """loopml's runs, each in a fresh state folder (its tracking home)."""
    python = str(anchors.LOOPML_PYTHON)
    linear = (python, str(anchors.HERE / "loopml_linear.py"))
    cached = (*linear, "--cached")
    table = (python, str(anchors.HERE / "loopml_table.py"))
    cases = [
        anchors.Case("linear", "loopml", linear, 10, "plain", fresh_state=True),
        anchors.Case("linear-cached", "loopml", cached, 10, "plain", True, before=cached),
        anchors.Case("table", "loopml", table, 3, "direct", fresh_state=True),
    ]
    return [case for case in cases if case.work.split("-")[0] in only]


def chosen_cases(only: set[str]) -> list[anchors.Case]:
    """Every tool's runs in the order a round makes them: the floor first, then loopml."""
    chosen = anchors.cases(only) + loopml_cases(only)
    return sorted(chosen, key=lambda case: (WORKS.index(case.work), ORDER.index(case.tool)))


def _check_venvs() -> None:
    for python, setup in (
        (anchors.METAFLOW_PYTHON, "metaflow"),
        (anchors.PREFECT_PYTHON, "prefect"),
    ):
        if not python.exists():
            raise BenchError(
                f"{python} is missing: build it with `bash {anchors.SETUP}/setup-{setup}.sh` "
                "from a scratch folder."
            )


def measure(repeats: int, only: set[str]) -> list[Figures]:
    """Run every case ``repeats`` times after a first round; save every run; the medians."""
    _check_venvs()
    WORKSPACE.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="pipelines-", dir=WORKSPACE))
    try:
        results = anchors.measure(chosen_cases(only), repeats, workdir)
    except anchors.AnchorError as exc:
        raise BenchError(str(exc)) from exc
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    rows = anchors.summarise(results)
    runs = [
        {"work": case.work, "tool": case.tool, "runs": [asdict(s) for s in samples]}
        for case, samples in results.items()
    ]
    saved = WORKSPACE / "pipelines.json"
    saved.write_text(json.dumps({"rows": rows, "runs": runs}, indent=2) + "\n")
    print(f"{anchors.render(rows)}\n\n(every run: {saved})", flush=True)
    return rows


# -- the report --------------------------------------------------------------------


def _by(rows: list[Figures]) -> dict[tuple[str, str], Figures]:
    return {(str(r["work"]), str(r["tool"])): r for r in rows}


def _verdict(met: bool | None) -> str:
    return {True: "met", False: "NOT met", None: ""}[met]


def _ratio(theirs: float | None, ours: float | None) -> str:
    if not theirs or not ours:
        return "—"
    return f"{theirs / ours:,.1f}x"


def comparison(rows: list[Figures]) -> str:
    """loopml, Metaflow and Prefect side by side, with each goal's verdict."""
    by = _by(rows)

    def get(work: str, tool: str, key: str) -> float | None:
        row = by.get((work, tool))
        return None if row is None else float(row[key])

    lines = [
        "| work | measure | loopml | Metaflow | Prefect | loopml better by (Metaflow / Prefect) "
        "| goal | met |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for work, measure, key, goal, met in _measures(by):
        ours, mf, pf = (get(work, tool, key) for tool in ("loopml", "metaflow", "prefect"))
        cells = [work, measure, format_value(ours), format_value(mf), format_value(pf)]
        cells += [f"{_ratio(mf, ours)} / {_ratio(pf, ours)}", goal, _verdict(met)]
        lines.append("| " + " | ".join(cells) + " |")
    floor = [
        f"{work} {tool} {by[(work, tool)]['whole_seconds']:.3f} s"
        for work, tool in (("linear", "plain"), ("table", "direct"))
        if (work, tool) in by
    ]
    return "\n".join(lines) + "\n\nFloors (whole process): " + ", ".join(floor)


def _measures(
    by: dict[tuple[str, str], Figures],
) -> list[tuple[str, str, str, str, bool | None]]:
    """(work, measure, figure, goal, met) for each line of the comparison."""
    step = _step_verdict(by)
    cached = by.get(("linear-cached", "loopml"))
    table = by.get(("table", "loopml"))
    return [
        ("linear", "per-step overhead, whole process, ms", "step_overhead_ms_whole",
         f"<{GOAL_STEP_MS:.0f} ms and ≥{GOAL_STEP_RATIO:.0f}x lower", step),
        ("linear", "per-step overhead in script, ms", "step_overhead_ms_script", "", None),
        ("linear", "whole process, s", "whole_seconds", "", None),
        ("linear-cached", "every step cached: whole process, s", "whole_seconds",
         f"<{GOAL_CACHED_S:.0f} s", None if cached is None
         else cached["whole_seconds"] < GOAL_CACHED_S),
        ("table", "whole process, s", "whole_seconds", "", None),
        ("table", "whole process / direct calls'", "ratio_whole",
         f"<{GOAL_TABLE_RATIO:.0f}x", None if table is None
         else table["ratio_whole"] < GOAL_TABLE_RATIO),
        ("table", "peak RSS of the largest process, MB", "peak_rss_mb", "", None),
    ]  # fmt: skip


def _step_verdict(by: dict[tuple[str, str], Figures]) -> bool | None:
    ours = by.get(("linear", "loopml"))
    if ours is None:
        return None
    mine = float(ours["step_overhead_ms_whole"])
    others = [
        float(by[("linear", t)]["step_overhead_ms_whole"]) for t in TOOLS if ("linear", t) in by
    ]
    return mine < GOAL_STEP_MS and all(other >= GOAL_STEP_RATIO * mine for other in others)


def report_rows(rows: list[Figures]) -> list[Row]:
    """One row per goal and tool for run_all's table (the other tool in the MLflow column)."""
    by = _by(rows)
    found: list[Row] = []
    for tool, title in TOOLS.items():
        benchmark = BENCHMARK.format(tool=title)
        ours, theirs = by.get(("linear", "loopml")), by.get(("linear", tool))
        if ours and theirs:
            mine = float(ours["step_overhead_ms_whole"])
            other = float(theirs["step_overhead_ms_whole"])
            found.append(
                Row(
                    benchmark,
                    "linear, 10 trivial steps: per-step overhead over plain Python, whole process",
                    "ms",
                    mine,
                    other,
                    higher_is_better=False,
                    goal=f"<{GOAL_STEP_MS:.0f} ms and ≥{GOAL_STEP_RATIO:.0f}x lower",
                    met=mine < GOAL_STEP_MS and other >= GOAL_STEP_RATIO * mine,
                    note=f"whole process {ours['whole_seconds']:.2f} s vs "
                    f"{theirs['whole_seconds']:.2f} s; in script "
                    f"{ours['step_overhead_ms_script']:.1f} vs "
                    f"{theirs['step_overhead_ms_script']:.1f} ms/step",
                )
            )
        ours, theirs = by.get(("linear-cached", "loopml")), by.get(("linear-cached", tool))
        if ours and theirs:  # Prefect only: Metaflow has no step cache
            found.append(
                Row(
                    benchmark,
                    "linear, every step cached (second run): whole process",
                    "s",
                    float(ours["whole_seconds"]),
                    float(theirs["whole_seconds"]),
                    higher_is_better=False,
                    goal=f"<{GOAL_CACHED_S:.0f} s",
                    met=float(ours["whole_seconds"]) < GOAL_CACHED_S,
                    note=f"in script {ours['seconds']:.3f} s vs {theirs['seconds']:.3f} s",
                )
            )
        ours, theirs = by.get(("table", "loopml")), by.get(("table", tool))
        if ours and theirs:
            found.append(
                Row(
                    benchmark,
                    "table, 3 steps passing 200 MB: whole process / the direct calls'",
                    "x",
                    float(ours["ratio_whole"]),
                    float(theirs["ratio_whole"]),
                    higher_is_better=False,
                    goal=f"<{GOAL_TABLE_RATIO:.0f}x",
                    met=float(ours["ratio_whole"]) < GOAL_TABLE_RATIO,
                    note=f"whole process {ours['whole_seconds']:.2f} s vs "
                    f"{theirs['whole_seconds']:.2f} s; direct "
                    f"{by[('table', 'direct')]['whole_seconds']:.2f} s",
                )
            )
    return found


def run(repeats: int = REPEATS, only: set[str] | None = None) -> list[Row]:
    rows = measure(repeats, only or {"linear", "table"})
    print(f"\n{comparison(rows)}", flush=True)
    return report_rows(rows)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=REPEATS, help=f"timed rounds ({REPEATS})")
    parser.add_argument("--only", default="linear,table", help="linear and/or table")
    args = parser.parse_args()
    rows = run(args.repeats, set(args.only.split(",")))
    print(f"\n{render_table(rows)}")
    return 0 if all(row.met is not False for row in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
