"""Which files of a dataset version are tables, told by suffix alone.

Kept apart from ``_tables`` (which imports pyarrow) so that adding, diffing or opening a
version of files that are not tables never loads pyarrow.
"""

from __future__ import annotations

from pathlib import Path
from typing import Final

__all__ = ["TABULAR_SUFFIXES", "is_tabular"]

TABULAR_SUFFIXES: Final = (".csv", ".tsv", ".parquet", ".pq", ".jsonl", ".ndjson")
"""File suffixes (lower case) that :func:`loopml.data._tables.read_table` reads."""


def is_tabular(path: str | Path) -> bool:
    """Tell whether ``path`` names a file that ``read_table`` can read.

    Args:
        path: a file name or path; only its suffix is looked at (case-insensitive).

    Returns:
        True for ``.csv``, ``.tsv``, ``.parquet``, ``.pq``, ``.jsonl`` and ``.ndjson``.
    """
    return Path(path).suffix.lower() in TABULAR_SUFFIXES
