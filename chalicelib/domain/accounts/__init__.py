"""Accounts, by job:

- rules.py         what a username and a password may be
- identity.py      who is calling: a token -> the user
- throttling.py    limits on failed logins and wrong link codes
- sessions.py      login, logout, password changes (tokens)
- registration.py  new accounts and the records their roles need; the bootstrap admin
- management.py    reading, listing, editing and deleting users

The entry points used outside the domain are named here.
"""
from chalicelib.domain.accounts.identity import authenticate
from chalicelib.domain.accounts.management import delete_user, get_user, list_users, update_user
from chalicelib.domain.accounts.registration import ensure_admin, register
from chalicelib.domain.accounts.sessions import change_password, login, logout

__all__ = ["authenticate", "change_password", "delete_user", "ensure_admin", "get_user", "list_users", "login",
           "logout", "register", "update_user"]
