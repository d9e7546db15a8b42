"""``sstdirect token APP.py [--user NAME] [--pool CONSTRUCT]``: a confirmed test user of one of the app's
``Cognito`` user pools, signed in, with its tokens.

* **Which pool** (:func:`pick_cognito`, :func:`deployed_pool`): the ``Cognito`` construct ``--pool`` names, else
  the app's only one (ConfigError naming the choices when there are several or none), deployed (its ids from the
  lockfile).
* **Which user** (:func:`username_for`): ``NAME`` (default ``test-user``); a pool that signs in by e-mail only
  takes ``NAME@example.com`` (``NAME`` as it is when it holds an ``@``), verified; a phone-only pool needs an
  E.164 ``NAME`` (``+15555550100``).
* **What it does** (:func:`issue`): ``AdminCreateUser`` (no message sent) when the user does not exist yet, else
  the same user is reused (same ``sub``); a new generated password is set permanent (``AdminSetUserPassword``, so
  the user is ``CONFIRMED``) and the user signs in with ``AdminInitiateAuth`` ``ADMIN_USER_PASSWORD_AUTH`` (the
  flow sstdirect's app client enables). Triggers (``pre_sign_up``, ``pre_token_generation`` …) run as Cognito runs
  them. On AWS this creates a real user in the app's own pool, and resets the password of an existing one.
"""

from __future__ import annotations

import base64
import json
import secrets
import string
from dataclasses import dataclass
from typing import Any

from .errors import ConfigError, SstDirectError

DEFAULT_USER = "test-user"


@dataclass(frozen=True)
class Pool:
    construct_id: str
    user_pool_id: str
    client_id: str
    login: tuple[str, ...]


@dataclass(frozen=True)
class Tokens:
    pool: str
    username: str
    sub: str
    password: str
    created: bool
    id_token: str
    access_token: str
    refresh_token: str

    def to_json(self) -> dict[str, Any]:
        return {"pool": self.pool, "username": self.username, "sub": self.sub, "password": self.password,
                "created": self.created, "id_token": self.id_token, "access_token": self.access_token,
                "refresh_token": self.refresh_token}


def pick_cognito(app: Any, name: str | None) -> Any:
    """The ``Cognito`` construct ``name`` (default: the app's only one); ConfigError otherwise."""
    pools = [c for c in app.constructs if getattr(c, "kind", None) == "Cognito"]
    ids = [c.construct_id for c in pools]
    if not pools:
        raise ConfigError(f"{app.name} has no Cognito construct to make a test user in")
    if name is None and len(pools) > 1:
        raise ConfigError(f"{app.name} has {len(pools)} Cognito constructs; pick one with --pool: {', '.join(ids)}")
    chosen = pools[0] if name is None else next((c for c in pools if c.construct_id == name), None)
    if chosen is None:
        raise ConfigError(f"{app.name} has no Cognito construct {name!r}; --pool takes one of: {', '.join(ids)}")
    return chosen


def deployed_pool(app: Any, chosen: Any) -> Pool:
    """The ids of Cognito construct ``chosen`` from the lockfile; ConfigError when it is not deployed."""
    outputs = app.outputs.get(chosen.construct_id) or {}
    if not outputs.get("user_pool_id") or not outputs.get("user_pool_client_id"):
        raise ConfigError(f"{chosen.label} is not deployed for {app.name} · {app.stage}: run `sstdirect deploy` "
                          f"first (or pass --local)")
    login = chosen.login if isinstance(chosen.login, tuple) else (chosen.login,)
    return Pool(chosen.construct_id, outputs["user_pool_id"], outputs["user_pool_client_id"], login)


def username_for(pool: Pool, name: str) -> tuple[str, list[dict[str, str]]]:
    """The username to create ``name`` as in ``pool``, and the (verified) attributes it needs."""
    if "username" in pool.login or not name:
        return name, []
    if "email" in pool.login:
        email = name if "@" in name else f"{name}@example.com"
        return email, [{"Name": "email", "Value": email}, {"Name": "email_verified", "Value": "true"}]
    if not (name.startswith("+") and name[1:].isdigit()):
        raise ConfigError(f"Cognito {pool.construct_id!r} signs in by phone number: pass --user +15555550100")
    return name, [{"Name": "phone_number", "Value": name}, {"Name": "phone_number_verified", "Value": "true"}]


def new_password() -> str:
    """24 random characters meeting Cognito's default policy (upper, lower, digit, symbol)."""
    alphabet = string.ascii_letters + string.digits
    return (secrets.choice(string.ascii_uppercase) + secrets.choice(string.ascii_lowercase)
            + secrets.choice(string.digits) + "-" + "".join(secrets.choice(alphabet) for _ in range(20)))


def claims(token: str) -> dict[str, Any]:
    """A JWT's payload, unverified (for showing, not trusting)."""
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def issue(cognito: Any, pool: Pool, name: str) -> Tokens:
    """Create (or reuse) the confirmed user ``name`` in ``pool``, give it a new password, sign it in."""
    username, attributes = username_for(pool, name)
    password = new_password()
    try:
        user = cognito.admin_get_user(UserPoolId=pool.user_pool_id, Username=username)
        created = False
    except cognito.exceptions.UserNotFoundException:
        user = cognito.admin_create_user(UserPoolId=pool.user_pool_id, Username=username, MessageAction="SUPPRESS",
                                         TemporaryPassword=new_password(), UserAttributes=attributes)["User"]
        created = True
    cognito.admin_set_user_password(UserPoolId=pool.user_pool_id, Username=username, Password=password,
                                    Permanent=True)
    result = cognito.admin_initiate_auth(UserPoolId=pool.user_pool_id, ClientId=pool.client_id,
                                         AuthFlow="ADMIN_USER_PASSWORD_AUTH",
                                         AuthParameters={"USERNAME": username, "PASSWORD": password})
    auth = result.get("AuthenticationResult")
    if not auth:
        raise SstDirectError(f"Cognito {pool.construct_id!r} answered sign-in with the challenge "
                          f"{result.get('ChallengeName')!r} instead of tokens")
    attrs = user.get("UserAttributes") or user.get("Attributes") or []
    sub = next((a["Value"] for a in attrs if a["Name"] == "sub"), None) or claims(auth["IdToken"])["sub"]
    return Tokens(pool.construct_id, user.get("Username", username), sub, password, created, auth["IdToken"],
                  auth["AccessToken"], auth.get("RefreshToken", ""))
