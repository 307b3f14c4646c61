"""Bench stage 4: value models trained by IQL on three data regimes.

- human: the human-like training sessions, rewards labelled by the learned user model
  (the utility of the chosen column under each session's most likely learned type), as
  the paper labels its human sessions;
- simulated: trajectories simulated with the learned user model (their own rewards);
- mixed: both.

Every regime trains the ``embedded`` value model built from ``[bench] value_encoder``,
``value_dim`` and ``value_width`` with the ``[bench] iql_*`` settings, on the rewards
``iql_rewards`` names (:func:`pasta_value.rewards.training_rewards`: ``sparse``, the
paper's main setting, ``dense`` or ``shaped``).
With ``workers`` > 1 the regimes train in that many processes at once (each regime is
seeded alike, so the result does not depend on the number of workers). Each trained
model becomes a ``value`` selector for the agent evaluation.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from pasta_planted.bench_common import StageSkipped, single_thread_torch


def labelled_human_sessions(bench: Any) -> list[Any]:
    """Human-like training sessions, every turn's reward the learned user model's utility of
    the chosen column; each session's ``user_type`` is its most likely learned type (as the
    paper labels rewards)."""
    from pasta_clip_em.evaluate import sample_posteriors
    from pasta_planted.bench_em import learned_utilities

    em, labels, data = bench.state["em"], bench.state["train_labels"], bench.state["train"]
    utilities = learned_utilities(em["model"], labels, bench.plugins)  # (n turns, K, L), sessions in order
    aggregator = em["model"].config.build_aggregator(bench.plugins)
    types = sample_posteriors(em["model"], em["prior"], labels, aggregator=aggregator).argmax(1)
    out, row = [], 0
    for t, k in zip(data.trajectories, types):
        turns = []
        for turn in t.turns:
            turns.append(attrs.evolve(turn, reward=float(utilities[row, k, turn.choice])))
            row += 1
        out.append(attrs.evolve(t, turns=turns, user_type=int(k)))
    return out


def model_options(sizes: Any, seed: int) -> dict[str, Any]:
    """Options of the ``embedded`` value model the bench trains."""
    options: dict[str, Any] = {"encoder": sizes.value_encoder, "width": sizes.value_width, "seed": seed}
    if sizes.value_edit:
        options["edit"] = True
    if sizes.value_encoder != "minilm":
        options["dim"] = sizes.value_dim
    return options


def iql_config(sizes: Any, seed: int, steps: int = 0) -> Any:
    """The bench's IQL settings (``[bench] iql_*``; ``steps`` > 0 overrides ``iql_steps``)."""
    from pasta_core.iql import IQLConfig

    steps = steps or sizes.iql_steps
    return IQLConfig(steps=steps, lr=sizes.iql_lr, batch_size=sizes.iql_batch,
                     target_update=min(sizes.iql_target_update, steps), seed=seed,
                     save_every=10**9, log_every=50)


Job = tuple[str, list[Any], list[list[float]], dict[str, Any], Any, Path, bool]


def train_regime(job: Job, plugins: Any) -> dict[str, Any]:
    """Train one regime's value model (the ``embedded`` one of ``plugins``) and save it to
    ``out``."""
    from pasta_core.iql import build_transitions, train_iql

    regime, trajectories, rewards, options, config, out, progress = job
    started = time.perf_counter()
    model = plugins.create("value-model", "embedded", **options)
    train_iql(model, build_transitions(trajectories, rewards), config, out=out, resume=False, progress=progress,
              model_options=options)
    final = np.array([r[-1] for r in rewards])
    return {"trajectories": len(trajectories), "final_reward_mean": float(final.mean()), "steps": config.steps,
            "seconds": round(time.perf_counter() - started, 2)}


def _train_regime_in_worker(recipe: Any, job: Job) -> dict[str, Any]:
    """A pool worker's entry point: a copy of the bench's plugin set, one thread for torch."""
    single_thread_torch()
    return train_regime(job, recipe.build())


