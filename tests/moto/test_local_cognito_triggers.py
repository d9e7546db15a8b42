"""The embedded Cognito runs its user pools' Lambda triggers (both modes: ``mock_aws`` and ``LocalCloud``).

Event shapes are AWS's developer guide, "Customizing user pool workflows with Lambda triggers"
(https://docs.aws.amazon.com/cognito/latest/developerguide/cognito-user-identity-pools-working-with-aws-lambda-triggers.html)
and each trigger's page (``user-pool-lambda-pre-sign-up``, ``-post-confirmation``, ``-pre-authentication``,
``-pre-token-generation``, ``-custom-message``); the sign-up event is also AWS's sample
``example-cognito-event-userpools-presignup.json`` (aws-lambda-go ``events/testdata``, as vendored by the
``aws_lambda_events`` crate). The error wording is AWS's as quoted from live calls: "PreSignUp failed with error
Registration from this domain is not allowed.." (aws-amplify/amplify-ui-android#314), "PostConfirmation failed
with error ..." (aws-amplify/amplify-cli#7576).
"""

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sstdirect.local.ext.cognito_triggers import sent_messages

CODE = '''
import json, os
import boto3

def _save(event):
    with open(os.path.join(os.environ["OUT"], event["triggerSource"] + ".json"), "w") as out:
        json.dump(event, out)

def pre_sign_up(event, context):
    _save(event)
    if event["userName"].startswith("bad"):
        raise ValueError("Registration from this domain is not allowed.")
    if event["userName"].startswith("auto"):
        event["response"].update(autoConfirmUser=True, autoVerifyEmail=True)
    return event

def post_confirmation(event, context):
    _save(event)
    if event["userName"].startswith("pc-fail"):
        raise RuntimeError("no database")
    boto3.client("cognito-idp").admin_add_user_to_group(UserPoolId=event["userPoolId"],
                                                        Username=event["userName"], GroupName="members")
    return event

def pre_authentication(event, context):
    _save(event)
    if event["request"]["validationData"].get("block"):
        raise Exception("Sign-in is blocked.")
    return event

def pre_token_generation(event, context):
    _save(event)
    event["response"]["claimsOverrideDetails"] = {
        "claimsToAddOrOverride": {"tenant": "acme", "sub": "not-changeable"},
        "claimsToSuppress": ["email"],
        "groupOverrideDetails": {"groupsToOverride": ["admins"]},
    }
    return event

def post_authentication(event, context):
    _save(event)
    return event

def custom_message(event, context):
    _save(event)
    if event["triggerSource"] == "CustomMessage_SignUp":
        event["response"]["emailSubject"] = "Welcome"
        event["response"]["emailMessage"] = "Hi " + event["userName"] + ", your code is " + \\
            event["request"]["codeParameter"]
    return event
'''
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"},
                                                 "Action": "sts:AssumeRole"}]}
TRIGGERS = {"PreSignUp": "pre_sign_up", "PostConfirmation": "post_confirmation",
            "PreAuthentication": "pre_authentication", "PreTokenGeneration": "pre_token_generation",
            "CustomMessage": "custom_message", "PostAuthentication": "post_authentication"}
PASSWORD = "Passw0rd!x"


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("triggers.py", CODE)
    return buffer.getvalue()


class Pool:
    def __init__(self, idp: Any, pool_id: str, client_id: str, out: Path) -> None:
        self.idp, self.id, self.client_id, self.out = idp, pool_id, client_id, out

    def event(self, source: str) -> dict[str, Any]:
        return json.loads((self.out / f"{source}.json").read_text())

    def sign_up(self, username: str, **kwargs: Any) -> Any:
        return self.idp.sign_up(ClientId=self.client_id, Username=username, Password=PASSWORD,
                                UserAttributes=[{"Name": "email", "Value": f"{username}@example.com"}], **kwargs)

    def sign_in(self, username: str, **kwargs: Any) -> Any:
        return self.idp.initiate_auth(ClientId=self.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                      AuthParameters={"USERNAME": username, "PASSWORD": PASSWORD}, **kwargs)


@pytest.fixture
def pool(clients: Any, tmp_path: Path) -> Pool:
    role = clients("iam").create_role(RoleName="triggers", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    lam = clients("lambda")
    config = {}
    for key, handler in TRIGGERS.items():
        arn = lam.create_function(FunctionName=handler, Runtime="python3.12", Role=role,
                                  Handler=f"triggers.{handler}", Code={"ZipFile": _zip()}, Timeout=10,
                                  Environment={"Variables": {"OUT": str(tmp_path)}})["FunctionArn"]
        config[key] = arn
    idp = clients("cognito-idp")
    recovery = {"RecoveryMechanisms": [{"Name": "verified_email", "Priority": 1}]}  # moto's default: SMS
    pool_id = idp.create_user_pool(PoolName="users", AutoVerifiedAttributes=["email"], LambdaConfig=config,
                                   AccountRecoverySetting=recovery)["UserPool"]["Id"]
    client_id = idp.create_user_pool_client(UserPoolId=pool_id, ClientName="web",
                                            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH",
                                                               "ALLOW_REFRESH_TOKEN_AUTH"])["UserPoolClient"]["ClientId"]
    idp.create_group(UserPoolId=pool_id, GroupName="members")
    return Pool(idp, pool_id, client_id, tmp_path)


