"""The embedded Cognito runs its user pools' Lambda triggers (``LambdaConfig``) and acts on their answers.

The function runs through :func:`sstdirect.local.ext.lambda_invoke.run` (the embedded Lambda's ``Invoke``) with
Cognito's event, shaped as AWS's developer guide gives it ("Customizing user pool workflows with Lambda
triggers" and each trigger's page): ``version`` "1", ``triggerSource``, ``region``, ``userPoolId``,
``userName`` (the pool's internal name), ``callerContext`` {``awsSdkVersion``, ``clientId``} (admin
operations: ``CLIENT_ID_NOT_APPLICABLE``), ``request`` and ``response``. A function that raises (or times out)
fails the operation with ``UserLambdaValidationException`` "<Trigger> failed with error <errorMessage>.";
an answer that is not an object gives ``InvalidLambdaResponseException`` "Unrecognizable lambda output".

* ``PreSignUp`` (``SignUp`` → ``PreSignUp_SignUp``, ``AdminCreateUser`` → ``PreSignUp_AdminCreateUser``):
  after moto's own checks (existing user, password policy); a failure removes the new user.
  ``autoConfirmUser`` confirms it (no code is sent then), ``autoVerifyEmail``/``autoVerifyPhone`` set
  ``email_verified``/``phone_number_verified``.
* ``PostConfirmation`` (``ConfirmSignUp``/``AdminConfirmSignUp`` → ``PostConfirmation_ConfirmSignUp``,
  ``ConfirmForgotPassword`` → ``PostConfirmation_ConfirmForgotPassword``): runs after the change; a failure
  fails the call and the user stays confirmed (as users of AWS report; not checked against AWS).
  Not run for a user ``autoConfirmUser`` confirmed.
* ``PreAuthentication`` / ``PostAuthentication`` (``InitiateAuth``/``AdminInitiateAuth`` password and SRP
  flows, ``…_Authentication``): before the password check (for an existing user) / once tokens are issued.
* ``PreTokenGeneration`` (version ``V1_0``: ``LambdaConfig.PreTokenGeneration``, or
  ``PreTokenGenerationConfig`` with ``LambdaVersion`` V1_0): every ID token moto issues is rebuilt with
  ``claimsOverrideDetails``: ``claimsToAddOrOverride`` (not the claims AWS keeps: ``sub``, ``iss``, ...),
  ``claimsToSuppress``, ``groupOverrideDetails`` (``cognito:groups``/``roles``/``preferred_role``).
  Sources: ``TokenGeneration_Authentication``, ``_RefreshTokens``, ``_NewPasswordChallenge`` (moto has no hosted
  UI, so no ``_HostedAuth``). V2_0/V3_0 responses (access-token claims, scopes) are not applied.
* ``CustomMessage`` (``SignUp`` when a code is due → ``CustomMessage_SignUp``, ``ForgotPassword`` →
  ``_ForgotPassword``, ``AdminCreateUser`` unless suppressed → ``_AdminCreateUser``): moto sends no message, so
  every message is recorded on its pool instead (with or without the trigger), its ``{####}`` replaced by the
  code (for ``ForgotPassword``, the code ``ConfirmForgotPassword`` checks): read them with :func:`sent_messages`.

Triggers run in this process's in-process workers (:func:`lambda_invoke.workers_for` of no environ): a handler
calling Cognito back (``AdminAddUserToGroup`` from ``PostConfirmation``) reaches the same moto state through
their loopback server, outside the lock a ``LocalCloud`` holds while it serves the triggering request.
"""

from __future__ import annotations

import contextvars
import secrets
from dataclasses import dataclass, field
from typing import Any

from joserfc import jwt
from moto.cognitoidp.models import CognitoIdpBackend, CognitoIdpUser, CognitoIdpUserPool, UserStatus
from moto.cognitoidp.responses import CognitoIdpResponse
from moto.core.exceptions import JsonRESTError

NO_CLIENT = "CLIENT_ID_NOT_APPLICABLE"
CODE, LINK, USERNAME = "{####}", "{##Click Here##}", "{username}"
# V1_0 page: claims the trigger cannot add, change or suppress (``dev:`` ones neither)
FIXED_CLAIMS = frozenset({"acr", "amr", "aud", "at_hash", "auth_time", "azp", "cognito:username", "exp", "iat",
                          "identities", "iss", "jti", "nbf", "nonce", "origin_jti", "sub", "token_use"})
PASSWORD_FLOWS = ("USER_PASSWORD_AUTH", "USER_SRP_AUTH", "ADMIN_USER_PASSWORD_AUTH", "ADMIN_NO_SRP_AUTH")
REFRESH_FLOWS = ("REFRESH_TOKEN_AUTH", "REFRESH_TOKEN")


