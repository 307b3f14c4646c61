"""The turn logic of web sessions as plain Python: inputs, phases, evaluation answers,
storage, resume after a restart, study arms and the export."""

from __future__ import annotations

import json
import shutil

import pytest

from pasta_core.errors import InvalidValueError
from pasta_core.store import read_trajectories
from pasta_web.db import WebStore, sqlite_path
from pasta_web.export import export_sessions
from pasta_web.flow import (
    TurnEvaluation,
    check_critique_text,
    check_prompt,
    evaluation_gaps,
    phase_after_turns,
)
from pasta_web.service import ConflictError, LimitError, NotFoundError, WebSessions
from pasta_web.settings import Arm, ServerSettings, load_arms

OWNER = "a" * 64
OTHER = "b" * 64


def answers_for(turn: int) -> dict:
    answers = {"preferred": turn % 4, "satisfaction": [1, 2, 3, turn], "reason": f"turn {turn} reason"}
    if turn >= 2:
        answers["comparison"] = "better"
    return answers


def play_turns(web: WebSessions, session_id: str, turns: int, owner: str = OWNER) -> None:
    for _ in range(turns):
        live = web.state(owner, session_id)["live"]
        assert live["status"] == "ready", live
        web.choose(owner, session_id, live["turn"], live["turn"] % 4, "warmer colours" if live["turn"] == 2 else None)


# -- inputs ---------------------------------------------------------------------------------


def test_prompt_is_normalized_and_limited_to_twelve_words():
    """Twelve words pass (whitespace collapsed); thirteen get the gentle message."""
    assert check_prompt("  a   white cat ") == "a white cat"
    assert check_prompt(" ".join(["word"] * 12)).count("word") == 12
    with pytest.raises(InvalidValueError, match="at most 12 words"):
        check_prompt(" ".join(["word"] * 13))
    with pytest.raises(InvalidValueError):
        check_prompt("   ")
    with pytest.raises(InvalidValueError):
        check_prompt(None)
    with pytest.raises(InvalidValueError):
        check_prompt("x" * 201)


def test_critique_is_optional_and_at_most_twelve_words():
    """Empty critiques become None; 13 words are refused."""
    assert check_critique_text(None) is None
    assert check_critique_text("  ") is None
    assert check_critique_text(" more  red ") == "more red"
    with pytest.raises(InvalidValueError, match="12 words"):
        check_critique_text(" ".join(["red"] * 13))


def test_turn_evaluation_updates_validate_each_answer():
    """Partial answers merge; bad scores, columns and comparisons are refused."""
    evaluation = TurnEvaluation(2).update({"preferred": 1}, 4)
    evaluation = evaluation.update({"satisfaction": [5, None, 3, 1]}, 4)
    assert evaluation.preferred == 1 and evaluation.satisfaction == (5, None, 3, 1)
    assert evaluation.missing(4) == ["satisfaction for every column", "reason", "comparison with the previous turn"]
    evaluation = evaluation.update({"satisfaction": [5, 4, 3, 1], "reason": " ok ", "comparison": "same"}, 4)
    assert evaluation.missing(4) == [] and evaluation.reason == "ok"
    for bad in ({"preferred": 4}, {"preferred": True}, {"satisfaction": [6, 1, 1, 1]}, {"satisfaction": [1, 1]},
                {"satisfaction": ["3", 1, 1, 1]}, {"comparison": "much better"}, {"reason": "x" * 1001},
                {"colour": "red"}):
        with pytest.raises(InvalidValueError):
            evaluation.update(bad, 4)
    with pytest.raises(InvalidValueError, match="no previous turn"):
        TurnEvaluation(1).update({"comparison": "better"}, 4)
    assert "comparison with the previous turn" not in TurnEvaluation(1).missing(4)


