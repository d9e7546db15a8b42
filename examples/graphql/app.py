"""A GraphQL notes API on an HTTP API, in Python: `sstdirect dev examples/graphql/app.py`
(or `sstdirect deploy examples/graphql/app.py`).

`GET /` and `POST /` share one function, `src/server.py`, which `sstdirect.graphql.make_handler`
builds from an SDL schema and a resolver map. Try it:

    curl -X POST "$URL" -H 'content-type: application/json' \
         -d '{"query": "mutation { createNote(content: \"hi\") { id content } }"}'
    curl "$URL?query=%7BlistNotes%7Bid%20content%7D%7D"

The server file is `server.py`, not `graphql.py`: a handler module named `graphql` would shadow the
graphql-core package it needs. On AWS the bundle gets graphql-core from `src/requirements.txt` and
`sstdirect.graphql` itself, which sstdirect ships in the zip of any handler that imports it.
"""

from pathlib import Path

from sstdirect import App, GraphQLApi

app = App("notes-graphql", stage="dev", root=Path(__file__).parent)

api = GraphQLApi(app, "Api", server="src/server.handler")
