"""Bench stage ``distill``: the teacher (``[bench] distill_teacher``: the ``value-mixed``
agent, template generator and value selector, or the ``user-model-slate`` planner, template
generator and the learned user model planning the slate) distilled into one model that
proposes the slate (issue 20).

1. pairs: the teacher's slate for every history of the human-like training sessions and
   of ``distill_simulated`` sessions the teacher plays against the *learned* user model
   (training prompts only), written as OpenAI, Gemini and Parquet files (row counts kept);
2. training: the compact model from scratch (``distill_steps`` Trainer steps);
3. latency: each turn proposed alone (no batching) for ``distill_latency_histories``
   histories of the world's held-out sessions, by the teacher and by the distilled agent,
   with model calls per turn; a value-mixed teacher also over the embedded defaults' MiniLM
   value model (same network, untrained: the cost is the same) when ``distill_latency_minilm``.

The distilled agent is then evaluated with the learned agents (:mod:`bench_agents`) on the
same episodes, falling back on the teacher's pipeline for a turn it cannot answer.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np

from pasta_core.errors import require

#: The value model a ``value-mixed`` teacher reads (the mixed regime's).
VALUE_REGIME = "mixed"


class Counted:
    """A value model that counts its batched calls."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.calls = inner, 0

    def q_values(self, histories: Any, candidates: Any) -> Any:
        self.calls += 1
        return self.inner.q_values(histories, candidates)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


def held_out_histories(trajectories: Sequence[Any], count: int) -> list[Any]:
    """Up to ``count`` histories (every turn's) of held-out sessions, in order."""
    from pasta_core.types import History

    out = []
    for t in trajectories:
        for n in range(len(t.turns)):
            out.append(History(t.initial_prompt, t.turns[:n]))
    return out[:count]


def timed_turns(agent: Any, histories: Sequence[Any], config: Any) -> np.ndarray:
    """Seconds of each history's proposal (candidates and slate), one at a time."""
    from pasta_core.engine import propose
    from pasta_core.streams import EpisodeStreams

    propose(agent, histories[0], config, EpisodeStreams(10**6))  # warm-up: first-call allocations
    seconds = []
    for i, history in enumerate(histories):
        started = time.perf_counter()
        propose(agent, history, config, EpisodeStreams(i))
        seconds.append(time.perf_counter() - started)
    return np.asarray(seconds)


def latency_figures(ms: np.ndarray) -> dict[str, Any]:
    from pasta_planted.bench_agents import mean_ci

    return {"ms": mean_ci(ms), "median_ms": float(np.median(ms)), "p90_ms": float(np.percentile(ms, 90))}


def speedup(slow: np.ndarray, fast: np.ndarray, seed: int = 0) -> dict[str, Any]:
    """mean(slow) / mean(fast) over the same histories, with a paired bootstrap 95% interval."""
    rng = np.random.default_rng(seed)
    picks = rng.integers(len(slow), size=(2000, len(slow)))
    draws = slow[picks].mean(1) / fast[picks].mean(1)
    return {"value": float(slow.mean() / fast.mean()), "ci95": [float(x) for x in np.percentile(draws, [2.5, 97.5])]}


def teacher_agent(bench: Any, value_model: Any) -> Any:
    """The value-mixed teacher over ``value_model``."""
    from pasta_core.engine import Agent
    from pasta_value.selector import ValueSelector

    return Agent(bench.plugins.create("generator", "template"), ValueSelector(value_model), bench.t2i)


def teacher_of(bench: Any) -> dict[str, Any]:
    """The configured teacher: its agent name, selector, the selector's trained model (the
    folder the distilled generator's fallback reads) and simulate's selector options."""
    if bench.sizes.distill_teacher == "user-model-slate":
        model = str(bench.state["em"]["path"])
        return {"name": "user-model-slate", "selector": "user-model-slate", "model": model,
                "options": {"user_model": model, "images": bench.sizes.planner_images,
                            "size": bench.sizes.image_size}}
    model = str(bench.state["value_models"][VALUE_REGIME])
    return {"name": f"value-{VALUE_REGIME}", "selector": "value", "model": model, "options": {"model": model}}


def fallback_options(teacher: dict[str, Any]) -> dict[str, Any]:
    """The teacher selector's options besides its model, for the distilled generator's
    fallback (``teacher_X=V``): it then plans as the teacher did (the planner's renders per
    candidate and image size)."""
    return {k: v for k, v in teacher["options"].items() if k not in ("model", "user_model")}


def planner_agent(bench: Any) -> Any:
    """The user-model-slate teacher: the learned user model plans the slate."""
    from pasta_core.engine import Agent
    from pasta_value.planner import UserModelSlateSelector

    user_model = bench.plugins.load("user-model", str(bench.state["em"]["path"]))
    return Agent(bench.plugins.create("generator", "template"),
                 UserModelSlateSelector(user_model, bench.t2i, bench.sizes.planner_images), bench.t2i)