def test_evaluation_gaps_and_phases():
    """The evaluation may end only when every turn and the overall score are answered."""
    complete = [TurnEvaluation(t).update(answers_for(t), 4) for t in (1, 2)]
    assert evaluation_gaps(complete, 2, [4, 4], 3) == []
    assert evaluation_gaps(complete, 2, [4, 4], None) == ["overall score"]
    assert evaluation_gaps(complete[:1], 2, [4, 4], 3)[0].startswith("turn 2:")
    assert phase_after_turns(4, 5) == "interaction" and phase_after_turns(5, 5) == "evaluation"


# -- settings -------------------------------------------------------------------------------


def test_arms_files_in_json_and_toml(tmp_path):
    """Arms load from JSON and TOML; duplicates and unknown keys are refused."""
    (tmp_path / "arms.json").write_text(json.dumps({"arm": [{"name": "a"}, {"name": "b", "selector": "first", "weight": 3}]}))
    arms = load_arms(tmp_path / "arms.json")
    assert [a.name for a in arms] == ["a", "b"] and arms[1].selector == "first" and arms[1].weight == 3.0
    (tmp_path / "arms.toml").write_text('[[arm]]\nname = "v"\nselector_options = { seed = 3 }\n')
    assert load_arms(tmp_path / "arms.toml")[0].selector_options == {"seed": 3}
    (tmp_path / "dup.json").write_text(json.dumps([{"name": "a"}, {"name": "a"}]))
    with pytest.raises(InvalidValueError, match="distinct"):
        load_arms(tmp_path / "dup.json")
    (tmp_path / "bad.json").write_text(json.dumps([{"name": "a", "selecter": "first"}]))
    with pytest.raises(InvalidValueError, match="selecter"):
        load_arms(tmp_path / "bad.json")
    with pytest.raises(InvalidValueError):
        Arm(name="no spaces allowed")


def test_sqlite_urls():
    """Plain paths and sqlite:/// URLs are accepted; other databases are refused."""
    assert str(sqlite_path("data/x.db")) == "data/x.db"
    assert str(sqlite_path("sqlite:///data/x.db")) == "data/x.db"
    assert str(sqlite_path("sqlite:////abs/x.db")) == "/abs/x.db"
    with pytest.raises(InvalidValueError, match="unsupported"):
        sqlite_path("postgresql://host/db")


# -- whole sessions (rendering inline) ------------------------------------------------------


def test_a_whole_session_is_stored_as_it_happens_and_exported(settings, tmp_path, plugins):
    """Five clicks, the evaluation phase and the export, each answer in SQLite at once."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a white cat")
    state = web.state(OWNER, row.id)
    assert state["phase"] == "interaction" and state["live"]["progress"] == {"done": 16, "total": 16}
    assert state["live"]["belief"]["clicks"] == 0 and len(state["live"]["belief"]["types"]) == 4
    play_turns(web, row.id, 2)
    store = WebStore(settings.db)  # a second connection sees committed rows at once
    assert [t.choice for t in store.turns(row.id)] == [1, 2]
    assert store.turns(row.id)[1].critique == "warmer colours"
    assert [clicks for clicks, _ in store.beliefs(row.id)] == [0, 1, 2]
    play_turns(web, row.id, 3)
    state = web.state(OWNER, row.id)
    assert state["phase"] == "evaluation" and len(state["review"]) == 5
    with pytest.raises(ConflictError):
        web.choose(OWNER, row.id, 6, 0)
    for turn in range(1, 6):
        web.evaluate(OWNER, row.id, turn, answers_for(turn))
        assert store.evaluations(row.id)[-1].turn == turn
    with pytest.raises(InvalidValueError, match="overall"):
        web.finish(OWNER, row.id)
    web.rate_overall(OWNER, row.id, 4)
    code = web.finish(OWNER, row.id)
    assert web.finish(OWNER, row.id) == code and web.state(OWNER, row.id)["completion_code"] == code
    with pytest.raises(ConflictError):
        web.evaluate(OWNER, row.id, 1, {"reason": "changed my mind"})
    web.close()

    path, count = export_sessions(settings.db, tmp_path / "export")
    (trajectory,) = read_trajectories(path)
    assert count == 1 and trajectory.session_id == row.id and len(trajectory.turns) == 5
    assert [t.choice for t in trajectory.turns] == [1, 2, 3, 0, 1]
    assert trajectory.turns[2].satisfaction == (1, 2, 3, 3)
    assert [t.comparison for t in trajectory.turns] == [None, "better", "better", "better", "better"]
    assert trajectory.turns[1].critique == "warmer colours" and trajectory.turns[0].reward is None
    meta = trajectory.metadata
    assert meta["overall"] == 4 and meta["arm"] == "default" and meta["phase"] == "done"
    assert meta["evaluation"][0]["preferred"] == 1 and meta["evaluation"][0]["reason"] == "turn 1 reason"
    assert OWNER not in json.dumps(meta)
    assert all((path.parent / ref).is_file() for turn in trajectory.turns for col in turn.image_refs for ref in col)


def test_sessions_are_private_to_their_owner(settings, plugins):
    """Another visitor gets 'not found' for every operation on someone's session."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a red boat")
    assert web.list(OTHER) == [] and len(web.list(OWNER)) == 1
    for call in (
        lambda: web.state(OTHER, row.id),
        lambda: web.choose(OTHER, row.id, 1, 0),
        lambda: web.image(OTHER, row.id, 1, 1, 1),
        lambda: web.evaluate(OTHER, row.id, 1, {"reason": "x"}),
        lambda: web.rate_overall(OTHER, row.id, 3),
        lambda: web.finish(OTHER, row.id),
        lambda: web.state(OWNER, "../" + row.id),
    ):
        with pytest.raises(NotFoundError):
            call()
    web.close()


