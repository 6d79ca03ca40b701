from fintech.models import AuditLog, Organization, User


def test_register_then_token_then_me(api, db):
    # given a valid SME registration (software_it, 80 employees, revenue 30,000,000 -> small)
    body = {
        "username": "acme",
        "password": "Correct-horse-9!",
        "enterprise": {
            "name": "Acme Tech",
            "uscc": "91420100MA00090013",
            "region_code": "420100",
            "industry": "software_it",
            "employees": 80,
            "annual_revenue": "30000000.00",
            "total_assets": "20000000.00",
        },
    }
    # when it registers and logs in
    r = api.post("/api/v1/auth/register/", body, format="json")
    assert r.status_code == 201, r.content
    token = api.post(
        "/api/v1/auth/token/", {"username": "acme", "password": "Correct-horse-9!"}, format="json"
    )
    assert token.status_code == 200
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token.json()['access']}")
    me = api.get("/api/v1/me/")
    # then
    assert me.json()["role"] == "sme"
    assert me.json()["organization"]["uscc"] == "91420100MA00090013"
    org = Organization.objects.get(uscc="91420100MA00090013")
    assert org.size_class == "small"
    assert User.objects.get(username="acme").organization == org
    assert AuditLog.objects.filter(action="sme.register", object_id=str(org.pk)).count() == 1
