"""Bench agents: the planted-posterior references, the value keys, the image memo."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_core.errors import InvalidValueError
from pasta_core.testing.conformance import check_selector
from pasta_core.types import Candidate, History
from pasta_planted.config import parse_config
from pasta_planted.oracle import PosteriorSelector
from pasta_planted.world import PlantedWorld
from pasta_procedural import ProceduralT2I


@pytest.fixture(scope="module")
def world() -> PlantedWorld:
    return PlantedWorld(parse_config({"world": {"seed": 3, "types": 4, "choice_temperature": 0.3}}))


def test_posterior_selectors_conform(world: PlantedWorld) -> None:
    """Both reference agents are valid selectors."""
    t2i = ProceduralT2I(size=32)
    check_selector(PosteriorSelector(world, t2i=t2i), max_examples=3)
    check_selector(PosteriorSelector(world, t2i=t2i, joint=True), max_examples=3)


def test_posterior_finds_the_planted_type(world: PlantedWorld) -> None:
    """After planted episodes the posterior favours each user's true type, and the one
    kept turn by turn equals the one computed from the whole history at once."""
    from pasta_core.config import EpisodeConfig
    from pasta_core.plugins import get_plugins
    from pasta_planted.episodes import run_planted_episodes

    t2i = ProceduralT2I(size=32)
    types = [0, 1, 2, 3, 0, 1, 2, 3]
    selectors = [PosteriorSelector(world, t2i=t2i) for _ in types]
    batch = run_planted_episodes(world, get_plugins().create("generator", "template"), selectors, t2i,
                                 ["a house by a lake"] * len(types), types, list(range(len(types))),
                                 [f"s{i}" for i in range(len(types))], EpisodeConfig(turns=4, slate_size=4,
                                                                                     images_per_prompt=2))
    truth = []
    for selector, t, k in zip(selectors, batch.trajectories, types):
        history = History(t.initial_prompt, t.turns)
        posterior = selector.posterior(history)  # counts the last turn
        fresh = PosteriorSelector(world, t2i=t2i).posterior(history)
        np.testing.assert_allclose(posterior, fresh, rtol=1e-9)
        truth.append(posterior[k])
    assert np.mean(truth) > 2 / world.num_types  # the prior gives 1/4


def test_slate_of_the_posterior_hedges_between_types(world: PlantedWorld) -> None:
    """Unsure between two types, the joint slate offers each type its best column rather
    than the candidate that is best on average."""
    candidates = [Candidate("for type 0", "a"), Candidate("for type 1", "b"), Candidate("middling", "c")]
    u = np.zeros((world.num_types, 3))
    u[0] = [2.0, 0.0, 1.2]
    u[1] = [0.0, 2.0, 1.2]
    posterior = np.array([0.5, 0.5, 0.0, 0.0])
    selector = PosteriorSelector(world, joint=True)
    slate = selector.joint_slate(posterior, u, candidates, 2)
    assert {c.text for c in slate} == {"for type 0", "for type 1"}
    greedy = np.argsort(-(posterior @ u))[:1]
    assert candidates[int(greedy[0])].text == "middling"  # what ranking by the mean would keep


def test_value_keys_are_checked() -> None:
    world = {"world": {"seed": 1}}
    config = parse_config({**world, "bench": {"value_encoder": "minilm", "iql_steps": 10, "references": []}})
    assert config.bench.value_encoder == "minilm" and config.bench.references == ()
    with pytest.raises(InvalidValueError, match="value_encoder"):
        parse_config({**world, "bench": {"value_encoder": "bert"}})
    with pytest.raises(InvalidValueError, match="references"):
        parse_config({**world, "bench": {"references": ["psychic"]}})


def test_bench_value_model_options() -> None:
    from pasta_planted.bench_value import iql_config, model_options

    config = parse_config({"world": {"seed": 1}, "bench": {"iql_steps": 100, "iql_target_update": 256}})
    assert model_options(config.bench, 0) == {"encoder": "words", "width": 256, "seed": 0, "dim": 256}
    minilm = parse_config({"world": {"seed": 1}, "bench": {"value_encoder": "minilm"}})
    assert "dim" not in model_options(minilm.bench, 0)
    assert iql_config(config.bench, 0).target_update == 100  # never longer than the run


def test_remembering_t2i_gives_back_the_same_pictures() -> None:
    """The evaluation's image memo returns the renderer's pictures for every (prompt,
    seed), draws each only once, and forgets the oldest beyond its capacity."""
    from pasta_planted.bench_agents import RememberingT2I

    class Counting:
        def __init__(self) -> None:
            self.inner, self.drawn = ProceduralT2I(size=32), 0

        def render(self, prompts, seeds):
            self.drawn += len(prompts)
            return self.inner.render(prompts, seeds)

    inner = Counting()
    t2i = RememberingT2I(inner, capacity=3)
    first = t2i.render(["a red cat", "a blue dog", "a red cat"], [1, 2, 1])
    assert inner.drawn == 2 and first[0] is first[2]
    fresh = ProceduralT2I(size=32).render(["a red cat", "a blue dog"], [1, 2])
    assert [np.asarray(im).tolist() for im in first[:2]] == [np.asarray(im).tolist() for im in fresh]
    t2i.render(["a blue dog"], [2])
    assert inner.drawn == 2
    t2i.render(["x", "y"], [3, 4])  # the red cat is now the oldest of 4: forgotten
    t2i.render(["a red cat"], [1])
    assert inner.drawn == 5


def test_center_per_type_removes_each_types_mean_return() -> None:
    """Centred returns average 0 within every type; differences within a type are kept;
    a session without a type is centred on the mean of all."""
    from types import SimpleNamespace

    from pasta_planted.bench_value import center_per_type

    types = [0, 0, 1, 1, 1, None]
    finals = [1.0, 3.0, -2.0, 0.0, 5.0, 4.0]
    trajectories = [SimpleNamespace(user_type=k) for k in types]
    rewards = [[0.0, 0.0, f] for f in finals]
    centered, means = center_per_type(trajectories, rewards)
    assert means[0] == pytest.approx(2.0) and means[1] == pytest.approx(1.0)
    assert means[-1] == pytest.approx(np.mean(finals))
    assert [r[:2] for r in centered] == [[0.0, 0.0]] * 6  # only the final turn moves
    assert [r[-1] for r in centered] == pytest.approx([-1.0, 1.0, -3.0, -1.0, 4.0, 4.0 - np.mean(finals)])


def test_unknown_user_model_encoder_is_refused_before_any_work(tmp_path) -> None:
    from pasta_core.plugins import get_plugins
    from pasta_planted.bench import run_bench

    with pytest.raises(InvalidValueError, match="unknown encoder 'clip9'.*embedded"):
        run_bench([None], tmp_path / "out", quick=True, encoder="clip9", plugins=get_plugins())
    assert not (tmp_path / "out").exists()


def test_a_planner_teacher_is_evaluated_even_without_planner() -> None:
    """With ``distill_teacher = user-model-slate`` the planner is among the learned agents
    even where ``[bench] planner`` is off (``kept/distilled`` needs its teacher's row); a
    value-mixed teacher adds no planner."""
    from types import SimpleNamespace

    from pasta_planted.bench_agents import learned_specs
    from pasta_planted.config import BenchConfig

    def names(teacher_selector: str, planner: bool) -> list[str]:
        state = {"value_models": {"mixed": "v"}, "em": {"path": "um"},
                 "distilled": {"model": "d", "teacher": "t", "teacher_selector": teacher_selector}}
        bench = SimpleNamespace(state=state, sizes=BenchConfig(planner=planner))
        return [spec["name"] for spec in learned_specs(bench)]

    assert names("user-model-slate", planner=False) == ["value-mixed", "user-model-slate", "distilled"]
    assert names("value", planner=False) == ["value-mixed", "distilled"]
    assert names("value", planner=True) == ["value-mixed", "user-model-slate", "distilled"]


def test_the_distilled_fallback_plans_as_the_planner_teacher() -> None:
    """The planner teacher's renders per candidate and image size go to the distilled
    generator's fallback (``teacher_images``, ``teacher_size``); its model does not (that is
    ``teacher_model``), and a value-mixed teacher passes nothing more."""
    from types import SimpleNamespace

    from pasta_planted.bench_distill import fallback_options, teacher_of
    from pasta_planted.config import BenchConfig

    state = {"em": {"path": "um"}, "value_models": {"mixed": "vm"}}
    planner = SimpleNamespace(state=state, sizes=BenchConfig(distill_teacher="user-model-slate", planner_images=3,
                                                             image_size=48))
    assert fallback_options(teacher_of(planner)) == {"images": 3, "size": 48}
    value = SimpleNamespace(state=state, sizes=BenchConfig())
    assert teacher_of(value)["selector"] == "value" and fallback_options(teacher_of(value)) == {}
