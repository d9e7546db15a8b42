"""The gateway's authorizers without sockets: JWT verification (§3), SigV4 (§4), Lambda authorizer events,
answers and cache, and the pipeline's use of them with a fake ``invoke``."""

from __future__ import annotations

import datetime
import email.message
import json
import re
import threading
import time
import urllib.error
from typing import Any

import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from jwt_issuer import BlackHole, Issuer

from sstdirect.local.gateway import auth_iam, auth_jwt, auth_lambda
from sstdirect.local.gateway.auth import AuthorizerConfig, Authorizers
from sstdirect.local.gateway.messages import HttpRequest
from sstdirect.local.gateway.pipeline import ApiConfig, HttpGateway, Integration, Outcome, RouteConfig

# --- JWT ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def issuer() -> Issuer:
    return Issuer("https://issuer.test")


class FakeFetch:
    """``url → document`` without sockets; counts requests. A missing document is an HTTP 404 (the host
    answered); ``down=True`` is a host that refuses connections, as urllib reports it."""

    def __init__(self, documents: dict[str, Any], down: bool = False):
        self.documents = documents
        self.down = down
        self.urls: list[str] = []

    def __call__(self, url: str) -> Any:
        self.urls.append(url)
        if self.down:
            raise urllib.error.URLError(ConnectionRefusedError(111, "Connection refused"))
        if url not in self.documents:
            raise urllib.error.HTTPError(url, 404, "Not Found", email.message.Message(), None)
        return self.documents[url]


def _jwks(issuer: Issuer) -> tuple[auth_jwt.JwksCache, FakeFetch]:
    fetch = FakeFetch({f"{issuer.url}/.well-known/openid-configuration": {"jwks_uri": f"{issuer.url}/keys"},
                       f"{issuer.url}/keys": issuer.jwks})
    return auth_jwt.JwksCache(fetch=fetch), fetch


def _denied(issuer: Issuer, token: str | None, audience: tuple[str, ...] = ("api",)) -> auth_jwt.JwtDenied:
    jwks, _ = _jwks(issuer)
    with pytest.raises(auth_jwt.JwtDenied) as info:
        auth_jwt.verify(token, issuer.url, audience, jwks)
    return info.value


def test_valid_token_verifies_through_discovery(issuer: Issuer) -> None:
    jwks, fetch = _jwks(issuer)
    claims = auth_jwt.verify(issuer.token(), issuer.url, ("other", "api"), jwks)
    assert claims["sub"] == "user-1"
    auth_jwt.verify(issuer.token(sub="user-2"), issuer.url, ("api",), jwks)
    assert fetch.urls == [f"{issuer.url}/.well-known/openid-configuration", f"{issuer.url}/keys"]  # cached


def test_access_token_with_client_id_and_no_aud(issuer: Issuer) -> None:
    jwks, _ = _jwks(issuer)
    claims = auth_jwt.verify(issuer.token(aud=None, client_id="api"), issuer.url, ("api",), jwks)
    assert claims["client_id"] == "api"
    assert _denied(issuer, issuer.token(aud=None, client_id="nope")).status == 401


@pytest.mark.parametrize(("make", "fragment"), [
    (lambda i: i.token(aud="someone-else"), "does not have a valid audience"),
    (lambda i: i.token(iss="https://evil.test"), "valid issuer"),
    (lambda i: i.token(exp=1_000_000), "expired"),
    (lambda i: i.token(nbf=2_000_000_000), "not valid yet"),
    (lambda i: i.token(iat=2_000_000_000), "not valid yet"),
    (lambda i: i.token(exp=None), "no exp claim"),
    (lambda i: i.unsigned_token(), "algorithm 'none'"),
    (lambda i: i.hs256_with_public_key(), "algorithm 'HS256'"),
    (lambda i: i.token(headers={"kid": "unknown"}), "kid is not in"),
    (lambda i: Issuer(i.url, kid=i.kid).token(), "signature is invalid"),  # same kid, another key
    (lambda i: _tamper(i.token()), "signature is invalid"),
    (lambda i: "not-a-jwt", "could not be decoded"),
])
def test_refused_tokens(issuer: Issuer, make: Any, fragment: str) -> None:
    denied = _denied(issuer, make(issuer))
    assert denied.status == 401 and fragment in denied.description, denied.description
    assert denied.www_authenticate == (f'Bearer scope="" error="invalid_token" '
                                       f'error_description="{denied.description}"')


def _tamper(token: str) -> str:
    header, payload, signature = token.split(".")
    import base64

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "admin"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    return f"{header}.{forged}.{signature}"