class UserLambdaValidation(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("UserLambdaValidationException", message)


class InvalidLambdaResponse(JsonRESTError):
    def __init__(self) -> None:
        super().__init__("InvalidLambdaResponseException", "Unrecognizable lambda output")


class UnexpectedLambda(JsonRESTError):
    def __init__(self, message: str) -> None:
        super().__init__("UnexpectedLambdaException", message)


@dataclass
class _Call:
    """What the Cognito request being served gives its triggers."""

    operation: str
    client_id: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)
    validation: dict[str, str] = field(default_factory=dict)
    sdk: str = "aws-sdk-unknown-unknown"
    auth_flow: str | None = None
    challenge: str | None = None

    @property
    def token_source(self) -> str:
        if self.auth_flow in REFRESH_FLOWS:
            return "TokenGeneration_RefreshTokens"
        if self.challenge == "NEW_PASSWORD_REQUIRED":
            return "TokenGeneration_NewPasswordChallenge"
        return "TokenGeneration_Authentication"


_call: contextvars.ContextVar[_Call | None] = contextvars.ContextVar("sstdirect_cognito_call", default=None)


def _current() -> _Call:
    return _call.get() or _Call(operation="")


# --- running a trigger ---------------------------------------------------------------------------


def _arn(pool: CognitoIdpUserPool, key: str) -> str | None:
    config = pool.extended_config.get("LambdaConfig") or {}
    if key == "PreTokenGeneration" and config.get("PreTokenGenerationConfig"):
        token_config = config["PreTokenGenerationConfig"]
        return token_config.get("LambdaArn") if token_config.get("LambdaVersion", "V1_0") == "V1_0" else None
    return config.get(key)


def _attributes(user: CognitoIdpUser) -> dict[str, str]:
    status = str(getattr(user.status, "value", user.status))
    return {"sub": user.id, **user.attribute_lookup, "cognito:user_status": status}


def run_trigger(pool: CognitoIdpUserPool, key: str, source: str, username: str, request: dict[str, Any],
                response: dict[str, Any], client_id: str | None = None) -> dict[str, Any] | None:
    """Run the pool's ``key`` trigger (a ``LambdaConfig`` key) with Cognito's event; its ``response``, or None
    when the pool has no such trigger. Raises the error Cognito answers when the function fails."""
    arn = _arn(pool, key)
    if not arn:
        return None
    from moto.awslambda.utils import get_backend

    from . import lambda_invoke

    parts = arn.split(":")
    try:
        fn = get_backend(parts[4], parts[3]).get_function(arn)
    except Exception:
        raise UnexpectedLambda(f"{key} invocation failed due to error ResourceNotFoundException.") from None
    call = _current()
    event = {"version": "1", "triggerSource": source, "region": pool.region, "userPoolId": pool.id,
             "userName": username,
             "callerContext": {"awsSdkVersion": call.sdk, "clientId": client_id or call.client_id or NO_CLIENT},
             "request": request, "response": response}
    ran, spec = lambda_invoke.run(lambda_invoke.workers_for(None), fn, event)
    if ran.status != "ok":
        message = lambda_invoke.error_payload(ran, spec)[0]["errorMessage"] if ran.status == "error" else "timeout"
        raise UserLambdaValidation(f"{key} failed with error {message}.")
    if not isinstance(ran.result, dict):
        raise InvalidLambdaResponse()
    return ran.result.get("response") or {}


def _pool_of_client(backend: CognitoIdpBackend, client_id: str) -> CognitoIdpUserPool | None:
    return next((p for p in backend.user_pools.values() if client_id in p.clients), None)


# --- messages (moto sends none) ---------------------------------------------------------------------


def sent_messages(user_pool_id: str) -> list[dict[str, Any]]:
    """The messages the embedded pool "sent", oldest first: ``TriggerSource``, ``Username``, ``DeliveryMedium``
    (EMAIL/SMS), ``Destination``, ``Subject``, ``Message`` (the code filled in) and ``Code``."""
    from moto.cognitoidp.models import cognitoidp_backends

    for account in cognitoidp_backends.values():
        for region, backend in account.items():
            pool = backend.user_pools.get(user_pool_id) if region != "global" else None
            if pool is not None:
                return list(pool.__dict__.get("_sstdirect_messages", []))
    return []


