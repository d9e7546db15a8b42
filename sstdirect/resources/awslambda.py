"""Lambda functions (``lambda.Function``) and their resource-policy statements (``lambda.Permission``)."""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from ..aws import Aws, error_code, is_not_found
from ..engine.resource import ATTRS_KEY, IDENTITY_TAGS, Created, Owned, Provider, Stray, register, tagged_for
from ..engine.values import FrozenDict
from ..naming import name_prefix
from ..state import Record
from .common import gone_is_fine, plain

# Every statement id sstdirect writes starts so: an unrecorded one on a recorded function is a stray.
STATEMENT_PREFIX = "sstdirect-"

CONFIG_FIELDS = {
    "role_arn": "Role",
    "handler": "Handler",
    "runtime": "Runtime",
    "memory_size": "MemorySize",
    "timeout": "Timeout",
}


def _config_params(props: FrozenDict) -> dict[str, Any]:
    params = {api: props[field] for field, api in CONFIG_FIELDS.items()}
    params["Environment"] = {"Variables": plain(props["environment"])}
    return params


@register
class FunctionProvider(Provider):
    """props: ``name``, ``role_arn``, ``handler``, ``runtime``, ``memory_size``, ``timeout``,
    ``environment`` (secret: only its hash is recorded), ``architecture``, ``code_sha256`` (base64, as
    Lambda reports it), ``code_path`` (transient: the zip to upload), ``tags``.
    attrs: ``arn``, ``name``, ``revision_id`` (after sstdirect's last write: see :meth:`strays`).

    Code is uploaded only when ``code_sha256`` changes; every create/update waits for the function
    to be ready with botocore's waiters.
    """

    type = "lambda.Function"
    read_priority = 1  # ListFunctions pages, one after another
    replace_on = frozenset({"name"})
    secret_fields = frozenset({"environment"})
    transient_fields = frozenset({"code_path"})

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        try:
            fn = aws.call(
                "lambda", "create_function",
                FunctionName=props["name"],
                Code={"ZipFile": Path(props["code_path"]).read_bytes()},
                Architectures=[props["architecture"]],
                PackageType="Zip",
                Tags=plain(props["tags"]),
                **_config_params(props),
            )
        except Exception as exc:
            if error_code(exc) != "ResourceConflictException" or not self._ours(aws, props):
                raise
            return self._adopt(aws, props)
        if fn.get("State") != "Active":  # AWS answers Pending; an endpoint that answers Active needs no wait
            aws.wait("lambda", "function_active_v2", FunctionName=props["name"], delay=1, max_attempts=300)
        return Created(props["name"], {"arn": fn["FunctionArn"], "name": props["name"],
                                       "revision_id": fn.get("RevisionId")})

    def _ours(self, aws: Aws, props: FrozenDict) -> bool:
        """Whether the function already under this name carries this resource's sstdirect tags."""
        try:
            tags = aws.call("lambda", "get_function", FunctionName=props["name"]).get("Tags") or {}
        except Exception as exc:
            if is_not_found(exc):
                return False
            raise
        return all(tags.get(key) == props["tags"].get(key) for key in IDENTITY_TAGS)

    def _adopt(self, aws: Aws, props: FrozenDict) -> Created:
        """This resource's function exists already: made by a create that a crash left unrecorded and
        that was still in flight when the next deploy looked for it (``find``). Adopt it, made as asked."""
        name = props["name"]
        aws.wait("lambda", "function_active_v2", FunctionName=name, delay=1, max_attempts=300)
        fn = aws.call("lambda", "get_function_configuration", FunctionName=name)
        changed = frozenset(k for k, v in _observed(fn).items() if k != "name" and props.get(k) != v)
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
        name = record.physical_id
        attrs: dict[str, Any] = {}
        if changed & {"code_sha256", "architecture"}:
            fn = aws.call("lambda", "update_function_code", FunctionName=name,
                          ZipFile=Path(props["code_path"]).read_bytes(), Architectures=[props["architecture"]])
            _wait_updated(aws, name, fn)
            attrs["revision_id"] = fn.get("RevisionId")
        if changed & {*CONFIG_FIELDS, "environment"}:
            fn = aws.call("lambda", "update_function_configuration", FunctionName=name, **_config_params(props))
            _wait_updated(aws, name, fn)
            attrs["revision_id"] = fn.get("RevisionId")
        if "tags" in changed:
            arn = record.attrs.get("arn")
            aws.call("lambda", "tag_resource", Resource=arn, Tags=plain(props["tags"]))
        return attrs

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call("lambda", "delete_function", FunctionName=record.physical_id)

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        rec = Record(self.type, "", physical_id=props["name"])
        try:
            fn = aws.call("lambda", "get_function_configuration", FunctionName=rec.physical_id)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise
        return Created(props["name"], {"arn": fn["FunctionArn"], "name": props["name"]})

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
            try:
                tags = aws.call("lambda", "list_tags", Resource=fn["FunctionArn"]).get("Tags") or {}
            except Exception as exc:
                if is_not_found(exc):
                    continue
                raise
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

    def read() -> dict[str, Any] | None:
        try:
            return aws.call("lambda", "get_function_configuration", FunctionName=name)
        except Exception as exc:
            if is_not_found(exc):
                return None
            raise

    return aws.shared(f"lambda.GetFunctionConfiguration:{name}", read)