def test_missing_token_is_a_bare_bearer_challenge(issuer: Issuer) -> None:
    denied = _denied(issuer, None)
    assert (denied.status, denied.www_authenticate) == (401, "Bearer")
    assert auth_jwt.bearer_token("Bearer  abc ") == "abc" and auth_jwt.bearer_token("abc") == "abc"
    assert auth_jwt.bearer_token("Bearer ") is None


def test_issuer_without_documents_refuses_and_falls_back_to_jwks_json(issuer: Issuer) -> None:
    empty = FakeFetch({})  # the host answers 404 to everything
    with pytest.raises(auth_jwt.JwtDenied, match="the issuer's jwks_uri could not be read"):
        auth_jwt.verify(issuer.token(), issuer.url, ("api",), auth_jwt.JwksCache(fetch=empty))
    assert empty.urls == [f"{issuer.url}/.well-known/openid-configuration", f"{issuer.url}/.well-known/jwks.json"]
    fetch = FakeFetch({f"{issuer.url}/.well-known/jwks.json": issuer.jwks})  # no discovery document
    jwks = auth_jwt.JwksCache(fetch=fetch)
    assert auth_jwt.verify(issuer.token(), issuer.url, ("api",), jwks)["sub"] == "user-1"


def test_key_rotation_refetches_for_an_unknown_kid(issuer: Issuer) -> None:
    now = [0.0]
    fetch = FakeFetch({f"{issuer.url}/.well-known/openid-configuration": {"jwks_uri": f"{issuer.url}/keys"},
                       f"{issuer.url}/keys": {"keys": []}})
    jwks = auth_jwt.JwksCache(fetch=fetch, clock=lambda: now[0])
    assert jwks.key(issuer.url, issuer.kid) is None
    fetch.documents[f"{issuer.url}/keys"] = issuer.jwks
    assert jwks.key(issuer.url, issuer.kid) is None  # within REFRESH_AFTER_S: no new fetch
    now[0] += auth_jwt.REFRESH_AFTER_S + 1
    assert jwks.key(issuer.url, issuer.kid) is not None


# "API Gateway validates client_id only if aud is not present. When both aud and client_id are present,
# API Gateway evaluates aud." (API Gateway developer guide, "Troubleshooting issues with HTTP API JWT
# authorizers": https://docs.aws.amazon.com/apigateway/latest/developerguide/http-api-troubleshooting-jwt.html)
def test_aud_is_evaluated_and_client_id_only_without_aud(issuer: Issuer) -> None:
    jwks, _ = _jwks(issuer)
    denied = _denied(issuer, issuer.token(aud="someone-else", client_id="api"))
    assert (denied.status, denied.description) == (401, "the token does not have a valid audience")
    assert _denied(issuer, issuer.token(aud=["x", "y"], client_id="api")).status == 401
    for claims in ({"aud": "api", "client_id": "someone-else"}, {"aud": ["x", "api"], "client_id": "other"},
                   {"aud": None, "client_id": "api"}):
        assert auth_jwt.verify(issuer.token(**claims), issuer.url, ("api",), jwks)["sub"] == "user-1"


WRONGLY_TYPED = [{"aud": None, "client_id": 5}, {"aud": None, "client_id": ["api"]},
                 {"aud": None, "client_id": {"api": "api"}}, {"aud": None, "client_id": True},
                 {"aud": 7}, {"aud": {"api": 1}}, {"aud": [["api"]]}, {"aud": ["api", {"x": 1}]},
                 {"aud": [], "client_id": "api"}]


@pytest.mark.parametrize("claims", WRONGLY_TYPED, ids=[json.dumps(c) for c in WRONGLY_TYPED])
def test_wrongly_typed_audience_claims_are_401_not_500(issuer: Issuer, claims: dict[str, Any]) -> None:
    denied = _denied(issuer, issuer.token(**claims))
    assert (denied.status, denied.description) == (401, "the token does not have a valid audience")
    calls = Calls()
    gw = _gateway(_route("JWT", issuer=issuer.url, audience=("api",)), calls, issuer)
    r = gw.handle(HttpRequest("GET", "/pets/1", "", [("Authorization", issuer.token(**claims))]))
    assert (r.status, json.loads(r.body)) == (401, {"message": "Unauthorized"})
    assert "valid audience" in (r.header("www-authenticate") or "") and calls.events == {}
    assert auth_jwt.token_audiences(issuer.claims(**claims)) in ([], ["api"])  # AppSync's list: strings only