def _send(pool: CognitoIdpUserPool, user: CognitoIdpUser, source: str, code: str, invite: bool = False,
          medium: str | None = None) -> None:
    """Record the message Cognito would send ``user`` (by ``medium``, else e-mail when it has an address)."""
    config = pool.extended_config
    template = config.get("AdminCreateUserConfig", {}).get("InviteMessageTemplate", {}) if invite else \
        config.get("VerificationMessageTemplate", {})
    default = ("Your username is {username} and temporary password is {####}. ", "Your temporary password") \
        if invite else ("Your verification code is {####}. ", "Your verification code")
    email = template.get("EmailMessage") or (None if invite else config.get("EmailVerificationMessage")) or default[0]
    subject = template.get("EmailSubject") or (None if invite else config.get("EmailVerificationSubject")) \
        or default[1]
    sms = template.get("SMSMessage") or template.get("SmsMessage") or config.get("SmsVerificationMessage") \
        or default[0]
    answer = run_trigger(pool, "CustomMessage", source, user.username,
                         {"userAttributes": _attributes(user), "codeParameter": CODE, "linkParameter": LINK,
                          "usernameParameter": USERNAME if invite else None,
                          "clientMetadata": _current().metadata},
                         {"smsMessage": None, "emailMessage": None, "emailSubject": None}) or {}
    by_email = medium == "EMAIL" if medium else ("email" in user.attribute_lookup
                                                 or "phone_number" not in user.attribute_lookup)
    text = (answer.get("emailMessage") or email) if by_email else (answer.get("smsMessage") or sms)
    pool.__dict__.setdefault("_sstdirect_messages", []).append({
        "TriggerSource": source, "Username": user.username, "DeliveryMedium": "EMAIL" if by_email else "SMS",
        "Destination": user.attribute_lookup.get("email" if by_email else "phone_number"),
        "Subject": (answer.get("emailSubject") or subject) if by_email else None,
        "Message": text.replace(CODE, code).replace(USERNAME, user.username), "Code": code,
    })


# --- the operations -----------------------------------------------------------------------------------


def _apply_pre_sign_up(pool: CognitoIdpUserPool, user: CognitoIdpUser, source: str,
                       attributes: list[dict[str, str]]) -> bool:
    """Run ``PreSignUp`` for the just-created ``user`` (removed again on failure); whether it auto-confirmed."""
    call = _current()
    try:
        answer = run_trigger(pool, "PreSignUp", source, user.username,
                             {"userAttributes": {a["Name"]: a["Value"] for a in attributes or []},
                              "validationData": call.validation or None, "clientMetadata": call.metadata},
                             {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False})
    except Exception:
        pool.users.pop(user.username, None)
        raise
    answer = answer or {}
    verified = [{"Name": f"{name}_verified", "Value": "true"} for name, flag in
                (("email", "autoVerifyEmail"), ("phone_number", "autoVerifyPhone"))
                if answer.get(flag) and name in user.attribute_lookup]
    if verified:
        user.update_attributes(verified)
    if answer.get("autoConfirmUser") and source == "PreSignUp_SignUp":
        user.status = UserStatus.CONFIRMED
        return True
    return False


def _wrap_sign_up(original: Any) -> Any:
    def sign_up(self: CognitoIdpBackend, client_id: str, username: str, password: str,
                attributes: list[dict[str, str]]) -> tuple[CognitoIdpUser, Any]:
        user, details = original(self, client_id, username, password, attributes)
        pool = self.user_pools[user.user_pool_id]
        if _apply_pre_sign_up(pool, user, "PreSignUp_SignUp", attributes):
            return user, None  # confirmed: no code to send
        if details:
            _send(pool, user, "CustomMessage_SignUp", f"{secrets.randbelow(10**6):06d}",
                  medium=details.get("DeliveryMedium"))
        return user, details

    return sign_up


def _wrap_admin_create_user(original: Any) -> Any:
    def admin_create_user(self: CognitoIdpBackend, user_pool_id: str, username: str, message_action: str,
                          temporary_password: str, attributes: list[dict[str, str]]) -> CognitoIdpUser:
        user = original(self, user_pool_id, username, message_action, temporary_password, attributes)
        pool = self.user_pools[user_pool_id]
        if message_action != "RESEND":
            _apply_pre_sign_up(pool, user, "PreSignUp_AdminCreateUser", attributes)
        if message_action != "SUPPRESS" and user.password:
            _send(pool, user, "CustomMessage_AdminCreateUser", user.password, invite=True)
        return user

    return admin_create_user


def _post_confirmation(pool: CognitoIdpUserPool, user: CognitoIdpUser, source: str) -> None:
    run_trigger(pool, "PostConfirmation", source, user.username,
                {"userAttributes": _attributes(user), "clientMetadata": _current().metadata}, {})


