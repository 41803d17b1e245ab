"""Plain records of deployments: a registered model served under a traffic policy.

A deployment names one registered model and a **traffic policy** over its versions:
routes that share the returned traffic by weight (percent, adding up to 100), shadow
targets that are scored and logged but never answer, and optionally a request field
whose value pins each caller to one route (sticky routing). A target is an alias of the
model (``champion``), ``latest``, or a version number (``7``).

Every change of policy is a new **revision**, kept in the deployment's history;
rollback makes a new revision with the policy in force before the current one, so
rolling back twice goes back two changes, like undo.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from loopml.domain.names import check_alias, check_deployment_name, check_model_name
from loopml.errors import InvalidInput

__all__ = [
    "MAX_NOTE_LENGTH",
    "MAX_ROUTES",
    "ChangeKind",
    "Deployment",
    "DeploymentDraft",
    "PolicyChange",
    "Route",
    "TrafficPolicy",
    "check_deployment_draft",
    "check_expected_revision",
    "check_note",
    "check_policy",
    "check_target",
    "parse_route",
]

MAX_ROUTES = 16
MAX_NOTE_LENGTH = 8000
_WEIGHT_TOLERANCE = 1e-6
_STICKY_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]{0,127}")
_LATEST = "latest"
_TARGET_FORMS = "use an alias (e.g. 'champion'), 'latest', or a version number (e.g. 7)"


def check_target(target: object) -> str:
    """Return ``target`` in its canonical form if it can name a version of a model: an
    alias (``champion``), ``latest``, or a version number (``7``, also written ``v7``).

    Raises:
        InvalidInput: naming the target and the accepted forms.
    """
    if isinstance(target, bool):
        raise InvalidInput(f"Route target {target!r} is invalid: {_TARGET_FORMS}.")
    if isinstance(target, int):
        if target < 1:
            raise InvalidInput(f"Route target {target!r} is invalid: {_TARGET_FORMS}.")
        return str(target)
    if not isinstance(target, str) or not target:
        raise InvalidInput(f"Route target {target!r} is invalid: {_TARGET_FORMS}.")
    number = target[1:] if target[:1] in ("v", "V") and target[1:].isdecimal() else target
    if number.isascii() and number.isdecimal():
        if int(number) < 1:
            raise InvalidInput(f"Route target {target!r} is invalid: {_TARGET_FORMS}.")
        return str(int(number))
    if target == _LATEST:
        return target
    try:
        return check_alias(target)
    except InvalidInput as exc:
        raise InvalidInput(f"Route target {target!r} is invalid: {_TARGET_FORMS}.") from exc


@dataclass(frozen=True, slots=True)
class Route:
    """A share of the returned traffic: ``weight`` percent goes to ``target``."""

    target: str
    weight: float

    def __str__(self) -> str:
        return f"{self.target}={_percent(self.weight)}"


def parse_route(text: str) -> Route:
    """``TARGET=WEIGHT`` as typed on the command line (``champion=90``, ``7=10``).

    Raises:
        InvalidInput: naming the text and the expected form.
    """
    target, equals, weight = str(text).partition("=")
    if not equals:
        raise InvalidInput(
            f"Route {text!r} is invalid: expected TARGET=PERCENT (e.g. 'champion=90')."
        )
    try:
        share = float(weight)
    except ValueError:
        raise InvalidInput(
            f"Route {text!r} is invalid: the weight {weight!r} is not a number of percent."
        ) from None
    return _route((target.strip(), share))


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    """How a deployment shares its traffic; build it with :meth:`of` to have it checked.

    Attributes:
        routes: the targets that answer requests, with their weights (percent, > 0,
            adding up to 100).
        shadows: targets scored on every request and logged, whose answers are never
            returned.
        sticky_key: a request field; requests with the same value of it always meet the
            same route. None: each request is routed at random by weight.
    """

    routes: tuple[Route, ...]
    shadows: tuple[str, ...] = ()
    sticky_key: str | None = None

    @classmethod
    def of(
        cls,
        routes: Any,
        shadows: Any = (),
        sticky_key: str | None = None,
    ) -> TrafficPolicy:
        """A checked policy from routes (``Route``\\ s, ``(target, weight)`` pairs or a
        ``{target: weight}`` mapping), shadow targets and an optional sticky key.

        Raises:
            InvalidInput: no route, a bad target or weight, weights that do not add up
                to 100, a target named twice, or a bad sticky key; the message says which.
        """
        items = list(routes.items()) if isinstance(routes, dict) else _as_list(routes, "routes")
        checked = tuple(_route(item) for item in items)
        shadow_targets = tuple(check_target(s) for s in _as_list(shadows, "shadows"))
        policy = cls(checked, shadow_targets, _sticky(sticky_key))
        policy._check()
        return policy

    @property
    def targets(self) -> tuple[str, ...]:
        """Every target the policy needs loaded: the routes', then the shadows'."""
        return tuple(r.target for r in self.routes) + self.shadows

    def describe(self) -> str:
        """One line: ``champion 90% / challenger 10% · shadow: 8 · sticky on customer``."""
        text = " / ".join(f"{r.target} {_percent(r.weight)}%" for r in self.routes)
        if self.shadows:
            text += " · shadow: " + ", ".join(self.shadows)
        if self.sticky_key:
            text += f" · sticky on {self.sticky_key}"
        return text

    def to_json(self) -> dict[str, Any]:
        """The policy as JSON values (what stores and the REST API keep)."""
        return {
            "routes": [{"target": r.target, "weight": r.weight} for r in self.routes],
            "shadows": list(self.shadows),
            "sticky_key": self.sticky_key,
        }

    @classmethod
    def from_json(cls, value: Any) -> TrafficPolicy:
        """The policy :meth:`to_json` wrote (checked again).

        Raises:
            InvalidInput: the value is not such a document, or the policy is invalid.
        """
        if not isinstance(value, dict) or not isinstance(value.get("routes"), list):
            raise InvalidInput(
                "A traffic policy must be an object with 'routes' (a list of "
                "{'target', 'weight'}), 'shadows' and 'sticky_key'."
            )
        routes = []
        for item in value["routes"]:
            if not isinstance(item, dict) or set(item) != {"target", "weight"}:
                raise InvalidInput(
                    f"Route {item!r} is invalid: expected {{'target': ..., 'weight': ...}}."
                )
            routes.append((item["target"], item["weight"]))
        return cls.of(routes, value.get("shadows") or (), value.get("sticky_key"))

    def _check(self) -> None:
        if not self.routes:
            raise InvalidInput("A traffic policy needs at least one route (e.g. 'champion=100').")
        if len(self.targets) > MAX_ROUTES:
            raise InvalidInput(
                f"A traffic policy may name at most {MAX_ROUTES} targets, got {len(self.targets)}."
            )
        seen: set[str] = set()
        for target in self.targets:
            if target in seen:
                raise InvalidInput(
                    f"Target {target!r} is named twice in the traffic policy; a target is "
                    "either one route or one shadow."
                )
            seen.add(target)
        total = math.fsum(r.weight for r in self.routes)
        if abs(total - 100.0) > _WEIGHT_TOLERANCE:
            listed = ", ".join(str(r) for r in self.routes)
            raise InvalidInput(
                f"Traffic weights must add up to 100%, got {_percent(total)}% ({listed})."
            )


def check_policy(policy: object) -> TrafficPolicy:
    """Return ``policy`` checked again (see :meth:`TrafficPolicy.of`): a store takes no
    policy on trust, even one built without ``of``.

    Raises:
        InvalidInput: not a TrafficPolicy, or an invalid one; the message says why.
    """
    if not isinstance(policy, TrafficPolicy):
        raise InvalidInput(
            f"A deployment's policy must be a TrafficPolicy (build it with "
            f"TrafficPolicy.of), got {type(policy).__name__}."
        )
    return TrafficPolicy.of(policy.routes, policy.shadows, policy.sticky_key)


def _route(item: object) -> Route:
    if isinstance(item, Route):
        target, weight = item.target, item.weight
    elif isinstance(item, tuple | list) and len(item) == 2:
        target, weight = item
    else:
        raise InvalidInput(f"Route {item!r} is invalid: expected a target and a weight.")
    target = check_target(target)
    if isinstance(weight, bool) or not isinstance(weight, int | float):
        raise InvalidInput(f"The weight of route {target!r} must be a number, got {weight!r}.")
    # The range first: an int too large for a float would make isfinite() overflow.
    if weight <= 0 or weight > 100 or not math.isfinite(weight):
        raise InvalidInput(
            f"The weight of route {target!r} must be above 0 and at most 100 percent, "
            f"got {_shown(weight)}."
        )
    return Route(target, float(weight))


def _shown(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _as_list(value: Any, what: str) -> list[Any]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list | tuple):
        return list(value)
    raise InvalidInput(f"The traffic policy's {what} must be a list, got {value!r}.")


def _sticky(key: object) -> str | None:
    if key is None or key == "":
        return None
    if not isinstance(key, str) or not _STICKY_KEY.fullmatch(key):
        raise InvalidInput(
            f"Sticky key {key!r} is invalid: name a request field (1-128 letters, digits, "
            "'_', '.' or '-', starting with a letter or '_')."
        )
    return key


def _percent(value: float) -> str:
    # Ten significant digits: enough to show why 49.99999 + 50 is not 100, without
    # the float noise of 33.3 + 33.3 + 33.3 (99.89999999999999).
    return f"{value:.10g}"


class ChangeKind(StrEnum):
    """Why a deployment's policy got a new revision."""

    CREATE = "create"
    UPDATE = "update"
    ROLLBACK = "rollback"


