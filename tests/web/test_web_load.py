"""A bounded load on 127.0.0.1: 30 visitors at once, each with its own cookie, play their
sessions through a real uvicorn server (issue 22, item 6). No answered turn may be lost:
every click the server accepted is in the database, in the session's own
``trajectory.parquet`` and in the export, exactly once and in order."""

from __future__ import annotations

import random
import threading
import time

import httpx
import pytest
from web_testkit import running_server

from pasta_core.config import EpisodeConfig
from pasta_core.store import read_trajectories
from pasta_web.app import create_app
from pasta_web.db import WebStore
from pasta_web.export import export_sessions
from pasta_web.settings import ServerSettings

pytestmark = pytest.mark.slow
VISITORS = 30
TURNS = 3
DEADLINE_S = 600  # the whole load stops here (a bound, not an expectation)


class Visitor:
    """One browser: its own cookie, the page's waiting polls, and now and then a click sent
    twice at once (a double click, or a retried request)."""

    def __init__(self, base: str, index: int, deadline: float) -> None:
        self.client = httpx.Client(base_url=base, timeout=120)
        self.index = index
        self.deadline = deadline
        self.random = random.Random(index)
        self.accepted: list[tuple[int, int, str | None]] = []
        self.session_id = ""

    def ready(self, turn: int) -> dict:
        version = None
        while time.monotonic() < self.deadline:
            after = "" if version is None else f"?after={version}"
            response = self.client.get(f"/api/sessions/{self.session_id}{after}")
            assert response.status_code == 200, response.text
            state = response.json()
            live = state.get("live")
            if live is None:
                return state
            assert live["status"] != "error", live
            if live["status"] == "ready" and live["turn"] == turn:
                return state
            version = live["version"]
            time.sleep(0.05)
        raise AssertionError("the load ran past its deadline")

    def click(self, turn: int, column: int, critique: str | None) -> None:
        body = {"turn": turn, "column": column, "critique": critique}
        twice = self.random.random() < 0.3
        answers: list[int] = []

        def send() -> None:
            answers.append(self.client.post(f"/api/sessions/{self.session_id}/choice", json=body).status_code)

        senders = [threading.Thread(target=send) for _ in range(2 if twice else 1)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
        # The one that came first is accepted; the repeat is accepted as the same answer
        # (202) or, if it overtook the click's bookkeeping, refused as not ready (409).
        assert 202 in answers and set(answers) <= {202, 409}, answers
        self.accepted.append((turn, column, " ".join(body["critique"].split()) if critique else None))

    def play(self) -> None:
        response = self.client.post("/api/sessions", json={"prompt": f"a lighthouse number {self.index}"})
        assert response.status_code == 201, response.text
        self.session_id = response.json()["id"]
        for turn in range(1, TURNS + 1):
            self.ready(turn)
            critique = self.random.choice([None, None, "more  blue", "darker sky please"])
            self.click(turn, self.random.randrange(4), critique)
        assert self.ready(TURNS + 1)["phase"] == "evaluation"


def test_no_answered_turn_is_lost_with_30_concurrent_visitors(tmp_path):
    settings = ServerSettings(
        db=tmp_path / "web" / "pasta.sqlite3", config=EpisodeConfig(turns=TURNS),
        max_live_per_address=VISITORS, new_sessions_per_address=VISITORS,  # all come from 127.0.0.1
    )
    app = create_app(settings)
    errors: list[BaseException] = []
    with running_server(app) as base:
        deadline = time.monotonic() + DEADLINE_S
        visitors = [Visitor(base, i, deadline) for i in range(VISITORS)]

        def play(visitor: Visitor) -> None:
            try:
                visitor.play()
            except BaseException as exc:  # reported below, with the others
                errors.append(exc)

        threads = [threading.Thread(target=play, args=(v,)) for v in visitors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    assert not errors, errors[:3]
    assert len({v.session_id for v in visitors}) == VISITORS
    store = WebStore(settings.db)  # the server has stopped: every write has finished
    for visitor in visitors:
        stored = [(t.turn, t.choice, t.critique) for t in store.turns(visitor.session_id)]
        assert stored == visitor.accepted, visitor.index
        (trajectory,) = read_trajectories(store.session(visitor.session_id).folder + "/trajectory.parquet")
        assert [(t.choice, t.critique) for t in trajectory.turns] == [a[1:] for a in visitor.accepted]
    store.close()
    path, count = export_sessions(settings.db, tmp_path / "export", images=False)
    assert count == VISITORS
    exported = {t.session_id: [(t2.choice, t2.critique) for t2 in t.turns] for t in read_trajectories(path)}
    assert exported == {v.session_id: [a[1:] for a in v.accepted] for v in visitors}
