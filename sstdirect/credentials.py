"""Where the credentials of an :class:`~sstdirect.aws.Aws` come from, and the error when there are none.

boto3's default chain decides, as it always does (the environment, the profile of ``profile=`` /
``--profile`` / ``AWS_PROFILE``, container and instance credentials). sstdirect adds two things:

* an ``endpoint_url`` served by a sstdirect ``LocalCloud`` -- one running in this process, or a loopback
  endpoint answering the LocalCloud marker (a running ``sstdirect dev``) -- used with no credentials
  configured signs with that cloud's key pair (:func:`local_cloud_credentials`). Credentials that are
  configured always win;
* no credentials at all is a :class:`~sstdirect.errors.ConfigError` naming the fixes (``--local``,
  ``--profile``, ``AWS_PROFILE``), raised before any request is sent and before anything is written
  (:func:`no_credentials`); a profile that does not exist is one too (:func:`make_session`).

Resolving credentials sends no request to AWS (botocore asks the instance-metadata endpoint when
nothing else gave any, unless ``AWS_EC2_METADATA_DISABLED=true``).
"""

from __future__ import annotations

import os

import boto3
from botocore.exceptions import ProfileNotFound

from .errors import ConfigError

FIXES = ("use `--local` for the embedded local AWS (no account needed; Python: `with LocalCloud() as cloud:` "
         "and `App(..., endpoint_url=cloud.endpoint_url)`), choose a profile with `--profile NAME` or "
         "`AWS_PROFILE=NAME` (Python: `App(..., profile=NAME)`; `aws configure` or `aws configure sso` makes "
         "one), or set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")


def make_session(profile: str | None, region: str | None) -> boto3.Session:
    """``boto3.Session(profile_name=profile, region_name=region)``; a profile (given, or from
    ``AWS_PROFILE``) that no config or credentials file defines is a ConfigError naming it and the fixes."""
    try:
        return boto3.Session(profile_name=profile, region_name=region)
    except ProfileNotFound:
        source = "--profile / App(profile=...)" if profile else "the AWS_PROFILE environment variable"
        name = profile or os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
        raise ConfigError(
            f"AWS profile {name!r} (from {source}) is not defined in {_config_files()}. "
            f"Nothing was sent to AWS and nothing was written. To fix it: {FIXES}."
        ) from None


def local_cloud_credentials(endpoint_url: str) -> tuple[str, str] | None:
    """The ``(access key id, secret)`` of the sstdirect ``LocalCloud`` serving ``endpoint_url``, else None
    (see :func:`sstdirect.local.cloud.endpoint_credentials`: no request unless the endpoint is loopback)."""
    try:
        from .local.cloud import endpoint_credentials
    except ImportError:  # a trimmed install without the local package
        return None
    found = endpoint_credentials(endpoint_url)
    return None if found is None else (found.access_key_id, found.secret_access_key)


def no_credentials(*, region: str, profile: str | None, endpoint_url: str | None, session_given: bool,
                   cause: str | None = None) -> ConfigError:
    """The ConfigError of "no AWS credentials": where sstdirect looked, and the fixes."""
    if session_given:
        where = "the boto3 Session passed to App has no credentials"
    elif profile:
        where = f"profile {profile!r} has no credentials"
    elif os.environ.get("AWS_PROFILE"):
        where = f"profile {os.environ['AWS_PROFILE']!r} (AWS_PROFILE) has no credentials"
    else:
        where = "none in the environment, in " + _config_files() + ", or from the instance or container"
    if endpoint_url and not session_given and not profile:  # it was looked for (Aws._resolve_credentials)
        where += f"; {endpoint_url} is not a running sstdirect LocalCloud (whose credentials would be used)"
    if cause:  # the chain found something it could not use (a key id without its secret, a failing process)
        head = f"AWS credentials could not be loaded for region {region}: {cause}."
    else:
        head = f"No AWS credentials were found for region {region} ({where})."
    return ConfigError(f"{head} Nothing was sent to AWS and nothing was written. To fix it: {FIXES}.")


def _config_files() -> str:
    """The config and credentials files botocore reads (their environment overrides, else the defaults)."""
    config = os.environ.get("AWS_CONFIG_FILE") or "~/.aws/config"
    creds = os.environ.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    return f"{config} or {creds}"
