"""Lambda functions (``lambda.Function``) and their resource-policy statements (``lambda.Permission``)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

from ..aws import Aws, error_code
from ..engine.plan import ReplaceOrder
from ..engine.resource import ATTRS_KEY, IDENTITY_TAGS, Created, Owned, Provider, Stray, tagged_for
from ..engine.spec import Spec, Text, resource_spec
from ..engine.values import FrozenDict
from ..naming import name_prefix
from ..state import Record
from .common import plain

# Every statement id sstdirect writes starts so: an unrecorded one on a recorded function is a stray.
STATEMENT_PREFIX = "sstdirect-"

CONFIG_FIELDS = {
    "role_arn": "Role",
    "handler": "Handler",
    "runtime": "Runtime",
    "memory_size": "MemorySize",
    "timeout": "Timeout",
}


@resource_spec("lambda.Function")
class FunctionSpec(Spec):
    name: str
    role_arn: Text
    handler: str
    runtime: str
    memory_size: int
    timeout: int
    environment: Mapping[str, Text] | None  # secret: only its hash is recorded
    architecture: Literal["x86_64", "arm64"]
    code_sha256: str  # base64, as Lambda reports it
    code_path: str  # transient: the zip to upload
    tags: Mapping[str, str]


def _config_params(function: FunctionSpec) -> dict[str, Any]:
    params = {api: getattr(function, field) for field, api in CONFIG_FIELDS.items()}
    params["Environment"] = {"Variables": plain(function.environment)}
    return params


class FunctionProvider(Provider):
    """A :class:`FunctionSpec`. attrs: ``arn``, ``name``, ``revision_id`` (after sstdirect's last write: see
    :meth:`strays`).

    Code is uploaded only when ``code_sha256`` changes; every create/update waits for the function
    to be ready with botocore's waiters.
    """

    spec = FunctionSpec
    read_priority = 1  # ListFunctions pages, one after another
    replace_on = frozenset({"name"})
    secret_fields = frozenset({"environment"})
    transient_fields = frozenset({"code_path"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        function = FunctionSpec.from_props(props)
        try:
            fn = aws.call(
                "lambda", "create_function",
                FunctionName=function.name,
                Code={"ZipFile": Path(function.code_path).read_bytes()},
                Architectures=[function.architecture],
                PackageType="Zip",
                Tags=plain(function.tags),
                **_config_params(function),
            )
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException" or not self._ours(aws, function):
                raise
            return self._adopt(aws, function, props)
        if fn.get("State") != "Active":  # AWS answers Pending; an endpoint that answers Active needs no wait
            aws.wait("lambda", "function_active_v2", FunctionName=function.name, delay=1, max_attempts=300)
        return Created(function.name, {"arn": fn["FunctionArn"], "name": function.name,
                                       "revision_id": fn.get("RevisionId")})

    def _ours(self, aws: Aws, function: FunctionSpec) -> bool:
        """Whether the function already under this name carries this resource's sstdirect tags."""
        found = aws.get_or_none("lambda", "get_function", FunctionName=function.name)
        if found is None:
            return False
        tags = found.get("Tags") or {}
        return all(tags.get(key) == function.tags.get(key) for key in IDENTITY_TAGS)

    def _adopt(self, aws: Aws, function: FunctionSpec, props: FrozenDict) -> Created:
        """This resource's function exists already: made by a create that a crash left unrecorded and
        that was still in flight when the next deploy looked for it (``find``). Adopt it, made as asked."""
        name = function.name
        aws.wait("lambda", "function_active_v2", FunctionName=name, delay=1, max_attempts=300)
        fn = aws.call("lambda", "get_function_configuration", FunctionName=name)
        changed = frozenset(k for k, v in _observed(fn).items() if k != "name" and getattr(function, k) != v)
        self.update(aws, Record(self.type, "", physical_id=name, attrs={"arn": fn["FunctionArn"]}), props, changed)
        return Created(name, {"arn": fn["FunctionArn"], "name": name})

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        """One paginated ListFunctions for the lot (a few calls, whatever the number of functions)."""
        if len(records) == 1:
            return super().read_many(aws, records)
        wanted = {rec.physical_id: address for address, rec in records.items()}
        out: dict[str, dict[str, Any] | None] = dict.fromkeys(records)
        for fn in list_functions(aws).values():
            address = wanted.get(fn["FunctionName"])
            if address is not None:
                out[address] = _observed(fn)
        return out

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        fn = function_configuration(aws, record.physical_id or "", listed=False)
        return None if fn is None else _observed(fn)

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        name, function = record.physical_id, FunctionSpec.from_props(props)
        attrs: dict[str, Any] = {}
        if changed & {"code_sha256", "architecture"}:
            fn = aws.call("lambda", "update_function_code", FunctionName=name,
                          ZipFile=Path(function.code_path).read_bytes(), Architectures=[function.architecture])
            _wait_updated(aws, name, fn)
            attrs["revision_id"] = fn.get("RevisionId")
        if changed & {*CONFIG_FIELDS, "environment"}:
            fn = aws.call("lambda", "update_function_configuration", FunctionName=name, **_config_params(function))
            _wait_updated(aws, name, fn)
            attrs["revision_id"] = fn.get("RevisionId")
        if "tags" in changed:
            arn = record.attrs.get("arn")
            aws.call("lambda", "tag_resource", Resource=arn, Tags=plain(function.tags))
        return attrs

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists("lambda", "delete_function", FunctionName=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        name = FunctionSpec.from_record(props).name
        fn = aws.get_or_none("lambda", "get_function_configuration", FunctionName=name)
        if fn is None:
            return None
        return Created(name, {"arn": fn["FunctionArn"], "name": name})

    def strays(self, aws: Aws, record: Record, claimed: frozenset[str],
               records: Mapping[str, Record]) -> list[Stray]:
        """The statements of this function's policy with sstdirect's prefix that no record claims.

        Lambda gives a function a new revision id on every change, its policy's included. The policy is
        read (one GetPolicy, shared with the permissions' refresh) only when the function's revision (from
        :func:`function_configuration`, as refresh read it) is none that sstdirect recorded after its own
        writes -- the function's create or update, or one of its statements' -- so an untouched function
        costs no request."""
        name = record.physical_id or ""
        known = {record.attrs.get("revision_id")} | {
            rec.attrs.get("revision_id") for rec in records.values()
            if rec.type == PermissionProvider.type and rec.props.get("function_name") == name}
        listed = sum(1 for rec in records.values() if rec.type == self.type) > 1  # as refresh read them
        current = function_configuration(aws, name, listed=listed)
        if current is None or current.get("RevisionId") in known - {None}:
            return []
        statements, _ = policy(aws, name)
        return [Stray(PermissionProvider.type, f"{name}:{sid}", {"function_name": name, "statement_id": sid},
                      f"permission/{sid}")
                for sid in sorted(s for s in statements if isinstance(s, str))
                if sid.startswith(STATEMENT_PREFIX) and f"{name}:{sid}" not in claimed]

    def owned(self, aws: Aws, app: str, stage: str, skip: frozenset[str] = frozenset()) -> list[Owned]:
        """The shared ListFunctions (which has no tags), then the tags of each function named like this app's."""
        prefix = name_prefix(stage, app)
        out = []
        for fn in list_functions(aws).values():
            if not fn["FunctionName"].startswith(prefix) or fn["FunctionName"] in skip:
                continue
            # a function gone since the listing has no tags
            tags = (aws.get_or_none("lambda", "list_tags", Resource=fn["FunctionArn"]) or {}).get("Tags") or {}
            if tagged_for(tags, app, stage):
                out.append(Owned(tags.get("sstdirect:id", ""), fn["FunctionName"]))
        return out


def _wait_updated(aws: Aws, name: str, response: Mapping[str, Any]) -> None:
    """Wait for an update to finish, unless its response already says it has (AWS answers InProgress)."""
    if response.get("LastUpdateStatus") != "Successful":
        aws.wait("lambda", "function_updated_v2", FunctionName=name, delay=1, max_attempts=300)


def list_functions(aws: Aws) -> dict[str, dict[str, Any]]:
    """Every function's configuration by name: one paginated ``ListFunctions`` (50 a page, Lambda's
    maximum), made once per refresh and shared by the function and permission reads."""
    return aws.shared("lambda.ListFunctions", lambda: {
        fn["FunctionName"]: fn for fn in aws.paginate("lambda", "list_functions", "Functions")})


def function_configuration(aws: Aws, name: str, *, listed: bool) -> dict[str, Any] | None:
    """The function's configuration (None if there is none): from the shared ListFunctions when ``listed``
    (several functions are read), else from one GetFunctionConfiguration, shared inside
    :meth:`Aws.shared_reads` too (the function's refresh, its permissions' and its strays' use it)."""
    if listed:
        return list_functions(aws).get(name)

    return aws.shared(f"lambda.GetFunctionConfiguration:{name}",
                      lambda: aws.get_or_none("lambda", "get_function_configuration", FunctionName=name))


def policy(aws: Aws, function: str) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The function's statements by id and the policy's revision id (``{}`` if it has none): one GetPolicy,
    shared inside :meth:`Aws.shared_reads` (the permissions' refresh and the strays read it)."""

    def read() -> tuple[dict[str, dict[str, Any]], str | None]:
        response = aws.get_or_none("lambda", "get_policy", FunctionName=function)
        if response is None:
            return {}, None
        statements = {s.get("Sid"): s for s in json.loads(response["Policy"]).get("Statement", [])}
        return statements, response.get("RevisionId")

    return aws.shared(f"lambda.GetPolicy:{function}", read)


def _observed(fn: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "name": fn["FunctionName"],
        "role_arn": fn.get("Role"),
        "handler": fn.get("Handler"),
        "runtime": fn.get("Runtime"),
        "memory_size": fn.get("MemorySize"),
        "timeout": fn.get("Timeout"),
        "environment": (fn.get("Environment") or {}).get("Variables") or {},
        "architecture": (fn.get("Architectures") or ["x86_64"])[0],
        "code_sha256": fn.get("CodeSha256"),
    }


@resource_spec("lambda.Permission")
class PermissionSpec(Spec):
    """One statement of a function's resource policy: ``principal`` may ``action`` it from ``source_arn``."""

    function_name: Text
    statement_id: str
    principal: str
    action: str = "lambda:InvokeFunction"
    source_arn: Text


class PermissionProvider(Provider):
    """A :class:`PermissionSpec`.

    Lambda has no update for a statement: any change replaces it (delete first: the id is unique).
    """

    spec = PermissionSpec
    deleted_with = "lambda.Function"
    replace_on = frozenset({"function_name", "statement_id", "principal", "source_arn", "action"})
    replace_order = ReplaceOrder.DELETE_FIRST

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        statement = PermissionSpec.from_props(props)
        function, sid = statement.function_name, statement.statement_id
        aws.call("lambda", "add_permission", FunctionName=function, StatementId=sid, Action=statement.action,
                 Principal=statement.principal, SourceArn=statement.source_arn)
        attrs = {"statement_id": sid}
        # The function's revision with this statement in place: while ListFunctions reports the same
        # revision, the policy is unchanged and refresh need not read it (see read_many).
        statements, revision = policy(aws, function)
        if _matches(props, _observed_statement(function, statements.get(sid))):
            attrs["revision_id"] = revision
        return Created(f"{function}:{sid}", attrs)

    def _statements(self, aws: Aws, function: str) -> dict[str, dict[str, Any]]:
        return policy(aws, function)[0]

    def read_many(self, aws: Aws, records: Mapping[str, Record]) -> dict[str, dict[str, Any] | None]:
        """At most one GetPolicy per function, however many statements it has, and none for a
        function whose revision id (:func:`function_configuration`: the shared ListFunctions when
        permissions of several functions are read) is still the one every one of its records saw after its last write:
        Lambda changes the revision id on every AddPermission/RemovePermission (and code or
        configuration change), so an unchanged id proves the policy unchanged. A policy read that
        matches a record stores the revision it was read at (``ATTRS_KEY``)."""
        by_function: dict[str, dict[str, Record]] = defaultdict(dict)
        for address, rec in records.items():
            by_function[rec.props.get("function_name", "")][address] = rec
        listed = len(by_function) > 1
        out: dict[str, dict[str, Any] | None] = {}
        to_read: list[str] = []
        for function, recs in by_function.items():
            fn = function_configuration(aws, function, listed=listed)
            if fn is None:  # the function is gone, and its policy
                out.update(dict.fromkeys(recs))
                continue
            revision = fn.get("RevisionId")
            if revision and all(rec.attrs.get("revision_id") == revision for rec in recs.values()):
                out.update({address: _recorded_statement(rec) for address, rec in recs.items()})
            else:
                to_read.append(function)
        with ThreadPoolExecutor(max_workers=max(1, min(16, len(to_read)))) as pool:
            policies = dict(zip(to_read, pool.map(lambda function: policy(aws, function), to_read), strict=True))
        for function, (statements, revision) in policies.items():
            for address, rec in by_function[function].items():
                observed = _observed_statement(function, statements.get(rec.props.get("statement_id")))
                if observed is not None and revision and _matches(rec.props, observed):
                    observed[ATTRS_KEY] = {"revision_id": revision}
                out[address] = observed
        return out

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        raise AssertionError("lambda.Permission is replaced, never updated")

    def delete(self, aws: Aws, record: Record) -> None:
        aws.delete_if_exists("lambda", "remove_permission", FunctionName=record.props["function_name"],
                             StatementId=record.props["statement_id"])

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        statement = PermissionSpec.from_record(props)
        function, sid = statement.function_name, statement.statement_id
        if sid not in self._statements(aws, function):
            return None
        return Created(f"{function}:{sid}", {"statement_id": sid})


STATEMENT_FIELDS = ("function_name", "statement_id", "principal", "action", "source_arn")


def _recorded_statement(rec: Record) -> dict[str, Any]:
    return {key: rec.props.get(key) for key in STATEMENT_FIELDS}


def _matches(props: Mapping[str, Any], observed: Mapping[str, Any] | None) -> bool:
    """Whether the observed statement is exactly the one ``props`` (desired or recorded) describe."""
    return observed is not None and all(props.get(key) == observed.get(key) for key in STATEMENT_FIELDS)


def _observed_statement(function: str, st: Mapping[str, Any] | None) -> dict[str, Any] | None:
    if st is None:
        return None
    principal = st.get("Principal")
    if isinstance(principal, Mapping):
        principal = principal.get("Service", principal)
    action = st.get("Action")
    condition = st.get("Condition") or {}
    source_arn = (condition.get("ArnLike") or {}).get("AWS:SourceArn")
    return {"function_name": function, "statement_id": st.get("Sid"), "principal": principal,
            "action": action, "source_arn": source_arn}
