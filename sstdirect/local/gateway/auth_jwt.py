"""JWT authorizers of HTTP APIs (SEMANTICS.md §3): real signature checks against the issuer's JWKS.

* :class:`JwksCache` finds an issuer's keys through OIDC discovery (``{iss}/.well-known/openid-configuration``
  → ``jwks_uri``, falling back to ``{iss}/.well-known/jwks.json`` as other emulators do) and caches them;
  an issuer can be *resolved* to another base URL first, which is how the embedded AWS's Cognito issuers
  (``https://cognito-idp.{region}.amazonaws.com/{pool}``, never reachable) reach the local JWKS. Issuers
  never wait on each other; one fetch per issuer at a time, waited on for at most one deadline; failures
  are remembered for a few seconds (:data:`NEGATIVE_TTL_S`).
* :func:`verify` checks one token in AWS's order (§3.2): token present (``Bearer `` optional), decodable,
  RSA algorithm, a ``kid`` the JWKS has, the signature, ``iss`` exactly, ``aud`` (or, only when the token
  has no ``aud``, ``client_id``) among the audiences, ``exp`` / ``nbf`` / ``iat``; then the route's scopes.
  A failure is a :class:`JwtDenied` with the status (401, or 403 for scopes) and the ``www-authenticate`` value to send.
* :func:`claims_context` renders claims as strings (§3.6) and :func:`token_scopes` reads ``scope`` / ``scp``.
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
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
NEGATIVE_TTL_S = 5.0  # a failed fetch is remembered this long: no new fetch, the issuer's tokens refused (INFERRED)
FETCH_DEADLINE_S = 2 * FETCH_TIMEOUT_S  # the longest a request waits for keys: discovery + JWKS timeouts

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


class IssuerUnavailable(Exception):
    """The issuer's keys cannot be had: ``description`` is the ``error_description`` to answer with
    (``the issuer could not be reached`` when no connection, a timeout or the deadline is the cause)."""

    def __init__(self, description: str):
        super().__init__(description)
        self.description = description


UNREACHABLE = "the issuer could not be reached"  # INFERRED: AWS documents no description for this case
UNREADABLE = "the issuer's jwks_uri could not be read"


def unreachable(exc: BaseException) -> bool:
    """Whether a fetch failure means the host never answered (connection refused or reset, DNS, TLS, a
    timeout) rather than answering something unusable (an HTTP error status, bad JSON, too many bytes)."""
    return isinstance(exc, OSError) and not isinstance(exc, urllib.error.HTTPError)


class _Fetch:
    """One fetch of an issuer's keys, run on a thread of its own so that waiting on it has a deadline
    (socket timeouts alone do not bound a server that trickles bytes)."""

    def __init__(self) -> None:
        self.done = threading.Event()


@dataclass
class _Issuer:
    """What is known of one issuer; ``lock`` guards these fields only, and is never held while fetching."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    keys: dict[str, SigningKey] | None = None
    fetched_at: float = 0.0
    failed_at: float | None = None
    failure: str = ""
    inflight: _Fetch | None = None