def _claims(token: str) -> dict[str, Any]:
    body = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def _error(info: Any) -> tuple[str, str]:
    return info.value.response["Error"]["Code"], info.value.response["Error"]["Message"]


def test_a_raising_pre_sign_up_fails_sign_up_with_cognitos_error_and_event(pool: Pool) -> None:
    with pytest.raises(ClientError) as info:
        pool.sign_up("bad-user", ValidationData=[{"Name": "k1", "Value": "v1"}], ClientMetadata={"m": "1"})
    assert _error(info) == ("UserLambdaValidationException",
                            "PreSignUp failed with error Registration from this domain is not allowed..")
    with pytest.raises(ClientError, match="UserNotFoundException"):
        pool.idp.admin_get_user(UserPoolId=pool.id, Username="bad-user")
    event = pool.event("PreSignUp_SignUp")
    assert event["version"] == "1" and event["region"] == "us-east-1" and event["userPoolId"] == pool.id
    assert event["userName"] == "bad-user"
    assert set(event["callerContext"]) == {"awsSdkVersion", "clientId"}
    assert event["callerContext"]["clientId"] == pool.client_id
    assert event["request"] == {"userAttributes": {"email": "bad-user@example.com"}, "validationData": {"k1": "v1"},
                                "clientMetadata": {"m": "1"}}
    assert event["response"] == {"autoConfirmUser": False, "autoVerifyEmail": False, "autoVerifyPhone": False}


def test_pre_sign_up_answers_auto_confirm_and_verify(pool: Pool) -> None:
    answer = pool.sign_up("auto-user")
    assert answer["UserConfirmed"] is True and "CodeDeliveryDetails" not in answer
    user = pool.idp.admin_get_user(UserPoolId=pool.id, Username="auto-user")
    assert user["UserStatus"] == "CONFIRMED"
    assert {"Name": "email_verified", "Value": "true"} in user["UserAttributes"]
    assert sent_messages(pool.id) == []  # nothing to confirm: no code sent


def test_sign_up_message_comes_from_custom_message_and_confirm_runs_post_confirmation(pool: Pool) -> None:
    answer = pool.sign_up("ann")
    assert answer["UserConfirmed"] is False and answer["CodeDeliveryDetails"]["DeliveryMedium"] == "EMAIL"
    [message] = sent_messages(pool.id)
    assert message["TriggerSource"] == "CustomMessage_SignUp" and message["Destination"] == "ann@example.com"
    assert message["Subject"] == "Welcome" and message["Message"] == f"Hi ann, your code is {message['Code']}"
    request = pool.event("CustomMessage_SignUp")["request"]
    assert request["codeParameter"] == "{####}" and request["usernameParameter"] is None
    assert request["userAttributes"]["email"] == "ann@example.com"

    pool.idp.confirm_sign_up(ClientId=pool.client_id, Username="ann", ConfirmationCode=message["Code"],
                             ClientMetadata={"source": "web"})
    event = pool.event("PostConfirmation_ConfirmSignUp")
    assert event["request"]["clientMetadata"] == {"source": "web"} and event["response"] == {}
    assert event["request"]["userAttributes"]["cognito:user_status"] == "CONFIRMED"
    # the handler called the embedded Cognito back (AdminAddUserToGroup)
    groups = pool.idp.admin_list_groups_for_user(UserPoolId=pool.id, Username="ann")["Groups"]
    assert [g["GroupName"] for g in groups] == ["members"]


def test_a_raising_post_confirmation_fails_the_confirm(pool: Pool) -> None:
    pool.sign_up("pc-fail")
    with pytest.raises(ClientError) as info:
        pool.idp.admin_confirm_sign_up(UserPoolId=pool.id, Username="pc-fail")
    assert _error(info) == ("UserLambdaValidationException", "PostConfirmation failed with error no database.")
    assert pool.event("PostConfirmation_ConfirmSignUp")["callerContext"]["clientId"] == "CLIENT_ID_NOT_APPLICABLE"


