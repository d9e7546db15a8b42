"""The notes GraphQL API of SST's AppSync example, in Python:
`sstdirect deploy examples/appsync/app.py` (or `sstdirect dev examples/appsync/app.py` locally).

One Lambda data source serves every field (direct Lambda resolvers, no mapping templates); the
API is reached with its API key (`appsync.api_key`, read from AWS, never stored).
"""

from pathlib import Path

from sstdirect import App, AppSyncApi

app = App("notes", stage="dev", root=Path(__file__).parent)

api = AppSyncApi(
    app,
    "GraphqlApi",
    schema="schema.graphql",
    data_sources={"notes": "src/notes.main"},
    resolvers={
        "Query listNotes": "notes",
        "Query getNoteById": "notes",
        "Mutation createNote": "notes",
        "Mutation updateNote": "notes",
        "Mutation deleteNote": "notes",
    },
)
