"""A protected route: says who called (JWT claims, or the IAM caller)."""

import json


def main(event, context):
    authorizer = event.get("requestContext", {}).get("authorizer") or {}
    claims = (authorizer.get("jwt") or {}).get("claims") or {}
    iam = authorizer.get("iam") or {}
    who = claims.get("email") or claims.get("sub") or iam.get("userArn") or "unknown"
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"message": f"Hello {who}!"})}
