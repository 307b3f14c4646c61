"""The web app's work per click, done once (issue 22, item 5: quick under load): each
image is encoded once for the page and its file, no grid pictures are drawn, encoded
images are answered without a worker thread, and the belief view's thread keeps no
session once it has updated it."""

from __future__ import annotations

import gc
import time
import weakref
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import pasta_web.live
from pasta_png import png_bytes
from pasta_web.app import create_app
from pasta_web.service import WebSessions, image_url

OWNER = "e" * 64


@pytest.fixture()
def encodes(monkeypatch) -> list[int]:
    """Counts the web app's PNG encodings (ids of the images encoded)."""
    seen: list[int] = []

    def counting(image, level: int = 1) -> bytes:
        seen.append(id(image))
        return png_bytes(image, level)

    monkeypatch.setattr(pasta_web.live, "png_bytes", counting)
    return seen


def test_each_image_is_encoded_once_for_the_page_and_its_file(settings, plugins, encodes):
    web = WebSessions(settings, plugins, background=False)
    try:
        row = web.create(OWNER, "a lighthouse on a cliff")
        live = web._live[row.id]  # noqa: SLF001 - the test looks inside on purpose
        shown = [image for column in live.session.columns for image in column.images]
        served = {(c, m): web.image(OWNER, row.id, 1, c, m) for c in range(1, 5) for m in range(1, 5)}
        assert all(isinstance(data, bytes) for data in served.values())
        web.choose(OWNER, row.id, 1, 2)
        live.session.wait_for_files(1)
        turn = web.store.turns(row.id)[0]
        for (c, m), data in served.items():
            assert (Path(row.folder) / turn.image_refs[c - 1][m - 1]).read_bytes() == data
        assert sorted(encodes[:16]) == sorted(id(image) for image in shown)  # 16 images, 16 encodings
        assert not (Path(row.folder) / "grids").exists()
    finally:
        web.close()


def test_an_encoded_image_is_answered_without_the_database_or_a_thread(settings, plugins):
    web = WebSessions(settings, plugins, background=False)
    try:
        row = web.create(OWNER, "a lighthouse on a cliff")
        web._live[row.id].session.wait_for_files(1)  # noqa: SLF001 - the writer has encoded them
        data = web.encoded_image(OWNER, row.id, 1, 1, 1)
        assert data is not None and data == web.image(OWNER, row.id, 1, 1, 1)
        assert web.encoded_image("f" * 64, row.id, 1, 1, 1) is None  # another visitor: the full path
        assert web.encoded_image(OWNER, row.id, 2, 1, 1) is None  # not the turn on show
        app = create_app(settings, service=web)
        with TestClient(app, base_url="http://localhost") as client:
            sid = client.post("/api/sessions", json={"prompt": "a red boat"}).json()["id"]
            stranger = TestClient(app, base_url="http://localhost")
            deadline = time.monotonic() + 30
            while client.get(f"/api/sessions/{sid}").json()["live"]["status"] != "ready":
                assert time.monotonic() < deadline
                time.sleep(0.02)
            url = image_url(sid, 1, 2, 3)
            first, again = client.get(url), client.get(url)
            assert first.status_code == again.status_code == 200 and first.content == again.content
            assert again.headers["content-type"] == "image/png" and "nosniff" in again.headers["x-content-type-options"]
            assert stranger.get(url).status_code == 404  # the fast path checks the owner too
    finally:
        web.close()


def test_the_belief_thread_keeps_no_session_it_has_updated(settings, plugins):
    """Once a session has left memory, nothing of the service holds it (the belief view's
    thread used to keep its last batch of sessions, images included, until the next one)."""
    web = WebSessions(settings, plugins)
    try:
        row = web.create(OWNER, "a quiet harbour")
        live = weakref.ref(web._live[row.id])  # noqa: SLF001 - the test looks inside on purpose
        deadline = time.monotonic() + 60
        for turn in range(1, 6):
            while True:
                state = web.state(OWNER, row.id)["live"]
                belief = state["belief"]
                if state["status"] == "ready" and state["turn"] == turn and belief and belief["clicks"] == turn - 1:
                    break
                assert time.monotonic() < deadline and state["status"] != "error", state
                time.sleep(0.02)
            web.choose(OWNER, row.id, turn, turn % 4)
        while web.in_memory(row.id):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        for _ in range(100):
            gc.collect()
            if live() is None:
                break
            time.sleep(0.05)
        assert live() is None, "the session (and its images) stayed in memory"
    finally:
        web.close()


def test_the_belief_view_scores_each_slate_once(plugins):
    """A slate's images are scored once: for the examples, and the click's likelihood is
    made from those scores; the belief is the user model's posterior all the same."""
    from pasta_core.types import Candidate, Column
    from pasta_web.belief import BeliefState, BeliefTracker

    model = plugins.create("user-model", "simple")
    t2i = plugins.create("t2i", "procedural")
    scored: list[int] = []
    score = model.scores
    model.scores = lambda intent, images: scored.append(len(images)) or score(intent, images)
    tracker = BeliefTracker(model)
    assert tracker.reuses_scores
    state, observed = BeliefState(), []
    for turn in range(1, 4):
        columns = [Column(Candidate(f"a fox, style {turn}-{c}", "style"), t2i.render([f"a fox {turn}-{c}"] * 2, [c, c + 9]),
                          (c, c + 9)) for c in range(4)]
        tracker.update(state, "a fox", [("shown", turn, columns)])
        belief = tracker.update(state, "a fox", [("clicked", turn, turn % 4)])
        observed.append((columns, turn % 4))
        assert scored == [8] * turn and not state.columns  # once per slate; no images kept
    del model.scores
    assert tracker.update(state, "a fox", []).posterior == belief.posterior
    assert max(abs(a - b) for a, b in zip(belief.posterior, model.posterior("a fox", observed))) < 1e-12


def test_an_image_asked_for_by_two_threads_at_once_is_encoded_once(monkeypatch):
    """The page and the session's writer asking for the same image at the same moment get
    the same bytes from one encoding (the second waits for the first)."""
    import threading

    from PIL import Image

    calls: list[int] = []
    started = threading.Event()

    def slow(image, level: int = 1) -> bytes:
        calls.append(id(image))
        started.set()
        time.sleep(0.3)
        return png_bytes(image, level)

    monkeypatch.setattr(pasta_web.live, "png_bytes", slow)
    buffer = pasta_web.live.SlateBuffer(images_per_prompt=1)
    buffer.expect(1)
    buffer.started(["a"])
    image = Image.new("RGB", (8, 8), (200, 10, 10))
    buffer.finished(0, image)
    results: list[bytes | None] = []
    page = threading.Thread(target=lambda: results.append(buffer.get(1, 0, 0)))
    page.start()
    assert started.wait(5)
    results.append(buffer.encode(image))  # the writer, while the page's encoding runs
    page.join()
    assert calls == [id(image)] and len(results) == 2 and results[0] == results[1] is not None
    assert buffer.ready(1, 0, 0) == results[0]
