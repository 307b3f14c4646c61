"""The bench's intervals: hierarchical bootstrap over worlds, training seeds and sessions."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_planted.bench_stats import difference_figure, gap_figure, set_estimate, world_estimate


def episodes(rng: np.random.Generator, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    random = rng.normal(1.0, 0.5, size=n)
    return random, random + 2.0 + rng.normal(0, 0.1, size=n)


def test_gap_share_of_the_random_to_oracle_gap() -> None:
    """The agent halfway between random and the oracle closes 0.5; the oracle 1; random 0;
    the interval brackets the value and narrows with more episodes."""
    rng = np.random.default_rng(0)
    random, oracle = episodes(rng)
    half = (random + oracle) / 2
    base = {"random": random, "oracle": oracle}
    for agent, share in ((oracle, 1.0), (random, 0.0), (half, 0.5)):
        e = world_estimate({"a": agent[None]}, base, gap_figure("a"))
        assert e.value == pytest.approx(share)
    noisy = half + rng.normal(0, 0.5, size=len(half))
    e = world_estimate({"a": noisy[None]}, base, gap_figure("a"))
    low, high = e.ci95
    assert low < e.value < high and high - low < 0.2


def test_training_seeds_are_a_variance_source() -> None:
    """Seeds that disagree widen the interval; the figure is the mean over seeds."""
    rng = np.random.default_rng(1)
    random, oracle = episodes(rng)
    base = {"random": random, "oracle": oracle}
    agree = np.stack([random + 1.0 + rng.normal(0, 0.3, len(random)) for _ in range(3)])
    spread = np.stack([random + 2.0 * f + rng.normal(0, 0.3, len(random)) for f in (0.2, 0.5, 0.8)])
    a = world_estimate({"a": agree}, base, gap_figure("a"))
    b = world_estimate({"a": spread}, base, gap_figure("a"))
    assert a.value == pytest.approx(0.5, abs=0.03) and b.value == pytest.approx(0.5, abs=0.03)
    width = lambda e: e.ci95[1] - e.ci95[0]  # noqa: E731
    assert width(b) > 3 * width(a)


def test_paired_differences_and_the_set() -> None:
    """A paired difference in gap units keeps the pairing (tight when the agents differ by
    a constant); the set mean is the mean of the worlds, its interval covers the spread of
    the worlds."""
    rng = np.random.default_rng(2)
    worlds = []
    for shift in (0.1, 0.3, 0.5, 0.7):
        random, oracle = episodes(rng)
        a = np.stack([random + 2.0 * shift + rng.normal(0, 0.5, len(random))])
        b = a - 0.2
        base = {"random": random, "oracle": oracle}
        d = world_estimate({"a": a, "b": b}, base, difference_figure("a", "b"))
        assert d.value == pytest.approx(0.1, abs=0.005) and d.ci95[1] - d.ci95[0] < 0.02
        worlds.append(world_estimate({"a": a}, base, gap_figure("a")))
    total = set_estimate(worlds)
    assert total.value == pytest.approx(np.mean([w.value for w in worlds]))
    low, high = total.ci95
    assert low < 0.3 and high > 0.5
    assert set_estimate(worlds[:1]).value == worlds[0].value


def test_the_best_agent_target_counts_learned_agents_only() -> None:
    """The best-agent target is judged over the learned agents (the planner among them),
    never over the untrained baseline or a reference that knows the planted model."""
    from pasta_planted.bench_set import targets

    def entry(value: float) -> dict:
        return {"mean": {"value": value, "ci95": [value - 0.1, value + 0.1]},
                "worst": {"world": "w", "value": value, "ci95": [value - 0.1, value + 0.1]},
                "worlds": {"w": {"value": value, "ci95": [value - 0.1, value + 0.1]}}}

    out = {"gap/value-mixed": entry(0.1), "gap/user-model-slate": entry(0.3), "gap/posterior-slate": entry(0.9),
           "gap/first": entry(0.95)}
    judged = targets(out, {"worlds": [], "total_seconds": 60.0, "quick": False})
    assert judged["best_agent"]["value"] == pytest.approx(0.3)
    assert "user-model-slate" in judged["best_agent"]["target"]
    assert judged["paper_value_selector"]["value"] == pytest.approx(0.1)


def test_the_distilled_agent_is_judged_against_its_own_teacher() -> None:
    """kept/distilled is judged where *its* teacher (the distill stage's) beats random: a
    planner teacher above random makes the target measurable even where value-mixed is not."""
    from pasta_planted.bench_set import distill_targets

    def entry(value: float, low: float) -> dict:
        return {"mean": {"value": value, "ci95": [low, value + 0.1]}}

    latency = {"distilled": {"model_calls_per_turn": 1.0}, "speedup": {"value": 40.0}}
    run = {"status": "ok", "teacher": "user-model-slate", "latency": latency}
    figures = {"worlds": [{"name": "w", "seeds": {"0": {"stages": {"distill": run}}}}]}
    out = {"kept/distilled": entry(0.95, 0.5), "gap/user-model-slate": entry(0.3, 0.1),
           "gap/value-mixed": entry(0.05, -0.1)}
    judged = distill_targets(out, figures)
    assert judged["distilled_kept"]["met"] is True and "user-model-slate's gap" in judged["distilled_kept"]["target"]
    run["teacher"] = "value-mixed"
    assert distill_targets(out, figures)["distilled_kept"]["met"] is None  # its teacher does not beat random