def _wrap_confirm_sign_up(original: Any) -> Any:
    def confirm_sign_up(self: CognitoIdpBackend, client_id: str, username: str) -> str:
        result = original(self, client_id, username)
        pool = _pool_of_client(self, client_id)
        if pool is not None:
            _post_confirmation(pool, self.admin_get_user(pool.id, username), "PostConfirmation_ConfirmSignUp")
        return result

    return confirm_sign_up


def _wrap_admin_confirm_sign_up(original: Any) -> Any:
    def admin_confirm_sign_up(self: CognitoIdpBackend, user_pool_id: str, username: str) -> str:
        result = original(self, user_pool_id, username)
        _post_confirmation(self.user_pools[user_pool_id], self.admin_get_user(user_pool_id, username),
                           "PostConfirmation_ConfirmSignUp")
        return result

    return admin_confirm_sign_up


def _wrap_confirm_forgot_password(original: Any) -> Any:
    def confirm_forgot_password(self: CognitoIdpBackend, client_id: str, username: str, password: str,
                                confirmation_code: str) -> None:
        original(self, client_id, username, password, confirmation_code)
        pool = _pool_of_client(self, client_id)
        if pool is not None:
            _post_confirmation(pool, self.admin_get_user(pool.id, username), "PostConfirmation_ConfirmForgotPassword")

    return confirm_forgot_password


def _wrap_forgot_password(original: Any) -> Any:
    def forgot_password(self: CognitoIdpBackend, client_id: str, username: str) -> tuple[str | None, Any]:
        code, details = original(self, client_id, username)
        pool = _pool_of_client(self, client_id)
        user = pool._get_user(username) if pool is not None else None
        if pool is not None and user is not None and code:
            _send(pool, user, "CustomMessage_ForgotPassword", code,
                  medium=(details or {}).get("CodeDeliveryDetails", {}).get("DeliveryMedium"))
        return code, details

    return forgot_password


def _authenticate(self: CognitoIdpBackend, pool: CognitoIdpUserPool | None, client_id: str, auth_flow: str,
                  parameters: dict[str, str], original: Any) -> dict[str, Any]:
    """``PreAuthentication``, moto's sign-in, then ``PostAuthentication`` once tokens are issued."""
    user = pool._get_user((parameters or {}).get("USERNAME", "")) if pool is not None else None
    password_flow = auth_flow in PASSWORD_FLOWS
    if pool is not None and user is not None and password_flow:
        run_trigger(pool, "PreAuthentication", "PreAuthentication_Authentication", user.username,
                    {"userAttributes": _attributes(user), "userNotFound": False,
                     "validationData": _current().metadata}, {}, client_id)
    result = original()
    if pool is not None and user is not None and password_flow and (result or {}).get("AuthenticationResult"):
        _post_authentication(pool, user, client_id)
    return result


def _post_authentication(pool: CognitoIdpUserPool, user: CognitoIdpUser, client_id: str) -> None:
    run_trigger(pool, "PostAuthentication", "PostAuthentication_Authentication", user.username,
                {"userAttributes": _attributes(user), "newDeviceUsed": False, "clientMetadata": _current().metadata},
                {}, client_id)


def _wrap_initiate_auth(original: Any) -> Any:
    def initiate_auth(self: CognitoIdpBackend, client_id: str, auth_flow: str,
                      auth_parameters: dict[str, str]) -> dict[str, Any]:
        return _authenticate(self, _pool_of_client(self, client_id), client_id, auth_flow, auth_parameters,
                             lambda: original(self, client_id, auth_flow, auth_parameters))

    return initiate_auth


def _wrap_admin_initiate_auth(original: Any) -> Any:
    def admin_initiate_auth(self: CognitoIdpBackend, user_pool_id: str, client_id: str, auth_flow: str,
                            auth_parameters: dict[str, str]) -> dict[str, Any]:
        return _authenticate(self, self.user_pools.get(user_pool_id), client_id, auth_flow, auth_parameters,
                             lambda: original(self, user_pool_id, client_id, auth_flow, auth_parameters))

    return admin_initiate_auth


def _wrap_respond_to_auth_challenge(original: Any) -> Any:
    def respond_to_auth_challenge(self: CognitoIdpBackend, session: str, client_id: str, challenge_name: str,
                                  challenge_responses: dict[str, str]) -> dict[str, Any]:
        result = original(self, session, client_id, challenge_name, challenge_responses)
        pool = _pool_of_client(self, client_id)
        user = pool._get_user((challenge_responses or {}).get("USERNAME", "")) if pool is not None else None
        if pool is not None and user is not None and (result or {}).get("AuthenticationResult"):
            _post_authentication(pool, user, client_id)
        return result

    return respond_to_auth_challenge


