"""The web app against hostile or careless use (issue 22, item 5): foreign Host headers
(DNS rebinding), limits that hold without cookies, provider errors kept off the rater's
page, control characters, and memory that does not stay with sessions that are gone."""

from __future__ import annotations

import gc
import logging
import platform
import time
import weakref

import numpy as np
import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from web_testkit import plugins_with_slow_t2i

from pasta_core.config import EpisodeConfig
from pasta_core.errors import BackendError, InvalidValueError
from pasta_core.plugins import plugin_module
from pasta_web.app import create_app
from pasta_web.belief import BeliefState, BeliefTracker
from pasta_web.flow import check_critique_text, check_plain_text, check_prompt
from pasta_web.memory import release_free_memory
from pasta_web.service import RENDER_FAILED, BusyError, LimitError, WebSessions
from pasta_web.settings import LOOPBACK_HOSTS, Arm, ServerSettings

OWNER = "d" * 64
EVIL = "rebind.evil.example"


def client_for(app, host: str = "localhost", address: str = "127.0.0.1") -> TestClient:
    """A fresh visitor (no cookie) saying ``Host: host`` from ``address``."""
    return TestClient(app, base_url=f"http://{host}", client=(address, 40000))


def wait_ready(client: TestClient, session_id: str, turn: int, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = client.get(f"/api/sessions/{session_id}").json()
        live = state.get("live")
        if live is None or (live["status"] == "ready" and live["turn"] == turn):
            return state
        assert live["status"] != "error", live
        time.sleep(0.02)
    raise AssertionError(f"turn {turn} was not ready in {timeout} s")


# -- Host allow-list (DNS rebinding) ---------------------------------------------------------


def test_a_foreign_host_is_refused_before_any_handler(settings):
    """Host and Origin of a rebinding attacker's name: 400 for pages, reads and writes,
    and nothing is created; the loopback names (with or without a port) are served."""
    app = create_app(settings)
    with client_for(app) as local:
        evil = client_for(app, EVIL)
        for response in (
            evil.get("/"), evil.get("/api/config"), evil.get("/api/sessions"),
            evil.post("/api/sessions", json={"prompt": "a cat"}, headers={"origin": f"http://{EVIL}"}),
            local.get("/api/config", headers={"host": f"{EVIL}:8000"}),
            local.get("/api/config", headers={"host": "localhost.evil.example"}),
        ):
            assert response.status_code == 400, response.text
            assert "set-cookie" not in response.headers  # refused before the visitor layer
        assert app.state.service.store.sessions() == []
        for host in ("localhost", "localhost:8000", "127.0.0.1:8000", "[::1]:8000", "LOCALHOST"):
            assert local.get("/api/config", headers={"host": host}).status_code == 200, host
        assert local.post("/api/sessions", json={"prompt": "a cat"}).status_code == 201


def test_configured_hosts_and_wildcards_are_served(tmp_path):
    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False,
                              allowed_hosts=("pasta.example.org", "*.study.example"))
    assert settings.allowed_hosts[:3] == LOOPBACK_HOSTS  # the loopback names stay
    app = create_app(settings)
    with client_for(app) as local:
        for host, status in (("pasta.example.org", 200), ("rater1.study.example", 200), ("localhost", 200),
                             ("example.org", 400), (EVIL, 400)):
            assert local.get("/api/config", headers={"host": host}).status_code == status, host


