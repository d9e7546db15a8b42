"""``$disconnect``: forget the connection."""

from connections import remove


def main(event, context):
    remove(event["requestContext"]["connectionId"])
    return {"statusCode": 200, "body": "Disconnected"}