def _wrap_create_id_token(original: Any) -> Any:
    def create_id_token(self: CognitoIdpUserPool, client_id: str, username: str, origin_jti: str) -> tuple[str, int]:
        token, expires_in = original(self, client_id, username, origin_jti)
        if not _arn(self, "PreTokenGeneration"):
            return token, expires_in
        user = self._get_user(username)
        groups = [group.group_name for group in user.groups]
        answer = run_trigger(self, "PreTokenGeneration", _current().token_source, user.username, {
            "userAttributes": _attributes(user),
            "groupConfiguration": {"groupsToOverride": groups,
                                   "iamRolesToOverride": [g.role_arn for g in user.groups if g.role_arn],
                                   "preferredRole": None},
            "clientMetadata": _current().metadata}, {"claimsOverrideDetails": None}, client_id) or {}
        details = answer.get("claimsOverrideDetails") or {}
        if not details:
            return token, expires_in
        decoded = jwt.decode(token, self.json_web_key)
        claims = _override(dict(decoded.claims), details)
        new_token = jwt.encode(dict(decoded.header), claims, self.json_web_key)
        self.id_tokens[new_token] = self.id_tokens.pop(token, (client_id, username))
        return new_token, expires_in

    return create_id_token


def _override(claims: dict[str, Any], details: dict[str, Any]) -> dict[str, Any]:
    """The ID token's claims with a V1_0 ``claimsOverrideDetails`` applied."""
    def changeable(name: str) -> bool:
        return name not in FIXED_CLAIMS and not name.startswith("dev:")

    claims.update({k: v for k, v in (details.get("claimsToAddOrOverride") or {}).items() if changeable(k)})
    for name in details.get("claimsToSuppress") or []:
        if changeable(name):
            claims.pop(name, None)
    groups = details.get("groupOverrideDetails") or {}
    for key, claim in (("groupsToOverride", "cognito:groups"), ("iamRolesToOverride", "cognito:roles"),
                       ("preferredRole", "cognito:preferred_role")):
        if key in groups:
            if groups[key]:
                claims[claim] = groups[key]
            else:
                claims.pop(claim, None)
    return claims


# --- the request context --------------------------------------------------------------------------


def _with_call(name: str, original: Any) -> Any:
    def handler(self: CognitoIdpResponse) -> Any:
        agent = (self.headers.get("User-Agent") or "").split(" ")[0]
        validation = self._get_param("ValidationData") or []
        call = _Call(operation=name, client_id=self._get_param("ClientId"),
                     metadata=dict(self._get_param("ClientMetadata") or {}),
                     validation={a["Name"]: a.get("Value") for a in validation},
                     sdk=agent.lower().replace("/", "-") or _Call.sdk, auth_flow=self._get_param("AuthFlow"),
                     challenge=self._get_param("ChallengeName"))
        token = _call.set(call)
        try:
            return original(self)
        finally:
            _call.reset(token)

    handler.__name__ = name
    return handler


OPERATIONS = ("sign_up", "admin_create_user", "confirm_sign_up", "admin_confirm_sign_up", "forgot_password",
              "confirm_forgot_password", "initiate_auth", "admin_initiate_auth", "respond_to_auth_challenge",
              "admin_respond_to_auth_challenge")


#: moto's backend operations → the wrapper that runs their triggers
BACKEND_WRAPPERS = {
    "sign_up": _wrap_sign_up, "admin_create_user": _wrap_admin_create_user, "confirm_sign_up": _wrap_confirm_sign_up,
    "admin_confirm_sign_up": _wrap_admin_confirm_sign_up, "confirm_forgot_password": _wrap_confirm_forgot_password,
    "forgot_password": _wrap_forgot_password, "initiate_auth": _wrap_initiate_auth,
    "admin_initiate_auth": _wrap_admin_initiate_auth, "respond_to_auth_challenge": _wrap_respond_to_auth_challenge,
}


def install() -> None:
    """Hook the triggers into moto (call once; ``ext.install`` guards that)."""
    for name in OPERATIONS:
        setattr(CognitoIdpResponse, name, _with_call(name, getattr(CognitoIdpResponse, name)))
    for name, wrap in BACKEND_WRAPPERS.items():
        setattr(CognitoIdpBackend, name, wrap(getattr(CognitoIdpBackend, name)))
    CognitoIdpUserPool.create_id_token = _wrap_create_id_token(  # type: ignore[method-assign]
        CognitoIdpUserPool.create_id_token)
