"""Train EM or IQL for a few steps and save the final weights (run by the scale tests).

    python dist_train.py em OUT.npz                             # one process
    torchrun --nproc-per-node 2 dist_train.py em OUT.npz        # two processes, gloo

Both draw the same global batches; rank 0 writes the weights (and the EM prior).
"""

from __future__ import annotations

import sys

import numpy as np
import torch


def train_em(steps: int) -> dict[str, np.ndarray]:
    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.em import EMTrainer, TrainConfig
    from pasta_clip_em.model import build_model
    from pasta_clip_em.synthetic import planted_world

    world = planted_world(types=3, dim=16, raters=40, pairs_per_rater=12, test_pairs_per_rater=2, prompts=10,
                          images_per_prompt=4, seed=1)
    from pasta_core.plugins import get_plugins

    model = build_model(ModelConfig(dim=16, types=3, score_scale=10.0), seed=3)
    trainer = EMTrainer(model, world.train, TrainConfig(steps=steps, batch_size=10, lr=3e-3, target_every=4,
                                                        metrics="none"),
                        aggregator=model.config.build_aggregator(get_plugins()))
    losses = [trainer.step(trainer.batch_samples(s))["loss"] for s in range(steps)]
    out = {k: v.detach().numpy() for k, v in trainer.model.state_dict().items()}
    out["prior"] = trainer.prior_array
    out["losses"] = np.asarray(losses)
    return out


def train_iql(steps: int) -> dict[str, np.ndarray]:
    from pasta_core.iql import IQLConfig, build_transitions, train_iql
    from pasta_distributed import data_parallel
    from pasta_selectors import RandomSelector
    from pasta_value.embedded import create_embedded
    from pasta_value.synthetic import WordWorld

    world = WordWorld(turns=3)
    episodes = world.episodes(RandomSelector(), 40, seed=1)
    data = build_transitions(episodes, [t.rewards for t in episodes])
    model = create_embedded(encoder="words", dim=64, width=32)
    losses: list[float] = []
    trainer = train_iql(model, data, IQLConfig(steps=steps, batch_size=32, lr=1e-2, target_update=4),
                        progress=False, on_step=lambda step, m: losses.append(m["loss_q"] + m["loss_v"]),
                        parallel=data_parallel())
    out = {k: v.detach().numpy() for k, v in trainer.model.module.state_dict().items()}
    out["losses"] = np.asarray(losses)
    return out


def main() -> None:
    torch.set_num_threads(1)
    kind, out = sys.argv[1], sys.argv[2]
    steps = int(sys.argv[3]) if len(sys.argv) > 3 else 12
    weights = {"em": train_em, "iql": train_iql}[kind](steps)
    from pasta_distributed import data_parallel

    if data_parallel().is_main:
        np.savez(out, **weights)


if __name__ == "__main__":
    main()
