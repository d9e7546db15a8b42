""":class:`AppSyncGateway`: one deployed AppSync API's ``POST /graphql``, pure given an ``invoke`` callable
and an :class:`~.appsync_auth.Authenticator` (SEMANTICS.md §7).

``handle(request)`` authorizes the caller (401 ``UnauthorizedException`` otherwise, §7.3), parses the
GraphQL request, validates it against the deployed schema (graphql-core), and executes it. Each field
with a deployed resolver runs it:

* a Lambda data source without a request mapping template is a **direct Lambda resolver**: the function
  gets AppSync's context (``arguments``, ``identity``, ``source``, ``request``, ``info``, ``prev``,
  ``stash``, §7.1) and its return value is the field's value; an exception is a GraphQL error with the
  exception's class as ``errorType`` (``UnauthorizedException`` gets AppSync's default message) and HTTP
  200 (§7.2);
* mapping templates render with :mod:`.vtl`: a Lambda request template's ``payload`` is what the
  function gets (``operation: Invoke``); a ``NONE`` data source returns the template's ``payload``;
  ``$util.error`` is a field error; ``$ctx.error.type`` of a Lambda error is ``Lambda:Unhandled``; a
  DynamoDB data source runs the template's operation on the embedded DynamoDB (:mod:`.appsync_dynamodb`);
  a data source error reaches the response template as ``$ctx.error`` (``2018-05-29``) or is raised at
  once (``2017-02-28``, or without a response template);
* ``PIPELINE`` resolvers run their before template, each function in order (``$ctx.prev.result``,
  one ``$ctx.stash``) and their after template.

Fields without a resolver take the parent's property of the same name. Per-field authorization
directives (``@aws_api_key``, ``@aws_iam``, ``@aws_oidc``, ``@aws_lambda``, ``@aws_cognito_user_pools``
with ``cognito_groups``, ``@aws_auth``) apply as AppSync documents: a field or its type lists the modes
allowed; with none, only the default mode is. An ``AWS_IAM`` caller also needs its own policies to allow
``appsync:GraphQL`` on the field's ARN (INFERRED: refused per field, as the directives are; the embedded
AWS's own key pair is unrestricted). A refused field is ``null`` with an ``Unauthorized`` error.

What the local AppSync cannot run — ``APPSYNC_JS`` resolvers, data sources other than Lambda, ``NONE``
and DynamoDB, ``BatchInvoke`` templates, DynamoDB batch / transaction / ``Sync`` operations, unsupported
``$util`` helpers, subscriptions — is a GraphQL error naming the resolver, never a silently wrong answer.
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationType,
    build_schema,
    default_field_resolver,
    execute,
    get_named_type,
    get_operation_ast,
    parse,
    print_ast,
    validate,
)
from graphql.language import ast as g

from . import appsync_dynamodb, auth_policy, vtl
from .appsync_auth import GRAPHQL_ACTION, Authenticator, Principal, Unauthorized
from .deployed import Invoke
from .messages import HttpRequest, HttpResponse
from .vtl import ResolverError

_log = logging.getLogger("sstdirect.local.appsync")
RESOLVER_TIMEOUT_S = 30.0  # AppSync's request execution limit
UNAUTHORIZED_LAMBDA_MESSAGE = "You are not authorized to make this call."
AUTH_DIRECTIVES = {"aws_api_key": "API_KEY", "aws_iam": "AWS_IAM", "aws_oidc": "OPENID_CONNECT",
                   "aws_lambda": "AWS_LAMBDA", "aws_cognito_user_pools": "AMAZON_COGNITO_USER_POOLS",
                   "aws_auth": "AMAZON_COGNITO_USER_POOLS"}
# AppSync's own scalars and directives: added to a deployed SDL that does not define them.
AWS_PRELUDE = {
    **{name: f"scalar {name}" for name in ("AWSDate", "AWSTime", "AWSDateTime", "AWSTimestamp", "AWSEmail",
                                            "AWSJSON", "AWSURL", "AWSPhone", "AWSIPAddress")},
    "aws_subscribe": "directive @aws_subscribe(mutations: [String!]!) on FIELD_DEFINITION",
    "aws_auth": "directive @aws_auth(cognito_groups: [String!]!) on FIELD_DEFINITION",
    "aws_api_key": "directive @aws_api_key on FIELD_DEFINITION | OBJECT",
    "aws_iam": "directive @aws_iam on FIELD_DEFINITION | OBJECT",
    "aws_oidc": "directive @aws_oidc on FIELD_DEFINITION | OBJECT",
    "aws_lambda": "directive @aws_lambda on FIELD_DEFINITION | OBJECT",
    "aws_cognito_user_pools": "directive @aws_cognito_user_pools(cognito_groups: [String!]) on FIELD_DEFINITION "
                              "| OBJECT",
}


# --- the deployed configuration ----------------------------------------------------------------


@dataclass(frozen=True)
class DataSource:
    name: str
    type: str                          # AWS_LAMBDA | NONE | AMAZON_DYNAMODB | HTTP | ...
    function_name: str | None = None   # AWS_LAMBDA
    table: str | None = None           # AMAZON_DYNAMODB
    region: str | None = None          # AMAZON_DYNAMODB


@dataclass(frozen=True)
class Step:
    """A unit resolver or one pipeline function: a data source and its mapping templates."""

    label: str                         # "resolver Query.getNote", "function saveNote of resolver Mutation.x"
    data_source: str | None
    request_template: str | None = None
    response_template: str | None = None
    runtime: str | None = None         # "APPSYNC_JS" when it is a JavaScript resolver
    max_batch_size: int = 0


@dataclass(frozen=True)
class Resolver:
    type_name: str
    field_name: str
    kind: str = "UNIT"                 # UNIT | PIPELINE
    unit: Step | None = None
    functions: tuple[Step, ...] = ()   # PIPELINE: in order
    before_template: str | None = None
    after_template: str | None = None
    runtime: str | None = None

    @property
    def label(self) -> str:
        return f"resolver {self.type_name}.{self.field_name}"


@dataclass
class AppSyncConfig:
    api_id: str
    name: str
    region: str
    account_id: str
    sdl: str
    host: str                          # "{id}.appsync-api.{region}.amazonaws.com"
    data_sources: dict[str, DataSource] = field(default_factory=dict)
    resolvers: dict[tuple[str, str], Resolver] = field(default_factory=dict)


def prelude_for(sdl: str) -> str:
    """The SDL of AppSync's scalars and directives that ``sdl`` does not define itself."""
    defined = {d.name.value for d in parse(sdl).definitions
               if isinstance(d, g.TypeDefinitionNode | g.DirectiveDefinitionNode)}
    return "\n\n".join(text for name, text in AWS_PRELUDE.items() if name not in defined)


