"""A writer killed with SIGKILL never leaves partial content under a digest name."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import blake3

from loopml.blobs import LocalBlobStore, put_bytes, read_bytes

# The child stores a few small blobs, then streams 200 MiB. Once 32 MiB have been
# produced it says so on stdout and slows down, so that the kill lands mid-write.
_WRITER = """
import sys, time
from loopml.blobs import LocalBlobStore, put_bytes
from loopml.testing.blobs import GeneratedStream

class Announcing(GeneratedStream):
    produced = 0
    def readinto(self, buffer):
        count = super().readinto(buffer)
        self.produced += count
        if self.produced >= 32 << 20:
            if not getattr(self, "announced", False):
                self.announced = True
                print("writing", flush=True)
            time.sleep(0.005)
        return count

store = LocalBlobStore(sys.argv[1])
for i in range(5):
    put_bytes(store, b"small blob %d" % i)
store.put_stream(Announcing(200 << 20, seed=1).as_binary())
print("finished", flush=True)
"""

# The child stores blobs of assorted sizes in a loop until it is killed, so that the
# kill can land anywhere: in a write, an fsync, a chmod or a rename.
_LOOPING_WRITER = """
import random, sys
from loopml.blobs import LocalBlobStore, put_bytes

store = LocalBlobStore(sys.argv[1])
rng = random.Random(5)
for i in range(100_000):
    put_bytes(store, rng.randbytes(rng.randrange(1, 2 << 20)))
    if i == 20:
        print("looping", flush=True)
"""


def _run_until(script: str, root: Path, line: str) -> None:
    """Start a writer process, wait for it to print ``line``, then SIGKILL it."""
    with subprocess.Popen(
        [sys.executable, "-c", script, str(root)], stdout=subprocess.PIPE, text=True
    ) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == line
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
    assert process.returncode == -signal.SIGKILL


def _assert_every_blob_matches_its_name(store: LocalBlobStore) -> int:
    digests = list(store.iter_digests())
    for digest in digests:
        hasher = blake3.blake3()
        with store.open(digest) as stream:
            while chunk := stream.read(1 << 20):
                hasher.update(chunk)
        assert hasher.hexdigest() == digest
    return len(digests)


def test_kill_mid_write_leaves_only_a_temp_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    _run_until(_WRITER, store.root, "writing")
    assert _assert_every_blob_matches_its_name(store) == 5
    (partial,) = (store.root / "tmp").iterdir()
    assert 0 < partial.stat().st_size < 200 << 20


def test_store_works_after_a_killed_writer_and_sweeps_its_temp_file(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    _run_until(_WRITER, store.root, "writing")
    ref = put_bytes(store, b"after the crash")
    assert read_bytes(store, ref.digest) == b"after the crash"
    assert store.sweep_temp() == 0  # too fresh: it could be a live writer
    assert store.sweep_temp(now=time.time() + 7200) == 1
    assert list((store.root / "tmp").iterdir()) == []


def test_kill_at_any_moment_of_a_write_loop_leaves_only_whole_blobs(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "blobs")
    _run_until(_LOOPING_WRITER, store.root, "looping")
    assert _assert_every_blob_matches_its_name(store) > 20
    assert len(list((store.root / "tmp").iterdir())) <= 1
