"""Normalizing ``cors=``, ``access_log=`` and durations of API constructs (pure)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ..errors import ConfigError
from .base import check_options

CORS_OPTIONS = ("allow_headers", "allow_methods", "allow_origins", "allow_credentials", "expose_headers", "max_age")
CORS_DEFAULTS: dict[str, Any] = {"allow_headers": ["*"], "allow_methods": ["*"], "allow_origins": ["*"],
                                 "allow_credentials": False}
CORS_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "*")
MAX_CORS_AGE = 86400  # API Gateway's Cors.MaxAge is -1..86400 (botocore's model)
_CORS_AWS = {"allow_headers": "AllowHeaders", "allow_methods": "AllowMethods", "allow_origins": "AllowOrigins",
             "allow_credentials": "AllowCredentials", "expose_headers": "ExposeHeaders", "max_age": "MaxAge"}

HTTP_ACCESS_LOG_FORMAT = (
    '{"requestTime":"$context.requestTime","requestId":"$context.requestId",'
    '"httpMethod":"$context.httpMethod","path":"$context.path","routeKey":"$context.routeKey",'
    '"status":$context.status,"responseLatency":$context.responseLatency,'
    '"integrationRequestId":"$context.integration.requestId",'
    '"integrationStatus":"$context.integration.status",'
    '"integrationLatency":"$context.integration.latency",'
    '"integrationServiceStatus":"$context.integration.integrationStatus",'
    '"ip":"$context.identity.sourceIp","userAgent":"$context.identity.userAgent"}'
)
ACCESS_LOG_OPTIONS = ("format", "retention", "destination_arn")

RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557,
                  2922, 3288, 3653)
RETENTION_NAMES = {
    "one_day": 1, "three_days": 3, "five_days": 5, "one_week": 7, "two_weeks": 14, "one_month": 30,
    "two_months": 60, "three_months": 90, "four_months": 120, "five_months": 150, "six_months": 180,
    "one_year": 365, "thirteen_months": 400, "eighteen_months": 545, "two_years": 731, "three_years": 1096,
    "five_years": 1827, "six_years": 2192, "seven_years": 2557, "eight_years": 2922, "nine_years": 3288,
    "ten_years": 3653, "infinite": None,
}
_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86400}


def parse_seconds(label: str, key: str, value: Any) -> int:
    """``600`` or ``"10 minutes"`` / ``"1 day"`` → seconds."""
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value
    if isinstance(value, str):
        m = re.fullmatch(r"\s*(\d+)\s*(second|minute|hour|day)s?\s*", value)
        if m:
            return int(m.group(1)) * _UNITS[m.group(2)]
    raise ConfigError(f"{label}: {key} must be seconds (int) or a duration like '1 day', not {value!r}")


def cors_config(label: str, cors: Any) -> dict[str, Any] | None:
    """``cors=`` → API Gateway's CorsConfiguration (AWS key names), or None when off."""
    if cors is False or cors is None:
        return None
    if cors is True:
        given: Mapping[str, Any] = {}
    elif isinstance(cors, Mapping):
        check_options(f"{label} cors", cors, CORS_OPTIONS)
        given = cors
    else:
        raise ConfigError(f"{label}: cors must be True, False or a dict of {', '.join(CORS_OPTIONS)}")
    merged = {**CORS_DEFAULTS, **given}
    out: dict[str, Any] = {}
    for key, value in merged.items():
        if value is None:
            continue
        if key == "allow_credentials":
            if not isinstance(value, bool):
                raise ConfigError(f"{label}: cors allow_credentials must be True or False")
        elif key == "max_age":
            value = parse_seconds(f"{label} cors", "max_age", value)
            if value > MAX_CORS_AGE:
                raise ConfigError(f"{label}: cors max_age is {value} seconds; API Gateway allows at most "
                                  f"{MAX_CORS_AGE} (1 day)")
        else:
            if not isinstance(value, list | tuple) or not all(isinstance(v, str) and v for v in value):
                raise ConfigError(f"{label}: cors {key} must be a list of non-empty strings, not {value!r}")
            value = list(value)
            if key == "allow_methods":
                value = ["*" if v.upper() == "ANY" else v.upper() for v in value]
                bad = [v for v in value if v not in CORS_METHODS]
                if bad:
                    raise ConfigError(f"{label}: cors allow_methods has {bad[0]!r}; use HTTP methods "
                                      f"({', '.join(CORS_METHODS[:-1])}) or '*'")
        out[_CORS_AWS[key]] = value
    if out.get("AllowCredentials") and "*" in out.get("AllowOrigins", []):
        raise ConfigError(
            f"{label}: cors allow_credentials=True cannot be used with allow_origins ['*'] (browsers refuse "
            f"it); list the allowed origins, e.g. allow_origins=['https://app.example.com']"
        )
    return out


def retention_days(label: str, value: Any) -> int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.lower() in RETENTION_NAMES:
        return RETENTION_NAMES[value.lower()]
    if isinstance(value, int) and not isinstance(value, bool) and value in RETENTION_DAYS:
        return value
    raise ConfigError(f"{label}: access_log retention {value!r} is not valid; use days in "
                      f"{RETENTION_DAYS} or a name such as 'one_week' or 'infinite'")


def access_log_config(label: str, access_log: Any, default_format: str) -> dict[str, Any] | None:
    """``access_log=`` → ``{"format", "retention_days", "destination_arn"}`` or None when off."""
    if access_log is False or access_log is None:
        return None
    if access_log is True:
        return {"format": default_format, "retention_days": None, "destination_arn": None}
    if isinstance(access_log, str):
        if not access_log.strip():
            raise ConfigError(f"{label}: access_log format must not be empty")
        return {"format": access_log, "retention_days": None, "destination_arn": None}
    if isinstance(access_log, Mapping):
        check_options(f"{label} access_log", access_log, ACCESS_LOG_OPTIONS)
        fmt = access_log.get("format", default_format)
        if not isinstance(fmt, str) or not fmt.strip():
            raise ConfigError(f"{label}: access_log format must be a non-empty string")
        dest = access_log.get("destination_arn")
        if dest is not None and not (isinstance(dest, str) and dest.startswith("arn:")):
            raise ConfigError(f"{label}: access_log destination_arn must be a log group ARN, not {dest!r}")
        return {"format": fmt, "retention_days": retention_days(label, access_log.get("retention")),
                "destination_arn": dest}
    raise ConfigError(f"{label}: access_log must be True, False, a format string or a dict of "
                      f"{', '.join(ACCESS_LOG_OPTIONS)}")