def build_appsync_schema(sdl: str) -> GraphQLSchema:
    """The deployed SDL as a graphql-core schema, with AppSync's scalars and directives where missing.
    ``AWSJSON`` values are sent as JSON text (a resolver may return any JSON value for them)."""
    schema = build_schema(sdl + "\n" + prelude_for(sdl), assume_valid_sdl=True)
    aws_json = schema.type_map.get("AWSJSON")
    if aws_json is not None:  # graphql-core 3.3 calls coerce_output_value, 3.2 serialize
        def to_text(value: Any) -> str:
            return value if isinstance(value, str) else json.dumps(value)

        aws_json.serialize = aws_json.coerce_output_value = to_text  # type: ignore[method-assign]
    return schema


# --- errors ------------------------------------------------------------------------------------


def _unsupported(label: str, what: str) -> ResolverError:
    return ResolverError(f"{label}: {what} is not supported by the local AppSync", "LocalAppSync:Unsupported")


def _error_json(error: GraphQLError) -> dict[str, Any]:
    """A GraphQL error as AppSync writes it (§7.2): resolver errors carry data/errorType/errorInfo."""
    locations = [{"line": loc.line, "column": loc.column, "sourceName": None} for loc in error.locations or ()]
    out: dict[str, Any] = {"path": error.path}
    original = error.original_error
    if isinstance(original, ResolverError):
        out.update(data=original.data, errorType=original.error_type, errorInfo=original.info)
    out.update(locations=locations or None, message=error.message)
    return out


# --- the gateway -------------------------------------------------------------------------------


@dataclass
class _Request:
    """Per request: the caller, the headers resolvers see, the variables, the ``$util.appendError``s."""

    principal: Principal
    headers: dict[str, Any]
    variables: dict[str, Any]
    extra_errors: list[dict[str, Any]] = field(default_factory=list)