def test_unreachable_issuer_costs_one_attempt_and_is_remembered_briefly(issuer: Issuer) -> None:
    now = [0.0]
    fetch = FakeFetch({}, down=True)
    jwks = auth_jwt.JwksCache(fetch=fetch, clock=lambda: now[0])
    for _ in range(3):
        with pytest.raises(auth_jwt.JwtDenied) as info:
            auth_jwt.verify(issuer.token(), issuer.url, ("api",), jwks)
        assert (info.value.status, info.value.description) == (401, "the issuer could not be reached")
        assert info.value.www_authenticate == ('Bearer scope="" error="invalid_token" '
                                               'error_description="the issuer could not be reached"')
        now[0] += auth_jwt.NEGATIVE_TTL_S / 4
    # one discovery attempt: no jwks.json fallback against a host that does not answer, nothing in the window
    assert fetch.urls == [f"{issuer.url}/.well-known/openid-configuration"]
    now[0] += auth_jwt.NEGATIVE_TTL_S
    fetch.down = False
    fetch.documents = {f"{issuer.url}/.well-known/openid-configuration": {"jwks_uri": f"{issuer.url}/keys"},
                       f"{issuer.url}/keys": issuer.jwks}
    assert auth_jwt.verify(issuer.token(), issuer.url, ("api",), jwks)["sub"] == "user-1"  # back after the window
    assert len(fetch.urls) == 3


def test_failed_rotation_refetch_keeps_the_known_keys(issuer: Issuer) -> None:
    now = [0.0]
    fetch = FakeFetch({f"{issuer.url}/.well-known/openid-configuration": {"jwks_uri": f"{issuer.url}/keys"},
                       f"{issuer.url}/keys": issuer.jwks})
    jwks = auth_jwt.JwksCache(fetch=fetch, clock=lambda: now[0])
    assert jwks.key(issuer.url, issuer.kid) is not None
    now[0] += auth_jwt.REFRESH_AFTER_S + 1
    fetch.down = True
    with pytest.raises(auth_jwt.JwtDenied, match="the issuer could not be reached"):  # an unknown kid refetches
        auth_jwt.verify(issuer.token(headers={"kid": "rotated"}), issuer.url, ("api",), jwks)
    assert auth_jwt.verify(issuer.token(), issuer.url, ("api",), jwks)["sub"] == "user-1"  # known kid: unharmed


def test_unreachable_issuer_through_the_gateway_says_so(issuer: Issuer) -> None:
    calls = Calls()
    auth = Authorizers(jwks=auth_jwt.JwksCache(fetch=FakeFetch({}, down=True)), credentials=_lookup)
    gw = HttpGateway(ApiConfig("abc123", routes={"GET /pets/{id}": _route("JWT", issuer=issuer.url,
                                                                           audience=("api",))}), calls, auth)
    r = gw.handle(HttpRequest("GET", "/pets/1", "", [("Authorization", issuer.token())]))
    assert (r.status, json.loads(r.body)) == (401, {"message": "Unauthorized"})
    assert r.header("www-authenticate") == ('Bearer scope="" error="invalid_token" '
                                            'error_description="the issuer could not be reached"')


def test_a_fetch_that_never_ends_is_waited_on_for_one_deadline_only(issuer: Issuer) -> None:
    """A fetch that outlives every socket timeout (a server trickling bytes): requests wait ``deadline_s``,
    no second fetch starts while it runs, and its late answer is used once it comes."""
    release = threading.Event()
    documents = {f"{issuer.url}/.well-known/openid-configuration": {"jwks_uri": f"{issuer.url}/keys"},
                 f"{issuer.url}/keys": issuer.jwks}
    urls: list[str] = []

    def trickle(url: str) -> Any:
        urls.append(url)
        release.wait(10)
        return documents[url]

    jwks = auth_jwt.JwksCache(fetch=trickle, deadline_s=0.3, negative_ttl_s=0.0)
    for _ in range(2):
        started = time.monotonic()
        with pytest.raises(auth_jwt.JwtDenied, match="the issuer could not be reached"):
            auth_jwt.verify(issuer.token(), issuer.url, ("api",), jwks)
        assert 0.25 < time.monotonic() - started < 1.5
    assert len(urls) == 1  # the second request joined the fetch still running
    release.set()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            assert auth_jwt.verify(issuer.token(), issuer.url, ("api",), jwks)["sub"] == "user-1"
            break
        except auth_jwt.JwtDenied:
            time.sleep(0.05)
    else:
        pytest.fail("the late JWKS was never used")
    assert len(urls) == 2  # discovery, then the JWKS: one fetch in all


