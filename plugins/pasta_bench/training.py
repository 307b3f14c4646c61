"""EM and IQL step time against a bare forward+backward of the same networks."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import Any


def medians(fns: list[Callable[[], Any]], steps: int) -> list[float]:
    """Median wall time of each function; runs interleaved so machine load hits all alike."""
    for fn in fns:
        fn()
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(steps):
        for fn, bucket in zip(fns, times):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def em_speed(dim: int, types: int, pairs: int, steps: int) -> dict[str, Any]:
    """An EM step (E step with the target network, M step, clip, AdamW, prior update) vs
    the bare references on the same batch."""
    import numpy as np
    import torch

    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.em import EMTrainer, TrainConfig
    from pasta_clip_em.labels import LabelSet, pair_labels
    from pasta_clip_em.losses import LossWeights, make_batch, sample_loglik
    from pasta_clip_em.model import build_model

    rng = np.random.default_rng(0)
    per_rater = 8
    raters = pairs // per_rater * 4
    n = raters * per_rater
    sample = np.repeat(np.arange(raters), per_rater)
    labels = LabelSet(rng.normal(size=(2000, dim)).astype(np.float32), rng.normal(size=(8000, dim)).astype(np.float32),
                      [str(i) for i in range(raters)],
                      pairs=pair_labels(sample, rng.integers(2000, size=n), rng.integers(8000, size=n),
                                        rng.integers(8000, size=n), rng.integers(0, 2, size=n).astype(np.float32)))
    trainer = EMTrainer(build_model(ModelConfig(dim=dim, types=types), seed=0), labels,
                        TrainConfig(batch_size=pairs // per_rater, metrics="none"))
    batch = make_batch(labels, trainer.batch_samples(0), "cpu")
    counter = iter(range(10**9))

    def em_step() -> None:
        trainer.step(trainer.batch_samples(next(counter)))

    def bare(e_step: bool = False, optimizer: bool = False) -> Callable[[], None]:
        def run() -> None:
            if e_step:  # the target network's forward pass the E step needs
                with torch.no_grad():
                    sample_loglik(trainer.target, trainer.aggregator, batch, LossWeights())
            ll = sample_loglik(trainer.model, trainer.aggregator, batch, LossWeights())
            trainer.model.zero_grad(set_to_none=True)
            (-ll.mean()).backward()
            if optimizer:
                trainer.optimizer.step()
        return run

    em, fb, nets, fbo = medians([em_step, bare(), bare(e_step=True), bare(e_step=True, optimizer=True)], steps)
    return {"dim": dim, "types": types, "pairs_per_batch": int(batch.num_labels), **_ratios("em_step_s", em, fb, nets, fbo)}


def _ratios(step_key: str, step: float, fb: float, networks: float, networks_optimizer: float) -> dict[str, Any]:
    """A step's time against the three bare references (see :func:`training_section`)."""
    return {step_key: round(step, 5), "bare_forward_backward_s": round(fb, 5),
            "bare_networks_forward_backward_s": round(networks, 5),
            "bare_networks_optimizer_s": round(networks_optimizer, 5),
            "ratio_to_forward_backward": round(step / fb, 3),
            "ratio_to_networks_forward_backward": round(step / networks, 3),
            "ratio_to_networks_optimizer": round(step / networks_optimizer, 3)}


def iql_speed(batch_size: int, steps: int) -> dict[str, Any]:
    """An IQL step (online Q and V, target Q, V(h') once per distinct h', TD and expectile
    losses, clip, Adafactor, target refresh) vs the bare references."""
    import numpy as np
    import torch

    from pasta_core.iql import IQLConfig, IQLTrainer, build_transitions, sample_batch
    from pasta_selectors import RandomSelector
    from pasta_value.embedded import create_embedded
    from pasta_value.synthetic import WordWorld

    world = WordWorld(turns=3)
    episodes = world.episodes(RandomSelector(), 300, seed=1)
    data = build_transitions(episodes, [t.rewards for t in episodes])
    model = create_embedded(encoder="words", dim=384)
    trainer = IQLTrainer(model, data, IQLConfig(batch_size=batch_size))
    counter = iter(range(10**9))

    batches = [sample_batch(data, batch_size, 0, i) for i in range(64)]

    def bare(target: bool = False, optimizer: bool = False) -> Callable[[], None]:
        def run() -> None:
            batch = batches[next(counter) % len(batches)]
            hi, ci = torch.as_tensor(batch.history), torch.as_tensor(batch.candidate)
            out = model.pair_outputs(model.module, trainer.prepared, hi, ci)
            v = out.v if out.v is not None else model.history_values(model.module, trainer.prepared, hi)
            loss = out.q.float().pow(2).mean() + v.float().pow(2).mean()
            if target:  # the target network's Q(h, p) and V(h') the step needs
                with torch.no_grad():
                    model.pair_outputs(trainer.target, trainer.prepared, hi, ci)
                    live = np.unique(batch.next_history[batch.next_history >= 0])
                    model.history_values(trainer.target, trainer.prepared, torch.as_tensor(live))
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if optimizer:
                trainer.optimizer.step()
        return run

    iql, fb, nets, fbo = medians([trainer.train_step, bare(), bare(target=True), bare(target=True, optimizer=True)],
                                 steps)
    return {"model": "embedded value model (384-d word features, width 256)", "batch_pairs": batch_size,
            **_ratios("iql_step_s", iql, fb, nets, fbo)}


def training_section(quick: bool) -> dict[str, Any]:
    """Each trainer's step against three bare references, all on prepared batches:

    - ``forward_backward``: the online network's forward and backward alone;
    - ``networks_forward_backward``: a forward of every network the step runs (the online
      one with its backward, and the target copy: the E step's posterior for EM, Q(h, p)
      and V(h') for IQL), the issue's "bare forward+backward of the same networks";
    - ``networks_optimizer``: the same plus the optimizer's step.

    The step's excess over the second is the optimizer, the gradient clip and everything
    the trainer adds (sampling, losses, metrics, target refresh)."""
    import torch

    steps = 5 if quick else 15
    return {"threads": torch.get_num_threads(),
            "em": em_speed(dim=256 if quick else 768, types=8, pairs=512, steps=steps),
            # an IQL step is ~10 ms and its median over 30 steps moved by +-0.1x between runs
            "iql": iql_speed(batch_size=128, steps=40 if quick else 300)}