class AppSyncGateway:
    """``handle(HttpRequest) -> HttpResponse`` for one deployed AppSync API."""

    def __init__(self, config: AppSyncConfig, invoke: Invoke, authenticator: Authenticator,
                 dynamodb: Callable[[str], Any] | None = None):
        self.config = config
        self.invoke = invoke
        self.auth = authenticator
        self.dynamodb = dynamodb  # region → a boto3 DynamoDB client of the embedded AWS
        self.schema = build_appsync_schema(config.sdl)
        self._allowed = _auth_rules(self.schema)

    # -- HTTP ---------------------------------------------------------------------------------

    def handle(self, request: HttpRequest) -> HttpResponse:
        request_id = str(uuid.uuid4())
        if request.method == "OPTIONS":  # INFERRED: AppSync answers browser preflights for any origin
            return self._response(200, None, request_id, [
                ("access-control-allow-methods", "GET,POST,OPTIONS"),
                ("access-control-allow-headers", request.header("access-control-request-headers") or "*"),
                ("access-control-max-age", "86400")])
        if request.raw_path != "/graphql":
            return self._response(404, {"errors": [{"errorType": "NotFoundException",
                                                    "message": f"No resource at {request.raw_path}"}]}, request_id)
        if request.method != "POST":  # INFERRED status: AppSync's GraphQL endpoint takes POST only
            return self._response(405, _malformed(f"{request.method} is not supported; POST the query"), request_id)
        headers = _headers(request, self.config.host)
        source_ips = [ip.strip() for ip in str(_first(headers.get("x-forwarded-for")) or "").split(",") if ip.strip()]
        try:
            body = json.loads(request.body or b"null")
        except ValueError:
            body = None
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return self._response(400, _malformed("Unable to parse GraphQL query."), request_id)
        try:
            principal = self.auth.authenticate(headers, source_ips, {**body, "requestId": request_id}, request)
        except Unauthorized as exc:
            return self._response(401, {"errors": [{"errorType": "UnauthorizedException", "message": exc.message}]},
                                  request_id)
        status, result = self.execute(body, principal, headers)
        return self._response(status, result, request_id)

    def _response(self, status: int, body: Any, request_id: str,
                  extra: list[tuple[str, str]] | None = None) -> HttpResponse:
        headers = [("content-type", "application/json; charset=UTF-8"), ("x-amzn-requestid", request_id),
                   ("access-control-allow-origin", "*"), *(extra or [])]
        return HttpResponse(status, headers, b"" if body is None else json.dumps(body).encode())

    # -- GraphQL ------------------------------------------------------------------------------

    def execute(self, body: dict[str, Any], principal: Principal,
                headers: dict[str, Any] | None = None) -> tuple[int, dict[str, Any]]:
        """Run one GraphQL request for an authorized caller: ``(HTTP status, response body)``."""
        variables = body.get("variables") or {}
        if isinstance(variables, str):  # some clients send the variables as a JSON string
            try:
                variables = json.loads(variables) if variables.strip() else {}
            except ValueError:
                return 400, _malformed("Unable to parse GraphQL variables.")
        if not isinstance(variables, dict):
            return 400, _malformed("variables must be a JSON object.")
        try:
            document = parse(body["query"])
        except GraphQLError as exc:
            return 400, {"data": None, "errors": [_request_error(exc, "Invalid Syntax")]}
        # INFERRED (§7.3): validation errors are 400 with AppSync's error shape; the message is graphql-core's.
        errors = validate(self.schema, document)
        if errors:
            return 400, {"data": None, "errors": [_request_error(e, "Validation error") for e in errors]}
        operation = get_operation_ast(document, body.get("operationName"))
        if operation is not None and operation.operation == OperationType.SUBSCRIPTION:
            return 400, {"data": None, "errors": [{
                "errorType": "LocalAppSync:Unsupported", "locations": None, "path": None,
                "message": "subscriptions are served over AppSync's real-time WebSocket endpoint, which the local "
                           "AppSync does not serve"}]}
        state = _Request(principal, headers or {}, variables)
        result = execute(self.schema, document, variable_values=variables, operation_name=body.get("operationName"),
                         context_value=state, field_resolver=self._resolve)
        if result.errors and result.data is None and not any(e.path for e in result.errors):
            return 400, {"data": None, "errors": [_request_error(e, "Validation error") for e in result.errors]}
        out: dict[str, Any] = {"data": result.data}
        all_errors = [_error_json(e) for e in result.errors or ()] + state.extra_errors
        if all_errors:
            out["errors"] = all_errors
        return 200, out

    def _resolve(self, source: Any, info: Any, **args: Any) -> Any:
        state: _Request = info.context
        type_name, field_name = info.parent_type.name, info.field_name
        if not (field_name.startswith("__") or type_name.startswith("__")):  # introspection is open to all modes
            self._authorize(state.principal, type_name, field_name)
        resolver = self.config.resolvers.get((type_name, field_name))
        if resolver is None:
            return default_field_resolver(source, info, **args)
        context = self._context(state, source, info, args)
        util = vtl.Util(state.principal.mode, type_name, field_name)
        try:
            return self._run(resolver, context, util)
        finally:
            for error in util.errors:
                state.extra_errors.append({
                    "path": info.path.as_list(), "data": error.data, "errorType": error.error_type,
                    "errorInfo": error.info, "locations": _locations(info), "message": error.message})

    def _authorize(self, principal: Principal, type_name: str, field_name: str) -> None:
        refused = ResolverError(f"Not Authorized to access {field_name} on type {type_name}", "Unauthorized")
        if f"{type_name}.{field_name}" in principal.denied_fields:
            raise refused
        if principal.statements is not None and not auth_policy.decide(
                principal.statements, self._field_arn(type_name, field_name), GRAPHQL_ACTION):
            raise refused  # an IAM caller whose own policies do not allow appsync:GraphQL on the field
        rule = self._allowed.get((type_name, field_name)) or self._allowed.get((type_name, None))
        if rule is None:  # no directive: the default mode only (a user pool with DENY refuses it)
            if principal.mode != self.auth.default_mode or principal.default_action == "DENY":
                raise refused
            return
        groups = rule.get(principal.mode, False)
        if groups is False:
            raise refused
        if groups is not None and not set(groups) & set(principal.groups):
            raise refused

    def _field_arn(self, type_name: str, field_name: str) -> str:
        """``arn:aws:appsync:{region}:{account}:apis/{id}/types/{Type}/fields/{field}``, what IAM policies name."""
        c = self.config
        return f"arn:aws:appsync:{c.region}:{c.account_id}:apis/{c.api_id}/types/{type_name}/fields/{field_name}"

    def _context(self, state: _Request, source: Any, info: Any, args: dict[str, Any]) -> dict[str, Any]:
        """AppSync's resolver context (§7.1)."""
        selection = info.field_nodes[0].selection_set
        return {
            "arguments": args,
            "identity": state.principal.identity,
            "source": source,
            "request": {"headers": state.headers, "domainName": None},
            "info": {
                "selectionSetList": _selection_list(selection, info, get_named_type(info.return_type)),
                "selectionSetGraphQL": print_ast(selection) if selection is not None else "",
                "parentTypeName": info.parent_type.name,
                "fieldName": info.field_name,
                "variables": state.variables,
            },
            "prev": None,
            "stash": {},
        }

    # -- resolvers ----------------------------------------------------------------------------

    def _run(self, resolver: Resolver, context: dict[str, Any], util: vtl.Util) -> Any:
        if resolver.runtime == "APPSYNC_JS":
            raise _unsupported(resolver.label, "the APPSYNC_JS (JavaScript) runtime")
        if resolver.kind != "PIPELINE":
            assert resolver.unit is not None
            return self._step(resolver.unit, context, util)
        ctx = _vtl_context(context)
        if resolver.before_template:
            rendered = self._render(resolver.label, resolver.before_template, ctx, util)
            if rendered.returned:
                return rendered.value
            ctx["prev"] = {"result": self._json(resolver.label, rendered)}
        for step in resolver.functions:
            ctx["prev"] = {"result": self._step(step, {**context, "stash": ctx["stash"], "prev": ctx["prev"]}, util)}
        if not resolver.after_template:
            return ctx["prev"]["result"]
        ctx["result"] = ctx["prev"]["result"]
        rendered = self._render(resolver.label, resolver.after_template, ctx, util)
        return rendered.value if rendered.returned else self._json(resolver.label, rendered)

    def _step(self, step: Step, context: dict[str, Any], util: vtl.Util) -> Any:
        """One unit resolver or pipeline function; ``context`` is shared (its stash is mutated)."""
        if step.runtime == "APPSYNC_JS":
            raise _unsupported(step.label, "the APPSYNC_JS (JavaScript) runtime")
        source = self.config.data_sources.get(step.data_source or "")
        if source is None:
            raise ResolverError(f"{step.label}: data source {step.data_source!r} does not exist", "MappingTemplate")
        if source.type not in ("AWS_LAMBDA", "NONE", "AMAZON_DYNAMODB") or (
                source.type == "AMAZON_DYNAMODB" and (self.dynamodb is None or not source.table)):
            raise _unsupported(step.label, f"data source {source.name!r} of type {source.type}")
        ctx = _vtl_context(context)
        request_version = None
        if step.request_template is None:
            if source.type != "AWS_LAMBDA":
                raise ResolverError(f"{step.label}: a {source.type} data source needs a request mapping template",
                                    "MappingTemplate")
            batch = step.max_batch_size > 0
            payload: Any = [context] if batch else context  # a batch of one (BatchInvoke, §7.1)
            result, error = self._invoke(step, source, payload, direct=True)
            if batch and error is None:
                result = _batch_item(step, result)
        else:
            rendered = self._render(step.label, step.request_template, ctx, util)
            if rendered.returned:  # `#return` skips the data source and the response template
                return rendered.value
            request = self._json(step.label, rendered)
            if not isinstance(request, dict):
                raise ResolverError(f"{step.label}: the request mapping template must render a JSON object",
                                    "MappingTemplate")
            request_version = request.get("version")
            if source.type == "NONE":
                result, error = request.get("payload"), None
            elif source.type == "AMAZON_DYNAMODB":
                result, error = self._dynamodb(step, source, request)
            else:
                operation = request.get("operation", "Invoke")
                if operation != "Invoke":
                    raise _unsupported(step.label, f"the Lambda operation {operation!r}")
                result, error = self._invoke(step, source, request.get("payload"), direct=False)
        if step.response_template is None or (error is not None and request_version == "2017-02-28"):
            if error is not None:  # 2017-02-28 templates raise data source errors themselves
                raise error
            return result
        ctx["result"] = result
        if error is not None:
            ctx["error"] = {"message": error.message, "type": error.error_type}
        rendered = self._render(step.label, step.response_template, ctx, util)
        return rendered.value if rendered.returned else self._json(step.label, rendered)

    def _dynamodb(self, step: Step, source: DataSource, request: dict[str, Any]) -> tuple[Any, ResolverError | None]:
        assert self.dynamodb is not None and source.table
        try:
            return appsync_dynamodb.run(self.dynamodb(source.region or self.config.region), source.table, request), None
        except appsync_dynamodb.DynamoDBError as exc:
            return None, exc
        except vtl.Unsupported as exc:
            raise _unsupported(step.label, str(exc)) from None

    def _invoke(self, step: Step, source: DataSource, payload: Any, direct: bool) -> tuple[Any, ResolverError | None]:
        assert source.function_name is not None
        outcome = self.invoke(source.function_name, payload, RESOLVER_TIMEOUT_S)
        if outcome.status == "ok":
            return outcome.result, None
        if outcome.status == "timeout":  # INFERRED: AppSync's resolver time limit
            return None, ResolverError("Execution timed out.", "ExecutionTimeout")
        error_type = outcome.error_type or "Lambda:Unhandled"
        message = outcome.error_message or outcome.error
        if not direct:  # forwarded through a template, the type is Lambda:Unhandled (§7.2)
            error_type = "Lambda:Unhandled"
        elif error_type == "UnauthorizedException":
            message = UNAUTHORIZED_LAMBDA_MESSAGE
        _log.info("%s: %s failed: %s", step.label, source.function_name, outcome.error)
        return None, ResolverError(message, error_type)

    def _render(self, label: str, template: str, ctx: dict[str, Any], util: vtl.Util) -> vtl.Rendered:
        try:  # a vtl.TemplateError ($util.error) is a ResolverError already
            return vtl.render(template, ctx, util)
        except vtl.Unsupported as exc:
            raise ResolverError(f"{label}: {exc}", "LocalAppSync:Unsupported") from None
        except vtl.RenderError as exc:
            raise ResolverError(f"{label}: the mapping template failed: {exc}", "MappingTemplate") from None

    @staticmethod
    def _json(label: str, rendered: vtl.Rendered) -> Any:
        try:
            return rendered.json()
        except vtl.RenderError as exc:
            raise ResolverError(f"{label}: {exc}", "MappingTemplate") from None


