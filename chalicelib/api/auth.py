"""Login and logout."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import route
from chalicelib.domain import accounts
from chalicelib.domain.permissions import ANONYMOUS, ANY_ROLE, ROLES
from chalicelib.schema import Choice, Int, Obj, Password, Schema, Str

bp = Blueprint(__name__)

LOGIN = Schema("LoginRequest", {
    "username": Str(max_length=150, required=True),
    "password": Password(new=False, required=True),
})

TOKEN_USER = Schema("TokenUser", {"id": Int(), "username": Str(max_length=150), "role": Choice(ROLES)})

LOGIN_RESPONSE = Schema("LoginResponse", {
    "token": Str(max_length=4096, description="Send as `Authorization: Token <token>`."),
    "user": Obj(TOKEN_USER),
    "expires_at": Str(max_length=40),
})

MESSAGE = Schema("Message", {"message": Str(max_length=200)})


@route(bp, "/auth/login", "POST", summary="Log in and get a token", tag="auth", roles=(ANONYMOUS,),
       body=LOGIN, response=LOGIN_RESPONSE)
def login(ctx):
    data = ctx.body()
    return accounts.login(data["username"], data["password"])


@route(bp, "/auth/logout", "POST", summary="Log out: every token of the caller stops working", tag="auth",
       roles=ANY_ROLE, response=MESSAGE)
def logout(ctx):
    accounts.logout(ctx.user)
    return {"message": "Logged out."}
