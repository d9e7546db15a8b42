"""DELETE /notes/{id} -> 200 with the deleted note's id, or 404."""

from notes import NOTES, error, path_id, response


def main(event, context):
    note_id = path_id(event) or ""
    if NOTES.pop(note_id, None) is None:
        return error(404, "Note not found")
    return response(200, {"noteId": note_id, "deleted": True})