# --- helpers -----------------------------------------------------------------------------------


def _vtl_context(context: dict[str, Any]) -> dict[str, Any]:
    """``$ctx``: the resolver context plus ``args`` (an alias of ``arguments``), ``result`` and ``error``."""
    return {**context, "args": context["arguments"], "result": None, "error": None}


def _batch_item(step: Step, result: Any) -> Any:
    if not isinstance(result, list) or len(result) != 1:
        raise ResolverError(f"{step.label}: a batched Lambda must return a list as long as its input",
                            "Lambda:Unhandled")
    return result[0]


def _malformed(message: str) -> dict[str, Any]:
    return {"errors": [{"errorType": "MalformedHttpRequestException", "message": message}]}


def _request_error(error: GraphQLError, prefix: str) -> dict[str, Any]:
    locations = [{"line": loc.line, "column": loc.column, "sourceName": None} for loc in error.locations or ()]
    return {"path": None, "locations": locations or None, "message": f"{prefix}: {error.message}"}


def _locations(info: Any) -> list[dict[str, Any]] | None:
    out = []
    for node in info.field_nodes:
        if node.loc is not None:
            location = node.loc.source.get_location(node.loc.start)
            out.append({"line": location.line, "column": location.column, "sourceName": None})
    return out or None


def _first(value: Any) -> Any:
    return value[0] if isinstance(value, list) and value else value


