"""API Gateway v2 operations and output fields that moto 5.2.5 lacks.

Added operations (shapes, status codes and error codes from botocore's apigatewayv2 model):

* ``UpdateStage`` (200): AccessLogSettings, AutoDeploy, ClientCertificateId, DefaultRouteSettings
  and Description replace; RouteSettings merge per route key; StageVariables merge, and a
  variable whose new value is ``""`` is removed (AWS's documented way to drop one); DeploymentId
  must name an existing deployment. Returns the stage.
* ``DeleteAccessLogSettings`` (204): the stage loses its AccessLogSettings.
* ``DeleteRouteSettings`` (204): drops one route key's settings; ``NotFoundException`` if none.
* ``GetAuthorizers`` (200): ``Items`` with MaxResults/NextToken pagination.
* ``CreateDeployment`` (201) / ``GetDeployments`` / ``GetDeployment`` / ``DeleteDeployment`` (204):
  simple deployment records (status ``DEPLOYED``); creating one with a StageName sets that
  stage's DeploymentId.
* ``UpdateDomainName`` (200): replaces DomainNameConfigurations / MutualTlsAuthentication.
* ``UpdateApiMapping`` (200): changes ApiId, ApiMappingKey and Stage of a mapping.

Added output fields:

* every ``DomainNameConfigurations`` entry carries ``ApiGatewayDomainName``
  (``d-<10 lowercase alnum>.execute-api.<region>.amazonaws.com``), ``HostedZoneId`` (the regional
  API Gateway zone) and ``DomainNameStatus: AVAILABLE``, stable for the life of the domain;
* a stage's ``DeploymentId``.

Changed ids: an API's ``ApiId`` (HTTP and WebSocket) is 10 lowercase letters and digits, as AWS's
(``$context.apiId`` / ``domainPrefix`` in real events); moto made 8 lowercase letters.

A missing api, stage, deployment, domain name or mapping is ``NotFoundException`` (404).
Deployment records live on moto's ``Api`` objects, so ``/moto-api/reset`` clears them with the rest.
"""

from __future__ import annotations

import hashlib
import json
import string
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from moto.apigatewayv2.exceptions import (
    APIGatewayV2Error,
    ApiMappingNotFound,
    ApiNotFound,
    BadRequestException,
)
from moto.apigatewayv2.models import (
    Api,
    ApiGatewayV2Backend,
    ApiMapping,
    Authorizer,
    DomainName,
    Stage,
)
from moto.apigatewayv2.responses import ApiGatewayV2Response
from moto.core.common_models import BaseModel
from moto.core.responses import TYPE_RESPONSE
from moto.core.utils import iso_8601_datetime_without_milliseconds
from moto.moto_api._internal import mock_random as random

from ._moto import add_apigateway_url_paths

# Route 53 hosted zone of API Gateway's regional endpoints, per region (AWS general reference,
# "Amazon API Gateway endpoints and quotas"). A region not listed gets a stable placeholder.
REGIONAL_HOSTED_ZONE_IDS: dict[str, str] = {
    "us-east-1": "Z1UJRXOUMOOFQ8",
    "us-east-2": "ZOJJZC49E0EPZ",
    "us-west-1": "Z2MUQ32089INYE",
    "us-west-2": "Z2OJLYMUO9EFXC",
    "ca-central-1": "Z19DQILCV0OWEC",
    "sa-east-1": "ZCMLWB8V5SYIT",
    "eu-west-1": "ZLY8HYME6SFDD",
    "eu-west-2": "ZJ5UAJN8Y3Z2Q",
    "eu-west-3": "Z3KY65QIEKYHQQ",
    "eu-central-1": "Z1U9ULNL0V5AJ3",
    "eu-north-1": "Z3UWIKFBOOGXPP",
    "eu-south-1": "Z3BT4WSQ9TDYZV",
    "ap-northeast-1": "Z1YSHQZHG15GKL",
    "ap-northeast-2": "Z20JF4UZKIW1U8",
    "ap-southeast-1": "ZL327KTPIQFUL",
    "ap-southeast-2": "Z2RPCDW04V8134",
    "ap-south-1": "Z3VO1THU9YC4UR",
    "ap-east-1": "Z3FD1VL90ND7K5",
    "af-south-1": "Z2DHW2332DAMTN",
    "me-south-1": "Z20ZBPC0SS8806",
}