class JwksCache:
    """An issuer's signing keys by ``kid``, found through OIDC discovery and cached (thread-safe).

    * Issuers never wait on each other: each has its own lock, and no lock is held during a fetch.
    * Single flight: concurrent requests for one issuer share one fetch; a request waits for it at most
      ``deadline_s`` (both documented timeouts, discovery and JWKS), then is refused as unreachable.
    * Negative cache: a failed fetch is remembered for ``negative_ttl_s``; meanwhile the issuer's tokens
      are refused at once with the same description, and nothing is fetched.
    * An unknown ``kid`` fetches again at most every :data:`REFRESH_AFTER_S` (key rotation); a failure
      of that fetch keeps the keys already known.
    """

    def __init__(self, resolve: Callable[[str], str] | None = None, fetch: Fetch = http_get_json,
                 ttl_s: float = JWKS_TTL_S, clock: Callable[[], float] = time.monotonic,
                 negative_ttl_s: float = NEGATIVE_TTL_S, deadline_s: float = FETCH_DEADLINE_S):
        self.resolve = resolve or (lambda issuer: issuer)
        self.fetch = fetch
        self.ttl_s = ttl_s
        self.clock = clock
        self.negative_ttl_s = negative_ttl_s
        self.deadline_s = deadline_s
        self._issuers: dict[str, _Issuer] = {}
        self._lock = threading.Lock()  # guards the dict only

    def key(self, issuer: str, kid: str) -> SigningKey | None:
        """The key ``kid`` of ``issuer``: None if the issuer's JWKS does not have it;
        :class:`IssuerUnavailable` if its keys cannot be had (now, or within the negative-cache window)."""
        with self._lock:
            state = self._issuers.setdefault(issuer, _Issuer())
        with state.lock:
            found, fetch = self._cached(state, kid)
            if fetch is None:
                return found
            if state.inflight is None:  # this request leads; others join its fetch
                state.inflight = fetch
                threading.Thread(target=self._run, args=(issuer, state, fetch), daemon=True,
                                 name=f"jwks {issuer}").start()
            else:
                fetch = state.inflight
        if not fetch.done.wait(self.deadline_s):
            with state.lock:
                if state.failed_at is None or self.clock() - state.failed_at >= self.negative_ttl_s:
                    state.failed_at, state.failure = self.clock(), UNREACHABLE
            _log.warning("the JWKS of issuer %s did not arrive within %.1f s", issuer, self.deadline_s)
            raise IssuerUnavailable(UNREACHABLE)
        with state.lock:
            if state.keys is not None and kid in state.keys:
                return state.keys[kid]
            if state.failed_at is not None:
                raise IssuerUnavailable(state.failure)
            return None

    def _cached(self, state: _Issuer, kid: str) -> tuple[SigningKey | None, _Fetch | None]:
        """(the answer, None) when the cache decides; else (None, a fetch to start or join). Under lock."""
        now = self.clock()
        fresh = state.keys is not None and now - state.fetched_at <= self.ttl_s
        if fresh and state.keys is not None and (kid in state.keys or now - state.fetched_at <= REFRESH_AFTER_S):
            return state.keys.get(kid), None
        if state.failed_at is not None and now - state.failed_at < self.negative_ttl_s:
            raise IssuerUnavailable(state.failure)
        return None, state.inflight or _Fetch()

    def _run(self, issuer: str, state: _Issuer, fetch: _Fetch) -> None:
        """The fetch thread: load the keys, record the outcome, wake the waiters."""
        try:
            keys, failure = self._load(issuer), ""
        except IssuerUnavailable as exc:
            keys, failure = None, exc.description
        except Exception as exc:  # bad JSON, a wrong shape, ...: every token of this issuer is refused
            _log.warning("cannot read the JWKS of issuer %s: %s", issuer, exc)
            keys, failure = None, UNREADABLE
        with state.lock:
            if keys is not None:
                state.keys, state.fetched_at, state.failed_at, state.failure = keys, self.clock(), None, ""
            else:
                state.failed_at, state.failure = self.clock(), failure
            if state.inflight is fetch:
                state.inflight = None
        fetch.done.set()

    def _load(self, issuer: str) -> dict[str, SigningKey]:
        base = self.resolve(issuer).rstrip("/")
        try:
            jwks_uri = self.fetch(f"{base}/.well-known/openid-configuration")["jwks_uri"]
            if not isinstance(jwks_uri, str):
                raise TypeError(f"jwks_uri is {type(jwks_uri).__name__}, not a string")
        except Exception as exc:
            if unreachable(exc):  # the same host would not answer the fallback either: one timeout, not two
                _log.warning("issuer %s could not be reached: %s", issuer, exc)
                raise IssuerUnavailable(UNREACHABLE) from exc
            # it answered, without a usable discovery document: the usual path, as ministack/floci do (EMU)
            _log.debug("OIDC discovery of %s failed (%s); trying %s/.well-known/jwks.json", issuer, exc, base)
            jwks_uri = f"{base}/.well-known/jwks.json"
        try:
            document = self.fetch(jwks_uri)
        except Exception as exc:
            _log.warning("cannot read the JWKS of issuer %s at %s: %s", issuer, jwks_uri, exc)
            raise IssuerUnavailable(UNREACHABLE if unreachable(exc) else UNREADABLE) from exc
        entries = document.get("keys") if isinstance(document, dict) else None
        keys: dict[str, SigningKey] = {}
        for entry in entries if isinstance(entries, list) else []:
            if not isinstance(entry, dict) or entry.get("kty") != "RSA" or not isinstance(entry.get("kid"), str):
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
    try:
        key = jwks.key(issuer, kid)
    except IssuerUnavailable as exc:
        raise JwtDenied(401, exc.description) from None
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
    if audience is not None and not set(http_api_audiences(claims)) & set(audience):
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


def _aud(value: Any) -> list[str]:
    """An ``aud`` claim, a string or an array of strings (RFC 7519 §4.1.3); any other value, or an array
    holding anything but strings, is malformed and names no audience (INFERRED: refused, never guessed)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return []


def _client_id(value: Any) -> list[str]:
    """A ``client_id`` claim (RFC 8693 §4.3: a string): itself; a number, a list, an object: none."""
    return [value] if isinstance(value, str) else []


def http_api_audiences(claims: dict[str, Any]) -> list[str]:
    """What an HTTP API's JWT authorizer matches against its audiences: ``aud`` when the token has one, else
    ``client_id`` — "API Gateway validates client_id only if aud is not present. When both aud and client_id
    are present, API Gateway evaluates aud." (AGDG, http-api-troubleshooting-jwt.html). Only strings count:
    a claim of another type matches nothing (a 401, never an error). INFERRED: ``"aud": null`` is absent."""
    if claims.get("aud") is not None:
        return _aud(claims["aud"])
    return _client_id(claims.get("client_id"))


def token_audiences(claims: dict[str, Any]) -> list[str]:
    """Every audience a token claims, for AppSync's client-id matching: its ``aud`` (a string or a list),
    then its ``client_id`` (Cognito access tokens carry no ``aud``); strings only."""
    return _aud(claims.get("aud")) + _client_id(claims.get("client_id"))


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
