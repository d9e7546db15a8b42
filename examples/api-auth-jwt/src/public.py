"""An open route."""


def main(event, context):
    return {"statusCode": 200, "body": "Hello stranger!"}
