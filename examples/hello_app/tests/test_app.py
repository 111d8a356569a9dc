import io
import os

from hello_app import create_app, read_version


def test_health_reports_version_and_db(client):
    r = client.get("/health")
    assert r.status_code == 200
    assert r.json == {"status": "ok", "version": read_version(), "checks": {"db": "ok"}}


def test_health_fails_without_schema(tmp_path):
    app = create_app({"DATABASE": str(tmp_path / "empty.sqlite3"), "UPLOAD_FOLDER": str(tmp_path / "u")})
    r = app.test_client().get("/health")
    assert r.status_code == 503
    assert r.json["status"] == "error"
    assert r.json["checks"]["db"].startswith("error")


def test_notes_round_trip(client):
    assert client.post("/notes", json={"body": "first"}).status_code == 201
    assert client.post("/notes", data={"body": "second"}).status_code == 201
    r = client.get("/notes")
    assert [n["body"] for n in r.json["notes"]] == ["first", "second"]
    page = client.get("/")
    assert b"second" in page.data and b"style.css" in page.data


def test_note_requires_body(client):
    assert client.post("/notes", json={}).status_code == 400


def test_upload_stored(client, app):
    r = client.post("/upload", data={"file": (io.BytesIO(b"hi"), "../evil name.txt")})
    assert r.status_code == 201
    assert r.json["stored"] == "evil_name.txt"
    assert os.path.exists(os.path.join(app.config["UPLOAD_FOLDER"], "evil_name.txt"))


def test_static_asset(client):
    r = client.get("/static/style.css")
    assert r.status_code == 200 and b"font-family" in r.data


def test_config_from_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("FLASK_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("FLASK_SESSION_COOKIE_SECURE", "true")
    monkeypatch.setenv("FLASK_DATABASE", str(tmp_path / "env.sqlite3"))
    monkeypatch.setenv("FLASK_UPLOAD_FOLDER", str(tmp_path / "up"))
    app = create_app()
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["DATABASE"].endswith("env.sqlite3")


def test_proxy_fix_builds_https_urls(client):
    r = client.get("/version", headers={"X-Forwarded-Proto": "https", "X-Forwarded-Host": "example.org"})
    assert r.json["home"] == "https://example.org/"
    plain = client.get("/version")
    assert plain.json["home"] == "http://localhost/"
