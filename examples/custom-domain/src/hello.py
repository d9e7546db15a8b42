"""Hello from the custom domain."""


def main(event, context):
    return {"statusCode": 200, "body": f"Hello from {event.get('requestContext', {}).get('domainName')}"}
