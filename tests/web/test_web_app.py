"""The app in-process over HTTP (FastAPI TestClient): the API, the page, cookies,
input validation, isolation between visitors, restart and the CLI."""

from __future__ import annotations

import json
import logging
import time

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from pasta_core.store import read_trajectories
from pasta_web.app import create_app
from pasta_web.security import COOKIE, HEADERS
from pasta_web.settings import Arm, ServerSettings


def local_client(app) -> TestClient:
    """A test client that says ``Host: localhost``, as a browser on this machine does
    (TestClient's own ``testserver`` is not an allowed host)."""
    return TestClient(app, base_url="http://localhost")


def wait_ready(client: TestClient, session_id: str, turn: int, timeout: float = 30) -> dict:
    """Poll the session until turn ``turn`` is fully rendered (and its belief is in, when
    the belief view is on)."""
    belief_on = client.get("/api/config").json()["belief"]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/sessions/{session_id}").json()
        live = state.get("live")
        if live is None:
            return state
        assert live["status"] != "error", live
        belief = live["belief"]
        belief_current = belief["clicks"] == turn - 1 if belief_on and belief else not belief_on
        if live["status"] == "ready" and live["turn"] == turn and belief_current:
            return state
        time.sleep(0.02)
    raise AssertionError(f"turn {turn} was not ready in {timeout} s")


def new_session(client: TestClient, prompt: str = "a white cat") -> str:
    response = client.post("/api/sessions", json={"prompt": prompt})
    assert response.status_code == 201, response.text
    return response.json()["id"]


@pytest.fixture()
def app(settings):
    return create_app(settings)


@pytest.fixture()
def client(app):
    with local_client(app) as client:
        yield client


def test_page_and_assets_are_served_locally_with_security_headers(client):
    """The page loads only its own script and stylesheet; headers forbid framing etc."""
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert 'src="/static/app.js"' in page.text and "http" not in page.text.replace("http-equiv", "")
    for header, value in HEADERS.items():
        assert page.headers[header] == value
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/app.js").headers["content-type"].startswith("text/javascript")
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/__init__.py").status_code == 404
    assert client.get("/static/..%2Fapp.py").status_code == 404
    assert client.get("/docs").status_code == 404 and client.get("/openapi.json").status_code == 404


def test_visitor_cookie_is_httponly_strict_and_never_echoed(client, caplog):
    """The token lives only in an HttpOnly SameSite=Strict cookie, not in bodies or logs."""
    caplog.set_level(logging.DEBUG)
    response = client.get("/api/config")
    cookie = response.headers["set-cookie"]
    assert cookie.startswith(f"{COOKIE}=") and "HttpOnly" in cookie and "SameSite=strict" in cookie
    token = client.cookies[COOKIE]
    assert len(token) == 43
    assert "set-cookie" not in client.get("/api/config").headers  # kept, not re-issued
    session_id = new_session(client)
    state = wait_ready(client, session_id, 1)
    bodies = json.dumps(state) + client.get("/api/sessions").text + client.get("/").text
    assert token not in bodies and token not in caplog.text
    assert response.json()["belief"] is True and response.json()["max_prompt_words"] == 12


def test_a_session_over_http_from_prompt_to_export(client, app, settings, tmp_path):
    """Five clicks, the evaluation phase, the end, and the export of the stored answers."""
    session_id = new_session(client)
    for turn in range(1, 6):
        state = wait_ready(client, session_id, turn)
        live = state["live"]
        assert len(live["columns"]) == 4 and all(len(c["images"]) == 4 for c in live["columns"])
        assert all(url for c in live["columns"] for url in c["images"])
        assert abs(sum(t["probability"] for t in live["belief"]["types"]) - 1) < 1e-6
        image = client.get(live["columns"][2]["images"][3])
        assert image.status_code == 200 and image.content[:4] == b"\x89PNG"
        assert client.get(live["belief"]["types"][0]["examples"][0]).status_code == 200
        body = {"turn": turn, "column": turn % 4, "critique": "more blue" if turn == 3 else None}
        assert client.post(f"/api/sessions/{session_id}/choice", json=body).status_code == 202
    state = wait_ready(client, session_id, 6)
    assert state["phase"] == "evaluation" and [t["choice"] for t in state["answered"]] == [1, 2, 3, 0, 1]
    assert client.get(state["review"][4]["columns"][1]["images"][0]).status_code == 200
    for turn in range(1, 6):
        answers = {"preferred": 0, "satisfaction": [5, 4, 3, 2]}
        assert client.put(f"/api/sessions/{session_id}/evaluation/{turn}", json=answers).status_code == 200
        more = {"reason": "clear subject"} | ({"comparison": "same"} if turn > 1 else {})
        saved = client.put(f"/api/sessions/{session_id}/evaluation/{turn}", json=more).json()
        assert saved["satisfaction"] == [5, 4, 3, 2] and saved["reason"] == "clear subject"
    early = client.post(f"/api/sessions/{session_id}/finish", json={})
    assert early.status_code == 422 and "overall" in early.json()["detail"]
    assert client.put(f"/api/sessions/{session_id}/overall", json={"score": 5}).status_code == 200
    code = client.post(f"/api/sessions/{session_id}/finish", json={}).json()["completion_code"]
    assert client.get(f"/api/sessions/{session_id}").json()["completion_code"] == code

    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    out = tmp_path / "export"
    result = CliRunner().invoke(cli, ["sessions", "export", "--db", str(settings.db), "--out", str(out)])
    assert result.exit_code == 0, result.output
    (trajectory,) = read_trajectories(out / "trajectories.parquet")
    assert [t.satisfaction for t in trajectory.turns] == [(5, 4, 3, 2)] * 5
    assert trajectory.turns[2].critique == "more blue" and trajectory.metadata["overall"] == 5


