"""GET /notes/{id} -> 200 with the note, or 404."""

from notes import NOTES, error, path_id, response


def main(event, context):
    note = NOTES.get(path_id(event) or "")
    if note is None:
        return error(404, "Note not found")
    return response(200, note)