@dataclass(frozen=True, slots=True)
class DeploymentDraft:
    """A deployment to create: its name, the registered model it serves, its policy."""

    name: str
    model: str
    policy: TrafficPolicy
    description: str = ""


@dataclass(frozen=True, slots=True)
class Deployment:
    """A stored deployment with the policy in force (``revision`` counts its changes,
    from 1)."""

    name: str
    model: str
    policy: TrafficPolicy
    revision: int
    description: str
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class PolicyChange:
    """One revision of a deployment's policy: what it became, how, by whom and why.

    ``restores`` is the revision whose policy a rollback brought back (None otherwise);
    ``previous`` is the revision a rollback of this one would return to.
    """

    deployment: str
    revision: int
    kind: ChangeKind
    policy: TrafficPolicy
    previous: int | None
    restores: int | None
    actor: str
    reason: str
    changed_at: datetime


# -- checks shared by the stores and their clients ---------------------------------------


def check_deployment_draft(draft: DeploymentDraft) -> DeploymentDraft:
    """Return ``draft`` with its policy checked again (see :func:`check_policy`).

    Raises:
        InvalidInput: a malformed deployment name, model name, policy or description.
    """
    check_deployment_name(draft.name)
    check_model_name(draft.model)
    policy = check_policy(draft.policy)
    check_note("description", draft.description)
    return DeploymentDraft(draft.name, draft.model, policy, draft.description)


def check_note(field: str, text: object) -> str:
    """Return ``text`` if it can be a deployment's description or a change's reason.

    Raises:
        InvalidInput: not text, or longer than :data:`MAX_NOTE_LENGTH` characters.
    """
    if not isinstance(text, str) or len(text) > MAX_NOTE_LENGTH:
        raise InvalidInput(f"The {field} must be text of at most {MAX_NOTE_LENGTH} characters.")
    return text


def check_expected_revision(revision: object) -> int | None:
    """Return ``revision`` if it can be the revision a caller expects (or None).

    Raises:
        InvalidInput: not a whole number from 1.
    """
    if revision is None:
        return None
    if isinstance(revision, bool) or not isinstance(revision, int) or revision < 1:
        raise InvalidInput(
            f"expected_revision must be a revision number from 1 or None, got {revision!r}."
        )
    return revision
