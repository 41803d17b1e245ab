"""The competitor half of the pipelines benchmark: Metaflow and Prefect against plain Python.

Runs each script of this folder as a fresh process in its tool's venv, interleaved, N times
(default 3), after one untimed first run of each (which creates Prefect's database and fills
its cache). Prefect keeps one PREFECT_HOME, as a user's would; each Metaflow run gets a new
datastore, because Metaflow's store is content-addressed and would otherwise skip writing
the seeded table, identical in every run (5.4 s instead of 15.5 s here). A case may also
name a ``before`` command, run untimed in the same state first (``bench_pipelines.py``'s
loopml cached re-run: its first run). For every run it takes the whole-process wall time
(spawn to exit, measured here), the in-script flow time and import time (from the script's
JSON line) and the peak RSS of the largest process in the run's tree. It prints medians:

- ``linear``: 10 trivial steps. Plain Python is ``python -c`` calling the same chain.
  Per-step overhead = (tool's time - plain Python's time) / 10, whole process and in script.
- ``linear-cached``: Prefect's linear flow re-run with ``cache_policy=INPUTS`` and every
  result already cached (context for loopml's "under 1 s in total" goal).
- ``table``: 3 steps passing a 200 MB DataFrame; the baseline is ``direct_table.py``, the
  three functions called directly in loopml's venv. Shown as a ratio to it.

Standard library only; runs with any Python 3.11::

    python3.11 benchmarks/pipelines_anchor/run_anchors.py [--repeats 3] [--only linear,table]

The venvs come from /work/shared/anchors/pipelines/setup-{metaflow,prefect}.sh.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
ANCHORS = Path(os.environ.get("ANCHORS", "/var/tmp/anchors"))
METAFLOW_PYTHON = ANCHORS / "venv-metaflow" / "bin" / "python"
PREFECT_PYTHON = ANCHORS / "venv-prefect" / "bin" / "python"
LOOPML_PYTHON = REPO / ".venv" / "bin" / "python"
SETUP = Path("/work/shared/anchors/pipelines")

# The plain-Python linear baseline: the same ten add_one calls, no orchestrator.
PLAIN_LINEAR = f"""
import sys, time
began = time.perf_counter()
sys.path.insert(0, {str(HERE)!r})
import _work
imported = time.perf_counter()
value = 0
for _ in range(_work.STEPS):
    value = _work.add_one(value)
seconds = time.perf_counter() - imported
_work.report("plain", "linear", seconds, imported - began, steps=_work.STEPS, result=value)
"""


class AnchorError(Exception):
    """A run failed or gave a wrong answer."""


@dataclass(frozen=True, slots=True)
class Case:
    """One script run: which work, which tool, the command, and the baseline it is set against."""

    work: str
    tool: str
    command: tuple[str, ...]
    steps: int
    baseline: str  # the tool whose figures are the plain-Python floor for this work
    fresh_state: bool = False  # a new ANCHOR_WORKDIR for every run
    before: tuple[str, ...] = ()  # a command run untimed first, in the same state folder


@dataclass(frozen=True, slots=True)
class Sample:
    """One run's figures."""

    whole_seconds: float
    seconds: float
    import_seconds: float
    peak_rss_mb: float
    result: float
    cached_tasks: int | None
    loop_seconds: float | None  # Prefect: the ten task calls inside the running flow


def cases(only: set[str]) -> list[Case]:
    """The runs to make, in the order they are interleaved."""
    plain = str(LOOPML_PYTHON if LOOPML_PYTHON.exists() else sys.executable)
    mf, pf = str(METAFLOW_PYTHON), str(PREFECT_PYTHON)
    all_cases = [
        Case("linear", "plain", (plain, "-c", PLAIN_LINEAR), 10, "plain"),
        Case("linear", "metaflow", (mf, str(HERE / "metaflow_linear.py")), 10, "plain", True),
        Case("linear", "prefect", (pf, str(HERE / "prefect_linear.py")), 10, "plain"),
        Case(
            "linear-cached",
            "prefect",
            (pf, str(HERE / "prefect_linear.py"), "--cached"),
            10,
            "plain",
        ),
        Case("table", "direct", (plain, str(HERE / "direct_table.py")), 3, "direct"),
        Case("table", "metaflow", (mf, str(HERE / "metaflow_table.py")), 3, "direct", True),
        Case("table", "prefect", (pf, str(HERE / "prefect_table.py")), 3, "direct"),
    ]
    # "linear" also selects the cached re-run; plain Python and direct calls come first
    return [case for case in all_cases if case.work.split("-")[0] in only]


