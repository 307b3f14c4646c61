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

    from pasta_aggregators import SoftmaxAggregator  # the aggregator ModelConfig names by default
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
                        TrainConfig(batch_size=pairs // per_rater, metrics="none"), aggregator=SoftmaxAggregator())
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


def _iql_data() -> Any:
    """IQL transitions of 300 random-selector sessions in the word world (3 turns)."""
    from pasta_core.iql import build_transitions
    from pasta_selectors import RandomSelector
    from pasta_value.synthetic import WordWorld

    episodes = WordWorld(turns=3).episodes(RandomSelector(), 300, seed=1)
    return build_transitions(episodes, [t.rewards for t in episodes])


#: The value models the IQL step is measured on, by the name the training section uses.
IQL_MODELS = {
    "embedded": "embedded value model (384-d word features, width 256)",
    "causal-lm": "causal-LM value model (tiny Gemma: hidden 32, 2 layers, 400-word vocabulary)",
}


def iql_speed(batch_size: int, steps: int, model: str = "embedded") -> dict[str, Any]:
    """An IQL step (online Q and V, target Q, V(h') once per distinct h', TD and expectile
    losses, clip, Adafactor, target refresh) vs the bare references, on the embedded value
    model or the tiny causal-LM one (``model``: a key of :data:`IQL_MODELS`)."""
    import tempfile

    import numpy as np
    import torch

    from pasta_core.errors import InvalidValueError
    from pasta_core.iql import IQLConfig, IQLTrainer, sample_batch

    torch.manual_seed(0)
    data = _iql_data()
    if model == "embedded":
        from pasta_value.embedded import create_embedded

        value_model = create_embedded(encoder="words", dim=384)
    elif model == "causal-lm":
        from pasta_value.causal_lm import create_causal_lm
        from pasta_value.tiny import build_tiny_causal_lm

        with tempfile.TemporaryDirectory() as folder:  # the weights are read into memory
            build_tiny_causal_lm(folder, corpus=[h.render_text() for h in data.histories[:50]])
            value_model = create_causal_lm(path=folder)
    else:
        raise InvalidValueError(f"no IQL benchmark model {model!r}; known: {', '.join(IQL_MODELS)}")
    trainer = IQLTrainer(value_model, data, IQLConfig(batch_size=batch_size))
    counter = iter(range(10**9))

    batches = [sample_batch(data, batch_size, 0, i) for i in range(64)]

    def bare(target: bool = False, optimizer: bool = False) -> Callable[[], None]:
        def run() -> None:
            batch = batches[next(counter) % len(batches)]
            hi, ci = torch.as_tensor(batch.history), torch.as_tensor(batch.candidate)
            net = value_model.module
            out = value_model.pair_outputs(net, trainer.prepared, hi, ci)
            v = out.v if out.v is not None else value_model.history_values(net, trainer.prepared, hi)
            loss = out.q.float().pow(2).mean() + v.float().pow(2).mean()
            if target:  # the target network's Q(h, p) and V(h') the step needs
                with torch.no_grad():
                    value_model.pair_outputs(trainer.target, trainer.prepared, hi, ci)
                    live = np.unique(batch.next_history[batch.next_history >= 0])
                    value_model.history_values(trainer.target, trainer.prepared, torch.as_tensor(live))
            trainer.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if optimizer:
                trainer.optimizer.step()
        return run

    iql, fb, nets, fbo = medians([trainer.train_step, bare(), bare(target=True), bare(target=True, optimizer=True)],
                                 steps)
    return {"model": IQL_MODELS[model], "batch_pairs": batch_size,
            "parameters": sum(p.numel() for p in value_model.module.parameters()),
            **_ratios("iql_step_s", iql, fb, nets, fbo)}


def training_section(quick: bool) -> dict[str, Any]:
    """Each trainer's step against three bare references, all on prepared batches:

    - ``forward_backward``: the online network's forward and backward alone;
    - ``networks_forward_backward``: a forward of every network the step runs (the online
      one with its backward, and the target copy: the E step's posterior for EM, Q(h, p)
      and V(h') for IQL), the issue's "bare forward+backward of the same networks";
    - ``networks_optimizer``: the same plus the optimizer's step.

    The step's excess over the second is the optimizer, the gradient clip and everything
    the trainer adds (sampling, losses, metrics, target refresh). IQL is measured on the
    embedded value model (``iql``) and on the tiny causal-LM one (``iql_causal_lm``)."""
    import torch

    steps = 5 if quick else 15
    return {"threads": torch.get_num_threads(),
            "em": em_speed(dim=256 if quick else 768, types=8, pairs=512, steps=steps),
            # medians over 300 steps: over 30 they moved by +-0.1x between runs
            "iql": iql_speed(batch_size=128, steps=40 if quick else 300),
            "iql_causal_lm": iql_speed(batch_size=128, steps=20 if quick else 100, model="causal-lm")}
