"""EM throughput and accuracy figures for the clip-em user model. Prints JSON.

    python benchmarks/bench_em.py speed     # pairs/s at K=8, d=768, 512 pairs per batch,
                                            # and EM step / bare forward+backward ratio
    python benchmarks/bench_em.py planted   # held-out accuracy on a planted population
                                            # vs. the planted model itself

Timings are medians over ``--steps`` steps after warm-up; on a shared machine rerun them
on a quiet one. ``--device cuda`` times the same code on a GPU.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import numpy as np
import torch

from pasta_clip_em.config import ModelConfig
from pasta_clip_em.em import EMTrainer, TrainConfig
from pasta_clip_em.labels import LabelSet, pair_labels
from pasta_clip_em.losses import LossWeights, make_batch, sample_loglik
from pasta_clip_em.model import build_model
from pasta_core.plugins import get_plugins


def _sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def _median_times(fns: list, steps: int, device: str) -> list[float]:
    """Median time of each function, runs interleaved so machine load hits all alike."""
    for fn in fns:
        fn()
        fn()
    times: list[list[float]] = [[] for _ in fns]
    for _ in range(steps):
        for fn, bucket in zip(fns, times):
            _sync(device)
            start = time.perf_counter()
            fn()
            _sync(device)
            bucket.append(time.perf_counter() - start)
    return [statistics.median(t) for t in times]


def speed(args: argparse.Namespace) -> dict:
    rng = np.random.default_rng(0)
    d, k, per_rater = args.dim, args.types, 8
    raters = args.batch // per_rater * 4
    n_pairs = raters * per_rater
    text = rng.normal(size=(2000, d)).astype(np.float32)
    images = rng.normal(size=(20000, d)).astype(np.float32)
    sample = np.repeat(np.arange(raters), per_rater)
    labels = LabelSet(text, images, [str(i) for i in range(raters)], pairs=pair_labels(
        sample, rng.integers(2000, size=n_pairs), rng.integers(20000, size=n_pairs),
        rng.integers(20000, size=n_pairs), rng.integers(0, 2, size=n_pairs).astype(np.float32)))
    model = build_model(ModelConfig(dim=d, types=k), seed=0)
    trainer = EMTrainer(model, labels, TrainConfig(batch_size=args.batch // per_rater, metrics="none",
                                                   device=args.device),
                        aggregator=model.config.build_aggregator(get_plugins()))
    samples = trainer.batch_samples(0)
    batch = make_batch(labels, samples, args.device)
    step_counter = iter(range(10**9))

    def em_step() -> None:
        trainer.step(trainer.batch_samples(next(step_counter)))

    def bare() -> None:
        ll = sample_loglik(trainer.model, trainer.aggregator, batch, LossWeights())
        trainer.model.zero_grad(set_to_none=True)
        (-ll.mean()).backward()

    def plain_step() -> None:
        bare()
        trainer.optimizer.step()

    em, fb, plain = _median_times([em_step, bare, plain_step], args.steps, args.device)
    return {
        "figure": "em_speed", "device": args.device, "threads": torch.get_num_threads(),
        "types": k, "dim": d, "hidden": d, "pairs_per_batch": int(batch.num_labels),
        "em_step_s": round(em, 4), "bare_forward_backward_s": round(fb, 4),
        "plain_training_step_s": round(plain, 4),
        "em_pairs_per_s": round(batch.num_labels / em, 1),
        "ratio_em_to_bare_forward_backward": round(em / fb, 3),
        "ratio_em_to_plain_training_step": round(em / plain, 3),
    }


def planted(args: argparse.Namespace) -> dict:
    from sklearn.metrics import adjusted_rand_score

    from pasta_clip_em.evaluate import pair_probabilities, sample_posteriors
    from pasta_clip_em.synthetic import planted_pair_probs, planted_world

    world = planted_world(types=args.types, dim=args.dim, raters=args.raters, pairs_per_rater=args.pairs,
                          test_pairs_per_rater=args.pairs, prompts=100, images_per_prompt=10, seed=args.seed)
    target = world.test.pairs.columns["target"] > 0.5

    def accuracy(model, prior):
        post = sample_posteriors(model, prior, world.train, aggregator=model.config.build_aggregator(get_plugins()))
        return float(np.mean((pair_probabilities(model, world.test, post) > 0.5) == target)), post

    c = world.test.pairs.columns
    p = planted_pair_probs(world.planted, world.test.text, world.test.images, c["prompt"], c["a"], c["b"])
    true_type = p[np.arange(len(p)), world.rater_types[world.test.pairs.sample]]
    result = {"figure": "planted_accuracy", "planted_types": args.types, "dim": args.dim, "raters": args.raters,
              "train_pairs_per_rater": args.pairs, "test_pairs_per_rater": args.pairs,
              "planted_true_type": float(np.mean((true_type > 0.5) == target)),
              "planted_posterior": accuracy(world.planted, np.ones(args.types) / args.types)[0]}
    for k in sorted({1, args.types}):
        model = build_model(ModelConfig(dim=args.dim, types=k, score_scale=10.0), seed=args.seed + 7)
        trainer = EMTrainer(model, world.train, TrainConfig(steps=args.em_steps, batch_size=32, lr=3e-3,
                                                            target_every=20, prior_momentum=0.05, metrics="none"),
                            aggregator=model.config.build_aggregator(get_plugins()))
        start = time.perf_counter()
        trainer.train(progress=False)
        acc, post = accuracy(trainer.model, trainer.prior_array)
        result[f"learned_K{k}"] = acc
        result[f"learned_K{k}_train_s"] = round(time.perf_counter() - start, 1)
        if k > 1:
            result[f"learned_K{k}_type_ARI"] = float(adjusted_rand_score(world.rater_types, post.argmax(1)))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("figure", choices=["speed", "planted"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=512, help="pairs per batch (speed)")
    parser.add_argument("--dim", type=int, default=None)
    parser.add_argument("--types", type=int, default=None)
    parser.add_argument("--raters", type=int, default=600)
    parser.add_argument("--pairs", type=int, default=40)
    parser.add_argument("--em-steps", type=int, default=1500)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.figure == "speed":
        args.dim, args.types = args.dim or 768, args.types or 8
        print(json.dumps(speed(args)))
    else:
        args.dim, args.types = args.dim or 32, args.types or 4
        print(json.dumps(planted(args)))


if __name__ == "__main__":
    main()