def test_black_hole_issuer_costs_its_own_route_one_timeout() -> None:
    """Real sockets, real urllib: a black-hole issuer (accepts, never answers) and a served issuer, asked
    concurrently through one cache. The served issuer's tokens verify at once while the black hole's fetch
    hangs; the black hole's requests share one fetch (one connection, no jwks.json fallback) and wait one
    timeout (1.5 s, AWS's discovery timeout); within the negative-cache window they are refused at once."""
    good, hole = Issuer(), BlackHole()
    server = good.serve()
    bad = Issuer(hole.url)
    jwks = auth_jwt.JwksCache()  # http_get_json: real HTTP
    results: dict[str, tuple[str, float]] = {}

    def call(name: str, who: Issuer) -> None:
        started = time.monotonic()
        try:
            auth_jwt.verify(who.token(), who.url, ("api",), jwks)
            outcome = "ok"
        except auth_jwt.JwtDenied as denied:
            outcome = denied.description
        results[name] = (outcome, time.monotonic() - started)

    try:
        slow = [threading.Thread(target=call, args=(f"hole{i}", bad)) for i in range(4)]
        for thread in slow:
            thread.start()
        assert hole.accepted.wait(5), "the black hole was never asked"
        fast = [threading.Thread(target=call, args=(f"good{i}", good)) for i in range(4)]
        for thread in fast:
            thread.start()
        for thread in fast + slow:
            thread.join(15)
        for i in range(4):
            outcome, elapsed = results[f"good{i}"]
            assert outcome == "ok" and elapsed < 1.0, results  # never behind the black hole's fetch
            outcome, elapsed = results[f"hole{i}"]
            assert outcome == "the issuer could not be reached", results
            assert elapsed < auth_jwt.FETCH_TIMEOUT_S + 1.0, results  # one timeout, shared, not one each
        assert hole.connections == 1
        call("again", bad)  # within the negative-cache window: refused at once, nothing sent
        assert results["again"][0] == "the issuer could not be reached" and results["again"][1] < 0.2
        assert hole.connections == 1
    finally:
        server.shutdown()
        hole.close()


def test_cognito_issuers_resolve_to_the_embedded_aws() -> None:
    resolve = auth_jwt.cognito_resolver("http://127.0.0.1:5000/")
    assert resolve("https://cognito-idp.us-east-1.amazonaws.com/us-east-1_abc") == "http://127.0.0.1:5000/us-east-1_abc"
    assert resolve("https://myorg.us.auth0.com/") == "https://myorg.us.auth0.com/"


def test_scopes_and_claim_rendering(issuer: Issuer) -> None:
    claims = issuer.claims()
    assert auth_jwt.check_scopes(claims, ()) is None
    assert auth_jwt.check_scopes(claims, ("write:notes", "x")) == ["read:notes", "write:notes"]  # the full list
    assert auth_jwt.check_scopes({"scp": ["a", "b"]}, ("b",)) == ["a", "b"]
    with pytest.raises(auth_jwt.JwtDenied) as info:
        auth_jwt.check_scopes(claims, ("admin",))
    assert info.value.status == 403 and info.value.www_authenticate is None
    rendered = auth_jwt.claims_context({"exp": 1718722804, "ok": True, "groups": ["Admin", "Merchant"], "n": None,
                                        "addr": {"c": "x"}, "f": 1.5, "s": "x"})
    assert rendered == {"exp": "1718722804", "ok": "true", "groups": "[Admin Merchant]", "addr": '{"c":"x"}',
                        "f": "1.5", "s": "x"}


# --- SigV4 ----------------------------------------------------------------------------------------

SECRET = "s3cr3t"
PRINCIPAL = auth_iam.Principal("AKIDLOCAL", SECRET, "123456789012", "arn:aws:iam::123456789012:user/alice", "AIDA1")


def _lookup(key: str) -> auth_iam.Principal | None:
    return PRINCIPAL if key == PRINCIPAL.access_key else None


def _signed(method: str = "POST", url: str = "http://127.0.0.1:8080/items/a%20b?x=1&y=2", body: bytes = b'{"a":1}',
            secret: str = SECRET, region: str = "us-east-1", service: str = "execute-api",
            presign: bool = False, expires: Any = 60) -> HttpRequest:
    """A request signed by botocore; ``presign``: in the query, valid ``expires`` seconds (sent as given)."""
    aws = AWSRequest(method=method, url=url, data=body, headers={"content-type": "application/json"})
    creds = Credentials(PRINCIPAL.access_key, secret)
    signer = SigV4QueryAuth(creds, service, region, expires=expires) if presign else SigV4Auth(creds, service, region)
    signer.add_auth(aws)
    body = aws.data.encode() if isinstance(aws.data, str) else aws.data or b""  # presigning moves a body away
    target = aws.url.split("127.0.0.1:8080", 1)[1]
    headers = [("Host", "127.0.0.1:8080"), *aws.headers.items()]
    return HttpRequest.from_target(method, target, headers=headers, body=body)


@pytest.mark.parametrize("presign", [False, True])
def test_sigv4_verifies_with_botocore_signatures(presign: bool) -> None:
    assert auth_iam.verify_sigv4(_signed(presign=presign), "us-east-1", _lookup) == PRINCIPAL
    get = _signed("GET", "http://127.0.0.1:8080/a/%C3%A9?b=%2F&a=1", b"", presign=presign)
    assert auth_iam.verify_sigv4(get, "us-east-1", _lookup) == PRINCIPAL


