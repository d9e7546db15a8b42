"""The construct base class, what it needs of its App (:class:`ConstructHost`), the expansion of constructs
into resources and their outputs, output handles and option validation."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

from ..engine.resource import Resource
from ..engine.values import Fmt, Ref
from ..errors import ConfigError, did_you_mean

if TYPE_CHECKING:
    from ..aws import Aws
    from ..packaging import Batch
    from ..state import Record



def _batch() -> Batch:
    from ..packaging import Batch

    return Batch()


_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,63}\Z")  # \Z: "$" would accept a trailing newline


@dataclass(frozen=True)
class ExpandContext:
    """What constructs need to expand into resources (no AWS access)."""

    app: str
    stage: str
    region: str
    root: Path
    cache_dir: Path
    # shared packaging work of this one expansion (a folder scanned once; index written once)
    bundles: Batch = field(default_factory=lambda: _batch(), compare=False, repr=False)

    def tags(self, address: str) -> dict[str, str]:
        return {"sstdirect:app": self.app, "sstdirect:stage": self.stage, "sstdirect:id": address}


class ConstructHost(ABC):
    """What a construct needs of the App it belongs to; :class:`sstdirect.App` is the one implementation.

    ``name``, ``stage``, ``region`` and ``root`` are the app's. A construct registers itself
    (:meth:`register`, see :class:`_Registering`), looks its siblings up (:attr:`constructs`,
    :meth:`construct`), expands with :meth:`expand_context`, and after a deploy reads what it made
    (:meth:`deployed_outputs`, :meth:`recorded`; :meth:`aws` for reads such as an AppSync API key).
    """

    name: str
    stage: str
    region: str
    root: Path

    @property
    @abstractmethod
    def constructs(self) -> list[Construct]:
        """The registered constructs, in the order they were made."""

    @abstractmethod
    def construct(self, construct_id: str) -> Construct | None:
        """The registered construct ``construct_id``, or None."""

    @abstractmethod
    def register(self, construct: Construct, *, check_only: bool = False) -> None:
        """Add ``construct``; ConfigError if its id is taken. ``check_only``: only check the id."""

    @abstractmethod
    def transaction(self) -> AbstractContextManager[None]:
        """A block whose registrations stay only if it succeeds (a constructor that raises after it made
        child Functions leaves the app as it was)."""

    @abstractmethod
    def expand_context(self) -> ExpandContext:
        """A fresh context to expand the constructs in (no AWS access)."""

    @abstractmethod
    def deployed_outputs(self, construct_id: str) -> Mapping[str, Any] | None:
        """The outputs of ``construct_id`` from this app's last ``deploy()`` in this process, or None."""

    @abstractmethod
    def recorded(self, address: str) -> Record | None:
        """The lockfile's record of ``address`` (None when there is no lockfile or no such record)."""

    @abstractmethod
    def aws(self) -> Aws:
        """An AWS boundary for the app's account and region."""


class Output:
    """A value known after deploy (``api.url`` before ``deploy()``), to pass into other constructs.

    It can be concatenated with strings (``api.url + "/notes"``). After ``deploy()``, constructs
    return plain ``str`` values instead.
    """

    __slots__ = ("label", "value")

    def __init__(self, value: Ref | Fmt, label: str):
        self.value = value
        self.label = label

    def __sstdirect_ref__(self) -> Ref | Fmt:
        return self.value

    def __add__(self, other: str) -> Output:
        return Output(Fmt.of("{a}" + other.replace("{", "{{").replace("}", "}}"), a=self.value),
                      f"{self.label} + {other!r}")

    def __radd__(self, other: str) -> Output:
        return Output(Fmt.of(other.replace("{", "{{").replace("}", "}}") + "{a}", a=self.value),
                      f"{other!r} + {self.label}")

    def __repr__(self) -> str:
        return f"<{self.label}: known after deploy>"

    def __str__(self) -> str:
        raise ConfigError(
            f"{self.label} is known only after deploy; pass it as a value (e.g. environment={{'URL': "
            f"{self.label}}}) or join it with + , not inside an f-string or str()"
        )


def all_or_nothing(app: ConstructHost) -> AbstractContextManager[None]:
    """Constructs registered in ``app`` inside the block stay registered only if the block succeeds.

    A constructor (or ``add_routes``) that raises after it made child Functions leaves the App as it
    was: a notebook cell that failed can be fixed and run again.
    """
    return app.transaction()


class _Registering(type):
    """Registers a construct with its App once its whole constructor (the subclass's too) returned.

    A constructor that raises registers nothing, and neither do the children it made before failing.
    """

    def __call__(cls, app: Any = None, *args: Any, **kwargs: Any) -> Any:
        if not isinstance(app, ConstructHost):  # Construct.__init__ names the mistake
            return super().__call__(app, *args, **kwargs)
        with app.transaction():
            construct = super().__call__(app, *args, **kwargs)
            app.register(construct)
        return construct


