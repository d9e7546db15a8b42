"""Typed specs (:mod:`sstdirect.engine.spec`) and the provider table (:data:`sstdirect.resources.PROVIDERS`)."""

from __future__ import annotations

import ast
import dataclasses
import importlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sstdirect.engine.resource import Provider, Resource, provider_for, register, registered_types
from sstdirect.engine.spec import OMIT, Spec, resource_spec
from sstdirect.engine.values import FrozenDict, Ref
from sstdirect.resources import PROVIDERS
from sstdirect.resources.apigatewayv2 import RouteSpec
from sstdirect.resources.domains import DomainNameSpec
from sstdirect.resources.logs import LogGroupSpec

ROOT = Path(__file__).resolve().parents[2]


def route(**fields: object) -> RouteSpec:
    return RouteSpec(**{"api_id": Ref("Api/api", "id"), "route_key": "GET /a", "target": "integrations/x", **fields})


def test_a_misspelt_or_missing_field_is_a_type_error_where_the_spec_is_made() -> None:
    with pytest.raises(TypeError, match="authorisation_type"):
        route(authorisation_type="NONE")
    with pytest.raises(TypeError, match="route_key"):
        RouteSpec(api_id="a", target="integrations/x")


def test_a_spec_is_its_props_frozen_and_back() -> None:
    spec = route(authorization_scopes=["read"])
    assert spec.props() == FrozenDict({"api_id": Ref("Api/api", "id"), "route_key": "GET /a",
                                       "target": "integrations/x", "authorization_type": "NONE",
                                       "authorizer_id": None, "authorization_scopes": ("read",)})
    assert spec.authorization_scopes == ("read",)  # frozen on construction
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.route_key = "GET /b"  # type: ignore[misc]
    resolved = {**spec.props(), "api_id": "abc"}
    assert RouteSpec.from_props(resolved) == dataclasses.replace(spec, api_id="abc")
    with pytest.raises(TypeError, match="extra"):
        RouteSpec.from_props({**resolved, "extra": 1})


def test_a_field_left_omitted_stays_out_of_the_props() -> None:
    tags = {"sstdirect:id": "Api/domain/name"}
    plain = DomainNameSpec(domain_name="api.example.com", certificate_arn="arn:cert", tags=tags)
    assert plain.ip_address_type is OMIT and "ip_address_type" not in plain.props()
    dual = dataclasses.replace(plain, ip_address_type="dualstack")
    assert dual.props()["ip_address_type"] == "dualstack"
    assert DomainNameSpec.from_props(plain.props()) == plain


def test_resource_of_a_spec_carries_its_type_props_and_spec() -> None:
    spec = LogGroupSpec(name="/aws/lambda/x", tags={"a": "b"})
    res = Resource.of("Fn/log-group", spec, after=["b", "a", "b"])
    assert (res.type, res.props, res.after, res.spec) == ("logs.LogGroup", spec.props(), ("a", "b"), spec)
    assert res == Resource.make("logs.LogGroup", "Fn/log-group", {"name": "/aws/lambda/x", "retention_days": None,
                                                                  "tags": {"a": "b"}}, after=("a", "b"))


def test_every_resource_the_constructs_make_is_typed_and_its_provider_reads_it_back() -> None:
    """The props the safety net pins (tests/unit/data/desired_props.json) are each one spec's, field for field."""
    recorded = json.loads((ROOT / "tests" / "unit" / "data" / "desired_props.json").read_text())
    types = {res["type"] for app in recorded.values() for res in app.values()}
    assert types == set(PROVIDERS)  # the safety net covers every type
    for app in recorded.values():
        for address, res in app.items():
            spec = provider_for(res["type"]).spec
            assert spec is not None
            missing = {f.name for f in dataclasses.fields(spec) if f.default is dataclasses.MISSING} - set(res["props"])
            assert not missing and set(res["props"]) <= set(spec.field_names), address


def test_every_listed_provider_has_a_spec_of_its_type() -> None:
    assert set(PROVIDERS) <= set(registered_types())
    for resource_type in PROVIDERS:
        provider = provider_for(resource_type)
        assert provider.spec is not None and provider.spec.resource_type == resource_type == provider.type
        assert set(provider.replace_on | provider.secret_fields | provider.transient_fields) <= set(
            provider.spec.field_names)


def test_every_provider_class_of_the_resources_package_is_listed() -> None:
    """A provider the table leaves out would never be found: each Provider subclass is listed, once."""
    listed = {(target.split(":")[0], target.split(":")[1]) for target in PROVIDERS.values()}
    found = set()
    for path in sorted((ROOT / "sstdirect" / "resources").glob("*.py")):
        module = importlib.import_module(f"sstdirect.resources.{path.stem}")
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.ClassDef) and isinstance(getattr(module, node.name), type) and issubclass(
                    getattr(module, node.name), Provider):
                found.add((path.stem, node.name))
    assert found == listed and len(listed) == len(PROVIDERS)


def test_a_provider_naming_no_field_of_its_spec_is_refused_when_its_class_is_made() -> None:
    @resource_spec("test.Thing")
    class ThingSpec(Spec):
        name: str
        size: int = 1

    with pytest.raises(TypeError, match=r"replace_on names 'nmae'"):
        type("ThingProvider", (Provider,), {"spec": ThingSpec, "replace_on": frozenset({"nmae"})})
    with pytest.raises(TypeError, match=r"secret_fields names 'secret'"):
        type("ThingProvider", (Provider,), {"spec": ThingSpec, "secret_fields": frozenset({"secret"})})
    with pytest.raises(TypeError, match=r"transient_fields names 'path'"):
        type("ThingProvider", (Provider,), {"spec": ThingSpec, "transient_fields": frozenset({"path"})})
    with pytest.raises(TypeError, match="is not its spec's"):
        type("ThingProvider", (Provider,), {"spec": ThingSpec, "type": "test.Other"})
    ok = type("ThingProvider", (Provider,), {"spec": ThingSpec, "replace_on": frozenset({"name"})})
    assert ok.type == "test.Thing"


def test_register_refuses_a_type_of_the_table() -> None:
    with pytest.raises(RuntimeError, match="registered twice"):
        register(type("Shadow", (Provider,), {"type": "logs.LogGroup"}))


def test_an_unknown_type_fails_loudly() -> None:
    with pytest.raises(KeyError, match=r"no provider registered for resource type 'nope\.Thing'"):
        provider_for("nope.Thing")


def test_a_lookup_imports_only_its_providers_module() -> None:
    """No side-effect imports: the engine and the table import no provider module; the first lookup of a
    type imports its own."""
    code = ("import sys\n"
            "import sstdirect.engine.resource as r, sstdirect.resources\n"
            "mods = lambda: sorted(m for m in sys.modules if m.startswith('sstdirect.resources.'))\n"
            "before = mods(); r.provider_for('logs.LogGroup'); print(json.dumps([before, mods()]))\n")
    out = subprocess.run([sys.executable, "-c", "import json\n" + code], capture_output=True, text=True,
                         check=True).stdout
    before, after = json.loads(out)
    providers = {f"sstdirect.resources.{target.split(':')[0]}" for target in PROVIDERS.values()}
    assert before == [] and set(after) & providers == {"sstdirect.resources.logs"}


def test_a_spec_is_hashable_its_values_frozen() -> None:
    spec = LogGroupSpec(name="x", tags={"a": "b"})
    assert isinstance(spec.tags, FrozenDict)
    assert hash(spec) == hash(LogGroupSpec(name="x", tags={"a": "b"}))
