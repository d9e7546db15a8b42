"""SST's "API auth with Cognito" example in Python: a user pool authorizer, an identity pool and an IAM route.

    sstdirect deploy examples/api-auth-cognito/app.py --local

- `GET /private` needs a Cognito user pool token (`Authorization: Bearer <IdToken>`);
- `GET /public` is open;
- `GET /iam` needs a SigV4 signature, e.g. with the identity pool's credentials: signed-in users may
  invoke this API and nothing else (`attach_permissions_for_auth_users([api])`).
"""

from pathlib import Path

from sstdirect import Api, App, Cognito

app = App("api-auth-cognito", stage="dev", root=Path(__file__).parent)

auth = Cognito(app, "Auth", login=["email"])

api = Api(
    app,
    "Api",
    authorizers={"pool": {"type": "user_pool", "user_pool": {"id": auth.user_pool_id}}},
    defaults={"authorizer": "pool"},
    routes={
        "GET /private": "src/private.main",
        "GET /public": {"function": "src/public.main", "authorizer": "none"},
        "GET /iam": {"function": "src/private.main", "authorizer": "iam"},
    },
)

auth.attach_permissions_for_auth_users([api])
