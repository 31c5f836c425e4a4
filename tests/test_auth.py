from __future__ import annotations


def test_register_login_profile_logout(api, people):
    r = api.post("/register", {"username": "johndoe", "email": "john@example.com",
                               "password": "securepassword123", "role": "patient",
                               "date_of_birth": "1990-01-15"})
    assert r.status == 201, r
    assert r.body["role"] == "patient" and "password" not in r.body and "password_hash" not in r.body
    assert isinstance(r.body["patient_id"], int)
    login = api.post("/auth/login", {"username": "JohnDoe", "password": "securepassword123"})
    assert login.status == 200
    token = login.body["token"]
    me = api.get(f"/users/{r.body['id']}", token=token)
    assert me.status == 200 and me.body["username"] == "johndoe"
    assert api.post("/auth/logout", token=token).status == 200
    assert api.get(f"/users/{r.body['id']}", token=token).status == 401
