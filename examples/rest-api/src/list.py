"""GET /notes -> 200 with every note, as a JSON list."""

from notes import NOTES, response


def main(event, context):
    return response(200, list(NOTES.values()))
