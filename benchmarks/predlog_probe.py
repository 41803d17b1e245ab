"""Probe: the prediction log's cost on the request path and in its writer thread.

In a temporary home (SQLite, local blobs), with records shaped like the serving probe's
(one input record of 30 float fields per request, a float prediction, one shadow):

* ``log()``: records/s taken by one thread, with the writer thread idle, and again
  while the writer flushes every 0.2 s (the lock is shared with the writer's swap);
* a flush of 100,000 rows: the Arrow table alone, then the whole flush (table,
  Parquet zstd file, blob, segment record), and the segment's size;
* reading them back: ``predictions()`` of all rows, and of a 1-second window inside it.

Not a test: figures depend on the machine. Run::

    .venv/bin/python benchmarks/predlog_probe.py [--rows 100000] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

FIELDS = 30


def make_records(count: int, start: datetime) -> list:  # type: ignore[type-arg]
    from loopml.serving._records import PredictionRecord

    step = timedelta(microseconds=600)  # 100,000 records over a minute
    return [
        PredictionRecord(
            request_id=f"req-{i:08d}",
            time=start + i * step,
            deployment="bench",
            model="bench",
            version=3,
            target="champion",
            inputs=[{f"f{j}": (i * 31 + j) % 997 / 7.0 for j in range(FIELDS)}],
            outputs=[(i % 100) / 100],
            latency_ms=1.5,
            shadows={"challenger": {"version": 4, "outputs": [(i % 90) / 90]}},
        )
        for i in range(count)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    from loopml.config import load_settings
    from loopml.serving._predlog import PredictionLog, prediction_table
    from loopml.serving._predlog_query import predictions
    from loopml.tracking import Client

    start = datetime(2026, 3, 1, 10, 0, tzinfo=UTC)
    records = make_records(args.rows, start)
    print(f"{args.rows:,} records of {FIELDS} float fields, {args.rounds} rounds (median)")

    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder) / ".loopml"
        home.mkdir()
        client = Client(load_settings({"home": home}, environ={}), capture_environment=False)

        idle, busy, table_s, flush_s, read_s, window_s = [], [], [], [], [], []
        for round_no in range(args.rounds):
            name = f"bench-{round_no}"
            plog = PredictionLog(name, client=client, flush_seconds=3600, max_buffer_rows=10**7)
            began = time.perf_counter()
            for one in records:
                plog.log(one)
            idle.append(args.rows / (time.perf_counter() - began))

            began = time.perf_counter()
            prediction_table(records)
            table_s.append(time.perf_counter() - began)

            began = time.perf_counter()
            written = plog.flush()
            flush_s.append(time.perf_counter() - began)
            assert written == args.rows, written
            plog.close()

            began = time.perf_counter()
            frame = predictions(name, client=client)
            read_s.append(time.perf_counter() - began)
            assert len(frame) == args.rows
            began = time.perf_counter()
            predictions(
                name,
                since=start + timedelta(seconds=20),
                until=start + timedelta(seconds=21),
                client=client,
            )
            window_s.append(time.perf_counter() - began)

            busy_log = PredictionLog(f"busy-{round_no}", client=client, flush_seconds=0.2)
            began = time.perf_counter()
            for one in records:
                busy_log.log(one)
            busy.append(args.rows / (time.perf_counter() - began))
            busy_log.close()

        (segment,) = client.stores.segments.list_segments("predictions:bench-0")
        client.close()

    med = statistics.median
    print(f"log(), writer idle:            {med(idle):>12,.0f} records/s")
    print(f"log(), writer flushing 0.2 s:  {med(busy):>12,.0f} records/s")
    print(f"Arrow table of {args.rows:,} rows:   {med(table_s):>9.3f} s")
    print(f"flush of {args.rows:,} rows:         {med(flush_s):>9.3f} s (table included)")
    print(f"segment size:                  {segment.size / 2**20:>9.1f} MiB")
    print(f"predictions(), all rows:       {med(read_s):>9.3f} s")
    print(f"predictions(), 1 s window:     {med(window_s):>9.3f} s")


if __name__ == "__main__":
    main()