def _headers(request: HttpRequest, host: str) -> dict[str, Any]:
    """``request.headers`` of the context (§7.1): lower-cased, no ``cookie``, a repeated header as a list; as
    on AWS, ``host`` is the API's AppSync host and ``x-forwarded-*`` are the edge's."""
    out: dict[str, Any] = {}
    for name, value in request.headers:
        key = name.lower()
        if key in ("cookie", "host", "x-forwarded-proto", "x-forwarded-port", "connection"):
            continue
        if key in out:
            out[key] = [*(out[key] if isinstance(out[key], list) else [out[key]]), value]
        else:
            out[key] = value
    forwarded = _first(out.get("x-forwarded-for"))
    out["x-forwarded-for"] = f"{forwarded}, {request.source_ip}" if forwarded else request.source_ip
    out.update({"host": host, "x-forwarded-proto": "https", "x-forwarded-port": "443"})
    return out


def _selection_list(selection: Any, info: Any, parent: Any, prefix: str = "") -> list[str]:
    """``info.selectionSetList`` (§7.1): fields under their alias, nested as ``a/b``, fragments inlined when
    they apply to the field's own type."""
    out: list[str] = []
    if selection is None:
        return out
    for node in selection.selections:
        if isinstance(node, g.FieldNode):
            name = (node.alias or node.name).value
            if node.name.value == "__typename":
                continue
            out.append(prefix + name)
            field_def = getattr(parent, "fields", {}).get(node.name.value)
            child = get_named_type(field_def.type) if field_def is not None else None
            out += _selection_list(node.selection_set, info, child, f"{prefix}{name}/")
        elif isinstance(node, g.InlineFragmentNode):
            if node.type_condition is None or node.type_condition.name.value == getattr(parent, "name", None):
                out += _selection_list(node.selection_set, info, parent, prefix)
        elif isinstance(node, g.FragmentSpreadNode):
            fragment = info.fragments.get(node.name.value)
            if fragment is not None and fragment.type_condition.name.value == getattr(parent, "name", None):
                out += _selection_list(fragment.selection_set, info, parent, prefix)
    return out