def run_once(case: Case, workdir: Path) -> Sample:
    """Run ``case`` once (in its own state folder if it asks for one, after its untimed
    ``before`` command if it has one); remove that folder."""
    if not case.fresh_state:
        return run_timed(case, workdir)
    state = Path(tempfile.mkdtemp(prefix=f"{case.tool}-{case.work}-", dir=workdir))
    try:
        return run_timed(case, state)
    finally:
        shutil.rmtree(state, ignore_errors=True)


def run_timed(case: Case, workdir: Path) -> Sample:
    """``case.before`` (untimed; its answer unchecked), then ``case`` itself, timed."""
    if case.before:
        run_process(Case(case.work, case.tool, case.before, case.steps, case.baseline), workdir)
    return run_process(case, workdir)


def run_process(case: Case, workdir: Path) -> Sample:
    """Run ``case`` once as a fresh process; time it from spawn to exit; read its JSON line."""
    env = {**os.environ, "ANCHOR_WORKDIR": str(workdir)}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        began = time.perf_counter()
        process = subprocess.Popen(case.command, stdout=out, stderr=err, cwd=workdir, env=env)
        # wait4 rather than wait: its rusage gives the peak RSS of the run's process tree
        _, status, usage = os.wait4(process.pid, 0)
        whole = time.perf_counter() - began
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    if process.returncode != 0:
        raise AnchorError(f"{case.tool} {case.work} exited {process.returncode}:\n{stderr[-3000:]}")
    lines = [line for line in stdout.splitlines() if line.startswith('{"tool"')]
    if not lines:
        raise AnchorError(f"{case.tool} {case.work} printed no result line:\n{stdout[-2000:]}")
    line = json.loads(lines[-1])
    return Sample(
        whole_seconds=whole,
        seconds=line["seconds"],
        import_seconds=line["import_seconds"],
        peak_rss_mb=usage.ru_maxrss / 1024,  # KiB on Linux
        result=line["result"],
        cached_tasks=line.get("cached_tasks"),
        loop_seconds=line.get("loop_seconds"),
    )


def check(case: Case, sample: Sample, expected: dict[str, float], first: bool) -> None:
    """Every run must give the baseline's answer; a timed cached run must hit the cache."""
    want = expected.setdefault(case.work.split("-")[0], sample.result)
    if not math.isclose(sample.result, want, rel_tol=1e-9):
        raise AnchorError(f"{case.tool} {case.work} returned {sample.result}, expected {want}")
    if case.work == "linear-cached" and not first and sample.cached_tasks != case.steps:
        raise AnchorError(f"prefect linear-cached: {sample.cached_tasks}/{case.steps} cached")


def measure(chosen: list[Case], repeats: int, workdir: Path) -> dict[Case, list[Sample]]:
    """One untimed first run of each case, then ``repeats`` interleaved rounds."""
    expected: dict[str, float] = {}
    first = {}
    samples: dict[Case, list[Sample]] = {case: [] for case in chosen}
    for round_ in range(repeats + 1):
        for case in chosen:
            sample = run_once(case, workdir)
            check(case, sample, expected, first=round_ == 0)
            if round_ == 0:
                first[case] = sample
            else:
                samples[case].append(sample)
            label = "first" if round_ == 0 else f"round {round_}"
            print(
                f"  {label}: {case.work:13} {case.tool:8} whole {sample.whole_seconds:7.2f} s"
                f"  in script {sample.seconds:7.3f} s",
                file=sys.stderr,
                flush=True,
            )
    return {case: [first[case], *samples[case]] for case in chosen}


