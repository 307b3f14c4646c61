"""Bench stage 5: agents against planted users.

Every agent meets the same episodes (same planted types, initial prompts and seeds:
common random numbers, so differences between agents are measured paired). Reported per
agent: the final-turn true utility (of the chosen column) with a 95% interval, its
expectation under the choice probabilities, and per turn the better/same/worse rates of the
raters' comparisons with Wilson 95% intervals.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from pasta_core.config import EpisodeConfig
from pasta_planted.bench_common import proportion_ci, single_thread_torch
from pasta_planted.data import SessionPlan
from pasta_planted.episodes import run_planted_episodes
from pasta_planted.world import PlantedWorld
from pasta_simulate.pool import spawn_pool
from pasta_simulate.prompts import load_prompts

log = logging.getLogger(__name__)


def mean_ci(values: Any) -> dict[str, Any]:
    """Mean and normal 95% interval."""
    x = np.asarray(values, dtype=np.float64)
    half = 1.96 * x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else float("nan")
    return {"mean": float(x.mean()), "ci95": [float(x.mean() - half), float(x.mean() + half)], "n": int(len(x))}


def evaluate_agent(world: PlantedWorld, make_selector: Callable[[int, int], Any], episodes: int, seed: int,
                   config: EpisodeConfig, t2i: Any, generator: Any, progress: bool = True, name: str = "agent",
                   batch_size: int = 50, prompts: tuple[str, ...] | None = None) -> dict[str, Any]:
    """Run ``episodes`` episodes (initial prompts from ``prompts``, default the packaged
    ones); ``make_selector(planted_type, episode_seed)`` builds each one's selector. Every
    slate must have ``config.slate_size`` columns (the yardstick's protocol)."""
    from tqdm.auto import tqdm

    from pasta_core.errors import InvalidValueError

    plan = SessionPlan(world, prompts or load_prompts(), seed)
    final, expected, turns_expected, comparisons, initial = [], [], [], [], []
    started = time.perf_counter()
    for start in tqdm(range(0, episodes, batch_size), disable=not progress, desc=f"eval {name}", unit="batch"):
        plans = [plan.episode(i) for i in range(start, min(episodes, start + batch_size))]
        batch = run_planted_episodes(
            world, generator, [make_selector(k, s) for k, _, s in plans], t2i, [p for _, p, _ in plans],
            [k for k, _, _ in plans], [s for _, _, s in plans],
            [f"eval-{i}" for i in range(start, start + len(plans))], config, rewards=True,
        )
        for t in batch.trajectories:
            sizes = {len(turn.slate) for turn in t.turns}
            if sizes != {config.slate_size}:
                raise InvalidValueError(f"agent {name} showed slates of {sorted(sizes)} columns; the bench's "
                                        f"protocol is {config.slate_size}")
            final.append(t.metadata["true_utility"][-1])
            expected.append(t.metadata["expected_utility"][-1])
            turns_expected.append(list(t.metadata["expected_utility"]))
            comparisons.append([turn.comparison for turn in t.turns[1:]])
            initial.append(t.initial_prompt)
    return {
        "final_utility": mean_ci(final),
        "final_expected_utility": mean_ci(expected),
        "per_turn": _rates(comparisons),
        "seconds": time.perf_counter() - started,
        "_final": final,
        "_expected": expected,
        "_turns_expected": turns_expected,
        "_prompts": initial,
    }


def _rates(comparisons: list[list[str | None]]) -> list[dict[str, Any]]:
    out = []
    turns = len(comparisons[0]) if comparisons else 0
    for j in range(turns):
        answers = [c[j] for c in comparisons]
        n = len(answers)
        entry: dict[str, Any] = {"turn": j + 2}
        for label in ("better", "same", "worse"):
            p = sum(a == label for a in answers) / n
            entry[label] = {"rate": p, "ci95": proportion_ci(p, n)}
        out.append(entry)
    return out


def make_selector_factory(world: PlantedWorld, spec: dict[str, Any], t2i: Any, plugins: Any,
                          config: EpisodeConfig | None = None) -> Callable[[int, int], Any]:
    """Selector factory of an agent spec: {"kind": random|first|oracle|greedy-oracle|
    posterior|value|value-slate|user-model-slate|distilled, ...}; the factory takes (planted type, episode
    seed)."""
    kind = spec["kind"]
    m = (config or EpisodeConfig()).images_per_prompt
    if kind == "random":
        from pasta_selectors import RandomSelector

        return lambda k, s: RandomSelector()
    if kind == "first":
        from pasta_selectors import FirstSelector

        return lambda k, s: FirstSelector()
    if kind == "oracle":
        from pasta_planted.oracle import SlateOracle

        return lambda k, s: SlateOracle(world, k, s, m, t2i=t2i)
    if kind == "greedy-oracle":
        from pasta_planted.oracle import OracleSelector

        return lambda k, s: OracleSelector(world, k, images=spec.get("images", 1), t2i=t2i)
    if kind == "posterior":
        from pasta_planted.oracle import PosteriorSelector

        joint = spec.get("joint", False)
        return lambda k, s: PosteriorSelector(world, images=spec.get("images", 1), t2i=t2i, joint=joint,
                                              episode_seed=s if joint else None, images_per_prompt=m)
    if kind == "value-slate":
        from pasta_value.slate import SlateValueSelector, type_model_folders

        models = [plugins.load("value-model", folder) for folder in type_model_folders(spec["models"])]
        user_model = plugins.create("user-model", "clip-em", path=spec["user_model"])
        slate = SlateValueSelector(models, user_model, t2i, spec.get("temperature", 0.0))
        return lambda k, s: slate
    if kind == "user-model-slate":
        from pasta_value.planner import UserModelSlateSelector

        planner = UserModelSlateSelector(plugins.load("user-model", spec["user_model"]), t2i, spec.get("images", m))
        return lambda k, s: planner
    if kind == "distilled":  # the distilled generator's slate, as it is
        from pasta_selectors import FirstSelector

        return lambda k, s: FirstSelector()
    if kind == "value":
        from pasta_value.selector import create_value_selector

        selector = create_value_selector(model=spec["model"], plugins=plugins)
        return lambda k, s: selector
    raise ValueError(f"unknown agent kind {kind!r}")


class RememberingT2I:
    """A T2I model that keeps its last ``capacity`` images by (prompt, seed): the selectors
    that re-render the columns a user was shown (``posterior``, ``value-slate``) get the
    episode loop's images back instead of drawing them again (same pictures: every
    built-in renderer is seeded per image)."""

    def __init__(self, inner: Any, capacity: int = 8192) -> None:
        from collections import OrderedDict

        self.inner, self.capacity = inner, capacity
        self._images: OrderedDict[tuple[str, int], Any] = OrderedDict()

    def render(self, prompts: Any, seeds: Any) -> list[Any]:
        keys = [(p, int(s)) for p, s in zip(prompts, seeds)]
        missing = list(dict.fromkeys(k for k in keys if k not in self._images))
        if missing:
            for key, image in zip(missing, self.inner.render([p for p, _ in missing], [s for _, s in missing])):
                self._images[key] = image
        out = []
        for key in keys:
            self._images.move_to_end(key)
            out.append(self._images[key])
        while len(self._images) > self.capacity:
            self._images.popitem(last=False)
        return out


AgentJob = tuple[Any, dict[str, Any], int, int, EpisodeConfig, int, "tuple[str, ...] | None"]


def evaluate_spec(job: AgentJob, plugins: Any) -> dict[str, Any]:
    """Evaluate one agent spec, its components built from ``plugins``."""
    from pasta_procedural import ProceduralT2I

    config, spec, episodes, seed, episode_config, image_size, prompts = job
    world = PlantedWorld(config, plugins)
    t2i = RememberingT2I(ProceduralT2I(size=image_size))
    generator = generator_of(spec, plugins)
    result = evaluate_agent(world, make_selector_factory(world, spec, t2i, plugins, episode_config), episodes, seed,
                            episode_config, t2i, generator, progress=False, name=spec["name"], prompts=prompts)
    if spec["kind"] == "distilled":
        result["model_calls"] = generator.requests
        result["fallback_turns"] = generator.fallbacks
        result["own_candidates"] = True  # it writes its slate: the oracle's candidates are not its own
    return result


def generator_of(spec: dict[str, Any], plugins: Any) -> Any:
    """The candidate generator of an agent spec: the template one, or for the distilled
    agent its model (the teacher's pipeline answering a turn it cannot)."""
    if spec["kind"] == "distilled":
        return plugins.create("generator", "distilled", model=spec["model"], fallback="teacher",
                              teacher_selector=spec.get("teacher_selector", "value"), teacher_model=spec["teacher"],
                              temperature=spec.get("temperature", 1.0),
                              **{f"teacher_{k}": v for k, v in spec.get("teacher_options", {}).items()})
    return plugins.create("generator", "template")


def _evaluate_spec_in_worker(job: AgentJob, recipe: Any) -> dict[str, Any]:
    """A pool worker's entry point: a copy of the caller's plugin set, one thread for torch."""
    single_thread_torch()
    return evaluate_spec(job, recipe.build())


#: Rough relative cost of evaluating an agent (longest first balances the workers).
_COST = {"oracle": 8, "posterior": 6, "user-model-slate": 4, "greedy-oracle": 3, "value-slate": 3, "value": 2,
         "distilled": 2}


def evaluate_agents(config: Any, specs: list[dict[str, Any]], episodes: int, seed: int,
                    episode_config: EpisodeConfig, image_size: int, workers: int = 2,
                    progress: bool = True, early: dict[str, Any] | None = None,
                    prompts: tuple[str, ...] | None = None, *, plugins: Any) -> dict[str, dict[str, Any]]:
    """Evaluate every agent spec on the same episodes (initial prompts from ``prompts``),
    ``workers`` agents at a time in separate processes (the costliest first; each with
    a copy of ``plugins``; one worker: here, with ``plugins``); results in the order of
    ``specs``. ``early`` maps agent names to futures of evaluations already started
    (:class:`EarlyAgents`); an early evaluation that failed is run again here."""
    from concurrent.futures import as_completed

    results: dict[str, dict[str, Any]] = {}
    for name, future in (early or {}).items():
        try:
            results[name] = future.result()
        except Exception as exc:  # evaluated again below
            log.warning("[bench] early evaluation of %s failed (%s: %s); again", name, type(exc).__name__, exc)
    jobs = {spec["name"]: (config, spec, episodes, seed, episode_config, image_size, prompts)
            for spec in specs if spec["name"] not in results}
    if workers <= 1:
        results.update({name: evaluate_spec(job, plugins) for name, job in jobs.items()})
    elif jobs:
        order = sorted((s for s in specs if s["name"] in jobs), key=lambda spec: -_COST.get(spec["kind"], 1))
        recipe = plugins.recipe()
        with spawn_pool(min(workers, len(jobs))) as pool:
            futures = {pool.submit(_evaluate_spec_in_worker, jobs[spec["name"]], recipe): spec["name"] for spec in order}
            for future in as_completed(futures):
                name = futures[future]
                results[name] = future.result()
                if progress:
                    log.info("[bench] evaluated %s in %.1f s", name, results[name]["seconds"])
    return {spec["name"]: results[spec["name"]] for spec in specs}


#: Agents that need nothing the bench learns: they can be evaluated while it trains.
INDEPENDENT = ("random", "first", "oracle", "greedy-oracle", "posterior")


class EarlyAgents:
    """Evaluates the agents that need no learned model in one background process (with a
    copy of ``plugins``), started while the user model trains (EM runs on one core; this
    fills the other)."""

    def __init__(self, config: Any, specs: list[dict[str, Any]], episodes: int, seed: int,
                 episode_config: EpisodeConfig, image_size: int, progress: bool = True,
                 prompts: tuple[str, ...] | None = None, *, plugins: Any) -> None:
        self.pool = spawn_pool(1)
        order = sorted((s for s in specs if s["kind"] in INDEPENDENT), key=lambda s: -_COST.get(s["kind"], 1))
        recipe = plugins.recipe()
        self.futures = {s["name"]: self.pool.submit(_evaluate_spec_in_worker, (config, s, episodes, seed, episode_config,
                                                                     image_size, prompts), recipe) for s in order}
        if progress:
            for name, future in self.futures.items():
                future.add_done_callback(lambda f, n=name: log.info(
                    "[bench] evaluated %s early%s", n, f" in {f.result()['seconds']:.1f} s" if not f.exception()
                    else " (failed)"))

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def learned_specs(bench: Any) -> list[dict[str, Any]]:
    """The agents of one training seed: a value agent per data regime, the value-slate agent,
    the planner on the learned user model (``[bench] planner``, or when it is the distill
    stage's teacher: ``kept/distilled`` needs the teacher's own row) and, when the distill
    stage ran, the distilled agent."""
    specs: list[dict[str, Any]] = []
    for regime, path in bench.state.get("value_models", {}).items():
        if regime.startswith("slate-"):
            specs.append({"name": f"value-{regime}", "kind": "value-slate", "models": str(path),
                          "user_model": str(bench.state["em"]["path"]),
                          "temperature": bench.sizes.value_slate_temperature})
        else:
            specs.append({"name": f"value-{regime}", "kind": "value", "model": str(path)})
    planner_teacher = bench.state.get("distilled", {}).get("teacher_selector") == "user-model-slate"
    if (bench.sizes.planner or planner_teacher) and "em" in bench.state:
        specs.append(planner_spec(bench.state["em"]["path"], bench.sizes.planner_images))
    if "distilled" in bench.state:
        specs.append({"name": "distilled", "kind": "distilled", **bench.state["distilled"]})
    return specs


def planner_spec(user_model: Any, images: int) -> dict[str, Any]:
    """The ``user-model-slate`` agent: the slate planned with the learned user model."""
    return {"name": "user-model-slate", "kind": "user-model-slate", "user_model": str(user_model),
            "images": int(images)}


def baseline_specs(sizes: Any) -> list[dict[str, Any]]:
    """random, first, the oracle and the references: the agents that need nothing learned."""
    specs: list[dict[str, Any]] = [{"name": "random", "kind": "random"}, {"name": "first", "kind": "first"},
                                   {"name": "oracle", "kind": "oracle", "images": sizes.oracle_images}]
    for name in sizes.references:
        if name == "greedy-oracle":
            specs.append({"name": name, "kind": "greedy-oracle", "images": sizes.oracle_images})
        else:
            specs.append({"name": name, "kind": "posterior", "images": sizes.oracle_images,
                          "joint": name == "posterior-slate"})
    return specs


def strip_private(results: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Agent results for figures.json: the per-episode arrays kept under ``episodes``
    (the set's intervals are computed from them), the rest as it is."""
    out = {}
    for name, r in results.items():
        public = {k: v for k, v in r.items() if not k.startswith("_")}
        public["episodes"] = {"final": [round(x, 6) for x in r["_final"]],
                              "final_expected": [round(x, 6) for x in r["_expected"]],
                              "turns_expected": r["_turns_expected"]}
        out[name] = public
    return out


def learned_agents_stage(bench: Any) -> dict[str, Any]:
    """Bench stage 5: the learned agents of one training seed on the world's evaluation
    episodes (held-out prompts)."""
    from pasta_planted.bench_common import dataset_seed

    w = bench.world_run
    specs = learned_specs(bench)
    workers = bench.workers if bench.sizes.episodes >= 50 else 1  # worker start-up outweighs a few episodes
    results = evaluate_agents(bench.config, specs, bench.sizes.episodes, dataset_seed(w.evaluation_seed, "evaluation"),
                              bench.episode_config, bench.sizes.image_size, workers=workers,
                              progress=bench.progress, prompts=w.held_out, plugins=bench.plugins)
    prompts = sorted({p for r in results.values() for p in r["_prompts"]})
    return {"agents": strip_private(results), "prompts": prompts, "workers": workers}


def oracle_bound(agents: dict[str, dict[str, Any]], tolerance: float = 1e-5) -> dict[str, Any]:
    """Checks of the oracle as an upper bound over one world's agents (their
    ``episodes.turns_expected``). On turn 1 every agent faces the same candidates and
    image seeds, so no agent's expected utility may exceed the oracle's on any episode
    (``turn1_violations`` counts episodes where one does: it must be 0). An agent that writes
    its own candidates (the distilled one) faces other candidates, so the per-turn bound
    does not hold for it: it is listed in ``own_candidates`` instead. Over an episode
    an agent can pass it only by planning across turns (``passes_oracle``: agents whose
    mean final-turn expected utility is above the oracle's)."""
    if "oracle" not in agents:
        return {}
    oracle = np.asarray([t[0] for t in agents["oracle"]["episodes"]["turns_expected"]])
    final = float(np.mean(agents["oracle"]["episodes"]["final_expected"]))
    violations, passes, own = {}, [], []
    for name, r in agents.items():
        if name == "oracle":
            continue
        if float(np.mean(r["episodes"]["final_expected"])) > final:
            passes.append(name)
        if r.get("own_candidates"):
            own.append(name)
            continue
        first = np.asarray([t[0] for t in r["episodes"]["turns_expected"]])
        violations[name] = int((first > oracle + tolerance).sum())
    return {"turn1_violations": violations, "passes_oracle": passes, "own_candidates": own,
            "note": "the oracle is optimal per turn given its history; passing it over an episode takes "
                    "planning across turns"}