def measure_latency(bench: Any, teacher: dict[str, Any]) -> dict[str, Any]:
    """Per-turn latency and model calls of the teacher and the distilled agent."""
    from pasta_core.engine import Agent
    from pasta_planted.bench_agents import generator_of
    from pasta_selectors import FirstSelector

    sizes, plugins = bench.sizes, bench.plugins
    histories = held_out_histories(bench.world_run.state["test"].trajectories, sizes.distill_latency_histories)
    turns = len(histories) + 1  # the warm-up turn is counted by the models too
    if teacher["selector"] == "value":
        counted = Counted(plugins.load("value-model", teacher["model"]))
        teacher_ms = timed_turns(teacher_agent(bench, counted), histories, bench.episode_config) * 1000
        calls = {"value_model_calls_per_turn": counted.calls / turns}
    else:
        planner = planner_agent(bench)
        teacher_ms = timed_turns(planner, histories, bench.episode_config) * 1000
        calls = {"images_rendered_per_candidate": planner.selector.images}
    distilled = generator_of({"kind": "distilled", **bench.state["distilled"]}, plugins)
    student_ms = timed_turns(Agent(distilled, FirstSelector(), bench.t2i), histories, bench.episode_config) * 1000
    out: dict[str, Any] = {
        "histories": len(histories),
        "teacher": {**latency_figures(teacher_ms), **calls,
                    "generator_calls_per_turn": 1.0, "candidates_scored_per_turn":
                        bench.episode_config.candidates_per_category * len(bench.episode_config.categories)},
        "distilled": {**latency_figures(student_ms), "model_calls_per_turn": distilled.requests / turns,
                      "fallback_turns": distilled.fallbacks},
        "speedup": speedup(teacher_ms, student_ms),
    }
    if sizes.distill_latency_minilm and teacher["selector"] == "value":
        minilm = plugins.create("value-model", "embedded", encoder="minilm")  # loaded by the warm-up turn
        minilm_ms = timed_turns(teacher_agent(bench, minilm), histories, bench.episode_config) * 1000
        out["teacher_minilm"] = latency_figures(minilm_ms)
        out["speedup_minilm"] = speedup(minilm_ms, student_ms)
    return out


def teacher_sessions(bench: Any, teacher: dict[str, Any]) -> list[Any]:
    """Sessions the teacher plays against the learned user model (training prompts)."""
    from pasta_core.store import read_trajectories
    from pasta_planted.bench_common import dataset_seed
    from pasta_simulate.simulate import SimulationSpec, simulate

    folder = bench.out / "distill-simulated"
    if folder.exists():  # a fresh teacher each run: never resume another's shards
        import shutil

        shutil.rmtree(folder)
    prompts_file = bench.out / "training-prompts.txt"
    prompts_file.write_text("\n".join(bench.world_run.prompts) + "\n", encoding="utf-8")
    c = bench.episode_config
    spec = SimulationSpec(count=bench.sizes.distill_simulated, seed=dataset_seed(bench.seed, "distill"),
                          user_model=str(bench.state["em"]["path"]), selector=teacher["selector"],
                          selector_options=teacher["options"], t2i_options={"size": bench.sizes.image_size},
                          turns=c.turns, slate_size=c.slate_size, images_per_prompt=c.images_per_prompt,
                          embeddings="none", prompts_file=str(prompts_file))
    result = simulate(spec, folder, progress=False, plugins=bench.plugins)
    return [t for f in result.shards for t in read_trajectories(f)]


def distill_stage(bench: Any) -> dict[str, Any]:
    """Pairs, training and latency (see the module docstring); the distilled agent's spec
    goes to ``bench.state["distilled"]`` for the agent stage."""
    require("transformers", "distill")
    from pasta_distill.export import write_pairs
    from pasta_distill.pairs import teacher_pairs
    from pasta_distill.train import TrainConfig, train_compact

    teacher = teacher_of(bench)
    agent = (teacher_agent(bench, bench.plugins.load("value-model", teacher["model"])) if teacher["selector"] == "value"
             else planner_agent(bench))
    started = time.perf_counter()
    pairs = list(teacher_pairs(agent, teacher_sessions(bench, teacher), bench.episode_config, "simulated"))
    pairs += list(teacher_pairs(agent, bench.state["train"].trajectories, bench.episode_config, "human"))
    files = write_pairs(pairs, bench.out / "distill-data")
    data_seconds = time.perf_counter() - started
    folder = bench.out / "distilled"
    info = train_compact(pairs, folder, TrainConfig(steps=bench.sizes.distill_steps, save_every=10**9,
                                                    seed=bench.seed), resume=False, progress=bench.progress)
    options = fallback_options(teacher)
    bench.state["distilled"] = {"model": str(folder), "teacher": teacher["model"], "teacher_selector": teacher["selector"],
                                "teacher_options": options, "temperature": bench.sizes.distill_temperature}
    return {"teacher": teacher["name"], "pairs": {s: sum(p.source == s for p in pairs) for s in ("simulated", "human")},
            "files": {k: v["rows"] for k, v in files.items()}, "data_seconds": round(data_seconds, 2),
            "training": info["training"], "parameters": info["parameters"], "weights_bytes": info["weights_bytes"],
            "edits": info["edits"], "model": str(folder), "teacher_options": options,
            "latency": measure_latency(bench, teacher)}
