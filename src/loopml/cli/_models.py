"""``loopml models``: registered models, their versions, aliases, approvals and lineage.

Each command parses, calls one method of :class:`~loopml.registry._registry.ModelRegistry`
and renders the result; the registry decides what is allowed.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from loopml.cli._context import client_of

if TYPE_CHECKING:
    from loopml.domain.sentinel import NotGiven
    from loopml.registry._registry import ModelRegistry

__all__ = ["alias_app", "app", "approval_app"]

app = typer.Typer(
    help="Registered models: versions, aliases, approvals and lineage.", no_args_is_help=True
)
alias_app = typer.Typer(help="Move, remove and audit the aliases of a model.", no_args_is_help=True)
approval_app = typer.Typer(help="Ask to move a protected alias.", no_args_is_help=True)
app.add_typer(alias_app, name="alias")
app.add_typer(approval_app, name="approval")

Name = Annotated[str, typer.Argument(help="Registered model name.")]
Uri = Annotated[str, typer.Argument(help="Model version: NAME/VERSION, NAME@ALIAS or NAME@latest.")]
Alias = Annotated[str, typer.Argument(help="Alias, e.g. champion.")]
Version = Annotated[int, typer.Argument(help="Version number.")]
RequestId = Annotated[str, typer.Argument(help="Approval request id.")]
Comment = Annotated[str, typer.Option(help="Why; kept with the request.")]
Reason = Annotated[str, typer.Option(help="Why; kept in the alias history.")]


def _registry(ctx: typer.Context) -> ModelRegistry:
    # Imported here: the registry pulls in the model packaging code, which no other
    # command needs.
    from loopml.registry._registry import ModelRegistry

    return ModelRegistry(client_of(ctx))


def _print(renderable: object) -> None:
    from loopml.cli._render import console

    console.print(renderable, soft_wrap=isinstance(renderable, str))


# -- models and versions ------------------------------------------------------------


@app.command("list")
def list_models(ctx: typer.Context) -> None:
    """List registered models with their latest version and aliases."""
    from loopml.cli._render_models import models_table

    _print(models_table(_registry(ctx).list_models()))


@app.command("show")
def show(ctx: typer.Context, name: Name) -> None:
    """Show a model's details and its versions."""
    from loopml.cli._render_models import model_detail, versions_table

    registry = _registry(ctx)
    _print(model_detail(registry.get_model(name)))
    _print(versions_table(registry.list_versions(name)))


@app.command("versions")
def versions(ctx: typer.Context, name: Name) -> None:
    """List a model's versions, newest first."""
    from loopml.cli._render_models import versions_table

    _print(versions_table(_registry(ctx).list_versions(name)))


@app.command("describe")
def describe(
    ctx: typer.Context, uri: Uri, text: Annotated[str, typer.Argument(help="The description.")]
) -> None:
    """Set a version's description."""
    from loopml.cli._render_models import version_line

    _print(version_line(_registry(ctx).update_version(uri, description=text)))


@app.command("tag")
def tag(
    ctx: typer.Context,
    uri: Uri,
    pairs: Annotated[list[str] | None, typer.Argument(help="KEY=VALUE tags to set.")] = None,
    delete: Annotated[
        list[str] | None, typer.Option("--delete", "-d", help="Tag to delete (repeatable).")
    ] = None,
) -> None:
    """Set (KEY=VALUE) or delete (--delete KEY) tags of a version."""
    from loopml.cli._render_models import version_line

    tags = _parse_tags(pairs or [], delete or [])
    _print(version_line(_registry(ctx).update_version(uri, tags=tags)))


@app.command("archive")
def archive(ctx: typer.Context, uri: Uri) -> None:
    """Archive a version: it keeps its package and history, but no alias may point at it."""
    from loopml.cli._render_models import version_line

    _print(version_line(_registry(ctx).update_version(uri, status="archived")))


@app.command("restore")
def restore(ctx: typer.Context, uri: Uri) -> None:
    """Bring an archived version back to ready."""
    from loopml.cli._render_models import version_line

    _print(version_line(_registry(ctx).update_version(uri, status="ready")))


