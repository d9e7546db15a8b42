"""``Function``: a Lambda function with its own least-privilege role and log group."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ..engine.resource import Resource
from ..engine.values import Fmt, Ref
from ..errors import ConfigError
from ..naming import physical_name
from ..resources.awslambda import FunctionSpec
from ..resources.iam import RoleSpec
from ..resources.logs import LogGroupSpec
from .base import Construct, ExpandContext, check_options
from .permissions import statements

if TYPE_CHECKING:
    from .base import ConstructHost

FUNCTION_OPTIONS = ("handler", "runtime", "memory_size", "timeout", "environment", "permissions",
                    "architecture", "src", "include")
DEFAULTS: dict[str, Any] = {"runtime": "python3.12", "memory_size": 1024, "timeout": 10,
                            "architecture": "x86_64"}
RUNTIMES = ("python3.9", "python3.10", "python3.11", "python3.12", "python3.13")
LAMBDA_TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                   "Action": "sts:AssumeRole"}],
}


def merge_function_props(defaults: Mapping[str, Any] | None, props: Mapping[str, Any]) -> dict[str, Any]:
    """SST's merge: the route's props win, except ``environment`` and ``permissions``, which merge."""
    merged = {**(defaults or {}), **props}
    # Values of the wrong type are not merged: the route's then reaches Function, which names it.
    if defaults and "environment" in defaults and "environment" in props and all(
            isinstance(v, Mapping | None) for v in (defaults["environment"], props["environment"])):
        merged["environment"] = {**(defaults["environment"] or {}), **(props["environment"] or {})}
    if defaults and "permissions" in defaults and "permissions" in props and all(
            isinstance(v, list | tuple | None) for v in (defaults["permissions"], props["permissions"])):
        merged["permissions"] = [*(defaults["permissions"] or []), *(props["permissions"] or [])]
    return merged


def check_props(label: str, props: Mapping[str, Any]) -> None:
    """ConfigError for the first of ``props`` (Function options, any subset) of the wrong type or range.

    The handler's file, ``src`` and ``include`` are checked against the file system by the Function.
    """
    if "handler" in props and not (isinstance(props["handler"], str) and props["handler"]):
        raise ConfigError(f"{label}: handler must be a string such as 'src/list.main', not {props['handler']!r}")
    runtime = props.get("runtime", DEFAULTS["runtime"])
    if not isinstance(runtime, str) or runtime not in RUNTIMES:
        raise ConfigError(f"{label}: runtime {runtime!r} is not supported; use one of {', '.join(RUNTIMES)}")
    memory_size = props.get("memory_size", DEFAULTS["memory_size"])
    if isinstance(memory_size, bool) or not isinstance(memory_size, int) or not 128 <= memory_size <= 10240:
        raise ConfigError(f"{label}: memory_size must be an int of MB between 128 and 10240, not {memory_size!r}")
    timeout = props.get("timeout", DEFAULTS["timeout"])
    if isinstance(timeout, bool) or not isinstance(timeout, int) or not 1 <= timeout <= 900:
        raise ConfigError(f"{label}: timeout must be an int of seconds between 1 and 900, not {timeout!r}")
    architecture = props.get("architecture", DEFAULTS["architecture"])
    if not isinstance(architecture, str) or architecture not in ("x86_64", "arm64"):
        raise ConfigError(f"{label}: architecture must be 'x86_64' or 'arm64', not {architecture!r}")
    environment = props.get("environment")
    if environment is not None and not isinstance(environment, Mapping):
        raise ConfigError(f"{label}: environment must be a dict of variable name → string, e.g. "
                          f"environment={{'TABLE': 'notes'}}, not {environment!r}")
    for k, v in (environment or {}).items():
        if not isinstance(k, str) or not k or not (k[0].isalpha() or k[0] == "_"):
            raise ConfigError(f"{label}: environment key {k!r} is not a valid variable name")
        if not isinstance(v, str) and not hasattr(v, "__sstdirect_ref__"):
            raise ConfigError(f"{label}: environment[{k!r}] must be a string, not {type(v).__name__}")
    statements(label, props.get("permissions"))  # a list; never a string taken letter by letter
    for key in ("src", "include"):
        value = props.get(key)
        if value is not None and not isinstance(value, str | os.PathLike if key == "src" else list | tuple):
            raise ConfigError(f"{label}: {key} must be " + ("a folder path such as 'packages/api'" if key == "src"
                              else "a list of paths such as ['config/*.json']") + f", not {value!r}")


def _check_include(label: str, include: Any, base: Any) -> tuple[str, ...]:
    """``include`` as a tuple of relative paths or glob patterns, each matching a file under ``base``."""
    from ..packaging import check_include

    if include is None:
        return ()
    form = "pass include=['.env.production', 'config/*.json'] (paths or glob patterns under the root)"
    if isinstance(include, str) or not isinstance(include, list | tuple):
        raise ConfigError(f"{label}: include must be a list of paths, not {type(include).__name__}. Fix: {form}")
    for item in include:
        if not isinstance(item, str) or not item.strip() or not item.isprintable():
            raise ConfigError(f"{label}: include item {item!r} is not a path. Fix: {form}")
        parts = item.replace("\\", "/").split("/")
        if item.startswith(("/", "~")) or ".." in parts or (len(item) > 1 and item[1] == ":"):
            raise ConfigError(f"{label}: include item {item!r} leaves the root {base}. Fix: use a path inside "
                              f"it, relative to it")
    check_include(tuple(include), base, label)  # every item must match a file now
    return tuple(include)


class Function(Construct):
    """A Lambda function.

    ``handler="src/list.main"`` is the file ``src/list.py`` under the app's ``root`` (or under
    ``src``), function ``main``; checked when the Function is made. The code folder is zipped
    deterministically with the modules under the app's root that the handler imports; a
    ``requirements.txt`` in it is installed for the Lambda platform. ``include=[...]``: paths or glob
    patterns under the root (or ``src``) bundled even though they are excluded (``.env*``, credential
    files) or outside the handler's folder.
    """

    kind = "Function"
    served_as = "function"

    def __init__(
        self,
        app: ConstructHost,
        id: str,
        handler: str | None = None,
        runtime: str = DEFAULTS["runtime"],
        memory_size: int = DEFAULTS["memory_size"],
        timeout: int = DEFAULTS["timeout"],
        environment: Mapping[str, Any] | None = None,
        permissions: list[Any] | None = None,
        architecture: str = DEFAULTS["architecture"],
        src: str | None = None,
        include: list[str] | None = None,
        *,
        _label: str | None = None,
        _internal: bool = False,
        **unknown: Any,
    ):
        super().__init__(app, id, _internal=_internal)
        label = _label or self.label
        self._label = label
        check_options(label, unknown, FUNCTION_OPTIONS)
        from ..packaging import resolve_handler

        if not isinstance(handler, str) or not handler:
            raise ConfigError(f"{label}: handler is required, e.g. handler='src/list.main'")
        check_props(label, {"runtime": runtime, "memory_size": memory_size, "timeout": timeout,
                            "architecture": architecture, "environment": environment, "permissions": permissions})
        environment = dict(environment) if environment is not None else {}
        self.handler = handler
        self.runtime = runtime
        self.memory_size = memory_size
        self.timeout = timeout
        self.environment = environment
        self.architecture = architecture
        self.src = src
        self._permissions: list[Any] = list(permissions or [])
        self.location = resolve_handler(app.root, handler, src=src, construct=label)
        self.include = _check_include(label, include, self.location.import_root or self.location.code_dir)

    @classmethod
    def from_value(cls, app: ConstructHost, id: str, value: Any, defaults: Mapping[str, Any] | None,
                   label: str) -> Function:
        """A handler string, a dict of Function props or a Function → a Function."""
        if isinstance(value, Function):
            return value
        if isinstance(value, str):
            props: dict[str, Any] = {"handler": value}
        elif isinstance(value, Mapping):
            check_options(label, value, FUNCTION_OPTIONS)
            props = dict(value)
        else:
            raise ConfigError(f"{label}: expected a handler string, a dict of function props or a "
                              f"Function, not {type(value).__name__}")
        if defaults is not None and not isinstance(defaults, Mapping):
            raise ConfigError(f"{label}: defaults' function must be a dict of function props "
                              f"(e.g. {{'timeout': 20}}), not {defaults!r}")
        check_options(f"{label} (defaults' function)", defaults or {}, FUNCTION_OPTIONS)
        check_props(f"{label} (defaults' function)", defaults or {})  # even those every function overrides
        return cls(app, id, **merge_function_props(defaults, props), _label=label, _internal=True)

    def attach_permissions(self, permissions: list[Any]) -> None:
        """Grant more permissions to this function's role (SST's ``attachPermissions``)."""
        statements(self._label, permissions)
        self._permissions.extend(permissions)

    # -- expansion ---------------------------------------------------------------------------

    def _address(self, part: str) -> str:
        return f"{self.construct_id}/{part}"

    @property
    def function_address(self) -> str:
        return self._address("function")

    def physical_name(self, ctx: ExpandContext) -> str:
        return physical_name(ctx.stage, ctx.app, self.construct_id)

    def arn(self, ctx: ExpandContext) -> Fmt:
        """The function's ARN, known before it exists (so integrations need not wait for it)."""
        return Fmt.of("arn:aws:lambda:{region}:{account}:function:{name}", region=Ref("aws", "region"),
                      account=Ref("aws", "account_id"), name=self.physical_name(ctx))

    def _resources(self, ctx: ExpandContext) -> list[Resource]:
        from ..packaging import build_bundle

        name = self.physical_name(ctx)
        log_group = f"/aws/lambda/{name}"
        log_arn = Fmt.of("arn:aws:logs:{region}:{account}:log-group:{name}:*", region=Ref("aws", "region"),
                         account=Ref("aws", "account_id"), name=log_group)
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": ["logs:CreateLogStream", "logs:PutLogEvents"], "Resource": log_arn},
                *statements(self._label, self._permissions),
            ],
        }
        location = self.location
        bundle = build_bundle(location.code_dir, cache_dir=ctx.cache_dir, runtime=self.runtime,
                              architecture=self.architecture, entry=location.file, batch=ctx.bundles,
                              import_root=location.import_root, include=self.include,
                              include_base=location.import_root or location.code_dir, construct=self._label,
                              handler=self.handler)
        role = Resource.of(self._address("role"), RoleSpec(
            name=physical_name(ctx.stage, ctx.app, self.construct_id, max_len=64), assume_role_policy=LAMBDA_TRUST,
            policy=policy, tags=ctx.tags(self._address("role"))))
        logs = Resource.of(self._address("log-group"), LogGroupSpec(
            name=log_group, retention_days=None, tags=ctx.tags(self._address("log-group"))))
        function = Resource.of(self.function_address, FunctionSpec(
            name=name,
            role_arn=Ref(role.address, "arn"),
            handler=self.location.lambda_handler,
            runtime=self.runtime,
            memory_size=self.memory_size,
            timeout=self.timeout,
            environment=self.environment,
            architecture=self.architecture,
            code_sha256=bundle.sha256_b64,
            code_path=str(bundle.path),
            tags=ctx.tags(self.function_address),
        ), after=(logs.address,))
        return [role, logs, function]

    def _outputs(self, attr: Any) -> dict[str, Any]:
        return {"name": attr(self.function_address, "name"), "arn": attr(self.function_address, "arn")}

    @property
    def function_name(self) -> Any:
        return self._output("name", Ref(self.function_address, "name"))

    @property
    def function_arn(self) -> Any:
        return self._output("arn", Ref(self.function_address, "arn"))
