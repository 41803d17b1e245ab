"""The loopml server: the REST API (FastAPI, OpenAPI at ``/docs``) over the stores.

Start it with ``loopml server``, ``python -m loopml.server --port 8476`` or
:func:`run_server`; point clients at it with ``LOOPML_TRACKING_URI=http://host:port``.

Example:
    >>> from loopml.config import load_settings
    >>> run_server(load_settings(), port=8476)
"""

from loopml.server._serve import run_server
from loopml.server.app import create_app

__all__ = ["create_app", "run_server"]
