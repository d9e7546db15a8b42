"""``make_handler``: a graphql-core schema as an API Gateway HTTP API (payload 2.0) Lambda handler.

The handler is the ``server`` of a :class:`~sstdirect.GraphQLApi`::

    from sstdirect.graphql import make_handler

    handler = make_handler('''
        type Query { hello(name: String = "world"): String! }
    ''', {"Query": {"hello": lambda obj, info, name: f"Hello {name}!"}})

Requests, as GraphQL over HTTP:

* ``POST`` with a JSON body ``{"query", "variables", "operationName"}`` (base64 bodies are decoded;
  ``Content-Type: application/graphql`` sends the query alone);
* ``GET`` with the ``query``, ``variables`` (JSON-encoded) and ``operationName`` query parameters;
  a mutation over ``GET`` is ``405`` (``Allow: POST``), as is any method but GET and POST.

Responses: ``200`` with ``{"data": ..., "errors": [...]}`` once the operation ran (resolver errors are
GraphQL errors, formatted by graphql-core); ``400`` with ``{"errors": [{"message": ...}]}`` for a
request that cannot run: unparseable JSON, no query, variables that are not a JSON object or do not
fit the operation, a query that does not parse or does not validate against the schema, an unknown
``operationName``.

Resolvers receive ``(obj, info, **args)``; ``info.context`` is ``{"event": event, "context": context}``
(the Lambda event and context). Async resolvers are awaited.

This module needs only graphql-core and the standard library.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import inspect
import json
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import parse_qs

try:
    from graphql import (
        GraphQLError,
        GraphQLObjectType,
        GraphQLSchema,
        OperationType,
        build_schema,
        execute,
        get_operation_ast,
        parse,
        validate,
    )
    from graphql.execution.values import get_variable_values
    from graphql.type import assert_valid_schema
except ImportError as _exc:  # a handler file named graphql.py is imported as "graphql" and hides graphql-core
    import sys as _sys

    _shadow = getattr(_sys.modules.get("graphql"), "__file__", None)
    if _shadow and not hasattr(_sys.modules["graphql"], "__path__"):
        raise ImportError(f"sstdirect.graphql needs the graphql-core package, but the module 'graphql' is "
                          f"{_shadow}: rename that file (e.g. to server.py)") from _exc
    raise

Handler = Callable[[Mapping[str, Any], Any], dict[str, Any]]
JSON_HEADERS = {"content-type": "application/json"}


class _RequestError(Exception):
    """A request that cannot be run: answered with ``status`` and GraphQL-style ``errors``."""

    def __init__(self, status: int, errors: list[dict[str, Any]], headers: Mapping[str, str] | None = None):
        super().__init__(errors[0]["message"] if errors else "")
        self.status = status
        self.errors = errors
        self.headers = dict(headers or {})


def _bad(message: str, status: int = 400, headers: Mapping[str, str] | None = None) -> _RequestError:
    return _RequestError(status, [{"message": message}], headers)


def _response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> dict[str, Any]:
    return {"statusCode": status, "headers": {**JSON_HEADERS, **(headers or {})}, "body": json.dumps(body)}


def _attach_resolvers(schema: GraphQLSchema, resolvers: Mapping[str, Any]) -> None:
    if not isinstance(resolvers, Mapping):
        raise TypeError("resolvers must be a dict like {'Query': {'field': resolver}}")
    for type_name, fields in resolvers.items():
        gql_type = schema.get_type(type_name)
        if not isinstance(gql_type, GraphQLObjectType):
            known = sorted(n for n, t in schema.type_map.items()
                           if isinstance(t, GraphQLObjectType) and not n.startswith("__"))
            raise ValueError(f"resolvers: {type_name!r} is not an object type of the schema; types: {known}")
        if not isinstance(fields, Mapping):
            raise TypeError(f"resolvers[{type_name!r}] must be a dict of field name → resolver")
        for field_name, resolver in fields.items():
            if field_name not in gql_type.fields:
                raise ValueError(f"resolvers: {type_name}.{field_name} is not a field of the schema; "
                                 f"{type_name} has {sorted(gql_type.fields)}")
            if not callable(resolver):
                raise TypeError(f"resolvers: {type_name}.{field_name} must be callable (obj, info, **args)")
            gql_type.fields[field_name].resolve = resolver


def _header(event: Mapping[str, Any], name: str) -> str:
    for key, value in (event.get("headers") or {}).items():
        if key.lower() == name:
            return str(value)
    return ""


def _method(event: Mapping[str, Any]) -> str:
    http = (event.get("requestContext") or {}).get("http") or {}
    return str(http.get("method") or event.get("httpMethod") or "").upper()


def _body(event: Mapping[str, Any]) -> str:
    raw = event.get("body") or ""
    if event.get("isBase64Encoded") and raw:
        try:
            return base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError) as exc:
            raise _bad("The request body is not valid base64-encoded UTF-8.") from exc
    return raw


def _query_params(event: Mapping[str, Any]) -> dict[str, str]:
    raw = event.get("rawQueryString")
    if isinstance(raw, str) and raw:
        return {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
    return {k: str(v) for k, v in (event.get("queryStringParameters") or {}).items()}


def _variables(value: Any) -> dict[str, Any] | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise _bad(f"Variables are invalid JSON: {exc}.") from exc
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _bad("Variables must be a JSON object.")
    return value


def _request(event: Mapping[str, Any], method: str) -> tuple[str, dict[str, Any] | None, str | None]:
    """``(query, variables, operation_name)`` of a GET or POST request."""
    if method == "GET":
        params: Mapping[str, Any] = _query_params(event)
    else:
        body = _body(event)
        if _header(event, "content-type").split(";")[0].strip().lower() == "application/graphql":
            params = {"query": body}
        else:
            if not body.strip():
                raise _bad("The request body is missing: send JSON like {\"query\": \"{ ... }\"}.")
            try:
                params = json.loads(body)
            except ValueError as exc:
                raise _bad(f"The request body is not valid JSON: {exc}.") from exc
            if not isinstance(params, dict):
                raise _bad("The request body must be a JSON object with a 'query'.")
    query = params.get("query")
    if not isinstance(query, str) or not query.strip():
        raise _bad("Must provide a query string.")
    operation_name = params.get("operationName") or None
    if operation_name is not None and not isinstance(operation_name, str):
        raise _bad("operationName must be a string.")
    return query, _variables(params.get("variables")), operation_name


def _formatted(errors: list[GraphQLError]) -> list[dict[str, Any]]:
    return [error.formatted for error in errors]


def make_handler(schema: GraphQLSchema | str, resolvers: Mapping[str, Mapping[str, Any]] | None = None) -> Handler:
    """A Lambda handler (payload 2.0) serving ``schema``; see the module docstring.

    ``schema`` is a ``GraphQLSchema`` or SDL text; ``resolvers`` (``{"Type": {"field": fn}}``) are
    attached to the schema's fields. A bad schema or resolver map fails here, at import time.
    """
    if isinstance(schema, str):
        schema = build_schema(schema)
    elif not isinstance(schema, GraphQLSchema):
        raise TypeError(f"make_handler needs a GraphQLSchema or SDL text, not {type(schema).__name__}")
    if resolvers:
        _attach_resolvers(schema, resolvers)
    assert_valid_schema(schema)

    def run(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        method = _method(event)
        if method not in ("GET", "POST"):
            raise _bad(f"GraphQL only supports GET and POST requests, not {method or 'this method'}.", 405,
                       {"allow": "GET, POST"})
        query, variables, operation_name = _request(event, method)
        try:
            document = parse(query)
        except GraphQLError as error:
            raise _RequestError(400, _formatted([error])) from error
        errors = validate(schema, document)
        if errors:
            raise _RequestError(400, _formatted(errors))
        operation = get_operation_ast(document, operation_name)
        if operation is None:
            raise _bad(f"Unknown operation named {operation_name!r}." if operation_name else
                       "Must provide operation name if query contains multiple operations.")
        if method == "GET" and operation.operation is not OperationType.QUERY:
            raise _bad(f"Can only perform a {operation.operation.value} operation from a POST request.", 405,
                       {"allow": "POST"})
        coerced = get_variable_values(schema, operation.variable_definitions or (), variables or {})
        if isinstance(coerced, list):  # variables that do not fit the operation: nothing ran
            raise _RequestError(400, _formatted(coerced))
        result: Any = execute(schema, document, context_value={"event": event, "context": context},
                              variable_values=variables, operation_name=operation_name)
        if inspect.isawaitable(result):
            result = asyncio.run(_awaited(result))
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = _formatted(result.errors)
        return _response(200, body)

    def handler(event: Mapping[str, Any], context: Any) -> dict[str, Any]:
        try:
            return run(event or {}, context)
        except _RequestError as exc:
            return _response(exc.status, {"errors": exc.errors}, exc.headers)

    return handler


async def _awaited(result: Any) -> Any:
    return await result


__all__ = ["make_handler"]
