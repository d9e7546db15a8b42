"""POST /notes with ``{"content": "..."}`` -> 201 with the new note (400 on a bad body)."""

from notes import BadRequest, error, new_note, note_content, response, user_id


def main(event, context):
    try:
        content = note_content(event)
    except BadRequest as exc:
        return error(400, str(exc))
    return response(201, new_note(content, user_id(event)))