def test_a_second_visitor_sees_nothing_of_the_first(app, client):
    """Another cookie: empty list, and 404 for the session, its images and every write."""
    session_id = new_session(client)
    state = wait_ready(client, session_id, 1)
    image_url = state["live"]["columns"][0]["images"][0]
    stranger = local_client(app)  # no context: the app's lifespan belongs to the first client
    assert stranger.get("/api/sessions").json() == {"sessions": []}
    assert stranger.get(f"/api/sessions/{session_id}").status_code == 404
    assert stranger.get(image_url).status_code == 404
    assert stranger.post(f"/api/sessions/{session_id}/choice", json={"turn": 1, "column": 0}).status_code == 404
    assert stranger.put(f"/api/sessions/{session_id}/evaluation/1", json={"reason": "x"}).status_code == 404
    assert stranger.post(f"/api/sessions/{session_id}/finish", json={}).status_code == 404
    stranger.cookies.set(COOKIE, "guess")  # a malformed token is replaced, never trusted
    assert stranger.get("/api/sessions").json() == {"sessions": []}
    assert client.get(f"/api/sessions/{session_id}").status_code == 200


@pytest.mark.parametrize(
    "body, status",
    [
        ({"prompt": " ".join(["word"] * 13)}, 422),
        ({"prompt": "x" * 201}, 422),
        ({"prompt": ""}, 422),
        ({"prompt": 5}, 422),
        ({"prompt": "a cat", "admin": True}, 422),
    ],
)
def test_new_session_input_is_validated(client, body, status):
    response = client.post("/api/sessions", json=body)
    assert response.status_code == status
    assert "x" * 50 not in response.text  # errors do not echo the input back


def test_click_and_answer_input_is_validated(client):
    session_id = new_session(client)
    wait_ready(client, session_id, 1)
    url = f"/api/sessions/{session_id}/choice"
    for body in ({"turn": 1, "column": "1"}, {"turn": 1, "column": 9}, {"turn": True, "column": 0},
                 {"turn": 1, "column": 0, "critique": " ".join(["w"] * 13)}, {"turn": 1}):
        assert client.post(url, json=body).status_code == 422, body
    assert client.post(url, json={"turn": 2, "column": 0}).status_code == 409
    assert client.put(f"/api/sessions/{session_id}/evaluation/1", json={"reason": "early"}).status_code == 409
    assert client.put(f"/api/sessions/{session_id}/overall", json={"score": 6}).status_code == 422


def test_writes_must_be_small_same_origin_json(client):
    """Form posts, oversized bodies and cross-site origins are refused before any work."""
    assert client.post("/api/sessions", data={"prompt": "a cat"}).status_code == 415
    big = json.dumps({"prompt": "a" * 20000})
    assert client.post("/api/sessions", content=big, headers={"content-type": "application/json"}).status_code == 413
    evil = client.post("/api/sessions", json={"prompt": "a cat"}, headers={"origin": "http://evil.example"})
    assert evil.status_code == 403
    assert client.get("/api/sessions").json() == {"sessions": []}


def test_image_urls_cannot_leave_the_session_folder(client, settings):
    """Only integer turn/column/image inside the session's folder resolve."""
    secret = settings.db.parent / "secret.png"
    secret.write_bytes(b"\x89PNG secret")
    session_id = new_session(client)
    wait_ready(client, session_id, 1)
    base = f"/api/sessions/{session_id}/images"
    for path in ("/../../secret.png", "/1/1/..%2F..%2Fsecret", "/0/1/1", "/1/5/1", "/1/1/5", "/-1/1/1",
                 "/1/1/1.png", "/%2e%2e/1/1", "/7/1/1"):
        response = client.get(base + path)
        assert response.status_code in (404, 422), path
        assert b"secret" not in response.content
    assert client.get(f"{base}/1/1/1").status_code == 200


