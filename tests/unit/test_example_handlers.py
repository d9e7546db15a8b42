"""The REST API example's handlers, called directly with API Gateway HTTP API (payload 2.0) events."""

from __future__ import annotations

import base64
import importlib
import json
import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from sstdirect.packaging import build_bundle, resolve_handler

SRC = Path(__file__).resolve().parents[2] / "examples" / "rest-api" / "src"
MODULES = ("notes", "list", "create", "get", "update", "delete", "default")


@pytest.fixture
def h(monkeypatch: pytest.MonkeyPatch):
    """The handler modules, freshly imported (so the in-memory notes start over) as Lambda would:
    with the code folder first on ``sys.path``.  Removed from ``sys.modules`` afterwards, since
    names like ``list`` and ``notes`` are generic."""
    saved = {name: sys.modules.pop(name) for name in MODULES if name in sys.modules}
    monkeypatch.syspath_prepend(str(SRC))
    try:
        yield SimpleNamespace(**{name: importlib.import_module(name) for name in MODULES})
    finally:
        for name in MODULES:
            sys.modules.pop(name, None)
        sys.modules.update(saved)


def event(method: str, path: str, *, route: str | None = None, params: dict | None = None,
          body: str | None = None, b64: bool = False, claims: dict | None = None) -> dict:
    """A payload format 2.0 event as API Gateway sends it."""
    ev = {
        "version": "2.0",
        "routeKey": route or f"{method} {path}",
        "rawPath": path,
        "rawQueryString": "",
        "headers": {"content-type": "application/json", "host": "abc123.execute-api.us-east-1.amazonaws.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abc123",
            "domainName": "abc123.execute-api.us-east-1.amazonaws.com",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.1",
                     "userAgent": "pytest"},
            "requestId": "req-1",
            "routeKey": route or f"{method} {path}",
            "stage": "$default",
            "timeEpoch": 1700000000000,
        },
        "isBase64Encoded": b64,
    }
    if params is not None:
        ev["pathParameters"] = params
    if body is not None:
        ev["body"] = base64.b64encode(body.encode()).decode() if b64 else body
    if claims is not None:
        ev["requestContext"]["authorizer"] = {"jwt": {"claims": claims, "scopes": None}}
    return ev


def call(module, ev: dict) -> tuple[int, object]:
    res = module.main(ev, None)
    assert set(res) == {"statusCode", "headers", "body"}
    assert res["headers"] == {"content-type": "application/json"}
    assert isinstance(res["body"], str)
    return res["statusCode"], json.loads(res["body"])


def test_sample_notes(h):
    assert set(h.notes.NOTES) == {"id1", "id2"}
    for note_id, note in h.notes.NOTES.items():
        assert set(note) == {"noteId", "userId", "createdAt", "content"}
        assert note["noteId"] == note_id
        assert isinstance(note["createdAt"], int)


def test_list(h):
    status, body = call(h.list, event("GET", "/notes"))
    assert status == 200
    assert isinstance(body, list)
    assert sorted(n["noteId"] for n in body) == ["id1", "id2"]


def test_get(h):
    ev = event("GET", "/notes/id1", route="GET /notes/{id}", params={"id": "id1"})
    status, body = call(h.get, ev)
    assert status == 200 and body["noteId"] == "id1" and body["content"] == "Hello World!"


@pytest.mark.parametrize("params", [{"id": "nope"}, None, {}])
def test_get_missing_is_404(h, params):
    ev = event("GET", "/notes/nope", route="GET /notes/{id}", params=params)
    assert call(h.get, ev) == (404, {"error": "Note not found"})


@pytest.mark.parametrize("b64", [False, True])
def test_create_then_get_and_list(h, b64):
    ev = event("POST", "/notes", body=json.dumps({"content": "a new note ✓"}), b64=b64,
               claims={"sub": "user-42"})
    status, note = call(h.create, ev)
    assert status == 201
    assert note["content"] == "a new note ✓"
    assert note["userId"] == "user-42"
    assert set(note) == {"noteId", "userId", "createdAt", "content"}
    status, got = call(h.get, event("GET", f"/notes/{note['noteId']}", params={"id": note["noteId"]}))
    assert status == 200 and got == note
    _status, listed = call(h.list, event("GET", "/notes"))
    assert len(listed) == 3


def test_create_without_authorizer_is_anonymous(h):
    _status, note = call(h.create, event("POST", "/notes", body='{"content": "x"}'))
    assert note["userId"] == "anonymous"


@pytest.mark.parametrize(
    ("body", "b64"),
    [
        (None, False),
        ("", False),
        ("not json", False),
        ("[1, 2]", False),
        ('{"content": 5}', False),
        ('{"text": "wrong key"}', False),
        ("%%%not base64%%%", "raw"),
    ],
    ids=["missing", "empty", "not-json", "not-object", "content-not-string", "no-content", "bad-base64"],
)
def test_create_bad_body_is_400(h, body, b64):
    ev = event("POST", "/notes", body=body)
    if b64 == "raw":
        ev["isBase64Encoded"] = True
    status, payload = call(h.create, ev)
    assert status == 400
    assert isinstance(payload["error"], str) and payload["error"]
    assert len(h.notes.NOTES) == 2


def test_update(h):
    ev = event("PUT", "/notes/id2", route="PUT /notes/{id}", params={"id": "id2"},
               body='{"content": "updated"}')
    status, note = call(h.update, ev)
    assert status == 200 and note["noteId"] == "id2" and note["content"] == "updated"
    assert call(h.get, event("GET", "/notes/id2", params={"id": "id2"}))[1]["content"] == "updated"


def test_update_missing_is_404_and_bad_body_is_400(h):
    missing = event("PUT", "/notes/zzz", params={"id": "zzz"}, body='{"content": "x"}')
    assert call(h.update, missing) == (404, {"error": "Note not found"})
    bad = event("PUT", "/notes/id1", params={"id": "id1"}, body="{oops")
    status, payload = call(h.update, bad)
    assert status == 400 and "error" in payload
    assert h.notes.NOTES["id1"]["content"] == "Hello World!"


def test_delete(h):
    ev = event("DELETE", "/notes/id1", route="DELETE /notes/{id}", params={"id": "id1"})
    status, body = call(h.delete, ev)
    assert status == 200 and body == {"noteId": "id1", "deleted": True}
    assert "id1" not in h.notes.NOTES
    assert call(h.delete, ev) == (404, {"error": "Note not found"})
    assert call(h.get, event("GET", "/notes/id1", params={"id": "id1"}))[0] == 404


def test_default_route_names_method_and_path(h):
    status, body = call(h.default, event("PATCH", "/nowhere/else", route="$default"))
    assert status == 404
    assert body["method"] == "PATCH" and body["path"] == "/nowhere/else"
    assert "PATCH /nowhere/else" in body["error"]


def test_every_route_handler_resolves_and_bundles(tmp_path):
    """The example's handler strings resolve (parsed, not imported) and the folder bundles."""
    root = SRC.parent
    locations = [resolve_handler(root, f"src/{name}.main", construct=f"Api 'Api' route {name}")
                 for name in ("list", "create", "get", "update", "delete", "default")]
    assert {loc.code_dir for loc in locations} == {SRC}
    bundle = build_bundle(SRC, cache_dir=tmp_path / "cache")
    with zipfile.ZipFile(bundle.path) as zf:
        assert {f"{m}.py" for m in MODULES} <= set(zf.namelist())
