"""The notes REST API of SST's docs, in Python: `sstdirect deploy examples/rest-api/app.py --local`."""

from pathlib import Path

from sstdirect import Api, App

app = App("notes", stage="dev", root=Path(__file__).parent)

api = Api(
    app,
    "Api",
    routes={
        "GET /notes": "src/list.main",
        "POST /notes": "src/create.main",
        "GET /notes/{id}": "src/get.main",
        "PUT /notes/{id}": "src/update.main",
        "DELETE /notes/{id}": "src/delete.main",
        "$default": "src/default.main",
    },
)
