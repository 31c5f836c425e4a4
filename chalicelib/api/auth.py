"""Login, logout and password changes."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import route
from chalicelib.domain.accounts import sessions
from chalicelib.domain.entities import Session
from chalicelib.domain.permissions import ANONYMOUS, ANY_ROLE, ROLES
from chalicelib.schema import Choice, Int, Obj, Password, Schema, Str

bp = Blueprint(__name__)

LOGIN = Schema("LoginRequest", {
    "username": Str(max_length=150, required=True),
    "password": Password(new=False, required=True),
})

TOKEN_USER = Schema("TokenUser", {
    "id": Int(),
    "username": Str(max_length=150),
    "role": Choice(ROLES),
    "patient_id": Int(nullable=True, description="The linked patient record, or null."),
    "doctor_id": Int(nullable=True, description="The linked doctor record, or null."),
})

LOGIN_RESPONSE = Schema("LoginResponse", {
    "token": Str(max_length=4096, description="Send as `Authorization: Token <token>`."),
    "user": Obj(TOKEN_USER),
    "expires_at": Str(max_length=40),
})

PASSWORD_CHANGE = Schema("PasswordChange", {
    "old_password": Password(new=False, required=True, description="The current password."),
    "new_password": Password(required=True, description="At least 8 characters, not all digits, not the username."),
})

MESSAGE = Schema("Message", {"message": Str(max_length=200)})


def session_json(session: Session) -> dict:
    user = session.user
    return {"token": session.token,
            "user": {"id": user.id, "username": user.username, "role": user.role,
                     "patient_id": user.patient_id, "doctor_id": user.doctor_id},
            "expires_at": session.expires_at}


def client_address(ctx) -> str | None:
    """The caller's address: API Gateway's requestContext.identity.sourceIp (locally, the socket's peer)."""
    identity = (ctx.request.context or {}).get("identity") or {}
    return identity.get("sourceIp")


@route(bp, "/auth/login", "POST", summary="Log in and get a token", tag="auth", roles=(ANONYMOUS,),
       body=LOGIN, response=LOGIN_RESPONSE, errors=(429,))
def login(ctx):
    data = ctx.body()
    return session_json(sessions.login(data["username"], data["password"], client_address(ctx)))


@route(bp, "/auth/logout", "POST", summary="Log out: every token of the caller stops working", tag="auth",
       roles=ANY_ROLE, response=MESSAGE)
def logout(ctx):
    sessions.logout(ctx.user)
    return {"message": "Logged out."}


@route(bp, "/auth/password", "POST", tag="auth",
       summary="Change your own password: every older token stops working; the answer has a new one",
       roles=ANY_ROLE, body=PASSWORD_CHANGE, response=LOGIN_RESPONSE, errors=(409, 429))
def change_password(ctx):
    data = ctx.body()
    return session_json(sessions.change_password(ctx.user, data["old_password"], data["new_password"],
                                                 client_address(ctx)))
