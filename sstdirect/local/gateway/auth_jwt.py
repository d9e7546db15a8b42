"""JWT authorizers of HTTP APIs (SEMANTICS.md §3): real signature checks against the issuer's JWKS.

* :class:`JwksCache` finds an issuer's keys through OIDC discovery (``{iss}/.well-known/openid-configuration``
  → ``jwks_uri``, falling back to ``{iss}/.well-known/jwks.json`` as other emulators do) and caches them;
  an issuer can be *resolved* to another base URL first, which is how the embedded AWS's Cognito issuers
  (``https://cognito-idp.{region}.amazonaws.com/{pool}``, never reachable) reach the local JWKS.
* :func:`verify` checks one token in AWS's order (§3.2): token present (``Bearer `` optional), decodable,
  RSA algorithm, a ``kid`` the JWKS has, the signature, ``iss`` exactly, ``aud`` or ``client_id`` among the
  audiences, ``exp`` / ``nbf`` / ``iat``; then the route's scopes. A failure is a :class:`JwtDenied` with the
  status (401, or 403 for scopes) and the ``www-authenticate`` value to send.
* :func:`claims_context` renders claims as strings (§3.6) and :func:`token_scopes` reads ``scope`` / ``scp``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import jwt
from jwt.exceptions import PyJWTError

_log = logging.getLogger("sstdirect.local.gateway")

# §3.2 "Currently, only RSA-based algorithms are supported". Which RSA algorithms exactly is not
# documented: RS256/384/512 are taken (INFERRED), PS* / HS* / ES* / none are refused.
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")
FETCH_TIMEOUT_S = 1.5  # §3.1: JWKS endpoint and OIDC discovery timeouts are 1500 ms
MAX_JWKS_BYTES = 150_000  # §3.1: the JWKS response is at most 150000 bytes
JWKS_TTL_S = 300.0  # how long fetched keys are trusted before discovery runs again (INFERRED)
REFRESH_AFTER_S = 5.0  # an unknown kid refetches the JWKS at most this often (key rotation)

Fetch = Callable[[str], Any]  # url → decoded JSON; raises on any failure


class JwtDenied(Exception):
    """The token is refused: ``status`` 401 (``www_authenticate`` set) or 403 (scopes); ``expired`` tells a
    token refused only for its ``exp`` apart (AppSync answers those with a message of their own)."""

    def __init__(self, status: int, description: str, expired: bool = False):
        super().__init__(description)
        self.status = status
        self.description = description
        self.expired = expired

    @property
    def www_authenticate(self) -> str | None:
        if self.status != 401:
            return None
        if not self.description:
            return "Bearer"
        # §3.3: only one description is documented; the others follow its form (INFERRED)
        return f'Bearer scope="" error="invalid_token" error_description="{self.description}"'


def http_get_json(url: str) -> Any:
    """GET ``url`` (1.5 s timeout, at most 150000 bytes) and decode it as JSON. Loopback never goes
    through a proxy; other hosts use the environment's proxy settings."""
    host = urllib.parse.urlsplit(url).hostname or ""
    loopback = host in ("127.0.0.1", "localhost", "::1")
    opener = urllib.request.build_opener(*([urllib.request.ProxyHandler({})] if loopback else []))
    with opener.open(urllib.request.Request(url, headers={"accept": "application/json"}),
                     timeout=FETCH_TIMEOUT_S) as response:
        raw = response.read(MAX_JWKS_BYTES + 1)
    if len(raw) > MAX_JWKS_BYTES:
        raise ValueError(f"{url} answered more than {MAX_JWKS_BYTES} bytes")
    return json.loads(raw)


def cognito_resolver(endpoint_url: str) -> Callable[[str], str]:
    """Resolve ``https://cognito-idp.{region}.amazonaws.com/{pool}`` to ``{endpoint_url}/{pool}`` (the
    embedded AWS serves the pool's discovery document and JWKS there); other issuers are unchanged."""
    base = endpoint_url.rstrip("/")

    def resolve(issuer: str) -> str:
        prefix, _, pool = issuer.rstrip("/").rpartition("/")
        if prefix.startswith("https://cognito-idp.") and prefix.endswith(".amazonaws.com") and pool:
            return f"{base}/{pool}"
        return issuer

    return resolve