def test_pre_authentication_can_refuse_and_pre_token_generation_claims_are_in_the_id_token(pool: Pool) -> None:
    pool.sign_up("auto-bob")
    pool.idp.create_group(UserPoolId=pool.id, GroupName="admins")
    with pytest.raises(ClientError) as info:
        pool.sign_in("auto-bob", ClientMetadata={"block": "yes"})
    assert _error(info) == ("UserLambdaValidationException", "PreAuthentication failed with error Sign-in is blocked..")
    request = pool.event("PreAuthentication_Authentication")["request"]
    assert request["validationData"] == {"block": "yes"} and request["userNotFound"] is False

    tokens = pool.sign_in("auto-bob")["AuthenticationResult"]
    claims = _claims(tokens["IdToken"])
    assert claims["tenant"] == "acme" and "email" not in claims and claims["cognito:groups"] == ["admins"]
    assert claims["sub"] != "not-changeable" and claims["cognito:username"] == "auto-bob"
    event = pool.event("TokenGeneration_Authentication")
    assert event["request"]["groupConfiguration"] == {"groupsToOverride": [], "iamRolesToOverride": [],
                                                      "preferredRole": None}
    assert event["response"] == {"claimsOverrideDetails": None}
    # the rebuilt token is the one the pool knows (it verifies against the pool's JWKS like any other)
    assert pool.idp.get_user(AccessToken=tokens["AccessToken"])["Username"] == "auto-bob"

    refreshed = pool.idp.initiate_auth(ClientId=pool.client_id, AuthFlow="REFRESH_TOKEN_AUTH",
                                       AuthParameters={"REFRESH_TOKEN": tokens["RefreshToken"]})
    assert _claims(refreshed["AuthenticationResult"]["IdToken"])["tenant"] == "acme"
    assert pool.event("TokenGeneration_RefreshTokens")["userName"] == "auto-bob"


def test_forgot_password_message_carries_the_code_confirm_forgot_password_checks(pool: Pool) -> None:
    pool.sign_up("auto-cy")
    pool.idp.forgot_password(ClientId=pool.client_id, Username="auto-cy")
    [message] = [m for m in sent_messages(pool.id) if m["TriggerSource"] == "CustomMessage_ForgotPassword"]
    assert message["Message"] == f"Your verification code is {message['Code']}. "  # the trigger left it alone
    with pytest.raises(ClientError, match="ExpiredCodeException"):
        pool.idp.confirm_forgot_password(ClientId=pool.client_id, Username="auto-cy", Password="N3w-passw0rd",
                                         ConfirmationCode="moto-confirmation-code:000000")
    pool.idp.confirm_forgot_password(ClientId=pool.client_id, Username="auto-cy", Password="N3w-passw0rd",
                                     ConfirmationCode=message["Code"])
    assert pool.event("PostConfirmation_ConfirmForgotPassword")["userName"] == "auto-cy"


def test_admin_created_users_get_an_invite_and_tokens_through_the_new_password_challenge(pool: Pool) -> None:
    with pytest.raises(ClientError, match="PreSignUp failed with error Registration"):
        pool.idp.admin_create_user(UserPoolId=pool.id, Username="bad-admin", TemporaryPassword="Temp0rary!x")
    assert pool.idp.list_users(UserPoolId=pool.id)["Users"] == []

    pool.idp.admin_create_user(UserPoolId=pool.id, Username="dee", TemporaryPassword="Temp0rary!x",
                               UserAttributes=[{"Name": "email", "Value": "dee@example.com"}])
    assert pool.event("PreSignUp_AdminCreateUser")["callerContext"]["clientId"] == "CLIENT_ID_NOT_APPLICABLE"
    [message] = sent_messages(pool.id)
    assert message["TriggerSource"] == "CustomMessage_AdminCreateUser"
    assert message["Message"] == "Your username is dee and temporary password is Temp0rary!x. "
    assert pool.event("CustomMessage_AdminCreateUser")["request"]["usernameParameter"] == "{username}"

    challenge = pool.idp.initiate_auth(ClientId=pool.client_id, AuthFlow="USER_PASSWORD_AUTH",
                                       AuthParameters={"USERNAME": "dee", "PASSWORD": "Temp0rary!x"})
    assert challenge["ChallengeName"] == "NEW_PASSWORD_REQUIRED"
    with pytest.raises(FileNotFoundError):  # no tokens yet
        pool.event("PostAuthentication_Authentication")
    tokens = pool.idp.respond_to_auth_challenge(
        ClientId=pool.client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=challenge["Session"],
        ChallengeResponses={"USERNAME": "dee", "NEW_PASSWORD": PASSWORD})["AuthenticationResult"]
    assert _claims(tokens["IdToken"])["tenant"] == "acme"
    assert pool.event("TokenGeneration_NewPasswordChallenge")["userName"] == "dee"
    event = pool.event("PostAuthentication_Authentication")
    assert event["request"]["newDeviceUsed"] is False and event["callerContext"]["clientId"] == pool.client_id
