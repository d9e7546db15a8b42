"""A test OIDC issuer: an RSA key pair made with ``cryptography``, its JWKS, tokens signed with it, and
(optionally) a tiny HTTP server on 127.0.0.1 serving its discovery document and JWKS; and
:class:`BlackHole`, an issuer address that accepts connections and never answers."""

from __future__ import annotations

import base64
import json
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class Issuer:
    """``Issuer(url)``: ``token(**claims)`` signs RS256 tokens with ``kid``; ``jwks`` is its public keys."""

    def __init__(self, url: str = "https://issuer.test", kid: str = "k1"):
        self.url = url
        self.kid = kid
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.requests: list[str] = []  # paths the HTTP server was asked for

    @property
    def public_pem(self) -> bytes:
        return self.key.public_key().public_bytes(serialization.Encoding.PEM,
                                                  serialization.PublicFormat.SubjectPublicKeyInfo)

    @property
    def jwks(self) -> dict[str, Any]:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        return {"keys": [{**jwk, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims = {"iss": self.url, "sub": "user-1", "aud": "api", "iat": now, "exp": now + 600,
                  "scope": "read:notes write:notes"}
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, headers: dict[str, Any] | None = None, alg: str = "RS256", **overrides: Any) -> str:
        return jwt.encode(self.claims(**overrides), self.key, algorithm=alg,
                          headers={"kid": self.kid, **(headers or {})})

    def unsigned_token(self, **overrides: Any) -> str:
        """``alg: none`` with an empty signature (what an attacker would send)."""
        header = _b64(json.dumps({"alg": "none", "typ": "JWT", "kid": self.kid}).encode())
        return f"{header}.{_b64(json.dumps(self.claims(**overrides)).encode())}."

    def hs256_with_public_key(self, **overrides: Any) -> str:
        """HS256 keyed with the issuer's *public* key PEM (the classic algorithm-confusion attack)."""
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": self.kid}).encode())
        payload = _b64(json.dumps(self.claims(**overrides)).encode())
        import hashlib
        import hmac

        signature = hmac.new(self.public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        return f"{header}.{payload}.{_b64(signature)}"

    def serve(self) -> ThreadingHTTPServer:
        """Serve ``/.well-known/openid-configuration`` and ``/jwks.json`` on 127.0.0.1; sets ``url``."""
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.requests.append(self.path)
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": issuer.url, "jwks_uri": f"{issuer.url}/jwks.json"}
                elif self.path == "/jwks.json":
                    body = issuer.jwks
                else:
                    self.send_error(404)
                    return
                raw = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return server


class BlackHole:
    """An issuer that never answers: a real listening socket on 127.0.0.1 that accepts connections and
    holds them open without sending a byte. ``connections`` counts the connections it was sent;
    ``accepted`` is set on the first; :meth:`close` ends it."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.connections = 0
        self.accepted = threading.Event()
        self._held: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self._held.append(conn)  # read nothing, answer nothing
            self.connections += 1
            self.accepted.set()

    def close(self) -> None:
        self._closed = True
        for conn in [self.sock, *self._held]:
            try:
                conn.close()
            except OSError:
                pass