@dataclass(frozen=True)
class SigningKey:
    """A JWK of an issuer: the key and the ``alg`` the JWKS declares for it (None if it declares none)."""

    jwk: jwt.PyJWK
    algorithm: str | None


@dataclass
class _Keys:
    keys: dict[str, SigningKey]
    fetched_at: float


class JwksCache:
    """An issuer's signing keys by ``kid``, found through OIDC discovery and cached (thread-safe)."""

    def __init__(self, resolve: Callable[[str], str] | None = None, fetch: Fetch = http_get_json,
                 ttl_s: float = JWKS_TTL_S, clock: Callable[[], float] = time.monotonic):
        self.resolve = resolve or (lambda issuer: issuer)
        self.fetch = fetch
        self.ttl_s = ttl_s
        self.clock = clock
        self._cache: dict[str, _Keys] = {}
        self._lock = threading.Lock()

    def key(self, issuer: str, kid: str) -> SigningKey | None:
        """The key ``kid`` of ``issuer`` (None if the issuer's JWKS does not have it or cannot be read)."""
        with self._lock:
            cached = self._cache.get(issuer)
            now = self.clock()
            stale = cached is None or now - cached.fetched_at > self.ttl_s
            if not stale and kid not in cached.keys and now - cached.fetched_at > REFRESH_AFTER_S:
                stale = True  # maybe the issuer rotated its keys
            if stale:
                try:
                    cached = _Keys(self._load(issuer), now)
                except Exception as exc:  # unreachable issuer, bad JSON, ...: every token of it is refused
                    _log.warning("cannot read the JWKS of issuer %s: %s", issuer, exc)
                    return None
                self._cache[issuer] = cached
            assert cached is not None
            return cached.keys.get(kid)

    def _load(self, issuer: str) -> dict[str, SigningKey]:
        base = self.resolve(issuer).rstrip("/")
        try:
            jwks_uri = self.fetch(f"{base}/.well-known/openid-configuration")["jwks_uri"]
        except Exception as exc:  # as ministack/floci do (EMU): no discovery document → the usual path
            _log.debug("OIDC discovery of %s failed (%s); trying %s/.well-known/jwks.json", issuer, exc, base)
            jwks_uri = f"{base}/.well-known/jwks.json"
        document = self.fetch(jwks_uri)
        keys: dict[str, SigningKey] = {}
        for entry in document.get("keys") or []:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not entry.get("kid"):
                continue  # only RSA keys can verify a token (§3.2)
            try:
                keys[entry["kid"]] = SigningKey(jwt.PyJWK(entry), entry.get("alg"))
            except PyJWTError as exc:
                _log.debug("skipping JWK %s of %s: %s", entry.get("kid"), issuer, exc)
        return keys


def bearer_token(value: str | None) -> str | None:
    """The token in an identity source value: the value itself or after ``Bearer `` (§3.2 step 1)."""
    if value is None:
        return None
    value = value.lstrip()
    if value[:7].lower() == "bearer ":
        value = value[7:]
    return value.strip() or None


