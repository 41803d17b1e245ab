"""``loopml deploy``: deployments of registered models and their traffic policies.

Each command parses, calls one function of :mod:`loopml.serving._deployments` and
renders the result; that module checks every target against the registry.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated, Any

import typer

from loopml.cli._context import client_of

if TYPE_CHECKING:
    from loopml.domain.deployments import Deployment
    from loopml.domain.sentinel import NotGiven

__all__ = ["app"]

app = typer.Typer(
    help="Serve registered models under traffic policies: canary, A/B, shadow, rollback.",
    no_args_is_help=True,
)

Name = Annotated[str, typer.Argument(help="The deployment's name, e.g. churn-api.")]
RouteOption = Annotated[
    list[str] | None,
    typer.Option(
        "--route",
        "-r",
        help="TARGET=PERCENT (repeatable): an alias, 'latest' or a version number and its "
        "share of traffic; the shares add up to 100.",
    ),
]
ShadowOption = Annotated[
    list[str] | None,
    typer.Option(help="A target scored and logged but never returned (repeatable)."),
]
Reason = Annotated[str, typer.Option(help="Why; kept in the deployment's history.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON.")]

# How many policy changes `show` lists.
_SHOWN_CHANGES = 5


def _print(renderable: object) -> None:
    from loopml.cli._render import console

    console.print(renderable, soft_wrap=isinstance(renderable, str))


def _echo_json(value: Any) -> None:
    typer.echo(json.dumps(value, indent=2))


def _report(deployment: Deployment, as_json: bool) -> None:
    from loopml.cli._render_deploy import deployment_json, deployment_line

    if as_json:
        _echo_json(deployment_json(deployment))
    else:
        _print(deployment_line(deployment))


@app.command("create")
def create(
    ctx: typer.Context,
    name: Name,
    model: Annotated[str, typer.Option(help="The registered model to serve.")],
    route: RouteOption = None,
    shadow: ShadowOption = None,
    sticky: Annotated[
        str | None, typer.Option(help="Request field that pins each caller to one route.")
    ] = None,
    description: Annotated[str, typer.Option(help="Shown with the deployment.")] = "",
    reason: Reason = "",
    as_json: AsJson = False,
) -> None:
    """Create a deployment: a registered model served under a traffic policy."""
    from loopml.serving._deployments import create_deployment

    deployment = create_deployment(
        name,
        model,
        route or [],
        shadows=shadow or [],
        sticky_key=sticky,
        description=description,
        reason=reason,
        client=client_of(ctx),
    )
    _report(deployment, as_json)


@app.command("update")
def update(
    ctx: typer.Context,
    name: Name,
    route: RouteOption = None,
    shadow: ShadowOption = None,
    no_shadows: Annotated[bool, typer.Option("--no-shadows", help="Remove every shadow.")] = False,
    sticky: Annotated[str | None, typer.Option(help="Pin callers by this request field.")] = None,
    no_sticky: Annotated[bool, typer.Option("--no-sticky", help="Stop pinning callers.")] = False,
    expect_revision: Annotated[
        int | None, typer.Option(min=1, help="Refuse unless the deployment is at this revision.")
    ] = None,
    reason: Reason = "",
    as_json: AsJson = False,
) -> None:
    """Change the traffic policy; what is not given stays as it is."""
    from loopml.serving._deployments import update_deployment

    deployment = update_deployment(
        name,
        routes=route,
        shadows=_shadows(shadow, no_shadows),
        sticky_key=_sticky(sticky, no_sticky),
        expected_revision=expect_revision,
        reason=reason,
        client=client_of(ctx),
    )
    _report(deployment, as_json)


@app.command("rollback")
def rollback(ctx: typer.Context, name: Name, reason: Reason = "", as_json: AsJson = False) -> None:
    """Put back the policy in force before the current one (twice: two changes back)."""
    from loopml.serving._deployments import rollback_deployment

    _report(rollback_deployment(name, reason=reason, client=client_of(ctx)), as_json)


@app.command("show")
def show(ctx: typer.Context, name: Name, as_json: AsJson = False) -> None:
    """A deployment: its policy, the version each target names now, its last changes."""
    from loopml.cli._render_deploy import (
        change_json,
        deployment_json,
        deployment_lines,
        history_table,
    )
    from loopml.serving._deployments import (
        deployment_history,
        get_deployment,
        resolve_deployment,
    )

    client = client_of(ctx)
    deployment = get_deployment(name, client)
    versions = resolve_deployment(name, client)
    changes = deployment_history(name, client)[:_SHOWN_CHANGES]
    if as_json:
        history = [change_json(change) for change in changes]
        _echo_json({**deployment_json(deployment, versions), "history": history})
        return
    for line in deployment_lines(deployment, versions):
        _print(line)
    _print(history_table(changes, title=f"Last {len(changes)} change(s)"))


@app.command("list")
def list_(ctx: typer.Context, as_json: AsJson = False) -> None:
    """Every deployment with its model, policy and revision."""
    from loopml.cli._render_deploy import deployment_json, deployments_table
    from loopml.serving._deployments import list_deployments

    deployments = list_deployments(client_of(ctx))
    if as_json:
        _echo_json([deployment_json(deployment) for deployment in deployments])
    else:
        _print(deployments_table(deployments))


@app.command("history")
def history(ctx: typer.Context, name: Name, as_json: AsJson = False) -> None:
    """Every revision of a deployment's policy, newest first."""
    from loopml.cli._render_deploy import change_json, history_table
    from loopml.serving._deployments import deployment_history

    changes = deployment_history(name, client_of(ctx))
    if as_json:
        _echo_json([change_json(change) for change in changes])
    else:
        _print(history_table(changes))


@app.command("delete")
def delete(
    ctx: typer.Context,
    name: Name,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
) -> None:
    """Delete a deployment and its history (the model and its versions stay)."""
    from loopml.serving._deployments import delete_deployment

    if not yes:
        typer.confirm(f"Delete deployment {name} and its policy history?", abort=True)
    delete_deployment(name, client_of(ctx))
    _print(f"Deleted deployment {name}.")


# -- parsing ------------------------------------------------------------------------


def _shadows(shadow: list[str] | None, no_shadows: bool) -> list[str] | None:
    """``--shadow``/``--no-shadows`` as the change they ask: None keeps the shadows."""
    from loopml.errors import InvalidInput

    if shadow and no_shadows:
        raise InvalidInput("Give --shadow or --no-shadows, not both.")
    return [] if no_shadows else shadow or None


def _sticky(sticky: str | None, no_sticky: bool) -> str | NotGiven | None:
    """``--sticky``/``--no-sticky`` as the change they ask: not given keeps the key."""
    from loopml.domain.sentinel import NOT_GIVEN
    from loopml.errors import InvalidInput

    if sticky is not None and no_sticky:
        raise InvalidInput("Give --sticky or --no-sticky, not both.")
    if no_sticky:
        return None
    return NOT_GIVEN if sticky is None else sticky