def train_regimes(bench: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """Train one value model per data regime: (checkpoint folders, figures)."""
    try:
        from pasta_value.rewards import load_rewarded, training_rewards
    except ImportError as exc:
        raise StageSkipped(f"the IQL trainer or value plugin (issue #4) is not available: {exc}") from exc
    mode = bench.sizes.iql_rewards
    human = labelled_human_sessions(bench)
    human_rewards = [training_rewards([float(turn.reward) for turn in t.turns], mode) for t in human]
    regimes: dict[str, tuple[list[Any], list[list[float]]]] = {"human": (human, human_rewards)}
    if "simulated" in bench.state:
        sim, sim_rewards = load_rewarded([bench.state["simulated"]], mode=mode)
        regimes["simulated"] = (sim, sim_rewards)
        regimes["mixed"] = (human + sim, human_rewards + sim_rewards)
    # Learned utilities are on the score model's temperature scale (tens); one common
    # factor puts the final rewards near unit spread without changing any preference.
    scale = float(np.std([t.turns[-1].reward for t in human])) or 1.0
    regimes = {name: (t, [[x / scale for x in r] for r in rs]) for name, (t, rs) in regimes.items()}
    per_type_data = regimes.get("mixed")
    type_means: dict[str, dict[int, float]] = {}
    if getattr(bench.sizes, "value_center_rewards", False):
        for name, (t, rs) in list(regimes.items()):
            centered, type_means[name] = center_per_type(t, rs)
            regimes[name] = (t, centered)
    options, config = model_options(bench.sizes, bench.seed), iql_config(bench.sizes, bench.seed)
    workers = max(1, getattr(bench, "workers", 1))
    jobs = [(name, t, rs, options, config, bench.out / f"value-{name}", bench.progress and workers <= 1)
            for name, (t, rs) in regimes.items()]
    if getattr(bench.sizes, "value_slate", False) and per_type_data is not None:
        steps = max(1, round(bench.sizes.iql_steps * bench.sizes.value_slate_iql_share))
        slate_config = iql_config(bench.sizes, bench.seed, steps)
        jobs += per_type_jobs(bench, *per_type_data, options, slate_config)  # one type each: no centering
    # a worker process costs seconds to start: only worth it for real training runs
    workers = min(workers, len(jobs)) if bench.sizes.iql_steps >= 500 else 1
    if workers <= 1:
        results = [train_regime(job, bench.plugins) for job in jobs]
    else:
        import functools

        from pasta_simulate.pool import spawn_pool

        with spawn_pool(workers) as pool:
            results = list(pool.map(functools.partial(_train_regime_in_worker, bench.plugins.recipe()), jobs))
    figures: dict[str, Any] = dict(zip(regimes, results))
    models: dict[str, Any] = {name: bench.out / f"value-{name}" for name in regimes}
    if len(results) > len(regimes):
        per_type = results[len(regimes):]
        models["slate-mixed"] = bench.out / "value-slate-mixed"
        figures["slate-mixed"] = {"per_type": per_type, "seconds": round(sum(r["seconds"] for r in per_type), 2),
                                  "trajectories": sum(r["trajectories"] for r in per_type)}
    if "simulated" not in regimes:
        figures["note"] = "simulation stage skipped: only the human-like regime was trained"
    figures["reward_scale"] = scale
    if type_means:
        figures["centered_type_means"] = {name: {str(k): round(v, 4) for k, v in m.items()}
                                          for name, m in type_means.items()}
    figures["value_model"] = options
    figures["iql"] = {k: v for k, v in config.to_dict().items() if k not in ("save_every", "log_every")}
    figures["workers"] = workers
    return models, figures


def center_per_type(trajectories: list[Any], rewards: list[list[float]]) -> tuple[list[list[float]], dict[int, float]]:
    """Each session's return minus the mean return of its user type (taken from the final
    turn's reward); sessions without a type are centred on the mean of all. Returns the
    new rewards and the means taken away."""
    returns = np.array([sum(r) for r in rewards])
    types = np.array([t.user_type if t.user_type is not None else -1 for t in trajectories])
    means = {int(k): float(returns[types == k].mean()) for k in np.unique(types)}
    if -1 in means:
        means[-1] = float(returns.mean())
    centered = [r[:-1] + [r[-1] - means[int(k)]] for r, k in zip(rewards, types)]
    return centered, means


def per_type_jobs(bench: Any, trajectories: list[Any], rewards: list[list[float]], options: dict[str, Any],
                  config: Any) -> list[Any]:
    """Training jobs of the ``value-slate`` agent: one value model per learned user type,
    each on the (mixed-regime) sessions of that type, saved as ``value-slate-mixed/type-K``."""
    types = np.array([t.user_type if t.user_type is not None else -1 for t in trajectories])
    jobs = []
    for k in range(bench.world.num_types):
        rows = np.flatnonzero(types == k)
        if len(rows) == 0:  # a type no session was given: train on all, it is never likely
            rows = np.arange(len(trajectories))
        jobs.append((f"type-{k}", [trajectories[i] for i in rows], [rewards[i] for i in rows], options, config,
                     bench.out / "value-slate-mixed" / f"type-{k}", False))
    return jobs


__all__ = ["iql_config", "labelled_human_sessions", "model_options", "train_regime", "train_regimes"]