def verify(token: str | None, issuer: str, audience: Sequence[str] | None, jwks: JwksCache,
           now: float | None = None) -> dict[str, Any]:
    """The verified claims of ``token``, or :class:`JwtDenied` (401) naming what failed (§3.2).
    ``audience=None`` leaves the audience to the caller (AppSync matches it its own way, per mode);
    ``now`` (epoch seconds, default the wall clock) is what ``exp`` / ``nbf`` / ``iat`` are checked against."""
    if not token:
        raise JwtDenied(401, "")
    try:
        header = jwt.get_unverified_header(token)
    except PyJWTError:
        raise JwtDenied(401, "the token could not be decoded") from None
    alg = header.get("alg")
    if alg not in RSA_ALGORITHMS:
        raise JwtDenied(401, f"the token's algorithm {alg!r} is not supported (RSA only)")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JwtDenied(401, "the token has no kid")
    key = jwks.key(issuer, kid)
    if key is None:
        raise JwtDenied(401, "the token's kid is not in the issuer's jwks_uri")
    declared = key.algorithm
    if declared is not None and declared != alg:
        raise JwtDenied(401, "the token's algorithm does not match its key's")
    try:
        # iss here, exp / nbf / iat below with no clock skew (§3.5), aud/client_id last.
        # A token without exp is refused (INFERRED: AWS says exp "must be after the current time").
        claims = jwt.decode(token, key.jwk.key, algorithms=[alg], issuer=issuer,
                            options={"verify_aud": False, "verify_exp": False, "verify_nbf": False,
                                     "verify_iat": False, "require": ["exp", "iss"]})
    except jwt.InvalidSignatureError:
        raise JwtDenied(401, "the token's signature is invalid") from None
    except jwt.InvalidIssuerError:
        raise JwtDenied(401, "the token does not have a valid issuer") from None
    except jwt.MissingRequiredClaimError as exc:
        raise JwtDenied(401, f"the token has no {exc.claim} claim") from None
    except PyJWTError as exc:
        raise JwtDenied(401, f"the token is invalid: {exc}") from None
    _check_times(claims, time.time() if now is None else now)
    if audience is not None and not set(token_audiences(claims)) & set(audience):
        raise JwtDenied(401, "the token does not have a valid audience")  # AWS's own words (§3.3)
    return claims


def _check_times(claims: dict[str, Any], now: float) -> None:
    """``exp`` after ``now``, ``nbf`` and ``iat`` not after it (PyJWT's rules, on a clock of the caller's)."""
    for name in ("exp", "nbf", "iat"):
        value = claims.get(name)
        if name in claims and (isinstance(value, bool) or not isinstance(value, int | float)):
            raise JwtDenied(401, f"the token's {name} claim is not a number")
    if claims["exp"] <= now:
        raise JwtDenied(401, "the token has expired", expired=True)
    if claims.get("nbf", now) > now or claims.get("iat", now) > now:
        raise JwtDenied(401, "the token is not valid yet")


def token_audiences(claims: dict[str, Any]) -> list[str]:
    """The audiences a token claims: its ``aud`` (a string or a list), then its ``client_id`` (Cognito
    access tokens carry no ``aud``)."""
    aud = claims.get("aud")
    auds = [aud] if isinstance(aud, str) else list(aud) if isinstance(aud, list) else []
    if claims.get("client_id") is not None:
        auds.append(claims["client_id"])
    return auds


def unverified_issuer(token: str) -> str | None:
    """The ``iss`` claim of a JWT, unverified (to pick which issuer's keys to check it with), or None
    when ``token`` is not a JWT."""
    try:
        iss = jwt.decode(token, options={"verify_signature": False}).get("iss")
    except PyJWTError:
        return None
    return iss if isinstance(iss, str) else None


def token_scopes(claims: dict[str, Any]) -> list[str]:
    """``scope`` (space-separated) or ``scp`` (a list or space-separated) of the claims (§3.4)."""
    for name in ("scope", "scp"):
        value = claims.get(name)
        if isinstance(value, str):
            return value.split()
        if isinstance(value, list):
            return [str(v) for v in value]
    return []


def check_scopes(claims: dict[str, Any], route_scopes: Sequence[str]) -> list[str] | None:
    """What ``requestContext.authorizer.jwt.scopes`` says (§3.4): None when the route has no scopes, else
    the token's full list; :class:`JwtDenied` (403) when none of the route's scopes is in the token."""
    if not route_scopes:
        return None
    scopes = token_scopes(claims)
    if not set(scopes) & set(route_scopes):
        raise JwtDenied(403, "the token has none of the route's authorization scopes")
    return scopes


def claim_string(value: Any) -> str:
    """One claim as API Gateway renders it (§3.6): numbers and booleans as text, arrays as ``[a b]``,
    objects as JSON text."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, list):
        return "[" + " ".join(claim_string(v) for v in value if v is not None) + "]"
    return json.dumps(value, separators=(",", ":"))


def claims_context(claims: dict[str, Any]) -> dict[str, str]:
    """Every claim as a string; null-valued claims are left out (§3.6)."""
    return {name: claim_string(value) for name, value in claims.items() if value is not None}
