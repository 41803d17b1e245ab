"""``loopml data``: dataset versions — add, list, log, show, status, diff, checkout,
push, pull, check.

Each command parses, calls one method of :class:`~loopml.data.DataRepo` and renders.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._context import client_of, settings_of

if TYPE_CHECKING:
    from loopml.blobs import BlobStore
    from loopml.data import DataRepo

__all__ = ["app"]

app = typer.Typer(
    help="Version data: snapshots, status, diffs, checkouts, checks.", no_args_is_help=True
)

Ref = Annotated[str, typer.Argument(help="NAME, NAME@latest or NAME@vN.")]
Remote = Annotated[
    str | None, typer.Option(help="Blob store URI of the remote, e.g. s3://bucket/data.")
]


def _repo(ctx: typer.Context) -> DataRepo:
    # Imported here: only the data commands need the data package.
    from loopml.data import DataRepo

    return DataRepo(client_of(ctx))


@app.command("add")
def add(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="File or folder to snapshot.")],
    name: Annotated[
        str | None, typer.Option("--name", "-n", help="Dataset (default: the path's name).")
    ] = None,
    message: Annotated[str, typer.Option("--message", "-m", help="What changed.")] = "",
    no_profile: Annotated[
        bool, typer.Option("--no-profile", help="Skip schemas and profiles.")
    ] = False,
) -> None:
    """Snapshot a file or folder as the next version of a dataset."""
    from loopml.cli._render_data import added_line, byte_progress

    with byte_progress(f"Adding {path.name}") as bar:
        version = _repo(ctx).add(
            path,
            name,
            message=message,
            profile=not no_profile,
            on_progress=bar.advance,
            on_total=bar.set_total,
        )
    _print(added_line(version))


@app.command("list")
def list_datasets(ctx: typer.Context) -> None:
    """Every dataset with its newest version."""
    from loopml.cli._render_data import versions_table

    _print(versions_table(_repo(ctx).list_datasets(), title="datasets"))


@app.command("log")
def log(ctx: typer.Context, name: Annotated[str, typer.Argument(help="Dataset.")]) -> None:
    """Every version of a dataset, newest first."""
    from loopml.cli._render_data import versions_table

    _print(versions_table(_repo(ctx).log(name), title=f"{name}: versions"))


@app.command("show")
def show(ctx: typer.Context, ref: Ref) -> None:
    """A version: its files, schema and profile summary."""
    from loopml.cli._render_data import version_detail

    repo = _repo(ctx)
    version = repo.get_version(ref)
    for part in version_detail(version, repo.entries(version), repo.profile(version.ref)):
        _print(part)


@app.command("status")
def status(
    ctx: typer.Context,
    name: Annotated[
        str | None, typer.Argument(help="Dataset (default: every tracked one).")
    ] = None,
) -> None:
    """What changed in the working copies since the version each holds."""
    from loopml.cli._render_data import status_lines

    _print(status_lines(_repo(ctx).status(name)))


@app.command("diff")
def diff(
    ctx: typer.Context,
    before: Ref,
    after: Ref,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Files added, removed and changed between two versions; rows and schema for tables."""
    from loopml.cli._render_data import diff_detail

    result = _repo(ctx).diff(before, after)
    if as_json:
        typer.echo(json.dumps({k: getattr(result, k) for k in result.__slots__}, indent=2))
        return
    _print(diff_detail(result))


@app.command("checkout")
def checkout(
    ctx: typer.Context,
    ref: Ref,
    to: Annotated[Path | None, typer.Option(help="Folder to materialise into.")] = None,
    force: Annotated[bool, typer.Option(help="Discard unsaved changes / overwrite files.")] = False,
) -> None:
    """Materialise a version (hard links or copies from the blob store)."""
    dest = _repo(ctx).checkout(ref, to, force=force)
    _print(f"Checked out [bold]{ref}[/] into {dest}")


@app.command("push")
def push(ctx: typer.Context, ref: Ref, remote: Remote = None) -> None:
    """Copy a version's blobs to the remote blob store."""
    copied = _repo(ctx).push(ref, _remote(ctx, remote))
    _print(f"Pushed {ref}: {copied} blob(s) copied.")


@app.command("pull")
def pull(ctx: typer.Context, ref: Ref, remote: Remote = None) -> None:
    """Copy a version's blobs from the remote blob store."""
    copied = _repo(ctx).pull(ref, _remote(ctx, remote))
    _print(f"Pulled {ref}: {copied} blob(s) copied.")


@app.command("check")
def check(
    ctx: typer.Context,
    ref: Ref,
    checks: Annotated[Path, typer.Argument(help="YAML file of expectations.")],
) -> None:
    """Run data checks on a version and store the report; exit 1 when a check fails."""
    from loopml.cli._render_data import check_table

    report = _repo(ctx).check(ref, checks)
    _print(check_table(report))
    if not report.passed:
        raise typer.Exit(1)


def _remote(ctx: typer.Context, uri: str | None) -> BlobStore:
    from loopml.blobs import open_blob_store
    from loopml.errors import InvalidInput

    settings = settings_of(ctx)
    chosen = uri or settings.data_remote
    if not chosen:
        raise InvalidInput("No remote: pass --remote s3://bucket/prefix or set LOOPML_DATA_REMOTE.")
    return open_blob_store(chosen, settings)


def _print(renderable: object) -> None:
    from loopml.cli._render import console

    console.print(renderable, soft_wrap=isinstance(renderable, str))
