"""Project homes: the ``.loopml`` folder that holds a project's database, blobs and config."""

from __future__ import annotations

from pathlib import Path

from loopml.config import CONFIG_FILE_NAME, HOME_DIR_NAME, load_settings
from loopml.errors import InvalidInput

__all__ = ["init_project"]

_CONFIG_TEMPLATE = """\
# loopml settings of this project. Environment variables LOOPML_<NAME> and command-line
# flags take precedence; `loopml config show --origin` tells where each value comes from.
[loopml]
# store_uri = "postgresql+psycopg://user@host:5432/loopml"
# blob_uri = "s3://bucket/prefix"
# tracking_uri = "http://127.0.0.1:8476"
"""


def init_project(path: Path) -> Path:
    """Create ``path/.loopml`` with a config file, the database schema and a blob folder.

    Running it again on an existing project changes nothing and returns the same home.

    Raises:
        InvalidInput: ``path`` is not a folder.
    """
    folder = path.expanduser().resolve()
    if not folder.is_dir():
        raise InvalidInput(f"Cannot initialise a project in {str(folder)!r}: not a folder.")
    home = folder / HOME_DIR_NAME
    home.mkdir(exist_ok=True)
    config = home / CONFIG_FILE_NAME
    if not config.exists():
        config.write_text(_CONFIG_TEMPLATE, encoding="utf-8")
    settings = load_settings({"home": home})
    if not settings.is_remote:
        from loopml.store import open_stores

        open_stores(settings).close()  # creates the schema and the blob folder now
    return home
