"""IQL and value-selector figures. Prints JSON.

    python benchmarks/bench_iql.py speed    # IQL steps/s at batch 128 for both backends
                                            # (embedded; tiny causal LM) and the ratio of an
                                            # IQL step to a bare forward+backward (+ optimizer
                                            # step) of the same network on the same batch
    python benchmarks/bench_iql.py select   # time to select a slate from 25 candidates
    python benchmarks/bench_iql.py quality  # value selector vs random, first and the oracle
                                            # on the WordWorld, where the right slate is known

Timings are medians over ``--steps`` runs, interleaved so machine load hits all alike;
on a shared machine rerun them on a quiet one. ``--device cuda`` times a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from typing import Any

import numpy as np
import torch

from pasta_core.iql import IQLConfig, IQLTrainer, build_transitions, sample_batch, train_iql
from pasta_core.types import History
from pasta_selectors import FirstSelector, RandomSelector
from pasta_value.causal_lm import create_causal_lm
from pasta_value.embedded import create_embedded
from pasta_value.selector import ValueSelector
from pasta_value.synthetic import OracleSelector, WordWorld
from pasta_value.tiny import build_tiny_causal_lm


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _medians(fns: list, steps: int, device: str) -> list[float]:
    for fn in fns:
        fn()
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(steps):
        for i, fn in enumerate(fns):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            times[i].append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def _data(world: WordWorld, episodes: int) -> Any:
    trajectories = world.episodes(RandomSelector(), episodes, seed=1)
    return build_transitions(trajectories, [t.rewards for t in trajectories])


def _bare(trainer: IQLTrainer, with_optimizer: bool) -> Any:
    """Forward Q and V on the IQL batch, a squared loss, backward (and optimizer step)."""
    model, step = trainer.model, [0]

    def run() -> None:
        batch = sample_batch(trainer.data, trainer.config.batch_size, 0, step[0])
        step[0] += 1
        hi, ci = torch.as_tensor(batch.history), torch.as_tensor(batch.candidate)
        out = model.pair_outputs(model.module, trainer.prepared, hi, ci, token_level=trainer.config.token_level)
        loss = out.q.float().pow(2).mean() + out.v.float().pow(2).mean()
        trainer.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if with_optimizer:
            trainer.optimizer.step()

    return run


def _speed_of(name: str, model: Any, data: Any, args: argparse.Namespace, token_level: bool = False) -> dict:
    trainer = IQLTrainer(model, data, IQLConfig(batch_size=128, lr=1e-5, token_level=token_level))
    iql, bare, bare_opt = _medians([trainer.train_step, _bare(trainer, False), _bare(trainer, True)], args.steps, args.device)
    return {
        "backend": name, "batch_pairs": 128, "iql_steps_per_s": round(1 / iql, 2),
        "iql_step_ms": round(1e3 * iql, 2), "bare_fwd_bwd_ms": round(1e3 * bare, 2),
        "bare_fwd_bwd_opt_ms": round(1e3 * bare_opt, 2),
        "ratio_to_fwd_bwd": round(iql / bare, 2), "ratio_to_fwd_bwd_opt": round(iql / bare_opt, 2),
        "parameters": sum(p.numel() for p in model.module.parameters()),
    }


def speed(args: argparse.Namespace) -> dict:
    world = WordWorld(turns=3)
    data = _data(world, 300)
    results = [_speed_of("embedded (384-d text features, width 256)",
                         create_embedded(encoder="words", dim=384, device=args.device), data, args)]
    with tempfile.TemporaryDirectory() as folder:
        corpus = [h.render_text() for h in data.histories[:50]]
        build_tiny_causal_lm(folder, corpus=corpus)
        lm = create_causal_lm(path=folder, device=args.device)
        results.append(_speed_of("causal-lm (tiny Gemma, hidden 32, 2 layers)", lm, data, args))
        results.append(_speed_of("causal-lm token-level", lm, data, args, token_level=True))
        prepared = lm.prepare(data.histories, data.candidates)
        tokens = float(np.mean([len(h) for h in prepared.histories])) + float(
            np.mean([len(c) for c in prepared.candidates]))
    return {"figure": "IQL speed", "device": args.device, "threads": torch.get_num_threads(),
            "history_turns": "0-2 (3-turn sessions)", "mean_pair_tokens": round(tokens, 1), "results": results}


def _select_times(name: str, selector: ValueSelector, history: History, world: WordWorld,
                  rng: np.random.Generator, args: argparse.Namespace) -> dict:
    cands = world.candidates(rng)
    cold, warm = _medians([lambda: selector.select(history, world.candidates(rng), 4, 0),
                           lambda: selector.select(history, cands, 4, 0)], args.steps, args.device)
    return {"backend": name, "new_candidates_ms": round(1e3 * cold, 2), "cached_candidates_ms": round(1e3 * warm, 2)}


def select(args: argparse.Namespace) -> dict:
    world = WordWorld(turns=5)
    rng = np.random.default_rng(0)
    trajectory = world.episode(RandomSelector(), "a white cat", seed=0)
    history = History(trajectory.initial_prompt, trajectory.turns[:4])
    out = {"figure": "time to select a slate of 4 from 25 candidates (history of 4 turns)", "results": []}
    backends = [("embedded (MiniLM, new candidates every call)", create_embedded(device=args.device))]
    with tempfile.TemporaryDirectory() as folder:
        build_tiny_causal_lm(folder)
        backends.append(("causal-lm (tiny Gemma)", create_causal_lm(path=folder, device=args.device)))
        for name, model in backends:
            out["results"].append(_select_times(name, ValueSelector(model), history, world, rng, args))
    return out


def quality(args: argparse.Namespace) -> dict:
    world = WordWorld(turns=3)
    data = _data(world, args.episodes)
    model = create_embedded(encoder=args.encoder, device=args.device)
    config = IQLConfig(steps=args.train_steps, lr=1e-2, seed=0)
    started = time.perf_counter()
    train_iql(model, data, config, progress=False)
    seconds = time.perf_counter() - started
    selectors = {"random": RandomSelector(), "first": FirstSelector(), "value": ValueSelector(model),
                 "oracle": OracleSelector(world)}
    results = {}
    for name, selector in selectors.items():
        rewards = [e.turns[-1].reward for e in world.episodes(selector, args.test_episodes, seed=99)]
        results[name] = {"final_reward_mean": round(float(np.mean(rewards)), 4),
                         "stderr": round(float(np.std(rewards) / np.sqrt(len(rewards))), 4)}
    return {"figure": "WordWorld: mean final reward (mean worth of the chosen prompts, 3 turns)",
            "world": "40 hidden word worths ~ N(0,1); 5 categories x 5 fresh 3-word candidates per turn; "
                     "L=4; choice softmax(worth/0.1); training data from the random selector",
            "encoder": args.encoder, "train_episodes": args.episodes, "train_steps": args.train_steps,
            "train_seconds": round(seconds, 1), "test_episodes": args.test_episodes, "results": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=["speed", "select", "quality"])
    parser.add_argument("--steps", type=int, default=20, help="timed runs per measurement")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--episodes", type=int, default=1000, help="quality: training sessions")
    parser.add_argument("--test-episodes", type=int, default=300)
    parser.add_argument("--train-steps", type=int, default=1000)
    parser.add_argument("--encoder", default="words", help="quality: minilm | words | hash")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    print(json.dumps({"speed": speed, "select": select, "quality": quality}[args.figure](args), indent=2))


if __name__ == "__main__":
    main()
