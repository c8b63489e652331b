from flask.testing import FlaskClient


def test_status_is_public_and_has_no_personal_data(client: FlaskClient) -> None:
    r = client.get("/api/v1/status")
    assert r.status_code == 200
    body = r.get_json()
    assert set(body) == {"version", "role", "uptime_seconds", "healthy", "device"}
    assert body["healthy"] is True
    assert body["role"] == "hub"


def test_unknown_api_route_has_the_error_shape(client: FlaskClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.status_code == 404
    err = r.get_json()["error"]
    assert err["status"] == 404 and err["code"] == "not_found"
    assert err["message"]


def test_error_message_in_french_by_default(client: FlaskClient) -> None:
    r = client.get("/api/v1/nothing-here")
    assert r.get_json()["error"]["message"] == "Cette page n'existe pas."
    client.get("/lang/en")
    r = client.get("/api/v1/nothing-here")
    assert r.get_json()["error"]["message"] == "This page does not exist."


def test_openapi_lists_status(client: FlaskClient) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    assert doc["openapi"].startswith("3.")
    assert "get" in doc["paths"]["/api/v1/status"]
    assert "Error" in doc["components"]["schemas"]


def test_home_page_is_french_by_default(client: FlaskClient) -> None:
    r = client.get("/")
    assert r.status_code == 200
    assert '<html lang="fr-CA">' in r.get_data(as_text=True)
