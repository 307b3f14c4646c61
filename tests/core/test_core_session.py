"""The library Session API: persistence after every turn, and resume."""

from __future__ import annotations

import json

import pytest

from pasta_core import EpisodeConfig, InvalidValueError, SessionError
from pasta_core.session import Session, play
from pasta_core.store import read_trajectories
from pasta_users import SimulatedUser


def _user():
    from pasta_core import get_plugins

    return SimulatedUser(get_plugins().create("user-model", "simple", types=3), 1)


def test_turn_by_turn_api(tmp_path):
    session = Session.create(out=tmp_path, seed=3, session_id="abc")
    columns = session.start("a white cat")
    assert len(columns) == 4 and all(len(c.images) == 4 for c in columns)
    assert len(session.candidates) == 25 and session.turn == 1
    for _ in range(4):
        columns = session.choose(2, critique="brighter")
        assert columns is not None
    assert session.choose(0) is None and session.done
    (t,) = read_trajectories(tmp_path / "abc" / "trajectory.parquet")
    assert len(t.turns) == 5 and [x.choice for x in t.turns] == [2, 2, 2, 2, 0]
    assert t.turns[0].critique == "brighter"
    session.close()  # the images and grids are written in the background until then
    ref = t.turns[0].image_refs[2][3]
    assert (tmp_path / "abc" / ref).is_file()
    assert (tmp_path / "abc" / "grids" / "turn-5.png").is_file()


def test_each_turn_is_on_disk_as_soon_as_it_is_answered(tmp_path):
    session = Session.create(out=tmp_path, session_id="s")
    session.start("a dog")
    session.choose(1)
    (t,) = read_trajectories(tmp_path / "s" / "trajectory.parquet")
    assert len(t.turns) == 1
    state = json.loads((tmp_path / "s" / "session.json").read_text())
    assert state["initial_prompt"] == "a dog" and state["components"]["t2i"]["name"] == "procedural"


def test_resume_gives_the_same_result_as_an_uninterrupted_session(tmp_path):
    config = EpisodeConfig(turns=4)
    whole = Session.create(out=tmp_path / "a", seed=9, session_id="x", config=config)
    expected = play(whole, _user(), "a lighthouse at night")

    broken = Session.create(out=tmp_path / "b", seed=9, session_id="x", config=config)
    broken.start("a lighthouse at night")
    user = _user()
    for _ in range(2):  # two turns, then the process "dies"
        from pasta_core.engine import answer_turn

        broken.record(answer_turn(user, broken.history, broken.columns, broken.streams))
        broken._prepare()
    resumed = Session.resume(tmp_path / "b" / "x")
    assert resumed.turn == 3
    assert play(resumed, _user()) == expected


def test_usage_errors(tmp_path):
    session = Session.create()
    with pytest.raises(SessionError, match="start"):
        session.choose(0)
    session.start("a cat")
    with pytest.raises(SessionError, match="already started"):
        session.start("a dog")
    with pytest.raises(InvalidValueError, match="column"):
        session.choose(4)
    with pytest.raises(SessionError, match="not a PASTA session"):
        Session.resume(tmp_path)


def test_no_folder_means_nothing_written(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    session = Session.create()
    session.start("a cat")
    session.choose(0)
    assert list(tmp_path.iterdir()) == []


def test_a_private_plugin_set_is_the_only_one_components_touch(monkeypatch, tmp_path):
    """Session.create(plugins=mine): every component, and what it builds (the simple user
    model's aggregator), comes from ``mine``; the global set is never asked for."""
    import pasta_core.plugins as plugins_module
    import pasta_core.session as session_module
    from pasta_core.plugins import Plugins

    mine = Plugins()  # a fresh discovery, not the process-wide set

    def no_global(*args, **kwargs):
        raise AssertionError("a component asked for the global plugin set")

    monkeypatch.setattr(plugins_module, "get_plugins", no_global)
    monkeypatch.setattr(session_module, "get_plugins", no_global)
    user = SimulatedUser(mine.create("user-model", "simple"), 1)
    session = Session.create(plugins=mine, out=tmp_path, seed=4, config=EpisodeConfig(turns=3))
    trajectory = play(session, user, "a red bicycle")
    assert len(trajectory.turns) == 3
    resumed = Session.resume(session.folder, plugins=mine)
    assert resumed.done and resumed.history == session.history


@pytest.mark.parametrize(("edit", "words"), [
    ({"images_per_prompt": 2}, "images per prompt but 'images_per_prompt' is 2"),
    ({"slate_size": 3}, "showed 4 columns but 'slate_size' is 3"),
    ({"turns": 1}, "2 turns are answered but 'turns' is 1"),
    ({"turns": 10**9}, "turns must be an integer 1..50"),
    ({"categories": ["rephrase", "detail", "style", "mood", "other"]}, "categories"),
    ({"bogus": 1}, "unknown keys"),
])
def test_resume_refuses_a_session_json_that_does_not_describe_its_trajectory(tmp_path, edit, words):
    """A resume never mixes settings: a hand-edited config is refused, naming the files."""
    session = Session.create(out=tmp_path, session_id="s", config=EpisodeConfig(turns=4))
    session.start("a dog")
    session.choose(1)
    session.choose(2)
    session.close()
    path = tmp_path / "s" / "session.json"
    state = json.loads(path.read_text())
    state["config"].update(edit)
    path.write_text(json.dumps(state))
    with pytest.raises(SessionError, match=words) as caught:
        Session.resume(tmp_path / "s")
    assert "session.json" in str(caught.value)


@pytest.mark.parametrize(("key", "value", "words"), [
    ("seed", -1, "'seed' must be an integer"), ("seed", "3", "'seed' must be"), ("session_id", "", "'session_id'"),
    ("components", {"t2i": "procedural"}, "components.t2i must be an object"), ("user", {"kind": "robot"}, "user.kind"),
    ("user_type", 1.5, "'user_type'"), ("initial_prompt", None, "'initial_prompt'"),
])
def test_resume_names_the_malformed_key_of_session_json(tmp_path, key, value, words):
    session = Session.create(out=tmp_path, session_id="s")
    session.start("a dog")
    session.close()
    path = tmp_path / "s" / "session.json"
    state = json.loads(path.read_text())
    state[key] = value
    path.write_text(json.dumps(state))
    with pytest.raises(SessionError, match=words):
        Session.resume(tmp_path / "s")
    del state[key]
    path.write_text(json.dumps(state))
    if key in ("seed", "session_id", "components", "initial_prompt"):
        with pytest.raises(SessionError, match=f"lacks the key '{key}'"):
            Session.resume(tmp_path / "s")