def test_allowed_host_option_of_pasta_serve(tmp_path):
    """--allowed-host adds names (a bad one is a one-line error); a specific --host address
    is allowed too, the wildcard bind address is not."""
    from pasta_cli import cli, load_plugin_commands
    from pasta_web.cli import build_settings

    kw = {
        "arms": None, "generator": "template", "t2i": "procedural", "selector": "random",
        "generator_option": (), "t2i_option": (), "selector_option": (), "db": str(tmp_path / "d.db"),
        "sessions_dir": None, "user_model": "none", "belief": False, "user_model_option": (), "turns": 2,
        "render_batch": 1, "max_sessions": 5, "cookie_secure": False,
    }
    settings = build_settings({**kw, "host": "192.0.2.7", "allowed_host": ("Pasta.Example.org",)})
    assert settings.allowed_hosts == (*LOOPBACK_HOSTS, "pasta.example.org", "192.0.2.7")
    assert build_settings({**kw, "host": "0.0.0.0", "allowed_host": ()}).allowed_hosts == LOOPBACK_HOSTS
    limits = build_settings({**kw, "host": "127.0.0.1", "allowed_host": (), "max_live_sessions": 7,
                             "max_live_per_address": 3, "new_sessions_per_address": 9, "max_queued_renders": 4})
    assert (limits.max_live_sessions, limits.max_live_per_address, limits.new_sessions_per_address,
            limits.max_queued_renders) == (7, 3, 9, 4)
    load_plugin_commands()
    result = CliRunner().invoke(cli, ["serve", "--allowed-host", "http://evil.example:80/x",
                                      "--db", str(tmp_path / "x.db")])
    assert result.exit_code != 0 and "--allowed-host" in result.output and "Traceback" not in result.output
    help_text = CliRunner().invoke(cli, ["serve", "--help"]).output
    for option in ("--allowed-host", "--max-live-per-address", "--new-sessions-per-address",
                   "--max-live-sessions", "--max-queued-renders"):
        assert option in help_text


# -- limits without cookies -------------------------------------------------------------------


def test_dropping_the_cookie_does_not_lift_the_per_address_limits(tmp_path):
    """Every request a new visitor (no cookie) from one address: the live-session cap
    answers 429 with Retry-After; another address is not affected."""
    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False, max_live_per_address=2)
    app = create_app(settings)
    with client_for(app) as first:
        for _ in range(2):
            assert client_for(app).post("/api/sessions", json={"prompt": "a cat"}).status_code == 201
        refused = client_for(app).post("/api/sessions", json={"prompt": "a cat"})
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0
        assert "network" in refused.json()["detail"]
        other = client_for(app, address="192.0.2.10").post("/api/sessions", json={"prompt": "a cat"})
        assert other.status_code == 201
        assert len(app.state.service.store.sessions()) == 3
        assert first.get("/api/config").status_code == 200


def test_new_sessions_per_address_per_hour(tmp_path, plugins):
    """Finished sessions leave memory, but the hourly count of new ones still holds."""
    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False, config=EpisodeConfig(turns=1),
                              new_sessions_per_address=2, max_sessions_per_visitor=100)
    web = WebSessions(settings, plugins, background=False)
    for i in range(2):
        row = web.create(f"{i:064x}", "a cat", client="198.51.100.1")
        web.choose(f"{i:064x}", row.id, 1, 0)  # the picking phase ends: it leaves memory
        assert not web.in_memory(row.id)
    with pytest.raises(LimitError) as refused:
        web.create("f" * 64, "a cat", client="198.51.100.1")
    assert 3000 < refused.value.retry_after <= 3601
    web.create("f" * 64, "a cat", client="198.51.100.2")
    web.close()


def test_global_limits_answer_503_with_retry_after(tmp_path):
    """Past the server-wide number of live sessions, a new session (from any address, any
    cookie) gets 503 and Retry-After; so does one while too many slates wait to render."""
    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False, max_live_sessions=2)
    app = create_app(settings)
    with client_for(app) as client:
        for i in range(2):
            assert client_for(app, address=f"192.0.2.{i}").post("/api/sessions", json={"prompt": "a"}).status_code == 201
        full = client_for(app, address="192.0.2.99").post("/api/sessions", json={"prompt": "a"})
        assert full.status_code == 503 and int(full.headers["retry-after"]) > 0
        assert client.get("/api/config").status_code == 200


def test_queued_renders_are_bounded(tmp_path):
    """While a slow slate renders, a second new session is turned away (the queue does not
    grow without bound); once it is done, new sessions are accepted again."""
    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False, max_queued_renders=1,
                              arms=(Arm(t2i="slow-procedural", t2i_options={"delay": 0.05}),))
    web = WebSessions(settings, plugins_with_slow_t2i())
    try:
        first = web.create(OWNER, "a cat", client="192.0.2.1")
        with pytest.raises(BusyError) as busy:
            web.create(OWNER, "a dog", client="192.0.2.2")
        assert busy.value.retry_after > 0 and web.load()["queued_renders"] == 1
        deadline = time.monotonic() + 30
        while web.state(OWNER, first.id)["live"]["status"] != "ready":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        web.create(OWNER, "a dog", client="192.0.2.2")
    finally:
        web.close()


