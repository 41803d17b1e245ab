"""A step worker process: ``python -m loopml.pipelines._worker [MODULE ...]``.

It imports the modules named (data libraries its steps will likely need; ones that
fail to import are left for the steps to report), then reads tasks from stdin and writes outcomes to stdout, each as an 8-byte big-endian
length followed by that many bytes (a cloudpickled task in, a pickled outcome out), and
exits when stdin closes. The protocol keeps the real stdout to itself: file descriptor
1 is pointed at stderr, so nothing a step or a library prints can corrupt a frame.
"""

from __future__ import annotations

import os
import pickle
import sys

from loopml.pipelines._frames import read_frame, write_frame

__all__ = ["main"]


def main() -> None:
    """Serve tasks until stdin closes."""
    protocol_out = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # stray prints (C code included) go to stderr, never into a frame
    sys.stdout = sys.stderr
    tasks_in = sys.stdin.buffer
    from loopml.pipelines._execute import preload, run_task

    preload(sys.argv[1:])  # while the orchestrating process is still setting up the run
    while (payload := read_frame(tasks_in)) is not None:
        outcome = run_task(payload)
        write_frame(protocol_out, pickle.dumps(outcome, protocol=5))


if __name__ == "__main__":
    main()