def _auth_rules(schema: GraphQLSchema) -> dict[tuple[str, str | None], dict[str, tuple[str, ...] | None]]:
    """``{(type, field or None): {mode: cognito groups or None}}`` from the schema's auth directives."""
    rules: dict[tuple[str, str | None], dict[str, tuple[str, ...] | None]] = {}

    def modes(node: Any) -> dict[str, tuple[str, ...] | None] | None:
        found: dict[str, tuple[str, ...] | None] = {}
        for directive in getattr(node, "directives", None) or ():
            mode = AUTH_DIRECTIVES.get(directive.name.value)
            if mode is None:
                continue
            groups = None
            for arg in directive.arguments or ():
                if arg.name.value == "cognito_groups" and isinstance(arg.value, g.ListValueNode):
                    groups = tuple(v.value for v in arg.value.values if isinstance(v, g.StringValueNode))
            found[mode] = groups
        return found or None

    for type_name, gtype in schema.type_map.items():
        if type_name.startswith("__") or not hasattr(gtype, "fields") or gtype.ast_node is None:
            continue
        nodes = [gtype.ast_node, *(gtype.extension_ast_nodes or ())]
        type_rule: dict[str, tuple[str, ...] | None] = {}
        for node in nodes:
            type_rule.update(modes(node) or {})
        if type_rule:
            rules[(type_name, None)] = type_rule
        for field_name, field_def in gtype.fields.items():
            rule = modes(field_def.ast_node)
            if rule:
                rules[(type_name, field_name)] = rule
    return rules