@pytest.mark.parametrize(("request_", "fragment"), [
    (lambda: _signed(secret="wrong"), "does not match"),
    (lambda: _signed(presign=True, secret="wrong"), "does not match"),
    (lambda: HttpRequest("GET", "/items"), "not signed"),
    (lambda: _signed(region="eu-west-1"), "not execute-api in us-east-1"),
    (lambda: _signed(service="s3"), "not execute-api"),
    (lambda: _tampered_path(), "does not match"),
    (lambda: _tampered_body(), "does not match"),
    (lambda: _unknown_key(), "unknown access key"),
])
def test_sigv4_refusals(request_: Any, fragment: str) -> None:
    with pytest.raises(auth_iam.IamDenied) as info:
        auth_iam.verify_sigv4(request_(), "us-east-1", _lookup)
    assert fragment in str(info.value), str(info.value)


def _tampered_path() -> HttpRequest:
    request = _signed()
    request.raw_path = "/items/other"
    return request


def _tampered_body() -> HttpRequest:
    request = _signed()
    request.body = b'{"a":2}'
    return request


def _unknown_key() -> HttpRequest:
    request = _signed()
    request.headers = [(k, v.replace("AKIDLOCAL", "AKIDOTHER") if k == "Authorization" else v)
                       for k, v in request.headers]
    return request


def test_sigv4_clock_window() -> None:
    request = _signed()
    later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=6)
    with pytest.raises(auth_iam.IamDenied, match="5 minutes"):
        auth_iam.verify_sigv4(request, "us-east-1", _lookup, now=later)
    with pytest.raises(auth_iam.IamDenied, match="expired"):  # presigned for 60 s
        auth_iam.verify_sigv4(_signed(presign=True), "us-east-1", _lookup,
                              now=datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=90))


# "The minimum value you can set is 1, and the maximum is 604800 (seven days)" (Amazon S3 API reference,
# "Authenticating Requests: Using Query Parameters (AWS Signature Version 4)",
# https://docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html); past it S3 answers
# AuthorizationQueryParametersError "X-Amz-Expires must be less than a week (in seconds); that is, the given
# X-Amz-Expires must be less than 604800 seconds" (quoted in aws/aws-cli#5464), a negative value "X-Amz-Expires
# must be non-negative" (fog/fog#3528), a non-number "X-Amz-Expires should be a number" (minio/minio-js#1312).
def test_presigned_urls_valid_for_at_most_seven_days() -> None:
    request = _signed("GET", "http://127.0.0.1:8080/pets/1", b"", presign=True, expires=604800)
    assert auth_iam.verify_sigv4(request, "us-east-1", _lookup) == PRINCIPAL
    request = _signed("GET", "http://127.0.0.1:8080/pets/1", b"", presign=True, expires=604801)  # signed right
    with pytest.raises(auth_iam.IamDenied, match=r"X-Amz-Expires must be less than a week \(in seconds\); that "
                                                 r"is, the given X-Amz-Expires must be less than 604800 seconds"):
        auth_iam.verify_sigv4(request, "us-east-1", _lookup)


ABSURD_EXPIRES = [("-1", "non-negative"), ("", "missing"), ("abc", "should be a number"),
                  ("1" + "0" * 30, "less than a week"), ("9" * 5000, "less than a week"), ("+5", "a number"),
                  (" 5", "a number"), ("5_0", "a number"), ("\u0665", "a number"), ("1e3", "a number"),
                  ("0x10", "a number"), ("5.0", "a number"), ("-" + "9" * 40, "non-negative")]


@pytest.mark.parametrize(("value", "fragment"), ABSURD_EXPIRES, ids=[v[:12] for v, _ in ABSURD_EXPIRES])
def test_absurd_x_amz_expires_is_denied_never_an_error(value: str, fragment: str) -> None:
    """Each URL is signed by botocore with that very value, so only the value itself can refuse it."""
    request = _signed("GET", "http://127.0.0.1:8080/pets/1", b"", presign=True, expires=value)
    with pytest.raises(auth_iam.IamDenied, match=fragment) as info:
        auth_iam.verify_sigv4(request, "us-east-1", _lookup)
    assert info.value.code == "AuthorizationQueryParametersError"
    r = _gateway(_route("AWS_IAM"), Calls()).handle(request)
    assert (r.status, json.loads(r.body)) == (403, {"message": "Forbidden"})


