"""PUT /notes/{id} with ``{"content": "..."}`` -> 200 with the updated note (404, 400)."""

from notes import NOTES, BadRequest, error, note_content, path_id, response


def main(event, context):
    note = NOTES.get(path_id(event) or "")
    if note is None:
        return error(404, "Note not found")
    try:
        note["content"] = note_content(event)
    except BadRequest as exc:
        return error(400, str(exc))
    return response(200, note)