def medians(samples: list[Sample]) -> dict[str, float]:
    """Median of each figure over the timed runs (the first run excluded); NaN if absent."""
    timed = samples[1:]
    return {
        "whole_seconds": statistics.median(s.whole_seconds for s in timed),
        "seconds": statistics.median(s.seconds for s in timed),
        "import_seconds": statistics.median(s.import_seconds for s in timed),
        "peak_rss_mb": statistics.median(s.peak_rss_mb for s in timed),
        "first_whole_seconds": samples[0].whole_seconds,
        "loop_seconds": statistics.median(
            math.nan if s.loop_seconds is None else s.loop_seconds for s in timed
        ),
    }


def summarise(results: dict[Case, list[Sample]]) -> list[dict[str, object]]:
    """One row per case: medians, per-step overhead over the baseline, ratio to it."""
    by_tool = {(case.work, case.tool): medians(runs) for case, runs in results.items()}
    rows: list[dict[str, object]] = []
    for case in results:
        mine = by_tool[(case.work, case.tool)]
        floor = by_tool[(case.work.split("-")[0], case.baseline)]
        rows.append(
            {
                "work": case.work,
                "tool": case.tool,
                "runs": len(results[case]) - 1,
                **{key: value for key, value in mine.items() if key != "loop_seconds"},
                "step_overhead_ms_whole": 1000
                * (mine["whole_seconds"] - floor["whole_seconds"])
                / case.steps,
                "step_overhead_ms_script": 1000 * (mine["seconds"] - floor["seconds"]) / case.steps,
                "ratio_whole": mine["whole_seconds"] / floor["whole_seconds"],
                "loop_ms_per_step": None
                if math.isnan(mine["loop_seconds"])
                else 1000 * mine["loop_seconds"] / case.steps,
            }
        )
    return rows


def render(rows: list[dict[str, object]]) -> str:
    """The medians as a Markdown table."""
    head = (
        "| work | tool | runs | whole process s | in script s | import s "
        "| per-step overhead ms (whole / in script) | ratio to baseline (whole) | peak RSS MB "
        "| first run s | ms per task in the running flow |"
        "\n|---|---|---|---|---|---|---|---|---|---|---|"
    )
    lines = [head]
    for r in rows:
        loop = r["loop_ms_per_step"]
        in_flow = "—" if loop is None else f"{loop:.1f}"
        lines.append(
            f"| {r['work']} | {r['tool']} | {r['runs']} | {r['whole_seconds']:.2f} "
            f"| {r['seconds']:.3f} | {r['import_seconds']:.2f} "
            f"| {r['step_overhead_ms_whole']:.0f} / {r['step_overhead_ms_script']:.1f} "
            f"| {r['ratio_whole']:.1f} | {r['peak_rss_mb']:.0f} | {r['first_whole_seconds']:.2f} "
            f"| {in_flow} |"
        )
    return "\n".join(lines)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed rounds (default 3)")
    parser.add_argument("--only", default="linear,table", help="linear and/or table")
    parser.add_argument("--workdir", type=Path, help="state folder (default: a new temp folder)")
    parser.add_argument("--keep", action="store_true", help="keep the state folder")
    parser.add_argument("--json", type=Path, help="also write the rows and every run here")
    return parser.parse_args()


def main() -> int:
    """Measure, print the table, clean up."""
    args = parse_args()
    for python, setup in ((METAFLOW_PYTHON, "metaflow"), (PREFECT_PYTHON, "prefect")):
        if not python.exists():
            print(
                f"{python} is missing: build it with `mkdir -p bench/anchors/pipelines && "
                f"bash {SETUP}/setup-{setup}.sh` from a scratch folder.",
                file=sys.stderr,
            )
            return 2
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="pipelines-anchor-", dir="/var/tmp"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results = measure(cases(set(args.only.split(","))), args.repeats, workdir)
    except AnchorError as exc:
        print(f"failed: {exc}", file=sys.stderr)
        return 1
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    rows = summarise(results)
    print(render(rows))
    if args.json:
        runs = [
            {"work": case.work, "tool": case.tool, "runs": [asdict(s) for s in samples]}
            for case, samples in results.items()
        ]
        args.json.write_text(json.dumps({"rows": rows, "runs": runs}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
