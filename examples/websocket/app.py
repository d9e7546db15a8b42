"""SST's WebSocket chat, in Python: `sstdirect deploy examples/websocket/app.py`
(or `sstdirect dev examples/websocket/app.py` locally).

`$connect` stores the connection id in a DynamoDB table, `sendMessage` posts the message's `data`
to every stored connection through `apigatewaymanagementapi`, `$disconnect` deletes the id.

The table is part of the app (a `Table`, made by `sstdirect deploy`, deleted by `sstdirect remove`),
and the functions may only put, delete and scan items in that one table of this account: no table
management, no other table.

Try it: `wscat -c <ws.url>`, then send `{"action": "sendMessage", "data": "hello"}`.
"""

from pathlib import Path

from sstdirect import App, Table, WebSocketApi

app = App("chat", stage="dev", root=Path(__file__).parent)

connections = Table(app, "Connections", fields={"id": "string"}, primary_index={"partition_key": "id"})

ws = WebSocketApi(
    app,
    "Ws",
    defaults={
        "function": {
            "environment": {"TABLE_NAME": connections.table_name},
            # the item actions src/connections.py uses, on this table's ARN (which names this account)
            "permissions": [{"Action": ["dynamodb:PutItem", "dynamodb:DeleteItem", "dynamodb:Scan"],
                             "Resource": connections.arn}],
        },
    },
    routes={
        "$connect": "src/connect.main",
        "$disconnect": "src/disconnect.main",
        "sendMessage": "src/sendmessage.main",
    },
)
