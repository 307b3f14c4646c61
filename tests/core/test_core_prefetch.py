"""Next-slate prefetch: same results as without it, and stale branches are not used."""

from __future__ import annotations

from pasta_core.engine import Agent
from pasta_core.session import Session
from pasta_core.testing import FakeGenerator, FakeSelector, FakeT2I


def _session(prefetch: bool, tmp_path=None) -> Session:
    return Session(Agent(FakeGenerator(), FakeSelector(), FakeT2I()), seed=1, prefetch=prefetch,
                   folder=tmp_path, session_id="p")


def _drive(session: Session) -> list:
    session.start("a small boat")
    for choice, critique in [(1, None), (2, "make it red"), (0, None), (3, None), (1, None)]:
        session.choose(choice, critique=critique)
    session.close()
    return list(session.history.turns)


def test_prefetch_gives_the_same_session(tmp_path):
    assert _drive(_session(True, tmp_path / "a")) == _drive(_session(False, tmp_path / "b"))


def test_branches_are_prepared_for_every_column_before_the_click():
    session = _session(True)
    session.start("a small boat")
    generator = session.agent.generator
    assert len(session._branches) == 4
    for branch in session._branches.values():
        branch.result()
    asked = [r.history.turns[-1].choice for r in generator.requests if r.turn == 2]
    assert sorted(asked) == [0, 1, 2, 3]
    session.choose(2)
    requests_after_click = len(generator.requests)
    assert requests_after_click == 5  # no new generator call: the branch for column 2 was used
    session.close()


def test_a_critique_makes_the_branch_stale():
    session = _session(True)
    session.start("a small boat")
    for branch in session._branches.values():
        branch.result()
    session.choose(0, critique="more green")
    last = session.agent.generator.requests[-1]
    assert last.history.critiques == ["more green"]
    session.close()
