"""The caller's own account: `/profile/` reads and edits it, under the rules `/users/{id}/` has for oneself."""
from __future__ import annotations

from chalice import Blueprint

from chalicelib.api.http import route
from chalicelib.api.users import OWN_PROFILE_UPDATE, USER, update_own_or_any, user_json
from chalicelib.domain.accounts import management
from chalicelib.domain.permissions import ANY_ROLE

bp = Blueprint(__name__)


@route(bp, "/profile", "GET", summary="Your own account", tag="users", roles=ANY_ROLE, response=USER)
def get_profile(ctx):
    return user_json(management.get_user(ctx.user, ctx.user.id))


@route(bp, "/profile", "PUT", summary="Replace your own profile fields (as PUT /users/{id}/ for yourself)",
       tag="users", roles=ANY_ROLE, body=OWN_PROFILE_UPDATE, response=USER, errors=(409,))
def put_profile(ctx):
    return update_own_or_any(ctx, ctx.user.id)


@route(bp, "/profile", "PATCH", summary="Change some of your own profile fields (as PATCH /users/{id}/ for yourself)",
       tag="users", roles=ANY_ROLE, body=OWN_PROFILE_UPDATE, response=USER, errors=(409,))
def patch_profile(ctx):
    return update_own_or_any(ctx, ctx.user.id)