def policy(aws: Aws, function: str) -> tuple[dict[str, dict[str, Any]], str | None]:
    """The function's statements by id and the policy's revision id (``{}`` if it has none): one GetPolicy,
    shared inside :meth:`Aws.shared_reads` (the permissions' refresh and the strays read it)."""

    def read() -> tuple[dict[str, dict[str, Any]], str | None]:
        try:
            response = aws.call("lambda", "get_policy", FunctionName=function)
        except Exception as exc:
            if is_not_found(exc):
                return {}, None
            raise
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


@register
class PermissionProvider(Provider):
    """props: ``function_name``, ``statement_id``, ``principal``, ``source_arn``, ``action``.

    Lambda has no update for a statement: any change replaces it (delete first: the id is unique).
    """

    type = "lambda.Permission"
    deleted_with = "lambda.Function"
    replace_on = frozenset({"function_name", "statement_id", "principal", "source_arn", "action"})
    replace_mode = "delete_first"

    def create(self, aws: Aws, props: FrozenDict) -> Created:
        aws.call("lambda", "add_permission", FunctionName=props["function_name"],
                 StatementId=props["statement_id"], Action=props["action"],
                 Principal=props["principal"], SourceArn=props["source_arn"])
        attrs = {"statement_id": props["statement_id"]}
        # The function's revision with this statement in place: while ListFunctions reports the same
        # revision, the policy is unchanged and refresh need not read it (see read_many).
        statements, revision = policy(aws, props["function_name"])
        if _matches(props, _observed_statement(props["function_name"], statements.get(props["statement_id"]))):
            attrs["revision_id"] = revision
        return Created(f"{props['function_name']}:{props['statement_id']}", attrs)

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

    def read(self, aws: Aws, record: Record) -> dict[str, Any] | None:
        return self.read_many(aws, {record.address: record})[record.address]

    def update(self, aws: Aws, record: Record, props: FrozenDict, changed: frozenset[str]) -> dict[str, Any]:
        raise AssertionError("lambda.Permission is replaced, never updated")

    def delete(self, aws: Aws, record: Record) -> None:
        with gone_is_fine():
            aws.call("lambda", "remove_permission", FunctionName=record.props["function_name"],
                     StatementId=record.props["statement_id"])

    def find(self, aws: Aws, props: FrozenDict, exclude: frozenset[str] = frozenset()) -> Created | None:
        statements = self._statements(aws, props["function_name"])
        if props["statement_id"] not in statements:
            return None
        return Created(f"{props['function_name']}:{props['statement_id']}",
                       {"statement_id": props["statement_id"]})


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
