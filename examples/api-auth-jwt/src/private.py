"""A JWT-protected route: echoes the token's subject and scopes."""

import json


def main(event, context):
    jwt = (event.get("requestContext", {}).get("authorizer") or {}).get("jwt") or {}
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"sub": jwt.get("claims", {}).get("sub"), "scopes": jwt.get("scopes")})}