@app.command("delete")
def delete_version(
    ctx: typer.Context,
    uri: Uri,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a version's record (refused while an alias points at it)."""
    if not yes:
        typer.confirm(f"Delete model version {uri}? Its number is never reused.", abort=True)
    _registry(ctx).delete_version(uri)
    _print(f"Deleted {uri}.")


@app.command("protect")
def protect(
    ctx: typer.Context,
    name: Name,
    aliases: Annotated[list[str], typer.Argument(help="Every alias to protect.")],
) -> None:
    """Protect exactly these aliases: they then move only through an approved request."""
    model = _registry(ctx).update_model(name, protected_aliases=aliases)
    _print(f"Protected aliases of {model.name}: {', '.join(model.protected_aliases)}.")


@app.command("unprotect")
def unprotect(ctx: typer.Context, name: Name) -> None:
    """Remove every alias protection of a model."""
    model = _registry(ctx).update_model(name, protected_aliases=())
    _print(f"Model {model.name} has no protected aliases.")


@app.command("lineage")
def lineage(
    ctx: typer.Context,
    uri: Uri,
    as_json: Annotated[bool, typer.Option("--json", help="Print the graph as JSON.")] = False,
    depth: Annotated[int, typer.Option(help="Generations of parent versions to walk.")] = 10,
) -> None:
    """Where a version came from: run, params, metrics, commit, data, parents, promotions."""
    from loopml.cli._render_models import lineage_tree
    from loopml.registry._lineage import lineage_to_dict

    graph = _registry(ctx).lineage(uri, depth)
    if as_json:
        typer.echo(json.dumps(lineage_to_dict(graph), indent=2, default=str))
    else:
        _print(lineage_tree(graph))


# -- aliases ------------------------------------------------------------------------


@alias_app.command("set")
def set_alias(
    ctx: typer.Context,
    name: Name,
    alias: Alias,
    version: Version,
    reason: Reason = "",
    expect: Annotated[
        str | None,
        typer.Option(help="Version the alias must point at now ('none': unset), or fail."),
    ] = None,
) -> None:
    """Point an alias at a version, recording who, when and why."""
    from loopml.cli._render_models import alias_move_line

    move = _registry(ctx).set_alias(name, alias, version, reason=reason, expected=_expected(expect))
    _print(alias_move_line(move))


@alias_app.command("remove")
def remove_alias(ctx: typer.Context, name: Name, alias: Alias, reason: Reason = "") -> None:
    """Remove an alias; its history stays."""
    from loopml.cli._render_models import alias_move_line

    _print(alias_move_line(_registry(ctx).remove_alias(name, alias, reason=reason)))


@alias_app.command("history")
def alias_history(
    ctx: typer.Context,
    name: Name,
    alias: Annotated[str | None, typer.Argument(help="Only this alias.")] = None,
) -> None:
    """Every move of the model's aliases (or of one), oldest first."""
    from loopml.cli._render_models import alias_history_table

    _print(alias_history_table(_registry(ctx).alias_history(name, alias)))


# -- approvals ----------------------------------------------------------------------


@approval_app.command("request")
def request_approval(
    ctx: typer.Context, name: Name, alias: Alias, version: Version, comment: Comment = ""
) -> None:
    """Ask an approver to move an alias (usually a protected one) to a version."""
    from loopml.cli._render_models import approval_line

    _print(approval_line(_registry(ctx).request_approval(name, alias, version, comment)))


@app.command("approve")
def approve(ctx: typer.Context, request_id: RequestId, comment: Comment = "") -> None:
    """Approve a pending request; the alias moves at once."""
    from loopml.cli._render_models import approval_line

    _print(approval_line(_registry(ctx).approve(request_id, comment)))


@app.command("reject")
def reject(ctx: typer.Context, request_id: RequestId, comment: Comment = "") -> None:
    """Reject a pending request; nothing moves."""
    from loopml.cli._render_models import approval_line

    _print(approval_line(_registry(ctx).reject(request_id, comment)))


@app.command("approvals")
def approvals(
    ctx: typer.Context,
    name: Annotated[str | None, typer.Argument(help="Only this model.")] = None,
    status: Annotated[
        str | None, typer.Option(help="Only requests in this state: pending, approved, rejected.")
    ] = None,
) -> None:
    """List approval requests, newest first."""
    from loopml.cli._render_models import approvals_table

    _print(approvals_table(_registry(ctx).list_approvals(name, status)))


# -- parsing ------------------------------------------------------------------------


def _parse_tags(pairs: list[str], deletes: list[str]) -> dict[str, str | None]:
    """``KEY=VALUE`` arguments and ``--delete KEY`` options as the tag change they ask."""
    from loopml.errors import InvalidInput

    if not pairs and not deletes:
        raise InvalidInput("Give tags to set as KEY=VALUE, or --delete KEY, or both.")
    tags: dict[str, str | None] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidInput(f"Tag {pair!r} is not KEY=VALUE (e.g. stage=prod).")
        tags[key] = value
    return tags | dict.fromkeys(deletes)


def _expected(expect: str | None) -> int | NotGiven | None:
    """``--expect``: not given, ``none`` (the alias must be unset) or a version number."""
    from loopml.domain.sentinel import NOT_GIVEN
    from loopml.errors import InvalidInput

    if expect is None:
        return NOT_GIVEN
    if expect.lower() == "none":
        return None
    if not expect.isdecimal() or int(expect) < 1:
        raise InvalidInput(f"--expect {expect!r} must be a version number or 'none'.")
    return int(expect)
