"""The ``$default`` catch-all route: any request no other route matched -> 404 naming it."""

from notes import response


def main(event, context):
    http = (event.get("requestContext") or {}).get("http") or {}
    method = http.get("method") or "?"
    path = event.get("rawPath") or http.get("path") or "/"
    return response(404, {"error": f"No route for {method} {path}", "method": method, "path": path})