def regional_hosted_zone_id(region: str) -> str:
    """The API Gateway regional hosted zone for ``region`` (a stable placeholder if unlisted)."""
    known = REGIONAL_HOSTED_ZONE_IDS.get(region)
    if known:
        return known
    digest = hashlib.sha256(region.encode()).hexdigest().upper()
    return "Z" + digest[:13]


def _random_id(length: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(random.choice(alphabet) for _ in range(length))


class DeploymentNotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, deployment_id: str):
        super().__init__("NotFoundException", f"Invalid Deployment identifier specified {deployment_id}")


class RouteSettingsNotFound(APIGatewayV2Error):
    code = 404

    def __init__(self, route_key: str):
        super().__init__("NotFoundException", f"Unable to find route settings for route key {route_key}")


class StageNotFoundNamed(APIGatewayV2Error):
    """moto's StageNotFound names no stage; this one does (same code and status)."""

    code = 404

    def __init__(self, stage_name: str):
        super().__init__("NotFoundException", f"Invalid stage identifier specified {stage_name}")


# --- models ---------------------------------------------------------------------------------


class Deployment(BaseModel):
    """One API deployment record (moto has none)."""

    def __init__(self, description: str | None, auto_deployed: bool = False):
        self.id = _random_id(6)
        self.description = description
        self.auto_deployed = auto_deployed
        self.created = datetime.now()

    def update(self, description: str | None) -> None:
        if description is not None:
            self.description = description

    def to_json(self) -> dict[str, Any]:
        dct: dict[str, Any] = {
            "autoDeployed": self.auto_deployed,
            "createdDate": iso_8601_datetime_without_milliseconds(self.created),
            "deploymentId": self.id,
            "deploymentStatus": "DEPLOYED",
        }
        if self.description is not None:
            dct["description"] = self.description
        return dct


def _deployments(api: Api) -> dict[str, Deployment]:
    """The API's deployments, kept on moto's Api object (so reset and delete_api drop them)."""
    return api.__dict__.setdefault("_ext_deployments", {})


def _stage_deployment_id(stage: Stage) -> str | None:
    return stage.__dict__.get("_ext_deployment_id", stage.config.get("deploymentId"))


def _stage_update(self: Stage, config: dict[str, Any]) -> None:
    """Apply an UpdateStage request body to this stage (AWS's merge rules, see module doc)."""
    if "accessLogSettings" in config:
        self.access_log_settings = config["accessLogSettings"]
    if "autoDeploy" in config:
        self.auto_deploy = config["autoDeploy"]
    if "clientCertificateId" in config:
        self.client_certificate_id = config["clientCertificateId"]
    if "defaultRouteSettings" in config:
        self.default_route_settings = config["defaultRouteSettings"]
    if "deploymentId" in config:
        self.__dict__["_ext_deployment_id"] = config["deploymentId"]
    if "description" in config:
        self.description = config["description"]
    if "routeSettings" in config:
        self.route_settings = {**(self.route_settings or {}), **config["routeSettings"]}
    if "stageVariables" in config:
        merged = {**(self.stage_variables or {}), **config["stageVariables"]}
        self.stage_variables = {key: value for key, value in merged.items() if value != ""}
    self.updated = datetime.now()


API_ID_LENGTH = 10