def test_clicks_are_checked_against_the_turn_on_show(settings, plugins):
    """Out-of-range columns are refused; a repeated click is accepted once, a different
    answer to an answered turn is a conflict."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a red boat")
    with pytest.raises(InvalidValueError):
        web.choose(OWNER, row.id, 1, 4)
    with pytest.raises(InvalidValueError):
        web.choose(OWNER, row.id, 1, 0, " ".join(["no"] * 13))
    with pytest.raises(ConflictError):
        web.choose(OWNER, row.id, 2, 0)
    web.choose(OWNER, row.id, 1, 3)
    web.choose(OWNER, row.id, 1, 3)  # a double click
    with pytest.raises(ConflictError):
        web.choose(OWNER, row.id, 1, 2)
    assert len(web.store.turns(row.id)) == 1
    web.close()


def test_resume_after_a_restart_shows_the_same_slate(settings, plugins):
    """A new server on the same database continues at the same turn with the same images."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a lighthouse at night")
    play_turns(web, row.id, 2)
    before = web.state(OWNER, row.id)["live"]
    image = web.image(OWNER, row.id, 3, 2, 2)
    web.close()

    again = WebSessions(settings, plugins, background=False)
    after = again.state(OWNER, row.id)["live"]
    assert after["turn"] == 3 and after["status"] == "ready"
    assert [c["prompt"] for c in after["columns"]] == [c["prompt"] for c in before["columns"]]
    assert again.image(OWNER, row.id, 3, 2, 2) == image
    assert after["belief"]["clicks"] == 2
    play_turns(again, row.id, 3)
    assert again.state(OWNER, row.id)["phase"] == "evaluation"
    again.close()