def test_idle_sessions_make_room_when_the_server_is_full(tmp_path, plugins, monkeypatch):
    """A full server drops the session left alone longest (it resumes from disk later)."""
    import pasta_web.service

    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False, max_live_sessions=1)
    web = WebSessions(settings, plugins, background=False)
    old = web.create(OWNER, "a cat", client="192.0.2.1")
    with pytest.raises(BusyError):
        web.create(OWNER, "a dog", client="192.0.2.2")
    monkeypatch.setattr(pasta_web.service, "PRESSURE_IDLE_SECONDS", 0.0)
    new = web.create(OWNER, "a dog", client="192.0.2.2")
    assert web.in_memory(new.id) and not web.in_memory(old.id)
    web.close()


# -- provider errors stay in the log ------------------------------------------------------------


class FailingT2I:
    """A provider that fails with an operator's hint (naming the provider and the arm's model)."""

    def render(self, prompts, seeds):
        raise BackendError("the acme-diffusion API refused the key; set ACME_API_KEY (arm model acme-xl)")


def test_a_provider_failure_shows_a_neutral_message_and_logs_the_error(tmp_path, caplog):
    module = plugin_module(
        "failing_t2i_for_tests",
        pasta_register_t2i_models=lambda register: register("acme-xl", FailingT2I, "test only"),
    )
    from pasta_core.plugins import Plugins

    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False, arms=(Arm("secret-arm", t2i="acme-xl"),))
    app = create_app(settings, plugins=Plugins(extra=[module]))
    caplog.set_level(logging.WARNING, logger="pasta_web")
    with client_for(app) as client:
        session_id = client.post("/api/sessions", json={"prompt": "a cat"}).json()["id"]
        deadline = time.monotonic() + 20
        while (state := client.get(f"/api/sessions/{session_id}").json())["live"]["status"] != "error":
            assert time.monotonic() < deadline
            time.sleep(0.02)
        page = client.get(f"/api/sessions/{session_id}").text + client.get("/api/sessions").text
        assert state["live"]["error"] == RENDER_FAILED
        for secret in ("acme", "ACME_API_KEY", "secret-arm", "refused"):
            assert secret not in page
        assert "ACME_API_KEY" in caplog.text and session_id in caplog.text and "secret-arm" in caplog.text


# -- control characters ------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["\x00", "\x00" * 20, "a cat\x00", "a \x1b[31mred\x1b[0m cat", "a cat\x7f",
                                  "a cat\x85", "a \ud800 cat", "bell\x07"])
def test_control_characters_are_refused_with_a_clear_message(text):
    for check in (check_prompt, check_critique_text):
        with pytest.raises(InvalidValueError, match="control characters"):
            check(text)
    with pytest.raises(InvalidValueError, match="control characters"):
        check_plain_text(text, "the reason")


def test_plain_text_passes():
    assert check_prompt("une crème brûlée 🍮 \u00e0 la\tcarte") == "une crème brûlée 🍮 \u00e0 la carte"
    assert check_plain_text("line one\r\nline two\tend", "the reason") == "line one\r\nline two\tend"
    assert check_critique_text("more 👨‍👩‍👧 warmth") == "more 👨‍👩‍👧 warmth"  # joiners are not controls


def test_control_characters_over_http_get_422(settings):
    app = create_app(settings)
    with client_for(app) as client:
        for prompt in ("\x00" * 8, "a cat\x1b"):
            response = client.post("/api/sessions", json={"prompt": prompt})
            assert response.status_code == 422 and "control characters" in response.json()["detail"]
        lone = client.post("/api/sessions", content=b'{"prompt": "a \\ud800 cat"}',
                           headers={"content-type": "application/json"})
        assert lone.status_code == 422 and lone.json()["detail"].startswith("prompt is not valid text")
        assert app.state.service.store.sessions() == []
        session_id = client.post("/api/sessions", json={"prompt": "a cat"}).json()["id"]
        wait_ready(client, session_id, 1)
        response = client.post(f"/api/sessions/{session_id}/choice",
                               json={"turn": 1, "column": 0, "critique": "more\x07red"})
        assert response.status_code == 422 and "control characters" in response.json()["detail"]
        assert app.state.service.store.turns(session_id) == []


# -- the belief view and memory -----------------------------------------------------------------