def _wrap_api_init(original: Any) -> Any:
    """Give every new API an AWS-style :data:`API_ID_LENGTH`-character id (its endpoint, ARN and tags follow)."""

    def __init__(self: Api, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        old_arn, old_id = self.arn, self.api_id
        self.api_id = _random_id(API_ID_LENGTH)
        self.api_endpoint = self.api_endpoint.replace(f"//{old_id}.", f"//{self.api_id}.", 1)
        self.arn = old_arn.replace(f"/apis/{old_id}", f"/apis/{self.api_id}")
        tags = self.backend.get_tags(old_arn)
        self.backend.tagger.delete_all_tags_for_resource(old_arn)
        self.backend.tag_resource(self.arn, tags)

    return __init__


def _wrap_stage_to_json(original: Any) -> Any:
    def to_json(self: Stage) -> dict[str, Any]:
        dct = original(self)
        deployment_id = _stage_deployment_id(self)
        if deployment_id:
            dct["deploymentId"] = deployment_id
        return dct

    return to_json


def _wrap_domain_name_to_json(original: Any) -> Any:
    def to_json(self: DomainName) -> dict[str, Any]:
        dct = original(self)
        region = self.domain_name_arn.split(":")[3]
        target = self.__dict__.get("_ext_gateway_domain_name")
        if target is None:
            target = f"d-{_random_id(10)}.execute-api.{region}.amazonaws.com"
            self.__dict__["_ext_gateway_domain_name"] = target
        generated = {
            "apiGatewayDomainName": target,
            "hostedZoneId": regional_hosted_zone_id(region),
            "domainNameStatus": "AVAILABLE",
        }
        dct["domainNameConfigurations"] = [
            {"endpointType": "REGIONAL", "securityPolicy": "TLS_1_2", **cfg, **generated}
            for cfg in (self.domain_name_configurations or [{}])
        ]
        return dct

    return to_json


# --- backend methods (installed on ApiGatewayV2Backend) --------------------------------------


def _get_stage_named(backend: ApiGatewayV2Backend, api_id: str, stage_name: str) -> Stage:
    api = backend.get_api(api_id)
    if stage_name not in api.stages:
        raise StageNotFoundNamed(stage_name)
    return api.stages[stage_name]


def update_stage(self: ApiGatewayV2Backend, api_id: str, stage_name: str, config: dict[str, Any]) -> Stage:
    stage = _get_stage_named(self, api_id, stage_name)
    deployment_id = config.get("deploymentId")
    if deployment_id:
        self.get_deployment(api_id, deployment_id)
    _stage_update(stage, config)
    return stage


def delete_access_log_settings(self: ApiGatewayV2Backend, api_id: str, stage_name: str) -> None:
    stage = _get_stage_named(self, api_id, stage_name)
    stage.access_log_settings = None
    stage.updated = datetime.now()


def delete_route_settings(self: ApiGatewayV2Backend, api_id: str, stage_name: str, route_key: str) -> None:
    stage = _get_stage_named(self, api_id, stage_name)
    if route_key not in (stage.route_settings or {}):
        raise RouteSettingsNotFound(route_key)
    del stage.route_settings[route_key]
    stage.updated = datetime.now()


def get_authorizers(self: ApiGatewayV2Backend, api_id: str) -> list[Authorizer]:
    return list(self.get_api(api_id).authorizers.values())


def create_deployment(
    self: ApiGatewayV2Backend, api_id: str, description: str | None, stage_name: str | None
) -> Deployment:
    api = self.get_api(api_id)
    stage = _get_stage_named(self, api_id, stage_name) if stage_name else None
    deployment = Deployment(description=description)
    _deployments(api)[deployment.id] = deployment
    if stage is not None:
        stage.__dict__["_ext_deployment_id"] = deployment.id
        stage.updated = datetime.now()
    return deployment


def get_deployments(self: ApiGatewayV2Backend, api_id: str) -> list[Deployment]:
    return list(_deployments(self.get_api(api_id)).values())


def get_deployment(self: ApiGatewayV2Backend, api_id: str, deployment_id: str) -> Deployment:
    deployments = _deployments(self.get_api(api_id))
    if deployment_id not in deployments:
        raise DeploymentNotFound(deployment_id)
    return deployments[deployment_id]


def delete_deployment(self: ApiGatewayV2Backend, api_id: str, deployment_id: str) -> None:
    self.get_deployment(api_id, deployment_id)
    del _deployments(self.get_api(api_id))[deployment_id]


def update_domain_name(
    self: ApiGatewayV2Backend,
    domain_name: str,
    domain_name_configurations: list[dict[str, Any]] | None,
    mutual_tls_authentication: dict[str, Any] | None,
) -> DomainName:
    domain = self.get_domain_name(domain_name)
    if domain_name_configurations is not None:
        domain.domain_name_configurations = domain_name_configurations
    if mutual_tls_authentication is not None:
        domain.mutual_tls_authentication = mutual_tls_authentication
    return domain


def update_api_mapping(
    self: ApiGatewayV2Backend,
    api_mapping_id: str,
    domain_name: str,
    api_id: str,
    api_mapping_key: str | None,
    stage: str | None,
) -> ApiMapping:
    self.get_domain_name(domain_name)
    mapping = self.api_mappings.get(api_mapping_id)
    if mapping is None or mapping.domain_name != domain_name:
        raise ApiMappingNotFound
    if api_id not in self.apis:
        raise ApiNotFound("The resource specified in the request was not found.")
    if api_mapping_key is not None:
        if api_mapping_key.startswith("/") or "//" in api_mapping_key:
            raise BadRequestException("API mapping key should not start with a '/' or have consecutive '/'s.")
        if api_mapping_key.endswith("/"):
            raise BadRequestException("API mapping key should not end with a '/'.")
        mapping.api_mapping_key = api_mapping_key
    if stage is not None:
        mapping.stage = stage
    mapping.api_id = api_id
    return mapping


# --- response handlers (installed on ApiGatewayV2Response) -----------------------------------
# moto takes the HTTP status from the "status" header of a handler's (status, headers, body)
# tuple, not from its first item, so a non-200 status goes in both.


def _paginate(items: list[Any], max_results: str | None, next_token: str | None) -> dict[str, Any]:
    """AWS-style page: ``items`` plus ``nextToken`` when more remain (the token is an offset)."""
    try:
        start = int(next_token) if next_token else 0
        size = int(max_results) if max_results else len(items) or 1
    except ValueError as exc:
        raise BadRequestException("Invalid MaxResults or NextToken") from exc
    if start < 0 or size < 1:
        raise BadRequestException("Invalid MaxResults or NextToken")
    page: dict[str, Any] = {"items": [item.to_json() for item in items[start : start + size]]}
    if start + size < len(items):
        page["nextToken"] = str(start + size)
    return page


def _path_parts(response: ApiGatewayV2Response) -> list[str]:
    return [unquote(part) for part in response.path.split("/")]


def _query(response: ApiGatewayV2Response, name: str) -> str | None:
    values = response.querystring.get(name)
    return values[0] if values else None


def _body(response: ApiGatewayV2Response) -> dict[str, Any]:
    return json.loads(response.body) if response.body else {}


def handle_update_stage(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # PATCH /v2/apis/{apiId}/stages/{stageName}
    parts = _path_parts(self)
    stage = self.apigatewayv2_backend.update_stage(parts[-3], parts[-1], _body(self))
    return 200, {}, json.dumps(stage.to_json())


def handle_delete_access_log_settings(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # DELETE /v2/apis/{apiId}/stages/{stageName}/accesslogsettings
    parts = _path_parts(self)
    self.apigatewayv2_backend.delete_access_log_settings(parts[-4], parts[-2])
    return 204, {"status": 204}, ""


def handle_delete_route_settings(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # DELETE /v2/apis/{apiId}/stages/{stageName}/routesettings/{routeKey}; the route key
    # ("GET /items") may contain "/", so it is everything after "/routesettings/".
    head, _, raw_key = self.path.partition("/routesettings/")
    parts = [unquote(part) for part in head.split("/")]
    self.apigatewayv2_backend.delete_route_settings(parts[-3], parts[-1], unquote(raw_key))
    return 204, {"status": 204}, ""


def handle_get_authorizers(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # GET /v2/apis/{apiId}/authorizers
    authorizers = self.apigatewayv2_backend.get_authorizers(_path_parts(self)[-2])
    page = _paginate(authorizers, _query(self, "maxResults"), _query(self, "nextToken"))
    return 200, {}, json.dumps(page)


def handle_create_deployment(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # POST /v2/apis/{apiId}/deployments
    params = _body(self)
    deployment = self.apigatewayv2_backend.create_deployment(
        _path_parts(self)[-2], params.get("description"), params.get("stageName")
    )
    return 201, {"status": 201}, json.dumps(deployment.to_json())


def handle_get_deployments(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # GET /v2/apis/{apiId}/deployments
    deployments = self.apigatewayv2_backend.get_deployments(_path_parts(self)[-2])
    page = _paginate(deployments, _query(self, "maxResults"), _query(self, "nextToken"))
    return 200, {}, json.dumps(page)


def handle_get_deployment(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # GET /v2/apis/{apiId}/deployments/{deploymentId}
    parts = _path_parts(self)
    deployment = self.apigatewayv2_backend.get_deployment(parts[-3], parts[-1])
    return 200, {}, json.dumps(deployment.to_json())


def handle_delete_deployment(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # DELETE /v2/apis/{apiId}/deployments/{deploymentId}
    parts = _path_parts(self)
    self.apigatewayv2_backend.delete_deployment(parts[-3], parts[-1])
    return 204, {"status": 204}, ""


def handle_update_domain_name(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # PATCH /v2/domainnames/{domainName}
    params = _body(self)
    domain = self.apigatewayv2_backend.update_domain_name(
        _path_parts(self)[-1],
        params.get("domainNameConfigurations"),
        params.get("mutualTlsAuthentication"),
    )
    return 200, {}, json.dumps(domain.to_json())


def handle_update_api_mapping(self: ApiGatewayV2Response) -> TYPE_RESPONSE:
    # PATCH /v2/domainnames/{domainName}/apimappings/{apiMappingId}
    parts = _path_parts(self)
    params = _body(self)
    mapping = self.apigatewayv2_backend.update_api_mapping(
        api_mapping_id=parts[-1],
        domain_name=parts[-3],
        api_id=params.get("apiId"),
        api_mapping_key=params.get("apiMappingKey"),
        stage=params.get("stage"),
    )
    return 200, {}, json.dumps(mapping.to_json())


_API = r"{0}/v2/apis/(?P<api_id>[^/]+)"
URL_PATHS = {
    _API + r"/stages/(?P<stage_name>[^/]+)/accesslogsettings$": ApiGatewayV2Response.dispatch,
    # A route key contains "/" once the server has percent-decoded the path.
    _API + r"/stages/(?P<stage_name>[^/]+)/routesettings/(?P<route_key>.+)$": ApiGatewayV2Response.dispatch,
    _API + r"/deployments$": ApiGatewayV2Response.dispatch,
    _API + r"/deployments/(?P<deployment_id>[^/]+)$": ApiGatewayV2Response.dispatch,
}

BACKEND_METHODS = {
    "update_stage": update_stage,
    "delete_access_log_settings": delete_access_log_settings,
    "delete_route_settings": delete_route_settings,
    "get_authorizers": get_authorizers,
    "create_deployment": create_deployment,
    "get_deployments": get_deployments,
    "get_deployment": get_deployment,
    "delete_deployment": delete_deployment,
    "update_domain_name": update_domain_name,
    "update_api_mapping": update_api_mapping,
}

# moto resolves method + URI to an operation name through botocore's model and looks the
# snake_case name up on the response class on every request.
RESPONSE_METHODS = {
    "update_stage": handle_update_stage,
    "delete_access_log_settings": handle_delete_access_log_settings,
    "delete_route_settings": handle_delete_route_settings,
    "get_authorizers": handle_get_authorizers,
    "create_deployment": handle_create_deployment,
    "get_deployments": handle_get_deployments,
    "get_deployment": handle_get_deployment,
    "delete_deployment": handle_delete_deployment,
    "update_domain_name": handle_update_domain_name,
    "update_api_mapping": handle_update_api_mapping,
}


def install() -> None:
    """Add the operations and fields above to moto (call once; ``ext.install`` guards that)."""
    for name, method in BACKEND_METHODS.items():
        setattr(ApiGatewayV2Backend, name, method)
    for name, handler in RESPONSE_METHODS.items():
        setattr(ApiGatewayV2Response, name, handler)
    Api.__init__ = _wrap_api_init(Api.__init__)  # type: ignore[method-assign]
    Stage.update = _stage_update  # type: ignore[attr-defined]
    Stage.to_json = _wrap_stage_to_json(Stage.to_json)  # type: ignore[method-assign]
    DomainName.to_json = _wrap_domain_name_to_json(DomainName.to_json)  # type: ignore[method-assign]
    add_apigateway_url_paths(URL_PATHS)