class Construct(metaclass=_Registering):
    """Base of every construct: an id unique within its App, expansion into resources, outputs.

    A construct joins its App's constructs only after its constructor succeeded (see ``_Registering``).
    """

    kind = "Construct"
    # what the local gateway serves of it: "http" (an HTTP API on a port of its own), "websocket", "appsync",
    # "function" (its code run by the gateway's workers); None: nothing
    served_as: ClassVar[str | None] = None

    def __init__(self, app: ConstructHost, construct_id: str, *, _internal: bool = False):
        if not isinstance(app, ConstructHost):
            raise ConfigError(f"{self.kind} {construct_id!r}: the first argument must be an App, "
                              f"not {type(app).__name__}")
        if not _internal and (not isinstance(construct_id, str) or not _ID.match(construct_id)):
            raise ConfigError(
                f"{self.kind} id {construct_id!r} is not valid: use 1-64 letters, digits, '-' or '_', "
                f"starting with a letter"
            )
        self.app = app
        self.construct_id = construct_id
        self._internal = _internal  # made by another construct (a route's function): no outputs of its own
        app.register(self, check_only=True)  # a taken id fails first; registered once the constructor returns

    @property
    def label(self) -> str:
        return f"{self.kind} {self.construct_id!r}"

    def _resources(self, ctx: ExpandContext) -> list[Resource]:
        raise NotImplementedError

    def _outputs(self, attr: Any) -> dict[str, Any]:
        """Outputs from resolved attributes; ``attr(address, name)`` reads them."""
        return {}

    def _preflight(self, aws: Any) -> None:
        """Checks of input that only AWS can tell (a hosted zone exists): reads only, ConfigError if bad.

        Run by :func:`run_preflight` after planning and before the first write of a deploy that
        changes something.
        """

    def _output(self, name: str, ref: Ref | Fmt) -> Any:
        """The value of output ``name``: a plain value after deploy, else an :class:`Output`."""
        deployed = self.app.deployed_outputs(self.construct_id)
        if deployed is not None and name in deployed:
            return deployed[name]
        return Output(ref, f"{self.construct_id}.{name}")


def expand(constructs: Iterable[Construct], ctx: ExpandContext) -> dict[str, Resource]:
    """Every resource of ``constructs`` by address (no AWS call); ConfigError when two share an address.

    ``ctx.bundles`` (the packaging index) is written once for every function, whatever happens.
    """
    out: dict[str, Resource] = {}
    try:
        for construct in constructs:
            for res in construct._resources(ctx):
                if res.address in out:
                    raise ConfigError(f"two resources share the address {res.address!r}; rename a construct")
                out[res.address] = res
    finally:
        ctx.bundles.flush()
    return out


def collect_outputs(constructs: Iterable[Construct],
                    attr: Callable[[str, str], Any]) -> tuple[dict[str, dict[str, Any]], dict[str, dict[str, Any]]]:
    """``(every construct's outputs, the outputs of those not made by another construct)`` by construct id,
    from resolved attributes (``attr(address, name)``); a construct without outputs is left out."""
    every: dict[str, dict[str, Any]] = {}
    public: dict[str, dict[str, Any]] = {}
    for construct in constructs:
        values = construct._outputs(attr)
        if values:
            every[construct.construct_id] = values
            if not construct._internal:  # a route's own function is reached through its Api
                public[construct.construct_id] = values
    return every, public


def run_preflight(constructs: Iterable[Construct], aws: Any) -> None:
    """Every construct's ``_preflight``; an AWS failure of these reads is a DeployError naming it."""
    from ..engine.errors import wrap_aws_error

    for construct in constructs:
        with wrap_aws_error(construct.construct_id, "check"):
            construct._preflight(aws)


def check_options(label: str, given: Mapping[str, Any], valid: Iterable[str], what: str = "option") -> None:
    """ConfigError for the first unknown key, naming its snake_case spelling or the closest option."""
    valid = set(valid)
    for key in given:
        if not isinstance(key, str):
            raise ConfigError(f"{label}: {what} {key!r} is not a name; {what}s are strings: "
                              f"{', '.join(sorted(valid))}")
        if key not in valid:
            raise ConfigError(f"{label}: unknown {what} {key!r}; {did_you_mean(key, valid)}")


def is_one_of(value: Any, choices: Iterable[str]) -> bool:
    """``value`` is one of the string ``choices`` (False, never a TypeError, for a list or a dict)."""
    return isinstance(value, str) and value in choices


def is_text(value: Any) -> bool:
    """A non-empty string, or a value known after deploy (``cognito.user_pool_id``)."""
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, Ref | Fmt) or hasattr(value, "__sstdirect_ref__")


def text_list(label: str, key: str, value: Any, example: str, *, single: bool = False) -> tuple[Any, ...]:
    """A list (or tuple) of :func:`is_text` values; ``single``: a lone string means a list of one."""
    if single and is_text(value):
        return (value,)
    if isinstance(value, list | tuple) and all(is_text(v) for v in value):
        return tuple(value)
    raise ConfigError(f"{label}: {key} must be a list of non-empty strings such as {example}, not {value!r}")