@pytest.mark.parametrize("stamp", ["99991231T235959Z", "00010101T000000Z"])
def test_x_amz_date_at_the_ends_of_the_calendar_is_denied(stamp: str) -> None:
    for presign in (True, False):
        request = _signed("GET", "http://127.0.0.1:8080/pets/1", b"", presign=presign)
        today = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d")
        request.raw_query = request.raw_query.replace(f"%2F{today}%2F", f"%2F{stamp[:8]}%2F")
        request.raw_query = re.sub(r"X-Amz-Date=\w+", f"X-Amz-Date={stamp}", request.raw_query)
        request.headers = [(k, stamp if k.lower() == "x-amz-date" else
                            v.replace(f"/{today}/", f"/{stamp[:8]}/")) for k, v in request.headers]
        with pytest.raises(auth_iam.IamDenied, match=r"expired|minutes away"):
            auth_iam.verify_sigv4(request, "us-east-1", _lookup)


@pytest.mark.parametrize("value", ["\u00e9", "%C3", "%ED%A0%80", "\u00e9" * 64], ids=["e", "pct", "surrogate", "long"])
def test_non_ascii_signature_or_session_token_is_denied_never_an_error(value: str) -> None:
    for presign in (True, False):
        request = _signed("GET", "http://127.0.0.1:8080/pets/1", b"", presign=presign)
        request.raw_query = re.sub(r"X-Amz-Signature=\w+", f"X-Amz-Signature={value}", request.raw_query)
        request.headers = [(k, re.sub(r"Signature=\w+", f"Signature={value}", v)) for k, v in request.headers]
        with pytest.raises(auth_iam.IamDenied, match="does not match"):
            auth_iam.verify_sigv4(request, "us-east-1", _lookup)
    temporary = auth_iam.Principal("AKIDLOCAL", SECRET, "123456789012", "arn:aws:sts::123456789012:assumed-role/r/s",
                                   "AROA1", session_token="token")
    request = _signed("GET", "http://127.0.0.1:8080/pets/1", b"")
    request.headers.append(("X-Amz-Security-Token", value))
    with pytest.raises(auth_iam.IamDenied, match="session token"):
        auth_iam.verify_sigv4(request, "us-east-1", lambda key: temporary)


# --- Lambda authorizers ----------------------------------------------------------------------------

ARN = "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/pets/1"


def _policy(effect: str, resource: Any, action: Any = "execute-api:Invoke") -> dict[str, Any]:
    return {"principalId": "me", "policyDocument": {"Version": "2012-10-17", "Statement": [
        {"Action": action, "Effect": effect, "Resource": resource}]}, "context": {"k": "v"}}


