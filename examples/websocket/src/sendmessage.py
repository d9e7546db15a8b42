"""``sendMessage`` (``{"action": "sendMessage", "data": ...}``): post ``data`` to every connection.

The management API client is built from the event's ``domainName`` and ``stage``, as SST's example
does; a connection that is gone (``GoneException``, HTTP 410) is forgotten.
"""

import json

import boto3
from botocore.exceptions import ClientError
from connections import all_ids, remove


def main(event, context):
    try:
        data = json.loads(event.get("body") or "{}").get("data")
    except (ValueError, AttributeError):
        return {"statusCode": 400, "body": 'Send JSON like {"action": "sendMessage", "data": "hello"}'}
    message = data if isinstance(data, str) else json.dumps(data)
    request = event["requestContext"]
    management = boto3.client("apigatewaymanagementapi",
                              endpoint_url=f"https://{request['domainName']}/{request['stage']}")
    for connection_id in list(all_ids()):
        try:
            management.post_to_connection(ConnectionId=connection_id, Data=message.encode("utf-8"))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "GoneException":
                raise
            remove(connection_id)
    return {"statusCode": 200, "body": "Message sent"}
