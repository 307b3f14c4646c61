"""Earlier turns' images reach generators through the request; fallback turns are recorded."""

from __future__ import annotations

import numpy as np
import pyarrow.parquet as pq
import pytest

from pasta_core import EpisodeConfig, InvalidValueError, get_plugins
from pasta_core.engine import Agent, run_episodes
from pasta_core.protocols import FallbackCandidates
from pasta_core.session import Session
from pasta_core.shown import ShownImages, shown_images_for
from pasta_core.store import read_trajectories
from pasta_users import SimulatedUser


class Looking:
    """The template generator, recording what each request carried."""

    def __init__(self, history_images: str | None, fallback_on: tuple[int, ...] = ()) -> None:
        if history_images is not None:
            self.history_images = history_images
        self.inner = get_plugins().create("generator", "template")
        self.requests = []
        self.fallback_on = fallback_on

    def generate(self, request):
        self.requests.append(request)
        candidates = self.inner.generate(request)
        return FallbackCandidates(candidates, "template") if request.turn in self.fallback_on else candidates


def _pixels(images):
    return [np.asarray(i.convert("RGB")).tobytes() for i in images]


def _session(generator, tmp_path=None, prefetch=False, **kwargs):
    plugins = get_plugins()
    agent = Agent(generator, plugins.create("selector", "random"), plugins.create("t2i", "procedural"))
    return Session(agent, EpisodeConfig(turns=3), seed=4, folder=tmp_path, prefetch=prefetch, **kwargs)


@pytest.mark.parametrize("keep", ["chosen", "all"])
def test_the_chosen_images_reach_the_next_request(keep):
    generator = Looking(keep)
    session = _session(generator)
    first = session.start("a red fox in snow")
    session.choose(2)
    request = generator.requests[-1]
    assert request.turn == 2 and request.images is not None
    assert _pixels(request.images.images(1, 2)) == _pixels(first[2].images)
    passed_over = request.images.images(1, 0)
    assert (_pixels(passed_over) == _pixels(first[0].images)) if keep == "all" else passed_over == ()


def test_a_generator_that_reads_no_images_gets_none():
    generator = Looking(None)
    session = _session(generator)
    session.start("a red fox in snow")
    session.choose(0)
    assert [r.images for r in generator.requests] == [None, None]


def test_prefetched_branches_see_the_column_they_assume():
    generator = Looking("chosen")
    session = _session(generator, prefetch=True)
    first = session.start("a red fox in snow")
    session.choose(1)
    session.close()
    # The other branches are dropped (and their columns forgotten) once the person chose.
    (branch,) = [r for r in generator.requests if r.turn == 2 and r.history.turns[0].choice == 1]
    assert _pixels(branch.images.images(1, 1)) == _pixels(first[1].images)
    assert all(branch.images.images(1, c) == () for c in (0, 2, 3))


def test_a_resumed_session_reads_the_earlier_images_from_its_folder(tmp_path):
    session = _session(Looking("chosen"), tmp_path / "s", session_id="s", components=None)
    first = session.start("a red fox in snow")
    session.choose(3)
    session.close()
    # Session() without components cannot rebuild its agent: resume with an agent given.
    generator = Looking("chosen")
    resumed = Session.resume(tmp_path / "s", agent=_session(generator).agent)
    (request,) = [r for r in generator.requests if r.turn == 2]  # then prefetched turn-3 branches
    assert resumed.turn == 2
    assert _pixels(request.images.images(1, 3)) == _pixels(first[3].images)
    assert request.images.images(1, 0) == ()


def test_simulated_episodes_pass_the_images_too():
    plugins = get_plugins()
    generator = Looking("chosen")
    agent = Agent(generator, plugins.create("selector", "random"), plugins.create("t2i", "procedural"))
    user = SimulatedUser(plugins.create("user-model", "simple", types=3), 1)
    (trajectory,) = run_episodes(agent, [user], ["a blue house"], EpisodeConfig(turns=3))
    last = generator.requests[-1]
    chosen = trajectory.turns[1].choice
    assert len(last.images.images(2, chosen)) == 4
    assert all(last.images.images(2, c) == () for c in range(4) if c != chosen)


def test_a_fallback_turn_is_recorded_and_read_back(tmp_path):
    session = _session(Looking(None, fallback_on=(2,)), tmp_path / "s", session_id="s")
    session.start("a red fox in snow")
    for _ in range(3):
        session.choose(0)
    session.close()
    (trajectory,) = read_trajectories(tmp_path / "s" / "trajectory.parquet")
    assert [t.fallback for t in trajectory.turns] == [None, "template", None]


def test_files_without_the_fallback_column_still_read(tmp_path):
    session = _session(Looking(None, fallback_on=(1,)), tmp_path / "s", session_id="s")
    session.start("a red fox in snow")
    session.choose(0)
    session.close()
    file = tmp_path / "s" / "trajectory.parquet"
    table = pq.read_table(file)
    pq.write_table(table.drop(["fallback"]), tmp_path / "old.parquet")
    (old,) = read_trajectories(tmp_path / "old.parquet")
    assert old.turns[0].fallback is None and len(old.turns) == 1


def test_shown_images_refuse_an_unknown_mode():
    with pytest.raises(InvalidValueError, match="keep must be chosen or all"):
        ShownImages("some")

    class Odd:
        history_images = "most"

    with pytest.raises(InvalidValueError, match="history_images must be one of none, chosen, all"):
        shown_images_for(Odd())


def test_kept_images_are_scaled_to_the_side_the_generator_needs():
    generator = Looking("chosen")
    generator.history_image_side = 100
    plugins = get_plugins()
    agent = Agent(generator, plugins.create("selector", "random"), plugins.create("t2i", "procedural", size=300))
    session = Session(agent, EpisodeConfig(turns=3), seed=4, prefetch=False)
    first = session.start("a red fox in snow")
    assert first[0].images[0].size == (300, 300)
    session.choose(0)
    kept = generator.requests[-1].images.images(1, 0)
    assert [i.size for i in kept] == [(100, 100)] * 4
    assert generator.requests[-1].images.images(1, 0)[0] is kept[0]  # scaled once, not per request
