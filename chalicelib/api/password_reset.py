"""Password reset by email: ask for a code, then spend it on a new password."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.auth import LOGIN_RESPONSE, MESSAGE, client_address, session_json
from chalicelib.api.http import route
from chalicelib.domain.accounts import password_reset
from chalicelib.domain.permissions import ANONYMOUS
from chalicelib.schema import Email, Password, Schema, Str

bp = Blueprint(__name__)

RESET_REQUEST = Schema("PasswordResetRequest", {
    "email": Email(required=True, description="The account's email; the answer is the same whether one has it."),
})

RESET_CONFIRM = Schema("PasswordResetConfirm", {
    "email": Email(required=True),
    "code": Str(max_length=32, required=True, description="The 8-character code from the email (any case, "
                                                            "spaces and dashes ignored)."),
    "new_password": Password(required=True, description="At least 8 characters, not all digits, not the username."),
})


@route(bp, "/auth/password/reset", "POST", tag="auth",
       summary="Ask for a password reset code by email (the same answer whether an account has the email)",
       roles=(ANONYMOUS,), body=RESET_REQUEST, response=MESSAGE, errors=(429,))
def request_reset(ctx):
    return {"message": password_reset.request_reset(ctx.body()["email"])}


@route(bp, "/auth/password/reset/confirm", "POST", tag="auth",
       summary="Set a new password with a reset code: every older token stops working; the answer has a new one",
       roles=(ANONYMOUS,), body=RESET_CONFIRM, response=LOGIN_RESPONSE, errors=(409, 429))
def confirm_reset(ctx):
    data = ctx.body()
    return session_json(password_reset.confirm_reset(data["email"], data["code"], data["new_password"],
                                                     client_address(ctx)))
