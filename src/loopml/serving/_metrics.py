"""The serving app's counters, exposed in Prometheus' text format (version 0.0.4).

Written by hand rather than with ``prometheus_client``: a handful of counters, one
histogram and a gauge do not justify a dependency, and updating them is a dict
increment on the event loop's thread (the only writer of the request counters).
"""

from __future__ import annotations

import bisect
from collections import defaultdict
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from loopml.serving._live import LiveModels
    from loopml.serving._predlog import PredictionLogStats

__all__ = ["CONTENT_TYPE", "LATENCY_BUCKETS", "ServingMetrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

LATENCY_BUCKETS: tuple[float, ...] = (
    0.0005,
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
)
"""Upper bounds (seconds) of the latency histogram, from 0.5 ms to 2.5 s."""

_PREFIX = "loopml_serving_"


class _Histogram:
    __slots__ = ("count", "counts", "total")

    def __init__(self) -> None:
        self.counts = [0] * (len(LATENCY_BUCKETS) + 1)
        self.total = 0.0
        self.count = 0

    def observe(self, seconds: float) -> None:
        self.counts[bisect.bisect_left(LATENCY_BUCKETS, seconds)] += 1
        self.total += seconds
        self.count += 1


class ServingMetrics:
    """Counters of one serving process.

    Request counters are labelled by ``version``: the version that answered, ``mixed``
    when a batch was split over several, ``none`` when no model answered (a refused
    body, or no model loaded yet).
    """

    def __init__(self) -> None:
        self.requests: defaultdict[tuple[str, int], int] = defaultdict(int)
        self.errors: defaultdict[str, int] = defaultdict(int)
        self.rows: defaultdict[str, int] = defaultdict(int)
        self.latency: dict[str, _Histogram] = {}
        self.shadow_errors = 0
        self.shadows_dropped = 0
        self.feedback: defaultdict[int, int] = defaultdict(int)
        self.feedback_labels = 0

    def observe(self, version: str, status: int, seconds: float, rows: int = 0) -> None:
        """Count one answered request."""
        self.requests[(version, status)] += 1
        if rows:
            self.rows[version] += rows
        histogram = self.latency.get(version)
        if histogram is None:
            histogram = self.latency[version] = _Histogram()
        histogram.observe(seconds)

    def error(self, reason: str) -> None:
        """Count one refused or failed request by reason (``invalid_input``,
        ``malformed_json``, ``too_large``, ``not_ready``, ``internal``, ...)."""
        self.errors[reason] += 1

    def render(self, live: LiveModels, log_stats: PredictionLogStats | None = None) -> str:
        """Every metric in Prometheus' text exposition format; the prediction log's
        counts when ``log_stats`` is given."""
        lines: list[str] = []
        _family(lines, "requests_total", "counter", "Requests answered, by version and status.")
        for (version, status), value in sorted(self.requests.items()):
            lines.append(f'{_PREFIX}requests_total{{version="{version}",code="{status}"}} {value}')
        _family(lines, "errors_total", "counter", "Requests refused or failed, by reason.")
        lines.extend(_labelled("errors_total", "reason", self.errors.items()))
        _family(lines, "rows_total", "counter", "Records predicted, by version.")
        lines.extend(_labelled("rows_total", "version", self.rows.items()))
        self._render_latency(lines)
        _family(lines, "model_load_errors_total", "counter", "Failed resolves or loads.")
        lines.append(f"{_PREFIX}model_load_errors_total {live.load_errors}")
        _family(lines, "swaps_total", "counter", "Snapshots of models swapped in.")
        lines.append(f"{_PREFIX}swaps_total {live.swaps}")
        _family(lines, "shadow_errors_total", "counter", "Shadow predictions that failed.")
        lines.append(f"{_PREFIX}shadow_errors_total {self.shadow_errors}")
        _family(lines, "shadows_dropped_total", "counter", "Shadow work dropped (queue full).")
        lines.append(f"{_PREFIX}shadows_dropped_total {self.shadows_dropped}")
        _family(lines, "target_version", "gauge", "The version each target serves.")
        snapshot = live.snapshot
        versions = snapshot.versions if snapshot is not None else {}
        lines.extend(_labelled("target_version", "target", versions.items()))
        _family(lines, "ready", "gauge", "1 once a snapshot of models is serving.")
        lines.append(f"{_PREFIX}ready {int(snapshot is not None)}")
        _family(lines, "feedback_requests_total", "counter", "POST /feedback, by status.")
        codes = ((str(code), count) for code, count in self.feedback.items())
        lines.extend(_labelled("feedback_requests_total", "code", codes))
        _family(lines, "feedback_labels_total", "counter", "Labels recorded by /feedback.")
        lines.append(f"{_PREFIX}feedback_labels_total {self.feedback_labels}")
        if log_stats is not None:
            _render_log(lines, log_stats)
        return "\n".join(lines) + "\n"

    def _render_latency(self, lines: list[str]) -> None:
        name = f"{_PREFIX}request_duration_seconds"
        _family(lines, "request_duration_seconds", "histogram", "Request latency, by version.")
        for version, histogram in sorted(self.latency.items()):
            cumulative = 0
            for bound, count in zip(LATENCY_BUCKETS, histogram.counts, strict=False):
                cumulative += count
                lines.append(f'{name}_bucket{{version="{version}",le="{bound:g}"}} {cumulative}')
            lines.append(f'{name}_bucket{{version="{version}",le="+Inf"}} {histogram.count}')
            lines.append(f'{name}_sum{{version="{version}"}} {histogram.total:.6f}')
            lines.append(f'{name}_count{{version="{version}"}} {histogram.count}')


_LOG_COUNTERS = (
    ("logged", "prediction_log_logged_rows_total", "Rows taken by the prediction log."),
    ("dropped", "prediction_log_dropped_rows_total", "Rows dropped (buffer full, or lost)."),
    ("flushed", "prediction_log_flushed_rows_total", "Rows written in segments."),
    ("segments", "prediction_log_segments_total", "Segments written."),
    ("failed_flushes", "prediction_log_failed_flushes_total", "Writes that failed."),
)


def _render_log(lines: list[str], stats: PredictionLogStats) -> None:
    for attribute, name, text in _LOG_COUNTERS:
        _family(lines, name, "counter", text)
        lines.append(f"{_PREFIX}{name} {getattr(stats, attribute)}")
    _family(lines, "prediction_log_held_rows", "gauge", "Rows taken and not yet written.")
    lines.append(f"{_PREFIX}prediction_log_held_rows {stats.held}")


def _family(lines: list[str], name: str, kind: str, text: str) -> None:
    lines.append(f"# HELP {_PREFIX}{name} {text}")
    lines.append(f"# TYPE {_PREFIX}{name} {kind}")


def _labelled(name: str, label: str, items: Iterable[tuple[str, int]]) -> list[str]:
    return [f'{_PREFIX}{name}{{{label}="{_escape(key)}"}} {value}' for key, value in sorted(items)]


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
