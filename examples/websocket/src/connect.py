"""``$connect``: remember the new connection."""

from connections import add


def main(event, context):
    add(event["requestContext"]["connectionId"])
    return {"statusCode": 200, "body": "Connected"}