@pytest.mark.parametrize(("result", "allowed"), [
    (_policy("Allow", ARN), True),
    (_policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc123/*"), True),
    (_policy("Allow", ["arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/pets/?"]), True),
    (_policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc123/*/POST/*"), False),
    (_policy("Allow", "*", action="execute-api:*"), True),
    (_policy("Allow", "*", action="EXECUTE-API:invoke"), True),
    (_policy("Allow", "*", action="s3:GetObject"), False),
    (_policy("Deny", ARN), False),
    ({"principalId": "me", "policyDocument": {"Statement": [
        {"Action": "*", "Effect": "Allow", "Resource": "*"},
        {"Action": "execute-api:Invoke", "Effect": "Deny", "Resource": "*/GET/*"}]}}, False),  # Deny wins
])
def test_iam_policy_answers(result: dict[str, Any], allowed: bool) -> None:
    decision = auth_lambda.decide(auth_lambda.parse_answer(result, simple=False), ARN)
    assert decision.allowed is allowed
    assert decision.principal_id == "me"


def test_policy_evaluation_edges() -> None:
    from sstdirect.local.gateway import auth_policy

    allow_all = {"Effect": "Allow", "Action": "*", "Resource": "*"}
    assert auth_policy.decide([allow_all], ARN)
    assert not auth_policy.decide([], ARN)  # implicit deny
    assert not auth_policy.decide([{**allow_all, "Condition": {"IpAddress": {"aws:SourceIp": "1.2.3.4"}}}], ARN)
    assert not auth_policy.decide([allow_all, {"Effect": "Deny", "NotAction": "s3:*", "Resource": "*"}], ARN)
    assert auth_policy.decide([{"Effect": "Allow", "Action": "execute-api:Invoke", "NotResource": "*/POST/*"}], ARN)
    assert auth_policy.statements_of('{"Statement": {"Effect": "Allow"}}') == [{"Effect": "Allow"}]
    assert auth_policy.statements_of("%7B%22Statement%22%3A%20%5B%5D%7D") == []


@pytest.mark.parametrize(("result", "simple"), [
    ("yes", True), ({"isAuthorized": "true"}, True), ({"isAuthorized": True, "context": [1]}, True),
    ({"principalId": "x"}, False), ({"isAuthorized": True}, False),
])
def test_invalid_answers(result: Any, simple: bool) -> None:
    with pytest.raises(auth_lambda.InvalidAuthorizerResponse):
        auth_lambda.parse_answer(result, simple)


def test_result_cache_ttl() -> None:
    now = [100.0]
    cache = auth_lambda.ResultCache(clock=lambda: now[0])
    answer = auth_lambda.parse_answer({"isAuthorized": True}, simple=True)
    cache.put("a1", ["tok"], answer, 30)
    cache.put("a1", ["other"], answer, 0)  # TTL 0: never cached
    assert cache.get("a1", ["tok"]) is answer and cache.get("a1", ["other"]) is None
    assert cache.get("a2", ["tok"]) is None
    now[0] += 30
    assert cache.get("a1", ["tok"]) is None


# --- through the pipeline ---------------------------------------------------------------------------

AUTHZ_FN = "authorizer-fn"


class Calls:
    """A fake ``invoke``: the authorizer function answers ``authorizer_result``; others echo the event."""

    def __init__(self, authorizer_result: Any = None, authorizer_status: str = "ok"):
        self.authorizer_result = authorizer_result
        self.authorizer_status = authorizer_status
        self.events: dict[str, list[dict[str, Any]]] = {}

    def __call__(self, name: str, event: dict[str, Any], timeout: float) -> Outcome:
        self.events.setdefault(name, []).append(event)
        if name == AUTHZ_FN:
            return Outcome(self.authorizer_status, result=self.authorizer_result, error="boom")
        return Outcome("ok", result={"statusCode": 200, "body": "ok"})


def _gateway(route: RouteConfig, calls: Calls, issuer: Issuer | None = None) -> HttpGateway:
    jwks = _jwks(issuer)[0] if issuer else None
    auth = Authorizers(jwks=jwks, credentials=_lookup)
    return HttpGateway(ApiConfig("abc123", routes={route.key: route}), calls, auth)


def _route(kind: str, version: str = "2.0", **authorizer: Any) -> RouteConfig:
    scopes = authorizer.pop("scopes", ())
    config = AuthorizerConfig("az1", **authorizer) if authorizer else None
    return RouteConfig("GET /pets/{id}", Integration("fn", version), kind, config, scopes)


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_jwt_route_passes_claims_to_the_integration(issuer: Issuer, version: str) -> None:
    calls = Calls()
    route = _route("JWT", version, issuer=issuer.url, audience=("api",), identity_sources=("$request.header.X-Tok",),
                   scopes=("read:notes",))
    gw = _gateway(route, calls, issuer)
    r = gw.handle(HttpRequest("GET", "/pets/1", "", [("X-Tok", f"Bearer {issuer.token(roles=['a', 'b'])}")]))
    assert r.status == 200
    context = calls.events["fn"][0]["requestContext"]
    authorizer = context["authorizer"]["jwt"] if version == "2.0" else context["authorizer"]
    assert authorizer["claims"]["sub"] == "user-1" and authorizer["claims"]["roles"] == "[a b]"
    assert isinstance(authorizer["claims"]["exp"], str)
    assert authorizer["scopes"] == ["read:notes", "write:notes"]
    r = gw.handle(HttpRequest("GET", "/pets/1", "", [("X-Tok", issuer.token(scope="other"))]))
    assert (r.status, json.loads(r.body)) == (403, {"message": "Forbidden"})
    r = gw.handle(HttpRequest("GET", "/pets/1", "", [("Authorization", issuer.token())]))  # the wrong header
    assert (r.status, json.loads(r.body), r.header("www-authenticate")) == (401, {"message": "Unauthorized"}, "Bearer")
    assert len(calls.events["fn"]) == 1


def test_no_scopes_on_the_route_surface_as_null(issuer: Issuer) -> None:
    calls = Calls()
    gw = _gateway(_route("JWT", issuer=issuer.url, audience=("api",)), calls, issuer)
    assert gw.handle(HttpRequest("GET", "/pets/1", "", [("Authorization", issuer.token())])).status == 200
    assert calls.events["fn"][0]["requestContext"]["authorizer"]["jwt"]["scopes"] is None


@pytest.mark.parametrize("version", ["2.0", "1.0"])
def test_iam_route(version: str) -> None:
    calls = Calls()
    gw = _gateway(_route("AWS_IAM", version), calls)
    request = _signed("GET", "http://127.0.0.1:8080/pets/1", b"")
    assert gw.handle(request).status == 200
    context = calls.events["fn"][0]["requestContext"]
    if version == "2.0":
        assert context["authorizer"] == {"iam": {
            "accessKey": "AKIDLOCAL", "accountId": "123456789012", "callerId": "AIDA1", "cognitoIdentity": None,
            "principalOrgId": None, "userArn": "arn:aws:iam::123456789012:user/alice", "userId": "AIDA1"}}
    else:
        assert context["identity"]["userArn"] == PRINCIPAL.user_arn and context["identity"]["accessKey"] == "AKIDLOCAL"
        assert "authorizer" not in context
    for bad in (_signed("GET", "http://127.0.0.1:8080/pets/1", b"", secret="nope"), HttpRequest("GET", "/pets/1")):
        r = gw.handle(bad)
        assert (r.status, json.loads(r.body)) == (403, {"message": "Forbidden"})
    assert len(calls.events["fn"]) == 1


SOURCES = ("$request.header.Authorization", "$request.querystring.t")


def _lambda_route(version: str = "2.0", simple: bool = True, ttl: int = 0,
                  sources: tuple[str, ...] = SOURCES) -> RouteConfig:
    return _route("CUSTOM", authorizer_type="REQUEST", identity_sources=sources, function_name=AUTHZ_FN,
                  payload_format_version=version, simple_responses=simple, ttl_s=ttl)


def test_lambda_authorizer_simple_allow_and_event() -> None:
    calls = Calls({"isAuthorized": True, "context": {"user": "u1", "n": 1}})
    gw = _gateway(_lambda_route(), calls)
    r = gw.handle(HttpRequest("GET", "/pets/7", "t=abc", [("Authorization", "secret")], b"ignored"))
    assert r.status == 200
    event = calls.events[AUTHZ_FN][0]
    assert (event["version"], event["type"]) == ("2.0", "REQUEST")
    assert event["routeArn"] == "arn:aws:execute-api:us-east-1:123456789012:abc123/$default/GET/pets/7"
    assert event["identitySource"] == ["secret", "abc"]
    assert event["pathParameters"] == {"id": "7"} and "body" not in event
    assert calls.events["fn"][0]["requestContext"]["authorizer"] == {"lambda": {"user": "u1", "n": 1}}


def test_lambda_authorizer_v1_event_and_policy_context() -> None:
    calls = Calls(_policy("Allow", "arn:aws:execute-api:us-east-1:123456789012:abc123/*/GET/*"))
    gw = _gateway(_lambda_route("1.0", simple=False), calls)
    assert gw.handle(HttpRequest("GET", "/pets/7", "t=abc", [("Authorization", "secret")])).status == 200
    event = calls.events[AUTHZ_FN][0]
    assert event["version"] == "1.0" and event["methodArn"].endswith("/$default/GET/pets/7")
    assert event["identitySource"] == event["authorizationToken"] == "secret,abc"
    assert event["httpMethod"] == "GET" and event["resource"] == "/pets/{id}"
    assert calls.events["fn"][0]["requestContext"]["authorizer"] == {"lambda": {"k": "v"}}


@pytest.mark.parametrize(("result", "status", "expected"), [
    ({"isAuthorized": False}, "ok", (403, {"message": "Forbidden"})),
    ({"isAuthorized": "yes"}, "ok", (500, {"message": "Internal Server Error"})),
    (None, "error", (500, {"message": "Internal Server Error"})),
    (None, "timeout", (500, {"message": "Internal Server Error"})),
])
def test_lambda_authorizer_refusals(result: Any, status: str, expected: tuple[int, Any]) -> None:
    calls = Calls(result, status)
    r = _gateway(_lambda_route(), calls).handle(HttpRequest("GET", "/pets/7", "t=1", [("Authorization", "x")]))
    assert (r.status, json.loads(r.body)) == expected
    assert "fn" not in calls.events


def test_lambda_authorizer_missing_identity_is_401_without_a_call() -> None:
    calls = Calls({"isAuthorized": True})
    r = _gateway(_lambda_route(), calls).handle(HttpRequest("GET", "/pets/7", "", [("Authorization", "x")]))
    assert (r.status, json.loads(r.body)) == (401, {"message": "Unauthorized"})
    assert calls.events == {}


def test_lambda_authorizer_results_are_cached_by_identity() -> None:
    calls = Calls({"isAuthorized": True, "context": {"who": "a"}})
    gw = _gateway(_lambda_route(ttl=300), calls)
    for token in ("a", "a", "b"):
        assert gw.handle(HttpRequest("GET", "/pets/7", "t=1", [("Authorization", token)])).status == 200
    assert [e["identitySource"][0] for e in calls.events[AUTHZ_FN]] == ["a", "b"]
    uncached = Calls({"isAuthorized": True})
    gw = _gateway(_lambda_route(ttl=0), uncached)
    for _ in range(2):
        gw.handle(HttpRequest("GET", "/pets/7", "t=1", [("Authorization", "a")]))
    assert len(uncached.events[AUTHZ_FN]) == 2
    assert uncached.events["fn"][0]["requestContext"]["authorizer"] == {"lambda": None}  # no context (§1.3)
