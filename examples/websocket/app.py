"""SST's WebSocket chat, in Python: `sstdirect deploy examples/websocket/app.py`
(or `sstdirect dev examples/websocket/app.py` locally).

`$connect` stores the connection id in a DynamoDB table, `sendMessage` posts the message's `data`
to every stored connection through `apigatewaymanagementapi`, `$disconnect` deletes the id.

sstdirect has no Table construct, so the table is made by the handlers themselves, the first time
a client connects (see `src/connections.py`): one `sstdirect deploy` is all it takes, locally and on
AWS, and the functions are granted DynamoDB on that one table only. The table is not part of the
app's resources, so `sstdirect remove` leaves it: delete `{stage}-chat-Connections` by hand.

Try it: `wscat -c <ws.url>`, then send `{"action": "sendMessage", "data": "hello"}`.
"""

from pathlib import Path

from sstdirect import App, WebSocketApi

app = App("chat", stage="dev", root=Path(__file__).parent)

TABLE_NAME = f"{app.stage}-{app.name}-Connections"

ws = WebSocketApi(
    app,
    "Ws",
    defaults={
        "function": {
            "environment": {"TABLE_NAME": TABLE_NAME},
            "permissions": [{
                "Action": ["dynamodb:CreateTable", "dynamodb:DescribeTable", "dynamodb:PutItem",
                           "dynamodb:DeleteItem", "dynamodb:Scan"],
                "Resource": f"arn:aws:dynamodb:{app.region}:*:table/{TABLE_NAME}",
            }],
        },
    },
    routes={
        "$connect": "src/connect.main",
        "$disconnect": "src/disconnect.main",
        "sendMessage": "src/sendmessage.main",
    },
)
