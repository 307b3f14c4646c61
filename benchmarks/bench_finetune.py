"""Step time of the user model's fine-tuning phase against its frozen phase. Prints JSON.

    python benchmarks/bench_finetune.py                       # tiny random open_clip (32 px)
    python benchmarks/bench_finetune.py --encoder embedded    # MiniLM + image projection
    python benchmarks/bench_finetune.py --batch-size 16 --steps 30 --device cuda

Both phases train the same score model (K=2) on the same planted pictures
(``pasta_clip_em.synthetic.planted_image_labels``) with the same batches: the frozen phase
on embeddings cached beforehand, the fine-tuning phase encoding each batch's prompts and
pictures with gradients. A step is one E step, one AdamW step and one prior update; no
checkpoints are written. Timings are medians after two warm-up steps, taken alternately
so machine load hits both alike; on a shared machine rerun them on a quiet one.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import torch

from pasta_clip_em.build import embed_raw
from pasta_clip_em.config import ModelConfig
from pasta_clip_em.em import EMTrainer, TrainConfig
from pasta_clip_em.finetune import FinetuneTrainer
from pasta_clip_em.model import build_model
from pasta_clip_em.synthetic import planted_image_labels
from pasta_core.plugins import get_plugins
from pasta_encoders.testing import write_tiny_openclip


def _encoder(name: str, device: str) -> tuple[object, dict]:
    if name == "openclip":
        folder = write_tiny_openclip(tempfile.mkdtemp(prefix="tinyclip-"))
        options = {"model": f"local-dir:{folder}"}
    else:
        options = {"dim": 32}
    return get_plugins().create("encoder", name, **options, device=device), options


def _timed(trainer: EMTrainer) -> float:
    started = time.perf_counter()
    trainer.step(trainer.batch_samples(trainer.step_count))
    if trainer.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--encoder", choices=["openclip", "embedded"], default="openclip")
    parser.add_argument("--batch-size", type=int, default=8, help="raters per batch (6 pairs each)")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    encoder, options = _encoder(args.encoder, args.device)
    raw, _ = planted_image_labels(raters=64, pairs_per_rater=6, images=64, seed=0)
    cached = embed_raw(raw, encoder)
    config = ModelConfig(dim=encoder.dim, types=2, score_scale=10.0, encoder=args.encoder, encoder_options=options)
    aggregator = config.build_aggregator(get_plugins())
    train = TrainConfig(steps=10**6, batch_size=args.batch_size, lr=1e-4, encoder_lr=1e-6, metrics="none",
                        device=args.device)
    frozen = EMTrainer(build_model(config), cached, train, aggregator=aggregator)
    finetune = FinetuneTrainer(build_model(config), raw, train, encoder, image_memory=0, aggregator=aggregator)
    for _ in range(2):
        _timed(frozen), _timed(finetune)
    times: dict[str, list[float]] = {"frozen": [], "finetune": []}
    for _ in range(args.steps):
        times["frozen"].append(_timed(frozen))
        times["finetune"].append(_timed(finetune))
    frozen_s, finetune_s = (statistics.median(times[k]) for k in ("frozen", "finetune"))
    encoder_params = sum(p.numel() for p in finetune.encoder_module.parameters())
    print(json.dumps({
        "encoder": args.encoder, "device": args.device, "threads": torch.get_num_threads(),
        "batch_raters": args.batch_size, "pairs_per_step": args.batch_size * 6,
        "encoder_parameters": encoder_params, "head_parameters": sum(p.numel() for p in frozen.model.parameters()),
        "frozen_step_ms": round(frozen_s * 1e3, 2), "finetune_step_ms": round(finetune_s * 1e3, 2),
        "ratio": round(finetune_s / frozen_s, 1),
    }, indent=2))


if __name__ == "__main__":
    main()
