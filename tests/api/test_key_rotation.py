"""Rotating the signing secret logs nobody out: tokens and cursors made with the previous secret
stay valid until they expire, new ones name the current secret's key id (`kid`), and a token
signed by neither is refused. Deployed, the secrets come from SSM and a rotation takes effect
without a redeploy."""
from __future__ import annotations

import boto3
import jwt

from chalicelib import keys, settings

OLD = "the-old-secret-that-is-at-least-32-bytes-long"
NEW = "the-new-secret-that-is-at-least-32-bytes-long"
STRANGER = "somebody-elses-secret-of-at-least-32-bytes"


def kid_of(token: str) -> str:
    return jwt.get_unverified_header(token)["kid"]


def test_a_rotation_keeps_old_tokens_and_cursors_and_signs_new_ones_with_the_new_key(api, people, monkeypatch):
    monkeypatch.setenv("DQS_JWT_SECRET", OLD)
    admin = people.admin()
    for n in range(3):
        api.post("/departments", {"name": f"Ward {n}"}, token=admin.token)
    page = api.get("/departments?limit=2", token=admin.token).body
    assert kid_of(admin.token) == keys.key_id(OLD) and page["next"]

    monkeypatch.setenv("DQS_JWT_SECRET", NEW)
    monkeypatch.setenv("DQS_JWT_PREVIOUS_SECRET", OLD)
    assert api.get("/users/1", token=admin.token).status == 200  # not logged out
    assert len(api.get(f"/departments?limit=2&cursor={page['next']}", token=admin.token).body["results"]) == 1
    fresh = api.post("/auth/login", {"username": "admin", "password": "admin-password-1"}).body["token"]
    assert kid_of(fresh) == keys.key_id(NEW) != keys.key_id(OLD)
    assert api.get("/users/1", token=fresh).status == 200

    forged = jwt.encode(jwt.decode(fresh, options={"verify_signature": False}),
                        keys._derive(STRANGER, keys.TOKENS), algorithm="HS256", headers={"kid": kid_of(fresh)})
    assert api.get("/users/1", token=forged).status == 401
    unknown = jwt.encode(jwt.decode(fresh, options={"verify_signature": False}),
                         keys._derive(STRANGER, keys.TOKENS), algorithm="HS256",
                         headers={"kid": keys.key_id(STRANGER)})
    assert api.get("/users/1", token=unknown).status == 401

    # The rotation settles: the previous secret is dropped, and what it signed stops working.
    monkeypatch.delenv("DQS_JWT_PREVIOUS_SECRET")
    assert api.get("/users/1", token=admin.token).status == 401
    assert api.get(f"/departments?limit=2&cursor={page['next']}", token=fresh).status == 400
    assert api.get("/users/1", token=fresh).status == 200


def test_a_rotation_in_ssm_takes_effect_without_a_redeploy(api, people, monkeypatch):
    ssm = boto3.client("ssm", region_name="us-east-1")
    ssm.put_parameter(Name="/dqs/dev/jwt-secret", Value=OLD, Type="SecureString")
    monkeypatch.delenv("DQS_JWT_SECRET")
    monkeypatch.setenv("DQS_JWT_PREVIOUS_SECRET_PARAM", "/dqs/dev/jwt-secret-previous")
    settings.refresh_secrets()
    old_token = people.admin().token
    assert kid_of(old_token) == keys.key_id(OLD)

    # The operator rotates: the old value moves to the previous parameter, a new one is current.
    ssm.put_parameter(Name="/dqs/dev/jwt-secret-previous", Value=OLD, Type="SecureString")
    ssm.put_parameter(Name="/dqs/dev/jwt-secret", Value=NEW, Type="SecureString", Overwrite=True)
    # Another instance, which has read the new secret, signs a token: this instance, whose cache
    # still holds the old one, reads the secrets again when it meets the unknown kid.
    new_token = jwt.encode(jwt.decode(old_token, options={"verify_signature": False}),
                           keys._derive(NEW, keys.TOKENS), algorithm="HS256", headers={"kid": keys.key_id(NEW)})
    assert api.get("/users/1", token=new_token).status == 200
    assert api.get("/users/1", token=old_token).status == 200
    fresh = api.post("/auth/login", {"username": "admin", "password": "admin-password-1"}).body["token"]
    assert kid_of(fresh) == keys.key_id(NEW)
    settings.refresh_secrets()
