"""What is served, kept current: sources of a policy, and the live snapshot of models.

A :class:`ModelSource` says what to serve: a model, a traffic policy over its targets
and, for a deployment, its name and revision. :class:`LiveModels` turns that into a
:class:`Snapshot`: every target resolved to a version, every version loaded once,
verified and warmed, and a router. A background thread polls the source and the
registry; when a target resolves to another version (an alias moved) or the policy
changed, it loads and warms what is new, off the request path, and then swaps the
snapshot in with one reference assignment. A request reads the snapshot once, so it
always sees one consistent set of models.

In a process loopml owns (the ``loopml serve`` server and its workers: ``serve()`` asks
for it; an app built in a user's process does not), each swap ends with a full garbage
collection and ``gc.freeze()``: the loaded models, pandas, scikit-learn and the rest of
the heap move out of the collector's sight. A serving process keeps recent predictions in memory
(the prediction log's buffer), which triggers full collections; over a frozen heap they
take a few milliseconds instead of pausing every request for ~100 ms. The one full
collection per swap happens on the poll thread; swaps are rare.

A version that fails to load leaves the old snapshot serving. The error is logged,
counted and kept for ``/health``; the version is tried again on later polls, waiting
longer after each failure (up to a minute), never in a hot loop.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from loopml.domain.deployments import TrafficPolicy, check_target
from loopml.errors import LoopmlError
from loopml.registry import ModelRef, parse_model_uri
from loopml.serving._router import Router
from loopml.serving._versions import ServedVersion

if TYPE_CHECKING:
    from loopml.config import Settings
    from loopml.registry import ModelRegistry, PackagedModel

__all__ = [
    "LiveModels",
    "LoadError",
    "ModelSource",
    "ModelUriSource",
    "ServingPlan",
    "Snapshot",
    "close_source",
    "log_name",
    "resolve_source",
    "target_ref",
]

logger = logging.getLogger("loopml.serving")

_MAX_BACKOFF_S = 60.0


@dataclass(frozen=True, slots=True)
class ServingPlan:
    """What a source wants served.

    Attributes:
        model: the registered model's name.
        policy: the traffic policy over the model's targets.
        deployment: the deployment's name, or None when serving a model URI.
        revision: the deployment's policy revision, or None.
    """

    model: str
    policy: TrafficPolicy
    deployment: str | None = None
    revision: int | None = None


@runtime_checkable
class ModelSource(Protocol):
    """Says what to serve; asked again on every poll, so it may change over time."""

    def current(self) -> ServingPlan:
        """The plan in force now.

        Raises:
            LoopmlError: the plan cannot be read now (the old snapshot keeps serving).
        """
        ...


class ModelUriSource:
    """Serves one model URI with all of the traffic: ``churn@champion`` is the policy
    ``{champion: 100}``, ``churn/3`` is ``{3: 100}``, ``churn@latest`` is ``{latest: 100}``.

    Raises:
        InvalidInput: the URI is malformed (the message shows the accepted forms).
    """

    def __init__(self, uri: str) -> None:
        ref = parse_model_uri(uri)
        target = str(ref.version) if ref.version is not None else str(ref.alias)
        self.uri = str(ref)
        self._plan = ServingPlan(ref.name, TrafficPolicy.of({check_target(target): 100}))

    def current(self) -> ServingPlan:
        """The one-route plan of the URI."""
        return self._plan

    def __repr__(self) -> str:
        return f"ModelUriSource({self.uri!r})"


def resolve_source(target: str, settings: Settings) -> ModelSource:
    """The source that ``loopml serve TARGET`` serves.

    Args:
        target: a model URI (``churn@champion``, ``churn/3``, ``churn@latest``), or the
            name of a deployment.
        settings: the settings whose stores hold the deployments.

    Returns:
        A :class:`ModelUriSource` for a target with ``@`` or ``/``; else a
        :class:`~loopml.serving.DeploymentSource` over a client of its own (release it
        with its ``close``; the serving app does at shutdown).

    Raises:
        InvalidInput: a malformed URI or name.
        NotFound: no deployment of that name (the message says how to create one).
    """
    if "@" in target or "/" in target:
        return ModelUriSource(target)
    # Imported here: the deployment source builds on this module's ServingPlan.
    from loopml.serving._deployment_source import DeploymentSource

    return DeploymentSource(target, settings)


def close_source(source: ModelSource) -> None:
    """Release what ``source`` holds (a deployment source's client), if anything."""
    close = getattr(source, "close", None)
    if callable(close):
        close()


def log_name(plan: ServingPlan) -> str:
    """The name a plan's predictions are logged (and labelled) under: its deployment's
    name, or the model's name when a model URI is served."""
    return plan.deployment if plan.deployment is not None else plan.model


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One consistent state of what is served; never changed once built.

    Attributes:
        plan: the plan it serves.
        router: picks a route target per record.
        served: every target of the policy (routes and shadows) → its loaded version.
        built_at: when it was built (UTC).
    """

    plan: ServingPlan
    router: Router
    served: Mapping[str, ServedVersion]
    built_at: datetime

    @property
    def versions(self) -> dict[str, int]:
        """Target → version number, routes first, then shadows."""
        return {target: self.served[target].version for target in self.plan.policy.targets}

    @property
    def is_quick(self) -> bool:
        """Whether every route's version is quick (see :class:`ServedVersion`)."""
        return all(self.served[route.target].is_quick for route in self.plan.policy.routes)


@dataclass(frozen=True, slots=True)
class LoadError:
    """The last thing that went wrong while keeping the served models current."""

    message: str
    at: datetime
    version: int | None = None

    def to_json(self) -> dict[str, Any]:
        """The error as JSON values."""
        return {"message": self.message, "at": self.at.isoformat(), "version": self.version}


@dataclass(slots=True)
class _Failure:
    count: int
    retry_at: float


@dataclass(slots=True)
class _Counters:
    load_errors: int = 0
    swaps: int = 0
    polls: int = 0
    failures: dict[tuple[str, int], _Failure] = field(default_factory=dict)


class LiveModels:
    """The snapshot of served models, kept current by a background thread.

    Args:
        source: what to serve.
        registry: where versions are resolved and loaded (used by the poll thread only).
        poll_seconds: the time between two polls of the source and the registry.
        clock: a monotonic clock (for the retry back-off; injectable in tests).
        freeze_gc: freeze the heap after each swap (see the module docstring); for a
            process that serves, not for a library caller.

    Attributes:
        snapshot: what requests are served from; None until the first load succeeded.
        last_error: the last failure to resolve or load, or None.
    """

    def __init__(
        self,
        source: ModelSource,
        registry: ModelRegistry,
        *,
        poll_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        freeze_gc: bool = False,
    ) -> None:
        if poll_seconds <= 0:
            raise ValueError(f"poll_seconds must be above 0, got {poll_seconds!r}.")
        self.source = source
        self.snapshot: Snapshot | None = None
        self.last_error: LoadError | None = None
        self.is_current = False
        self._registry = registry
        self._poll_seconds = poll_seconds
        self._clock = clock
        self._freeze_gc = freeze_gc
        self._loaded: dict[tuple[str, int], ServedVersion] = {}
        self._counters = _Counters()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # one refresh at a time (the thread, or a caller)

    @property
    def load_errors(self) -> int:
        """How many resolves or loads have failed since the start."""
        return self._counters.load_errors

    @property
    def swaps(self) -> int:
        """How many snapshots have been swapped in (the first load counts)."""
        return self._counters.swaps

    @property
    def loaded_versions(self) -> list[int]:
        """The version numbers held in memory, ascending."""
        # list() copies the keys in one step under the GIL: the poll thread may be
        # adding a version meanwhile.
        return sorted(version for _, version in list(self._loaded))

    def start(self) -> None:
        """Start the poll thread; its first poll loads the first snapshot at once."""
        if self._thread is not None:
            raise RuntimeError("LiveModels.start() was called twice.")
        self._thread = threading.Thread(target=self._poll, name="loopml-serving-poll", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop the poll thread (waiting for a load under way to finish)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
        if self._freeze_gc:
            gc.unfreeze()

    def refresh(self) -> bool:
        """Poll once: bring the snapshot up to date with the source and the registry.

        Returns:
            Whether a new snapshot was swapped in. Failures are recorded, not raised.
        """
        with self._lock:
            self._counters.polls += 1
            try:
                plan = self.source.current()
                wanted = self._resolve(plan)
            except Exception as exc:  # a source or store failure: keep serving, retry later
                self._fail(f"Cannot resolve what to serve: {_describe(exc)}", None)
                return False
            current = self.snapshot
            if current is not None and current.plan == plan and current.versions == wanted:
                self.is_current = True
                return False
            if not self._load_all(plan.model, sorted(set(wanted.values()))):
                return False
            self._swap(plan, wanted)
            return True

    # -- the steps of a refresh ---------------------------------------------------------

    def _poll(self) -> None:
        self.refresh()
        while not self._stop.wait(self._poll_seconds):
            self.refresh()

    def _resolve(self, plan: ServingPlan) -> dict[str, int]:
        refs = {target: target_ref(plan.model, target) for target in plan.policy.targets}
        return {target: self._registry.resolve(ref).version for target, ref in refs.items()}

    def _load_all(self, model: str, versions: list[int]) -> bool:
        """Load and warm every version not loaded yet; False when one failed."""
        for version in versions:
            key = (model, version)
            if key in self._loaded:
                continue
            failure = self._counters.failures.get(key)
            if failure is not None and self._clock() < failure.retry_at:
                return False  # waiting out the back-off: the old snapshot keeps serving
            try:
                self._loaded[key] = self._load(model, version)
            except Exception as exc:  # any failure to load is recorded, never fatal
                self._back_off(key)
                self._fail(f"Cannot load {model}/{version}: {_describe(exc)}", version)
                return False
            self._counters.failures.pop(key, None)
        return True

    def _load(self, model: str, version: int) -> ServedVersion:
        started = time.perf_counter()
        loaded: PackagedModel = self._registry.load_model(f"{model}/{version}", record_input=False)
        served = ServedVersion(version, loaded)
        served.warm()
        logger.info(
            "Loaded and warmed %s/%s in %.0f ms.",
            model,
            version,
            (time.perf_counter() - started) * 1000,
        )
        return served

    def _swap(self, plan: ServingPlan, wanted: dict[str, int]) -> None:
        served = {target: self._loaded[(plan.model, v)] for target, v in wanted.items()}
        snapshot = Snapshot(plan, Router(plan.policy), MappingProxyType(served), datetime.now(UTC))
        previous = self.snapshot
        self.snapshot = snapshot  # the swap: one reference assignment
        self.is_current = True
        self._counters.swaps += 1
        keep = {(plan.model, version) for version in wanted.values()}
        released = sorted(version for name, version in self._loaded if (name, version) not in keep)
        self._loaded = {key: self._loaded[key] for key in keep}
        if self._freeze_gc:
            gc.unfreeze()  # so that the released versions' cycles are collected
            gc.collect()
            gc.freeze()
        before = "nothing" if previous is None else _describe_versions(previous.versions)
        logger.info(
            "Serving %s %s (was %s)%s.",
            plan.model,
            _describe_versions(wanted),
            before,
            f"; released version(s) {released}" if released else "",
        )

    def _back_off(self, key: tuple[str, int]) -> None:
        failure = self._counters.failures.get(key) or _Failure(0, 0.0)
        failure.count += 1
        delay = min(self._poll_seconds * 2 ** (failure.count - 1), _MAX_BACKOFF_S)
        failure.retry_at = self._clock() + delay
        self._counters.failures[key] = failure

    def _fail(self, message: str, version: int | None) -> None:
        self._counters.load_errors += 1
        self.is_current = False
        repeated = self.last_error is not None and self.last_error.message == message
        self.last_error = LoadError(message, datetime.now(UTC), version)
        served = "nothing yet" if self.snapshot is None else "the previous models"
        # A failure that repeats every poll is logged once, not every poll.
        logger.log(
            logging.DEBUG if repeated else logging.WARNING,
            "%s; still serving %s, retrying later.",
            message,
            served,
        )


def target_ref(model: str, target: str) -> ModelRef:
    """The registry reference of a policy target (``7``, ``latest`` or an alias)."""
    if target.isdecimal():
        return ModelRef(model, version=int(target))
    return ModelRef(model, alias=target)


def _describe(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, LoopmlError) else f"{type(exc).__name__}: {text}"


def _describe_versions(versions: Mapping[str, int]) -> str:
    return ", ".join(f"{target}→{version}" for target, version in versions.items())
