"""SST's "API auth with a third-party JWT issuer" (Auth0) example in Python.

    sstdirect deploy examples/api-auth-jwt/app.py --local

Set ISSUER and AUDIENCE for your own tenant (e.g. `https://myorg.us.auth0.com/` and your API's
identifier); `GET /private` then needs `Authorization: Bearer <access token>` with the `read:notes` scope.
"""

import os
from pathlib import Path

from sstdirect import Api, App

app = App("api-auth-jwt", stage="dev", root=Path(__file__).parent)

api = Api(
    app,
    "Api",
    authorizers={
        "auth0": {
            "type": "jwt",
            "jwt": {
                "issuer": os.environ.get("ISSUER", "https://myorg.us.auth0.com/"),
                "audience": [os.environ.get("AUDIENCE", "https://api.example.com")],
            },
        }
    },
    defaults={"authorizer": "auth0", "authorization_scopes": ["read:notes"]},
    routes={
        "GET /private": "src/private.main",
        "GET /public": {"function": "src/public.main", "authorizer": "none"},
    },
)
