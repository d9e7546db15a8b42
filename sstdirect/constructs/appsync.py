"""``AppSyncApi``: an AppSync GraphQL API with its schema, data sources, resolvers and auth.

See API.md's "AppSyncApi" section; where it is silent this follows SST v2's ``AppSyncApi``.
Everything here is checked when the construct is made (no AWS call): options, schema files (parsed
and merged with graphql-core as graphql-tools' ``mergeTypeDefs`` does), data sources, resolver
keys against the schema, mapping template files and the authorization settings.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..engine.resource import Resource
from ..engine.values import Fmt, Ref
from ..errors import ConfigError
from ..naming import physical_name, short_hash
from ..resources.appsync import ApiKeySpec, DataSourceSpec, GraphqlApiSpec, ResolverSpec, SchemaSpec, schema_sha256
from ..resources.awslambda import PermissionSpec
from ..resources.iam import RoleSpec
from .base import Construct, ExpandContext, check_options, is_one_of, is_text
from .function import Function

if TYPE_CHECKING:
    from .base import ConstructHost

APPSYNC_OPTIONS = ("schema", "data_sources", "resolvers", "authorization", "defaults", "custom_domain")
DEFAULTS_OPTIONS = ("function",)
AUTH_OPTIONS = ("default", "additional", "api_key_expires_days", "user_pool", "oidc", "lambda", "function")
USER_POOL_OPTIONS = ("id", "region", "default_action", "app_id_client_regex")
OIDC_OPTIONS = ("issuer", "client_id", "iat_ttl", "auth_ttl")
LAMBDA_AUTH_OPTIONS = ("function", "results_cache_ttl", "identity_validation_expression")
RESOLVER_OPTIONS = ("data_source", "function", "request_mapping", "response_mapping")
MAPPING_OPTIONS = ("file", "inline")
DATA_SOURCE_OPTIONS = {
    "function": ("type", "function", "name", "description"),
    "none": ("type", "name", "description"),
    "http": ("type", "endpoint", "name", "description"),
    "dynamodb": ("type", "table", "name", "description"),
}
ALL_DATA_SOURCE_OPTIONS = tuple(sorted({o for opts in DATA_SOURCE_OPTIONS.values() for o in opts}))
AUTH_MODES = {"api_key": "API_KEY", "iam": "AWS_IAM", "user_pool": "AMAZON_COGNITO_USER_POOLS",
              "oidc": "OPENID_CONNECT", "lambda": "AWS_LAMBDA"}
DS_TYPES = {"function": "AWS_LAMBDA", "none": "NONE", "http": "HTTP", "dynamodb": "AMAZON_DYNAMODB"}
DEFAULT_API_KEY_DAYS = 365
DEFAULT_LAMBDA_AUTH_TTL = 300  # seconds, as CDK/SST
NAME = re.compile(r"^[_A-Za-z][_0-9A-Za-z]*\Z")
APPSYNC_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "appsync.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}
DYNAMODB_ACTIONS = ["dynamodb:BatchGetItem", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:Query",
                    "dynamodb:GetItem", "dynamodb:Scan", "dynamodb:ConditionCheckItem", "dynamodb:BatchWriteItem",
                    "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:DescribeTable"]
# AppSync's own scalars: defined for validation only (the SDL sent to AppSync never declares them).
AWS_SCALARS = ("AWSDate", "AWSTime", "AWSDateTime", "AWSTimestamp", "AWSEmail", "AWSJSON", "AWSURL", "AWSPhone",
               "AWSIPAddress")


# --- the schema ---------------------------------------------------------------------------------


def _kinds() -> dict[type, tuple[type, tuple[str, ...]]]:
    """AST node class (definition or extension) → (definition class, list attributes it merges)."""
    from graphql.language import ast as g

    pairs = [
        (g.ObjectTypeDefinitionNode, g.ObjectTypeExtensionNode, ("interfaces", "fields")),
        (g.InterfaceTypeDefinitionNode, g.InterfaceTypeExtensionNode, ("interfaces", "fields")),
        (g.InputObjectTypeDefinitionNode, g.InputObjectTypeExtensionNode, ("fields",)),
        (g.EnumTypeDefinitionNode, g.EnumTypeExtensionNode, ("values",)),
        (g.UnionTypeDefinitionNode, g.UnionTypeExtensionNode, ("types",)),
        (g.ScalarTypeDefinitionNode, g.ScalarTypeExtensionNode, ()),
    ]
    out: dict[type, tuple[type, tuple[str, ...]]] = {}
    for definition, extension, attrs in pairs:
        out[definition] = out[extension] = (definition, attrs)
    return out


def _item_key(node: Any) -> str:
    from graphql import print_ast

    name = getattr(node, "name", None)
    return name.value if name is not None else print_ast(node)


def merge_type_defs(label: str, documents: Sequence[Any]) -> Any:
    """Merge parsed SDL documents as graphql-tools' ``mergeTypeDefs`` does: types (and extensions)
    of one name become one type whose fields, interfaces, enum values, union members and
    directives are combined; a field defined twice must have the same type (else ConfigError)."""
    from graphql import print_ast
    from graphql.language import ast as g

    kinds = _kinds()
    merged: dict[str, dict[str, Any]] = {}
    operations: dict[str, Any] = {}
    directives: dict[str, Any] = {}
    schema_seen = False
    for doc in documents:
        for node in doc.definitions:
            if isinstance(node, g.SchemaDefinitionNode | g.SchemaExtensionNode):
                schema_seen = True
                for op in node.operation_types or ():
                    key = op.operation.value
                    if key in operations and operations[key].type.name.value != op.type.name.value:
                        raise ConfigError(f"{label}: the schema files disagree on the {key} type "
                                          f"({operations[key].type.name.value} vs {op.type.name.value})")
                    operations[key] = op
                continue
            if isinstance(node, g.DirectiveDefinitionNode):
                directives.setdefault(node.name.value, node)
                continue
            definition, attrs = kinds[type(node)]
            name = node.name.value
            entry = merged.get(name)
            if entry is None:
                entry = merged[name] = {"class": definition, "is_definition": False, "description": None,
                                        "directives": {}, **{a: {} for a in attrs}}
            elif entry["class"] is not definition:
                raise ConfigError(f"{label}: {name} is defined as two different kinds of type in the schema files")
            if isinstance(node, definition):
                entry["is_definition"] = True
                entry["description"] = entry["description"] or node.description
            for d in node.directives or ():
                entry["directives"].setdefault(print_ast(d), d)
            for attr in attrs:
                for item in getattr(node, attr) or ():
                    key = _item_key(item)
                    known = entry[attr].get(key)
                    if known is None:
                        entry[attr][key] = item
                    elif attr == "fields" and print_ast(known.type) != print_ast(item.type):
                        raise ConfigError(f"{label}: field {name}.{key} is defined twice with different types "
                                          f"({print_ast(known.type)} and {print_ast(item.type)})")
    definitions: list[Any] = []
    if schema_seen:
        definitions.append(g.SchemaDefinitionNode(description=None, directives=(),
                                                  operation_types=tuple(operations.values())))
    definitions += directives.values()
    for name, entry in merged.items():
        cls = entry["class"]
        attrs = kinds[cls][1]
        fields = {a: tuple(entry[a].values()) for a in attrs}
        directive_nodes = tuple(entry["directives"].values())
        if entry["is_definition"]:
            node = cls(name=g.NameNode(value=name), description=entry["description"], directives=directive_nodes,
                       **fields)
        else:  # only extensions of a type defined nowhere: keep it an extension (validation reports it)
            extension = next(e for e, (d, _) in kinds.items() if d is cls and e is not cls)
            node = extension(name=g.NameNode(value=name), directives=directive_nodes, **fields)
        definitions.append(node)
    return g.DocumentNode(definitions=tuple(definitions))


def load_schema(label: str, root: Path, schema: Any) -> tuple[str, Any]:
    """Schema file(s) under ``root`` → (SDL text for AppSync, the parsed document)."""
    from graphql import GraphQLError, parse, print_ast

    if schema is None:
        raise ConfigError(f"{label}: schema is required, e.g. schema='graphql/schema.graphql'")
    files = [schema] if isinstance(schema, str | os.PathLike) else schema
    if not isinstance(files, list | tuple) or not files or not all(isinstance(f, str | os.PathLike) for f in files):
        raise ConfigError(f"{label}: schema must be a file path or a non-empty list of file paths, not {schema!r}")
    texts: list[str] = []
    documents: list[Any] = []
    for f in files:
        if "\0" in os.fspath(f):
            raise ConfigError(f"{label}: schema file {str(f)!r} has a NUL character; give a file path")
        path = (root / f).resolve()
        if not path.is_file():
            raise ConfigError(f"{label}: schema file {str(f)!r} does not exist (looked for {path})")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{label}: schema file {str(f)!r} is not UTF-8 text ({exc.reason} at byte "
                              f"{exc.start}); save it as UTF-8") from None
        except OSError as exc:
            raise ConfigError(f"{label}: schema file {str(f)!r} cannot be read: {exc.strerror}") from None
        try:
            documents.append(parse(text))
        except GraphQLError as exc:
            raise ConfigError(f"{label}: schema file {str(f)!r} is not valid GraphQL SDL: {exc.message} "
                              f"(line {exc.locations[0].line if exc.locations else '?'})") from None
        texts.append(text)
    document = documents[0] if len(documents) == 1 else merge_type_defs(label, documents)
    _validate(label, document)
    sdl = texts[0] if len(texts) == 1 else print_ast(document) + "\n"
    return sdl, document


def _validate(label: str, document: Any) -> None:
    """The schema must be a valid SDL document once AppSync's own scalars exist. Directives are not
    checked (AppSync defines ``@aws_*`` and others)."""
    from graphql import parse
    from graphql.language import ast as g
    from graphql.validation.validate import validate_sdl

    defined = {d.name.value for d in document.definitions if isinstance(d, g.TypeDefinitionNode)}
    extra = "\n".join(f"scalar {s}" for s in AWS_SCALARS if s not in defined)
    full = g.DocumentNode(definitions=(*document.definitions, *(parse(extra).definitions if extra else ())))
    errors = [e for e in validate_sdl(full) if not e.message.startswith("Unknown directive")]
    if errors:
        raise ConfigError(f"{label}: the GraphQL schema is not valid: " + "; ".join(e.message for e in errors[:5]))


def object_fields(document: Any) -> dict[str, set[str]]:
    """Object type name → its field names (definitions and extensions combined)."""
    from graphql.language import ast as g

    out: dict[str, set[str]] = {}
    for d in document.definitions:
        if isinstance(d, g.ObjectTypeDefinitionNode | g.ObjectTypeExtensionNode):
            out.setdefault(d.name.value, set()).update(f.name.value for f in d.fields or ())
    return out


# --- specs --------------------------------------------------------------------------------------


@dataclass
class DataSourceConfig:
    key: str              # the name in data_sources= (resolvers refer to it)
    name: str             # AppSync's data source name
    kind: str             # function | none | http | dynamodb
    description: str | None = None
    function: Function | None = None
    endpoint: str | None = None
    table: Any = None

    @property
    def aws_type(self) -> str:
        return DS_TYPES[self.kind]


@dataclass
class ResolverConfig:
    key: str                       # "Type field"
    type_name: str
    field_name: str
    data_source: str               # a key of data_sources
    request_mapping: str | None
    response_mapping: str | None


@dataclass
class AuthSpec:
    default: str
    additional: tuple[str, ...]
    api_key_expires_days: int | None     # None: no API key
    user_pool: dict[str, Any] | None
    oidc: dict[str, Any] | None
    lambda_function: Function | None
    lambda_config: dict[str, Any] | None

    @property
    def modes(self) -> tuple[str, ...]:
        return (self.default, *self.additional)


# --- the construct ------------------------------------------------------------------------------


class AppSyncApi(Construct):
    """An AppSync GraphQL API. See API.md's "AppSyncApi" section for every option and default."""

    kind = "AppSyncApi"
    served_as = "appsync"

    def __init__(
        self,
        app: ConstructHost,
        id: str,
        schema: Any = None,
        data_sources: Mapping[str, Any] | None = None,
        resolvers: Mapping[str, Any] | None = None,
        authorization: Mapping[str, Any] | None = None,
        defaults: Mapping[str, Any] | None = None,
        custom_domain: Any = None,
        **unknown: Any,
    ):
        super().__init__(app, id)
        check_options(self.label, unknown, APPSYNC_OPTIONS)
        if defaults is not None and not isinstance(defaults, Mapping):
            raise ConfigError(f"{self.label}: defaults must be a dict like {{'function': {{...}}}}")
        self.defaults = dict(defaults or {})
        check_options(f"{self.label} defaults", self.defaults, DEFAULTS_OPTIONS)
        if custom_domain is not None:
            raise ConfigError(f"{self.label}: custom_domain is not supported for AppSyncApi yet; "
                              f"remove it (the API is served at its AppSync URL)")
        self.schema_sdl, self._document = load_schema(self.label, app.root, schema)
        self._object_fields = object_fields(self._document)
        self.data_sources: dict[str, DataSourceConfig] = {}
        for key, value in self._mapping("data_sources", data_sources).items():
            self._add_data_source(key, value)
        self.resolvers: dict[str, ResolverConfig] = {}
        for key, value in self._mapping("resolvers", resolvers).items():
            self._add_resolver(key, value)
        self.authorization = self._parse_authorization(authorization)

    # -- configuration -----------------------------------------------------------------------

    def _mapping(self, what: str, value: Any) -> Mapping[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ConfigError(f"{self.label}: {what} must be a dict, not {type(value).__name__}")
        return value

    def _function(self, name: str, value: Any, label: str) -> Function:
        return Function.from_value(self.app, f"{self.construct_id}-{name}", value, self.defaults.get("function"),
                                   label)

    def _add_data_source(self, key: Any, value: Any) -> DataSourceConfig:
        label = f"{self.label} data source {key!r}"
        if not isinstance(key, str) or not NAME.match(key):
            raise ConfigError(f"{label}: a data source name must match [_A-Za-z][_0-9A-Za-z]* (AppSync's rule)")
        if key in self.data_sources:
            raise ConfigError(f"{label}: a data source named {key!r} already exists")
        if isinstance(value, str | Function) or (isinstance(value, Mapping) and "handler" in value
                                                 and "type" not in value and "function" not in value):
            spec = DataSourceConfig(key, key, "function", function=self._function(key, value, label))
        elif isinstance(value, Mapping):
            check_options(label, value, ALL_DATA_SOURCE_OPTIONS)
            kind = value.get("type", "function" if "function" in value else None)
            if not is_one_of(kind, DATA_SOURCE_OPTIONS):
                raise ConfigError(f"{label}: type must be one of {', '.join(map(repr, DATA_SOURCE_OPTIONS))}, "
                                  f"not {kind!r} (or give a handler, function props or a Function)")
            check_options(f"{label} ({kind})", value, DATA_SOURCE_OPTIONS[kind])
            name = value.get("name", key)
            if not isinstance(name, str) or not NAME.match(name):
                raise ConfigError(f"{label}: name {name!r} must match [_A-Za-z][_0-9A-Za-z]*")
            description = value.get("description")
            if description is not None and not isinstance(description, str):
                raise ConfigError(f"{label}: description must be a string")
            spec = DataSourceConfig(key, name, kind, description)
            if kind == "function":
                if "function" not in value:
                    raise ConfigError(f"{label}: a function data source needs 'function' (a handler, props or "
                                      f"a Function)")
                spec.function = self._function(key, value["function"], label)
            elif kind == "http":
                endpoint = value.get("endpoint")
                if not isinstance(endpoint, str) or not re.match(r"^https?://[^/\s]+", endpoint):
                    raise ConfigError(f"{label}: an http data source needs endpoint='https://...', not {endpoint!r}")
                spec.endpoint = endpoint
            elif kind == "dynamodb":
                table = value.get("table")
                if not (isinstance(table, str) and table) and not hasattr(table, "__sstdirect_ref__"):
                    raise ConfigError(f"{label}: a dynamodb data source needs table='<table name>', not {table!r}")
                spec.table = table
        else:
            raise ConfigError(f"{label}: expected a handler string, function props, a Function or a dict with "
                              f"'type' (function, none, http, dynamodb), not {type(value).__name__}")
        if any(s.name == spec.name for s in self.data_sources.values()):
            raise ConfigError(f"{label}: two data sources are named {spec.name!r} in AppSync")
        self.data_sources[key] = spec
        return spec

    def _parse_resolver_key(self, key: Any) -> tuple[str, str]:
        parts = key.split() if isinstance(key, str) else []
        if len(parts) != 2 or not all(NAME.match(p) for p in parts):
            raise ConfigError(f"{self.label}: resolver key {key!r} must be \"Type field\", e.g. "
                              f"\"Query listNotes\"")
        type_name, field_name = parts
        if type_name not in self._object_fields:
            known = ", ".join(sorted(self._object_fields)) or "none"
            raise ConfigError(f"{self.label}: resolver {key!r}: the schema has no type {type_name!r} "
                              f"(object types: {known})")
        if field_name not in self._object_fields[type_name]:
            raise ConfigError(f"{self.label}: resolver {key!r}: type {type_name} has no field {field_name!r} "
                              f"(fields: {', '.join(sorted(self._object_fields[type_name]))})")
        return type_name, field_name

    def _mapping_template(self, label: str, what: str, value: Any) -> str | None:
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ConfigError(f"{label}: {what} must be {{'file': path}} or {{'inline': text}}, not {value!r}")
        check_options(f"{label} {what}", value, MAPPING_OPTIONS)
        if len(value) != 1:
            raise ConfigError(f"{label}: {what} needs exactly one of 'file' or 'inline'")
        if "inline" in value:
            text = value["inline"]
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f"{label}: {what} inline template must be a non-empty string")
            return text
        f = value["file"]
        if not isinstance(f, str | os.PathLike) or "\0" in os.fspath(f):
            raise ConfigError(f"{label}: {what} file must be a path such as 'graphql/request.vtl', not {f!r}")
        path = (self.app.root / f).resolve()
        if not path.is_file():
            raise ConfigError(f"{label}: {what} file {str(f)!r} does not exist (looked for {path})")
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError) as exc:
            raise ConfigError(f"{label}: {what} file {str(f)!r} cannot be read as UTF-8 text ({exc}); save it "
                              f"as UTF-8") from None
        if not text.strip():
            raise ConfigError(f"{label}: {what} file {str(f)!r} is empty")
        return text

    def _lambda_data_source(self, type_name: str, field_name: str, value: Any, label: str) -> str:
        name = f"LambdaDS_{type_name}_{field_name}"
        if name in self.data_sources:
            raise ConfigError(f"{label}: the data source {name!r} it would make already exists; name the data "
                              f"source instead of repeating the function")
        self.data_sources[name] = DataSourceConfig(name, name, "function", function=self._function(name, value, label))
        return name

    def _add_resolver(self, key: Any, value: Any) -> ResolverConfig:
        type_name, field_name = self._parse_resolver_key(key)
        norm = f"{type_name} {field_name}"
        label = f"{self.label} resolver {norm!r}"
        if norm in self.resolvers:
            raise ConfigError(f"{self.label}: duplicate resolver {norm!r} (from {key!r})")
        request = response = None
        if isinstance(value, str) and NAME.match(value):
            if value not in self.data_sources:
                known = ", ".join(map(repr, self.data_sources)) or "none"
                raise ConfigError(f"{label}: unknown data source {value!r} (data sources: {known}); a handler "
                                  f"looks like 'src/file.function'")
            source = value
        elif isinstance(value, str | Function) or (isinstance(value, Mapping) and "handler" in value
                                                   and not set(value) & set(RESOLVER_OPTIONS)):
            source = self._lambda_data_source(type_name, field_name, value, label)
        elif isinstance(value, Mapping):
            check_options(label, value, RESOLVER_OPTIONS)
            if ("data_source" in value) == ("function" in value):
                raise ConfigError(f"{label}: give exactly one of 'data_source' (a name in data_sources) or "
                                  f"'function'")
            if "data_source" in value:
                source = value["data_source"]
                if not is_one_of(source, self.data_sources):
                    known = ", ".join(map(repr, self.data_sources)) or "none"
                    raise ConfigError(f"{label}: unknown data source {source!r} (data sources: {known})")
            else:
                source = self._lambda_data_source(type_name, field_name, value["function"], label)
            request = self._mapping_template(label, "request_mapping", value.get("request_mapping"))
            response = self._mapping_template(label, "response_mapping", value.get("response_mapping"))
        else:
            raise ConfigError(f"{label}: expected a data source name, a handler, function props, a Function or "
                              f"a dict of {', '.join(RESOLVER_OPTIONS)}, not {type(value).__name__}")
        ds = self.data_sources[source]
        if ds.kind != "function" and (request is None or response is None):
            raise ConfigError(f"{label}: a resolver on the {ds.aws_type} data source {source!r} needs "
                              f"request_mapping and response_mapping (only Lambda resolvers may omit them)")
        spec = ResolverConfig(norm, type_name, field_name, source, request, response)
        self.resolvers[norm] = spec
        return spec

    def _parse_authorization(self, authorization: Any) -> AuthSpec:
        label = f"{self.label} authorization"
        if authorization is None:
            authorization = {}
        if not isinstance(authorization, Mapping):
            raise ConfigError(f"{label}: must be a dict like {{'default': 'api_key'}}, not {authorization!r}")
        check_options(label, authorization, AUTH_OPTIONS)
        if "function" in authorization:  # shorthand: {"default": "lambda", "function": ...}
            if "lambda" in authorization:
                raise ConfigError(f"{label}: give the Lambda authorizer once, as 'function' or as "
                                  f"'lambda': {{'function': ...}}")
            authorization = {**{k: v for k, v in authorization.items() if k != "function"},
                             "lambda": {"function": authorization["function"]}}
        default = authorization.get("default", "api_key")
        if not is_one_of(default, AUTH_MODES):
            raise ConfigError(f"{label}: default must be one of {', '.join(map(repr, AUTH_MODES))}, not {default!r}")
        additional = authorization.get("additional", [])
        if isinstance(additional, str) or not isinstance(additional, list | tuple):
            raise ConfigError(f"{label}: additional must be a list of modes, e.g. ['iam']")
        for mode in additional:
            if not is_one_of(mode, AUTH_MODES):
                raise ConfigError(f"{label}: additional mode {mode!r} is not one of {', '.join(map(repr, AUTH_MODES))}")
        modes = (default, *additional)
        if len(set(modes)) != len(modes):
            raise ConfigError(f"{label}: each mode may appear once across default and additional: {list(modes)}")
        for mode in ("user_pool", "oidc", "lambda"):
            if mode in authorization and mode not in modes:
                raise ConfigError(f"{label}: {mode!r} settings are given but {mode!r} is neither the default nor "
                                  f"in additional")
            if mode in modes and not isinstance(authorization.get(mode), Mapping):
                raise ConfigError(f"{label}: mode {mode!r} needs its settings, e.g. "
                                  + {"user_pool": "'user_pool': {'id': auth.user_pool_id}",
                                     "oidc": "'oidc': {'issuer': 'https://...'}",
                                     "lambda": "'lambda': {'function': 'src/auth.main'}"}[mode])
        days: int | None = None
        if "api_key" in modes:
            days = authorization.get("api_key_expires_days", DEFAULT_API_KEY_DAYS)
            if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 365:
                raise ConfigError(f"{label}: api_key_expires_days must be an int of days from 1 to 365 "
                                  f"(AppSync's limit), not {days!r}")
        elif "api_key_expires_days" in authorization:
            raise ConfigError(f"{label}: api_key_expires_days is given but 'api_key' is not an authorization mode")
        user_pool = oidc = lambda_config = None
        fn = None
        if "user_pool" in modes:
            cfg = authorization["user_pool"]
            check_options(f"{label} user_pool", cfg, USER_POOL_OPTIONS)
            pool_id = cfg.get("id")
            if not (isinstance(pool_id, str) and pool_id) and not hasattr(pool_id, "__sstdirect_ref__"):
                raise ConfigError(f"{label}: user_pool needs 'id' (a user pool id, e.g. auth.user_pool_id)")
            action = cfg.get("default_action", "ALLOW")
            if action not in ("ALLOW", "DENY"):
                raise ConfigError(f"{label}: user_pool default_action must be 'ALLOW' or 'DENY', not {action!r}")
            self._optional_text(label, "user_pool", cfg, "region", "'us-east-1'")
            self._optional_text(label, "user_pool", cfg, "app_id_client_regex", "'^my-client$'")
            user_pool = {"userPoolId": pool_id, "awsRegion": cfg.get("region") or self.app.region}
            if cfg.get("app_id_client_regex"):
                user_pool["appIdClientRegex"] = cfg["app_id_client_regex"]
            if default == "user_pool":
                user_pool["defaultAction"] = action
        if "oidc" in modes:
            cfg = authorization["oidc"]
            check_options(f"{label} oidc", cfg, OIDC_OPTIONS)
            issuer = cfg.get("issuer")
            if not isinstance(issuer, str) or not issuer.startswith(("https://", "http://")):
                raise ConfigError(f"{label}: oidc needs 'issuer' (a URL), not {issuer!r}")
            self._optional_text(label, "oidc", cfg, "client_id", "'my-client-id'")
            oidc = {"issuer": issuer, "iatTTL": self._ms(label, "iat_ttl", cfg.get("iat_ttl", 0)),
                    "authTTL": self._ms(label, "auth_ttl", cfg.get("auth_ttl", 0))}
            if cfg.get("client_id"):
                oidc["clientId"] = cfg["client_id"]
        if "lambda" in modes:
            cfg = authorization["lambda"]
            check_options(f"{label} lambda", cfg, LAMBDA_AUTH_OPTIONS)
            if "function" not in cfg:
                raise ConfigError(f"{label}: lambda needs 'function' (a handler, props or a Function)")
            fn = self._function("Lambda-Authorizer", cfg["function"], f"{label} lambda")  # no data source has a "-"
            ttl = cfg.get("results_cache_ttl", DEFAULT_LAMBDA_AUTH_TTL)
            if isinstance(ttl, bool) or not isinstance(ttl, int) or not 0 <= ttl <= 3600:
                raise ConfigError(f"{label}: lambda results_cache_ttl must be seconds from 0 to 3600, not {ttl!r}")
            lambda_config = {"authorizerResultTtlInSeconds": ttl}
            self._optional_text(label, "lambda", cfg, "identity_validation_expression", "'^Bearer '")
            if cfg.get("identity_validation_expression"):
                lambda_config["identityValidationExpression"] = cfg["identity_validation_expression"]
        return AuthSpec(default, tuple(additional), days, user_pool, oidc, fn, lambda_config)

    @staticmethod
    def _optional_text(label: str, mode: str, cfg: Mapping[str, Any], key: str, example: str) -> None:
        """``cfg[key]``, when given, is a string (or a value known after deploy)."""
        value = cfg.get(key)
        if value is not None and value != "" and not is_text(value):
            raise ConfigError(f"{label}: {mode} {key} must be a string such as {example}, not {value!r}")

    @staticmethod
    def _ms(label: str, key: str, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ConfigError(f"{label}: oidc {key} must be milliseconds (an int >= 0), not {value!r}")
        return value

    def attach_permissions(self, permissions: list[Any]) -> None:
        """Grant ``permissions`` to every function of this API's data sources."""
        for fn in self._functions():
            fn.attach_permissions(permissions)

    def get_function(self, key: str) -> Function:
        """The function of a Lambda data source, by data source name or resolver key ("Type field")."""
        spec = self.data_sources.get(key)
        if spec is None and isinstance(key, str) and " ".join(key.split()) in self.resolvers:
            spec = self.data_sources[self.resolvers[" ".join(key.split())].data_source]
        if spec is None or spec.function is None:
            raise ConfigError(f"{self.label} has no Lambda data source or resolver {key!r}")
        return spec.function

    def _functions(self) -> list[Function]:
        fns = [s.function for s in self.data_sources.values() if s.function is not None]
        if self.authorization.lambda_function is not None:
            fns.append(self.authorization.lambda_function)
        return fns

    # -- outputs -----------------------------------------------------------------------------

    @property
    def api_address(self) -> str:
        return self._a("api")

    @property
    def id(self) -> Any:
        return self._output("id", Ref(self.api_address, "id"))

    @property
    def url(self) -> Any:
        return self._output("url", Ref(self.api_address, "url"))

    @property
    def arn(self) -> Any:
        return self._output("arn", Ref(self.api_address, "arn"))

    @property
    def api_key(self) -> str | None:
        """The API key's value, read from AWS on every access (never stored); None without API key auth."""
        if self.authorization.api_key_expires_days is None:
            return None
        from ..resources.appsync import read_api_key

        api_rec, key_rec = self.app.recorded(self.api_address), self.app.recorded(self._a("api-key"))
        api_id = (self.app.deployed_outputs(self.construct_id) or {}).get("id") or (
            api_rec.physical_id if api_rec else None)
        fp = key_rec.physical_id if key_rec else None
        if not api_id:
            raise ConfigError(f"{self.construct_id}.api_key is read from AWS after deploy and is never stored, so "
                              f"it cannot be passed into other constructs; deploy first")
        return read_api_key(self.app.aws(), api_id, fp, self._key_description)

    @property
    def _key_description(self) -> str:
        return f"sstdirect {self._a('api-key')}"

    def _grant_statement(self) -> dict[str, Any]:
        return {"Effect": "Allow", "Action": "appsync:GraphQL",
                "Resource": Fmt.of("{arn}/*", arn=Ref(self.api_address, "arn"))}

    def _outputs(self, attr: Any) -> dict[str, Any]:
        return {"url": attr(self.api_address, "url"), "id": attr(self.api_address, "id"),
                "arn": attr(self.api_address, "arn")}

    # -- expansion ---------------------------------------------------------------------------

    def _a(self, *parts: str) -> str:
        return "/".join([self.construct_id, *parts])

    def _auth_props(self, ctx: ExpandContext) -> dict[str, Any]:
        auth = self.authorization

        def config(mode: str, *, default: bool) -> dict[str, Any]:
            if mode == "user_pool":
                pool = dict(auth.user_pool or {})
                if not default:
                    pool.pop("defaultAction", None)
                return {"user_pool_config" if default else "userPoolConfig": pool}
            if mode == "oidc":
                return {"open_id_connect_config" if default else "openIDConnectConfig": auth.oidc}
            if mode == "lambda":
                assert auth.lambda_function is not None
                cfg = {"authorizerUri": auth.lambda_function.arn(ctx), **(auth.lambda_config or {})}
                return {"lambda_authorizer_config" if default else "lambdaAuthorizerConfig": cfg}
            return {}

        props: dict[str, Any] = {"authentication_type": AUTH_MODES[auth.default], "user_pool_config": None,
                                 "open_id_connect_config": None, "lambda_authorizer_config": None}
        props.update(config(auth.default, default=True))
        props["additional_authentication_providers"] = [
            {"authenticationType": AUTH_MODES[m], **config(m, default=False)} for m in auth.additional]
        return props

    def _resources(self, ctx: ExpandContext) -> list[Resource]:
        api_id = Ref(self.api_address, "id")
        auth_fn = self.authorization.lambda_function
        out: list[Resource] = []
        api = Resource.of(self.api_address, GraphqlApiSpec(
            name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=128),
            **self._auth_props(ctx),
            tags=ctx.tags(self.api_address),
        ), after=(auth_fn.function_address,) if auth_fn else ())
        out.append(api)
        schema = Resource.of(self._a("schema"), SchemaSpec(
            api_id=api_id, sha256=schema_sha256(self.schema_sdl), definition=self.schema_sdl))
        out.append(schema)
        if self.authorization.api_key_expires_days is not None:
            out.append(Resource.of(self._a("api-key"), ApiKeySpec(
                api_id=api_id, description=self._key_description,
                expires_days=self.authorization.api_key_expires_days, expired=False)))
        if auth_fn is not None:
            out.append(Resource.of(self._a("authorizer-permission"), PermissionSpec(
                function_name=Ref(auth_fn.function_address, "name"),
                statement_id=f"sstdirect-appsync-{short_hash(self._a('authorizer'))}",
                principal="appsync.amazonaws.com",
                action="lambda:InvokeFunction",
                source_arn=Ref(self.api_address, "arn"),
            )))
        for spec in self.data_sources.values():
            out += self._data_source_resources(ctx, spec)
        for spec in self.resolvers.values():
            out.append(Resource.of(self._a("resolver", f"{spec.type_name}.{spec.field_name}"), ResolverSpec(
                api_id=api_id,
                type_name=spec.type_name,
                field_name=spec.field_name,
                data_source_name=Ref(self._a("datasource", spec.data_source), "name"),
                kind="UNIT",
                request_mapping_template=spec.request_mapping,
                response_mapping_template=spec.response_mapping,
            ), after=(schema.address,)))
        return out

    def _data_source_resources(self, ctx: ExpandContext, source: DataSourceConfig) -> list[Resource]:
        address = self._a("datasource", source.key)
        out: list[Resource] = []
        after: tuple[str, ...] = ()
        statement: dict[str, Any] | None = None
        lambda_config = dynamodb_config = http_config = role_arn = None
        if source.kind == "function":
            assert source.function is not None
            arn = source.function.arn(ctx)
            lambda_config = {"lambdaFunctionArn": arn}
            statement = {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": arn}
            after = (source.function.function_address,)
        elif source.kind == "dynamodb":
            table_arn = Fmt.of("arn:aws:dynamodb:{region}:{account}:table/{table}", region=Ref("aws", "region"),
                               account=Ref("aws", "account_id"), table=source.table)
            dynamodb_config = {"tableName": source.table, "awsRegion": Ref("aws", "region")}
            statement = {"Effect": "Allow", "Action": DYNAMODB_ACTIONS,
                         "Resource": [table_arn, Fmt.of("{arn}/index/*", arn=table_arn)]}
        elif source.kind == "http":
            http_config = {"endpoint": source.endpoint}
        if statement is not None:
            role = Resource.of(f"{address}/role", RoleSpec(
                name=physical_name(ctx.stage, ctx.app, self.construct_id, "DS", source.key, max_len=64),
                assume_role_policy=APPSYNC_TRUST, policy={"Version": "2012-10-17", "Statement": [statement]},
                tags=ctx.tags(f"{address}/role")))
            out.append(role)
            role_arn = Ref(role.address, "arn")
        out.append(Resource.of(address, DataSourceSpec(
            api_id=Ref(self.api_address, "id"), name=source.name, type=source.aws_type, description=source.description,
            service_role_arn=role_arn, lambda_config=lambda_config, dynamodb_config=dynamodb_config,
            http_config=http_config), after=after))
        return out