def test_incremental_beliefs_equal_the_user_models_posterior(plugins):
    """One click at a time, the belief equals the model's posterior over every click."""
    from pasta_core.types import Candidate, Column

    model = plugins.create("user-model", "simple")
    t2i = plugins.create("t2i", "procedural")
    tracker = BeliefTracker(model)
    assert tracker.incremental
    state, observed = BeliefState(), []
    rng = np.random.default_rng(0)
    for turn in range(1, 5):
        columns = [Column(Candidate(f"a cat, style {turn}-{c}", "style"),
                          t2i.render([f"a cat, style {turn}-{c}"] * 2, [turn * 10 + c, turn * 10 + c + 5]),
                          (turn * 10 + c, turn * 10 + c + 5)) for c in range(4)]
        tracker.update(state, "a cat", [("shown", turn, columns)])
        choice = int(rng.integers(4))
        belief = tracker.update(state, "a cat", [("clicked", turn, choice)])
        observed.append((columns, choice))
        assert belief.clicks == turn
        np.testing.assert_allclose(belief.posterior, model.posterior("a cat", observed), rtol=0, atol=1e-12)
        assert set(state.columns) == set()  # no images kept of answered turns
    assert all(len(examples) == 3 for examples in belief.examples)


def test_a_model_with_its_own_posterior_is_asked_for_it(plugins):
    """A user model that overrides posterior gets every turn's columns, as before."""
    from pasta_core.types import Candidate, Column

    inner = plugins.create("user-model", "simple")

    class Custom:
        num_types = inner.num_types
        prior = inner.prior
        calls = 0

        def scores(self, intent, images):
            return inner.scores(intent, images)

        def posterior(self, intent, observed):
            Custom.calls += 1
            return np.full(inner.num_types, 1 / inner.num_types)

    tracker = BeliefTracker(Custom())
    assert not tracker.incremental
    image = plugins.create("t2i", "procedural").render(["x"], [1])[0]
    columns = [Column(Candidate(f"x {c}", "style"), [image], (1,)) for c in range(2)]
    state = BeliefState()
    belief = tracker.update(state, "x", [("shown", 1, columns), ("clicked", 1, 1), ("shown", 2, columns)])
    assert Custom.calls == 1 and belief.clicks == 1 and set(state.columns) == {1, 2}


def test_images_of_answered_turns_and_finished_sessions_are_not_kept(settings, plugins):
    """A session holds the images of the turn on show (and those still being written), not
    of every turn; once its picking phase ends, none (the user model remembers only the
    last slate it scored)."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a quiet harbour")
    refs: dict[int, list[weakref.ref]] = {}
    for turn in range(1, 6):
        live = web._live[row.id]  # noqa: SLF001 - the test looks inside on purpose
        refs[turn] = [weakref.ref(image) for column in live.session.columns for image in column.images]
        if turn >= 3:
            gc.collect()
            assert all(ref() is None for ref in refs[turn - 2]), f"turn {turn - 2}'s images are still held"
        web.choose(OWNER, row.id, turn, turn % 4)
    assert not web.in_memory(row.id)
    gc.collect()
    assert all(ref() is None for turn in (1, 2, 3) for ref in refs[turn])
    web.close()
    on_glibc = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"
    assert release_free_memory() is on_glibc  # frees what the sessions used (glibc), else nothing


def test_the_housekeeper_evicts_idle_sessions(tmp_path, plugins, monkeypatch):
    """Idle sessions leave memory without anyone creating a new session."""
    import pasta_web.service

    monkeypatch.setattr(pasta_web.service, "HOUSEKEEPING_SECONDS", 0.05)
    monkeypatch.setattr(pasta_web.service, "IDLE_SECONDS", 0.2)
    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False)
    web = WebSessions(settings, plugins)
    try:
        row = web.create(OWNER, "a quiet harbour")
        deadline = time.monotonic() + 20
        while web.in_memory(row.id):
            assert time.monotonic() < deadline, "the idle session stayed in memory"
            time.sleep(0.05)
        while (live := web.state(OWNER, row.id)["live"])["status"] != "ready":  # and it resumes
            assert time.monotonic() < deadline and live["status"] != "error", live
            time.sleep(0.02)
        assert live["turn"] == 1
    finally:
        web.close()
