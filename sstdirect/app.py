"""``App``: the constructs of one app and stage, and ``diff`` / ``deploy`` / ``remove`` / ``outputs``."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3

from .aws import Aws
from .constructs.base import (
    Construct,
    ConstructHost,
    ExpandContext,
    check_options,
    collect_outputs,
    expand,
    run_preflight,
)
from .engine.executor import EventHook, Executor
from .engine.plan import Action, Change, Plan
from .engine.planner import make_plan, record_lookup
from .engine.rebuild import RebuildResult, rebuild, refuse_unrecorded
from .engine.refresh import Snapshot, refresh
from .engine.resource import Resource, provider_for, registered_types
from .engine.secrets import migrate_legacy_secrets
from .engine.strays import find_orphans
from .engine.survey import survey
from .engine.values import UNKNOWN, contains_unknown, resolve
from .errors import ConfigError, DeployError, StateError
from .overrides import Overrides, current_scope
from .state import Record, State, StateFile

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9-]{0,31}\Z")
APP_OPTIONS = ("stage", "region", "profile", "endpoint_url", "session", "root", "state")
# The clients every app of functions behind an API needs (a refresh uses the first four; a first deploy, sts),
# in the order to build them: Lambda's reads are the longest chain (ListFunctions pages one after another).
PREWARM = ("lambda", "iam", "logs", "apigatewayv2", "sts")


@dataclass
class DeployResult:
    outputs: dict[str, dict[str, Any]]
    changes: list[Change]
    api_calls: Counter[str]
    duration_s: float
    retries: Counter[str] = field(default_factory=Counter)
    plan: Plan | None = None


@dataclass
class RemoveResult:
    """What ``remove`` deleted. ``recorded`` is False when no lockfile recorded anything for the app and
    stage: nothing was done (no request, no credentials needed, no file written)."""

    changes: list[Change]
    api_calls: Counter[str]
    duration_s: float
    retries: Counter[str] = field(default_factory=Counter)
    recorded: bool = True


class App(ConstructHost):
    """One app at one stage in one region, and the constructs declared in it.

    Made inside :func:`sstdirect.overrides.declaring` (the CLI runs an APP.py so), the scope's overrides
    replace the options given here and the App joins the scope's ``apps``.
    """

    def __init__(
        self,
        name: str,
        stage: str = "dev",
        region: str | None = None,
        profile: str | None = None,
        endpoint_url: str | None = None,
        session: boto3.Session | None = None,
        root: str | os.PathLike[str] = ".",
        state: str | os.PathLike[str] | None = None,
        **unknown: Any,
    ):
        check_options(f"App {name!r}", unknown, APP_OPTIONS)
        scope = current_scope()
        given = scope.overrides if scope is not None else Overrides()
        stage = given.stage or stage
        region = given.region or region
        profile = given.profile or profile
        endpoint_url = given.endpoint_url or endpoint_url
        session = given.session or session
        for what, value in (("name", name), ("stage", stage)):
            if not isinstance(value, str) or not _NAME.match(value):
                raise ConfigError(f"App {what} {value!r} is not valid: use 1-32 letters, digits or '-', "
                                  f"starting with a letter")
        _check_app_types(name, region=region, profile=profile, endpoint_url=endpoint_url, session=session,
                         root=root, state=state)
        self.name = name
        self.stage = stage
        self.profile = profile
        self.endpoint_url = endpoint_url
        self.session = session
        self.region = (region or (session.region_name if session else None) or os.environ.get("AWS_REGION")
                       or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1")
        self.root = Path(root).resolve()
        if not self.root.is_dir():
            raise ConfigError(f"App {name!r}: root {str(root)!r} is not a folder")
        state_dir = Path(given.state_dir) if given.state_dir else self.root / ".sstdirect"
        default_state = state_dir / f"{name}.{stage}.json"
        self.state_path = Path(state).resolve() if state else default_state
        self._constructs: dict[str, Construct] = {}
        self._deployed_outputs: dict[str, dict[str, Any]] = {}
        if scope is not None:
            scope.apps.append(self)

    # -- constructs (the ConstructHost protocol) ----------------------------------------------

    def register(self, construct: Construct, *, check_only: bool = False) -> None:
        """Add ``construct`` (once its constructor succeeded); ConfigError if its id is taken.

        ``check_only``: only check the id (a constructor's first step), register nothing.
        """
        if construct.construct_id in self._constructs:
            other = self._constructs[construct.construct_id]
            raise ConfigError(f"{construct.kind} id {construct.construct_id!r} is already used by "
                              f"{other.kind} {other.construct_id!r} in App {self.name!r}; ids must be unique")
        if not check_only:
            self._constructs[construct.construct_id] = construct

    @property
    def constructs(self) -> list[Construct]:
        return list(self._constructs.values())

    def construct(self, construct_id: str) -> Construct | None:
        return self._constructs.get(construct_id)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        before = dict(self._constructs)
        try:
            yield
        except BaseException:
            self._constructs.clear()
            self._constructs.update(before)
            raise

    def expand_context(self) -> ExpandContext:
        return ExpandContext(self.name, self.stage, self.region, self.root, self.root / ".sstdirect" / "cache")

    def deployed_outputs(self, construct_id: str) -> Mapping[str, Any] | None:
        return self._deployed_outputs.get(construct_id)

    def recorded(self, address: str) -> Record | None:
        state_file = self._state_file()
        if not state_file.exists():
            return None
        return state_file.load(app=self.name, stage=self.stage, region=self.region).resources.get(address)

    def resources(self) -> dict[str, Resource]:
        """Every resource the app declares, by address (no AWS call)."""
        return expand(self.constructs, self.expand_context())

    # -- AWS and state -----------------------------------------------------------------------

    def aws(self, on_retry: Callable[[str, str, int], None] | None = None) -> Aws:
        """A new AWS boundary with the app's region, profile, endpoint and session (``on_retry`` hears retries)."""
        return Aws(region=self.region, profile=self.profile, endpoint_url=self.endpoint_url,
                   session=self.session, on_retry=on_retry)

    def _state_file(self) -> StateFile:
        return StateFile(self.state_path, registered_types)

    def _plan(self, aws: Aws, state_file: StateFile, state: State, desired: dict[str, Resource], read: bool,
              preflight: bool = True, resolve: bool = True) -> tuple[Plan, Snapshot]:
        """The plan from the lockfile (and AWS when ``read``). ``preflight``: when the plan changes
        something, check the input only AWS can judge (a hosted zone exists; reads, ConfigError) -- of
        every construct, or with ``read=False`` (the lockfile trusted) only of the constructs the plan
        changes, so that a trusted no-read deploy of a code change reads nothing. ``resolve=False``: leave
        interrupted creates unresolved (they plan as creates): for a diff that sends no request."""
        account = state.account or (aws.account_id if read else UNKNOWN)
        if account is not UNKNOWN:
            aws.account_id = account
        pseudo = {"region": aws.region, "account_id": account}
        stale = read and state_file.older_than_backup(state)
        plan, snapshot = survey(aws, state, desired, pseudo, read=read, app=self.name, stage=self.stage,
                                suspect_stale=stale, resolve=resolve)
        if plan.changes and preflight:  # input only AWS can judge: ConfigError before any write
            constructs = self.constructs
            if not read:  # a construct's resources are addressed "{construct_id}/..."
                changed = {c.address.split("/", 1)[0] for c in plan.changes}
                constructs = [c for c in constructs if c.construct_id in changed]
            run_preflight(constructs, aws)
        return plan, snapshot

    def diff(self, refresh: bool = True) -> Plan:
        """What ``deploy`` would do. Reads the lockfile (and AWS unless ``refresh=False``); writes nothing.

        ``refresh=False`` sends no request at all (not even the custom domains' hosted-zone checks) and
        needs no credentials; otherwise no credentials is a ConfigError naming the fixes."""
        desired = self.resources()
        state_file = self._state_file()
        state = state_file.load(app=self.name, stage=self.stage, region=self.region)
        aws = self.aws()
        if refresh:
            aws.require_credentials()
        with aws.shared_reads():  # the guard's listings serve the lookups before creates too
            if refresh and not state_file.exists():  # what deploy would do: stop (a lost lockfile)
                refuse_unrecorded(aws, self.name, self.stage, desired, state_file.path)
            plan, _ = self._plan(aws, state_file, state, desired, refresh, preflight=refresh, resolve=refresh)
        return plan

    def deploy(self, refresh: bool = True, *, on_event: EventHook | None = None,
               on_retry: Callable[[str, str, int], None] | None = None,
               on_plan: Callable[[Plan], None] | None = None, force: bool = False) -> DeployResult:
        """Reconcile AWS to the declared constructs; see API.md. Returns a DeployResult.

        A change that would delete or replace something its provider protects (a user pool that has
        users) stops the deploy before any write, unless ``force``.

        ``on_plan(plan)`` is called with the plan before anything is changed; ``on_event`` and
        ``on_retry`` report progress (see :class:`sstdirect.progress.Progress`).
        """
        started = time.monotonic()
        aws = self.aws(on_retry)
        # Build the clients (no request) in the background while the app is expanded and bundled and
        # refresh reads, Lambda's first: its pages are the longest chain of reads, and its first page
        # goes out while the other clients are still being built. Joined before deploy() returns, so no
        # thread of ours uses the (not thread-safe) boto3 Session afterwards.
        with aws.prewarm(PREWARM if refresh else ()):
            plan, outputs, all_outputs = self._deploy(aws, refresh, on_event, on_plan, force)
        self._deployed_outputs = all_outputs
        return DeployResult(outputs=outputs, changes=plan.changes, api_calls=aws.calls,
                            duration_s=time.monotonic() - started, retries=aws.retries, plan=plan)

    def _deploy(self, aws: Aws, refresh: bool, on_event: EventHook | None, on_plan: Callable[[Plan], None] | None,
                force: bool) -> tuple[Plan, dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        desired = self.resources()  # every ConfigError is raised here, before any AWS call
        aws.require_credentials()  # ... and no credentials too: before the lock, before any write
        state_file = self._state_file()
        with state_file.lock("deploy"):
            state = state_file.load(app=self.name, stage=self.stage, region=self.region)
            with aws.shared_reads():  # the guard's listings serve the lookups before creates too
                if not state_file.exists():  # a lost lockfile must not make everything a second time
                    refuse_unrecorded(aws, self.name, self.stage, desired, state_file.path)
                plan, snapshot = self._plan(aws, state_file, state, desired, refresh)
            if on_plan is not None:
                on_plan(plan)
            doomed = [state.resources[c.address] for c in plan.changes
                      if c.action in (Action.DELETE, Action.REPLACE) and not c.deposed and c.address in state.resources]
            _refuse_deletions(aws, doomed, force, "deploy")
            if snapshot.adopted or snapshot.dropped or snapshot.attrs or snapshot.strays:
                with state.lock:
                    state.resources.update(snapshot.adopted)
                    state.resources.update(snapshot.strays)
                    for address in snapshot.dropped:
                        state.resources.pop(address, None)
                    for address, attrs in snapshot.attrs.items():
                        if address in state.resources:
                            state.resources[address].attrs.update(attrs)
                state_file.save(state)
            unsaved = False  # the executor saved every step it made; what changes after it is saved once
            if plan.changes:
                Executor(aws, state_file, state, desired, plan, on_event=on_event).run()
                if state.account is None:
                    state.account = aws.account_id
                    unsaved = True
            if _migrate_secrets(state, desired, aws):
                state_file.save(state)
                state_file.save(state)  # twice: the .bak must not keep the unsalted hashes either
            all_outputs, outputs = self._collect_outputs(state)
            if outputs != state.outputs or unsaved:
                state.outputs = outputs
                state_file.save(state)
        return plan, outputs, all_outputs

    def _collect_outputs(self, state: State) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
        """Every construct's outputs, and those the lockfile records (a route's own function is reached
        through its Api, not listed itself), from ``state``'s attributes."""
        def attr(address: str, name: str) -> Any:
            rec = state.resources.get(address)
            return rec.attrs.get(name) if rec else None

        return collect_outputs(self.constructs, attr)

    def remove(self, force: bool = False, *, on_event: EventHook | None = None) -> RemoveResult:
        """Delete everything the lockfile records for this app and stage (reverse dependency order).

        Resources that must not be deleted lightly (a user pool that has users) stop the removal
        before anything is deleted, unless ``force``. With no lockfile nothing is recorded: the result's
        ``recorded`` is False and nothing is done. No credentials is a ConfigError before any write.
        """
        return _remove(self._state_file(), self.aws(), app=self.name, stage=self.stage, region=self.region,
                       force=force, on_event=on_event)

    def rebuild_state(self, force: bool = False) -> RebuildResult:
        """Rebuild a lost lockfile from AWS (reads only); see :mod:`sstdirect.engine.rebuild`.

        Each declared resource is looked up as an interrupted create would be (tags, deterministic
        names) and recorded; tagged extra copies are recorded for the next deploy to delete. An
        existing lockfile is a StateError unless ``force`` (then it is kept as ``<lockfile>.bak``).
        """
        desired = self.resources()
        state_file = self._state_file()
        aws = self.aws()
        aws.require_credentials()
        with state_file.lock("rebuild"):
            if state_file.exists() and not force:
                raise StateError(f"lockfile {state_file.path} exists; `state rebuild` replaces a lost lockfile only. "
                                 f"Pass --force (Python: force=True) to rebuild it anyway (the old one is kept as "
                                 f"{state_file.bak_path}).")
            result = rebuild(aws, self.name, self.stage, self.region, desired)
            _, result.state.outputs = self._collect_outputs(result.state)
            state_file.save(result.state)
        return result

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        """The outputs recorded in the lockfile (never secrets)."""
        state_file = self._state_file()
        if not state_file.exists():
            return {}
        return state_file.load(app=self.name, stage=self.stage, region=self.region).outputs


def _check_app_types(name: str, *, region: Any, profile: Any, endpoint_url: Any, session: Any, root: Any,
                     state: Any) -> None:
    """ConfigError naming the option and the fix for an App option of the wrong type (before any use)."""
    for key, value in (("region", region), ("profile", profile), ("endpoint_url", endpoint_url)):
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"App {name!r}: {key} must be a string or None, got {type(value).__name__} {value!r}")
    for key, value in (("root", root), ("state", state)):
        if value is not None and not isinstance(value, str | os.PathLike):
            raise ConfigError(f"App {name!r}: {key} must be a path (a string or a pathlib.Path), "
                              f"got {type(value).__name__} {value!r}")
    if session is not None and not isinstance(session, boto3.Session):
        raise ConfigError(f"App {name!r}: session must be a boto3.Session or None, got {type(session).__name__}")
    if isinstance(endpoint_url, str) and endpoint_url and not endpoint_url.startswith(("http://", "https://")):
        raise ConfigError(f"App {name!r}: endpoint_url {endpoint_url!r} must start with http:// or https://")


def _remove(state_file: StateFile, aws: Aws, *, app: str | None, stage: str | None,
            region: str | None, force: bool = False, on_event: EventHook | None = None) -> RemoveResult:
    started = time.monotonic()
    if not state_file.exists():  # nothing recorded: no request, no credentials needed, no file made
        if not state_file.lock_path.exists():
            return RemoveResult([], aws.calls, time.monotonic() - started, aws.retries, recorded=False)
        with state_file.lock("remove"):  # a first deploy may be about to write it: StateLockedError if so
            if not state_file.exists():
                return RemoveResult([], aws.calls, time.monotonic() - started, aws.retries, recorded=False)
    aws.require_credentials()  # before the lock, before any write
    with state_file.lock("remove"):
        if not state_file.exists():  # another remove finished first
            return RemoveResult([], aws.calls, time.monotonic() - started, aws.retries, recorded=False)
        state = state_file.load(app=app, stage=stage, region=region)
        if state.account:
            aws.account_id = state.account
        snapshot = refresh(aws, state, read=False)
        with state.lock:
            state.resources.update(snapshot.adopted)
            for address in snapshot.dropped:
                state.resources.pop(address, None)
        if state_file.older_than_backup(state):  # put back from an older copy: what it does not record goes too
            with aws.shared_reads():
                state.resources.update(find_orphans(aws, state.resources, {}, app=state.app, stage=state.stage))
        plan = make_plan({}, state.resources, None, {"region": aws.region, "account_id": state.account},
                         app=state.app, stage=state.stage)
        _refuse_deletions(aws, [*state.resources.values()], force, "remove")
        if plan.changes:
            Executor(aws, state_file, state, {}, plan, on_event=on_event).run()
        state_file.delete()
    return RemoveResult(plan.changes, aws.calls, time.monotonic() - started, aws.retries)


def _migrate_secrets(state: State, desired: dict[str, Resource], aws: Aws) -> list[str]:
    """Rewrite legacy unsalted secret hashes of unchanged resources in the salted form (no AWS call)."""
    lookup = record_lookup(state.resources, {"account_id": state.account or UNKNOWN, "region": aws.region})

    def resolved(address: str) -> Any:
        if address not in desired:
            return None
        props = resolve(desired[address].props, lookup)
        return None if contains_unknown(props) else props

    with state.lock:
        return migrate_legacy_secrets(state.resources, resolved, provider_for, state.secret_salt)


def _refuse_deletions(aws: Aws, records: list[Record], force: bool, operation: str) -> None:
    """Stop before anything is deleted if a provider refuses to delete one of ``records`` (unless forced)."""
    refusals = [(rec.address, reason) for rec in records
                if (reason := provider_for(rec.type).check_remove(aws, rec, force))]
    if refusals:
        raise DeployError(f"{operation} stopped before deleting anything: " + "; ".join(r for _, r in refusals),
                          address=refusals[0][0], operation=operation, code="DeletionRefused")


def remove_from_state(path: str | os.PathLike[str], *, profile: str | None = None,
                      endpoint_url: str | None = None, session: boto3.Session | None = None,
                      force: bool = False, on_event: EventHook | None = None) -> RemoveResult:
    """Tear down everything a lockfile records, with no app code (the teardown-utility use)."""
    state_file = StateFile(path, registered_types)
    state = state_file.load()
    aws = Aws(region=state.region, profile=profile, endpoint_url=endpoint_url, session=session)
    return _remove(state_file, aws, app=None, stage=None, region=None, force=force, on_event=on_event)

