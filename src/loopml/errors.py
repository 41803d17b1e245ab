"""The one exception tree of loopml.

Callers catch by meaning (``except NotFound``); nobody compares message strings.
Each class carries the CLI exit code; the HTTP status is mapped once in
``loopml.server.errors``.

::

    LoopmlError                 anything loopml refuses or cannot do
    ├── NotFound                the named thing does not exist
    ├── AlreadyExists           a thing with that identity exists already
    ├── InvalidInput            the caller's input is malformed or out of range
    ├── Conflict                valid input that contradicts the current state
    ├── PermissionDenied        the caller may not do this
    ├── GateFailed              a gate refused a dataset or model
    ├── Unavailable             a service (database, object store, server) is unreachable
    └── StoreError              a storage backend failed for another reason
        └── MigrationRequired   the database schema is not at the version this code needs
"""

from __future__ import annotations

__all__ = [
    "AlreadyExists",
    "Conflict",
    "GateFailed",
    "InvalidInput",
    "LoopmlError",
    "MigrationRequired",
    "NotFound",
    "PermissionDenied",
    "StoreError",
    "Unavailable",
]


class LoopmlError(Exception):
    """Root of every error loopml raises on purpose.

    Attributes:
        exit_code: the process exit code the CLI uses for this error.
    """

    exit_code: int = 2

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class NotFound(LoopmlError):
    """The named run, experiment, blob or other object does not exist."""


class AlreadyExists(LoopmlError):
    """An object with the same identity exists already."""


class InvalidInput(LoopmlError):
    """The caller's input is malformed: a bad key, value, filter or body."""


class Conflict(LoopmlError):
    """Valid input that contradicts stored state (a finished run, a changed param)."""


class PermissionDenied(LoopmlError):
    """The caller is not allowed to perform this action."""


class GateFailed(LoopmlError):
    """A data or model gate refused its subject."""


class Unavailable(LoopmlError):
    """A backing service cannot be reached; retrying later may succeed."""


class StoreError(LoopmlError):
    """A storage backend failed for a reason that is not the caller's input."""


class MigrationRequired(StoreError):
    """The database schema is at a revision this version of loopml cannot use."""