def test_a_click_the_folder_missed_is_replayed(settings, plugins):
    """If the server died after storing a click but before the session folder did, the
    click is replayed on resume and nothing answered is lost."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a lighthouse at night")
    play_turns(web, row.id, 1)
    folder = web.store.session(row.id).folder
    web.close()
    snapshot = settings.db.parent / "snapshot"
    shutil.copytree(folder, snapshot)  # the folder as it was after turn 1 ...

    web = WebSessions(settings, plugins, background=False)
    play_turns(web, row.id, 1)
    web.close()
    shutil.rmtree(folder)
    shutil.copytree(snapshot, folder)  # ... while the database already holds turn 2's click

    again = WebSessions(settings, plugins, background=False)
    live = again.state(OWNER, row.id)["live"]
    assert live["turn"] == 3 and live["status"] == "ready"
    assert [t.choice for t in again.store.turns(row.id)] == [1, 2]
    (trajectory,) = read_trajectories(f"{folder}/trajectory.parquet")
    assert [t.choice for t in trajectory.turns] == [1, 2]
    again.close()


def test_missing_image_files_are_rerendered_from_their_seeds(settings, plugins):
    """An image lost with a killed server comes back identical (seeded renderer)."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a lighthouse at night")
    play_turns(web, row.id, 1)
    path = web.image(OWNER, row.id, 1, 3, 4)
    original = path.read_bytes()
    path.unlink()
    web.close()
    again = WebSessions(settings, plugins, background=False)
    from PIL import Image, ImageChops

    restored = again.image(OWNER, row.id, 1, 3, 4)
    with Image.open(restored) as a, Image.open(__import__("io").BytesIO(original)) as b:
        assert ImageChops.difference(a.convert("RGB"), b.convert("RGB")).getbbox() is None
    with pytest.raises(NotFoundError):
        again.image(OWNER, row.id, 1, 5, 1)
    with pytest.raises(NotFoundError):
        again.image(OWNER, row.id, 3, 1, 1)  # not shown yet
    again.close()


def test_study_arms_are_assigned_at_random_and_recorded(tmp_path, plugins):
    """Both arms occur over many sessions; each session keeps its arm's components."""
    arms = (Arm("random", selector="random"), Arm("first", selector="first"))
    settings = ServerSettings(db=tmp_path / "db.sqlite3", arms=arms, belief=False, max_sessions_per_visitor=100)
    web = WebSessions(settings, plugins, background=False)
    seen = {web.assign_arm().name for _ in range(200)}
    assert seen == {"random", "first"}
    row = web.create(OWNER, "a bowl of fruit")
    stored = web.store.session(row.id)
    assert stored.arm in {"random", "first"} and stored.arm_spec["selector"] == stored.arm
    assert web.state(OWNER, row.id)["live"]["belief"] is None
    session_json = json.loads((tmp_path / "sessions" / row.id / "session.json").read_text())
    assert session_json["components"]["selector"]["name"] == stored.arm
    web.close()


def test_sessions_per_visitor_are_limited(tmp_path, plugins):
    settings = ServerSettings(db=tmp_path / "db.sqlite3", belief=False, max_sessions_per_visitor=1)
    web = WebSessions(settings, plugins, background=False)
    web.create(OWNER, "one")
    with pytest.raises(LimitError):
        web.create(OWNER, "two")
    web.create(OTHER, "two")
    web.close()


def test_rendering_errors_are_reported_and_can_be_retried(settings, monkeypatch, plugins):
    """A failing T2I call shows a message (no traceback) and 'retry' starts over from disk."""
    web = WebSessions(settings, plugins, background=False)
    shared = web.pool.get(settings.arms[0])
    original = shared.t2i.render
    monkeypatch.setattr(shared.t2i, "render", lambda prompts, seeds: (_ for _ in ()).throw(RuntimeError("GPU gone")))
    row = web.create(OWNER, "a tree")
    live = web.state(OWNER, row.id)["live"]
    assert live["status"] == "error" and "GPU gone" not in live["error"]
    monkeypatch.setattr(shared.t2i, "render", original)
    web.retry(OWNER, row.id)
    assert web.state(OWNER, row.id)["live"]["status"] == "ready"
    web.close()


def test_idle_sessions_leave_memory_and_come_back(settings, plugins):
    """A session left alone is dropped from memory and resumes on the next visit."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a quiet harbour")
    play_turns(web, row.id, 1)
    prompts = [c["prompt"] for c in web.state(OWNER, row.id)["live"]["columns"]]
    web.evict_idle(idle=0)
    assert not web.in_memory(row.id)
    live = web.state(OWNER, row.id)["live"]
    assert live["turn"] == 2 and [c["prompt"] for c in live["columns"]] == prompts
    web.close()
