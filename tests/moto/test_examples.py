"""Every example app deploys into the embedded AWS, redeploys with zero writes, and is removed cleanly."""

from __future__ import annotations

import runpy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from sstdirect.aws import is_mutating
from sstdirect.overrides import Overrides, declaring

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CASES = ["rest-api", "api-auth-cognito", "api-auth-jwt", "custom-domain", "websocket", "appsync",
         pytest.param("graphql", marks=pytest.mark.network)]  # installs graphql-core for Lambda from PyPI


@pytest.fixture
def overrides(aws: boto3.Session, tmp_path: Path) -> Iterator[None]:
    with declaring(Overrides(session=aws, state_dir=str(tmp_path / "state"))):
        yield


def load(name: str) -> Any:
    with declaring() as scope:  # the fixture's overrides
        runpy.run_path(str(EXAMPLES / name / "app.py"), run_name="__example__")
    (app,) = scope.apps
    return app


@pytest.mark.parametrize("name", CASES)
def test_example_deploys_redeploys_and_is_removed(name: str, aws: boto3.Session, overrides: None) -> None:
    if name == "custom-domain":
        aws.client("route53").create_hosted_zone(Name="example.com", CallerReference="examples")
    app = load(name)
    result = app.deploy()
    assert result.changes and result.outputs
    again = app.deploy()
    assert again.changes == [] and not [k for k in again.api_calls if is_mutating(k)]
    app.remove()
    assert not app.state_path.exists()
    assert aws.client("lambda").list_functions()["Functions"] == []
    assert aws.client("apigatewayv2").get_apis()["Items"] == []