def test_restart_loses_nothing_answered(settings):
    """A new app on the same database (a killed server) resumes the visitor's session."""
    with local_client(create_app(settings)) as first:
        session_id = new_session(first)
        wait_ready(first, session_id, 1)
        first.post(f"/api/sessions/{session_id}/choice", json={"turn": 1, "column": 2, "critique": "darker"})
        before = wait_ready(first, session_id, 2)
        cookie = first.cookies[COOKIE]
    with local_client(create_app(settings)) as second:
        second.cookies.set(COOKIE, cookie)
        assert [s["id"] for s in second.get("/api/sessions").json()["sessions"]] == [session_id]
        after = wait_ready(second, session_id, 2)
        assert after["answered"] == [{"turn": 1, "choice": 2, "critique": "darker"}]
        assert [c["prompt"] for c in after["live"]["columns"]] == [c["prompt"] for c in before["live"]["columns"]]


def test_study_arm_is_hidden_from_the_page(tmp_path):
    """The assigned arm is recorded but never shown to the rater (a blind study)."""
    arms = (Arm("alpha", selector="first"), Arm("beta", selector="random"))
    settings = ServerSettings(db=tmp_path / "db.sqlite3", arms=arms, belief=False)
    app = create_app(settings)
    with local_client(app) as client:
        session_id = new_session(client)
        state = wait_ready(client, session_id, 1)
        text = json.dumps(state) + client.get("/api/sessions").text
        assert "alpha" not in text and "beta" not in text and state["live"]["belief"] is None
        assert app.state.service.store.session(session_id).arm in {"alpha", "beta"}
        assert client.get("/api/config").json()["belief"] is False


def test_cli_serve_options_and_export_errors(tmp_path):
    """`pasta serve --help` lists the options; export of a missing database is an error."""
    from pasta_cli import cli, load_plugin_commands
    from pasta_web.cli import build_settings

    load_plugin_commands()
    runner = CliRunner()
    help_text = runner.invoke(cli, ["serve", "--help"]).output
    for option in ("--host", "--port", "--generator", "--t2i", "--selector", "--db", "--arms", "--user-model"):
        assert option in help_text
    assert "127.0.0.1" in help_text
    result = runner.invoke(cli, ["sessions", "export", "--db", str(tmp_path / "none.db"), "--out", str(tmp_path)])
    assert result.exit_code != 0 and "no database" in result.output
    arms = tmp_path / "arms.json"
    arms.write_text(json.dumps([{"name": "x", "selector": "first"}]))
    kw = {
        "arms": str(arms), "db": str(tmp_path / "d.db"), "sessions_dir": None, "user_model": "none", "belief": True,
        "user_model_option": (), "turns": 3, "render_batch": 4, "max_sessions": 5, "cookie_secure": True,
    }
    settings = build_settings(kw)
    assert settings.arms[0].name == "x" and settings.user_model is None and settings.config.turns == 3
    assert not settings.belief_enabled


def test_a_poll_waits_until_there_is_something_new(app, client, monkeypatch):
    """With ``after`` (the version on screen), the state is answered when the session shows
    something newer (a click, an image, the belief) or after the long-poll time."""
    import threading

    import pasta_web.app

    session_id = new_session(client)
    live = wait_ready(client, session_id, 1)["live"]
    monkeypatch.setattr(pasta_web.app, "LONG_POLL_SECONDS", 0.5)
    start = time.monotonic()
    same = client.get(f"/api/sessions/{session_id}?after={live['version']}").json()["live"]
    assert time.monotonic() - start >= 0.45 and same["version"] == live["version"]
    start = time.monotonic()
    client.get(f"/api/sessions/{session_id}?after={live['version'] - 1}")  # older: answered at once
    assert time.monotonic() - start < 0.45
    assert client.get(f"/api/sessions/{session_id}?after=x").status_code == 422

    monkeypatch.setattr(pasta_web.app, "LONG_POLL_SECONDS", 30)
    second = local_client(app)  # the same visitor in another tab
    second.cookies.set(COOKIE, client.cookies[COOKIE])
    answered: list[dict] = []
    poll = threading.Thread(target=lambda: answered.append(
        second.get(f"/api/sessions/{session_id}?after={live['version']}").json()))
    start = time.monotonic()
    poll.start()
    time.sleep(0.3)
    assert client.post(f"/api/sessions/{session_id}/choice", json={"turn": 1, "column": 0}).status_code == 202
    poll.join(timeout=30)
    assert answered and time.monotonic() - start < 15
    assert answered[0]["live"]["version"] != live["version"] and answered[0]["answered"][0]["choice"] == 0
    stranger = local_client(app)  # someone else's poll is not held: it is "not found" at once
    start = time.monotonic()
    assert stranger.get(f"/api/sessions/{session_id}?after={live['version']}").status_code == 404
    assert time.monotonic() - start < 5
