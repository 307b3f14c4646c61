"""The second training phase: fine-tuning the encoders with the score model.

The paper trains its user model in two phases: frozen CLIP on cached embeddings, then
everything at a small learning rate. This phase runs the same mini-batch EM as
:class:`~pasta_clip_em.em.EMTrainer` (same E step, M step, losses and prior update) but
embeds each batch's raw prompts and images on the fly, with gradients, through a
:class:`~pasta_core.protocols.TrainableEncoder`:

- two AdamW parameter groups: the score model's heads at ``config.lr`` and the encoder at
  ``config.encoder_lr`` (default 1e-6); one gradient-norm clip over both;
- the E step uses the target network's heads on the batch's embeddings from the current
  encoder (no second copy of the encoder: it moves at a learning rate far below the heads',
  and a copy would double the memory and add a forward pass);
- the encoder stays in eval mode (no dropout, fixed normalization statistics) while its
  weights train, so a run is deterministic and a killed run resumes to the same weights;
- images are decoded and run through the encoder's own preprocessing once per use, in a
  background thread one batch ahead, with recently used ones kept in memory;
- checkpoints add ``encoder.safetensors`` and record it in ``config.json``
  (``encoder_state``), so ``clip-em`` loads the fine-tuned encoder back; the trainer state
  holds the encoder weights and their optimizer moments too.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np
import torch

from pasta_clip_em.checkpoint import ENCODER_FILE, save_checkpoint
from pasta_clip_em.em import EMTrainer, TrainConfig
from pasta_clip_em.labels import RawLabelSet
from pasta_clip_em.losses import Batch, gather_batch
from pasta_core.errors import InvalidValueError


class PreparedImages:
    """Model inputs of images by index: decoded and preprocessed on demand, the most
    recently used ``capacity`` kept in memory (thread-safe)."""

    def __init__(self, refs: Sequence[Any], encoder: Any, capacity: int = 1024) -> None:
        self.refs, self.encoder, self.capacity = refs, encoder, capacity
        self._rows: OrderedDict[int, torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, ids: Sequence[int] | np.ndarray) -> torch.Tensor:
        """(len(ids), ...) CPU tensor of prepared inputs, in the order of ``ids``."""
        from pasta_clip_em.cache import open_image

        with self._lock:
            missing = [int(i) for i in ids if int(i) not in self._rows]
        if missing:
            fresh = self.encoder.prepare_images([open_image(_path(self.refs[i])) for i in missing])
        with self._lock:
            for n, i in enumerate(missing):
                self._rows[i] = fresh[n]
            rows = []
            for i in ids:
                self._rows.move_to_end(int(i))
                rows.append(self._rows[int(i)])
            while len(self._rows) > max(self.capacity, len(ids)):
                self._rows.popitem(last=False)
        return torch.stack(rows) if rows else self.encoder.prepare_images([])


def _path(ref: Any) -> Any:
    return Path(ref) if isinstance(ref, str) else ref


class FinetuneTrainer(EMTrainer):
    """Mini-batch EM with the encoder trained too, on raw prompts and images."""

    phase = "finetune"

    def __init__(
        self, model: Any, labels: RawLabelSet, config: TrainConfig, encoder: Any,
        out: str | Path | None = None, prior: np.ndarray | None = None, image_memory: int = 1024,
        parallel: Any = None, *, aggregator: Any,
    ) -> None:
        from pasta_core.protocols import TrainableEncoder

        if not isinstance(encoder, TrainableEncoder):
            raise InvalidValueError(
                f"encoder {type(encoder).__name__} cannot be fine-tuned (it is no TrainableEncoder)"
            )
        self.encoder = encoder.to(config.device)
        self.encoder_module = encoder.trainable_module().eval().requires_grad_(True)
        self.images = PreparedImages(labels.images, encoder, image_memory)
        self._pool: ThreadPoolExecutor | None = None
        self._ahead: tuple[int, Future[torch.Tensor]] | None = None
        model.config.encoder_state = ENCODER_FILE
        super().__init__(model, labels, config, out=out, prior=prior, parallel=parallel,  # type: ignore[arg-type]
                         aggregator=aggregator)
        self.labels: RawLabelSet = labels  # type: ignore[assignment]

    # ----- EMTrainer hooks -----------------------------------------------------------
    def _check_labels(self, labels: Any, model: Any) -> None:
        if not isinstance(labels, RawLabelSet):
            raise InvalidValueError("fine-tuning reads raw prompts and images: pass a RawLabelSet")
        if self.encoder.dim != model.config.dim:
            raise InvalidValueError(f"encoder gives {self.encoder.dim}-d embeddings, the model expects {model.config.dim}")

    def _make_optimizer(self) -> torch.optim.Optimizer:
        groups = [
            {"params": list(self.model.parameters()), "lr": self.config.lr},
            {"params": list(self.encoder_module.parameters()), "lr": self.config.encoder_lr},
        ]
        try:
            return torch.optim.AdamW(groups, weight_decay=self.config.weight_decay, fused=True)
        except (RuntimeError, TypeError):
            return torch.optim.AdamW(groups, weight_decay=self.config.weight_decay)

    def trainable_parameters(self) -> list[torch.nn.Parameter]:
        return list(self.model.parameters()) + list(self.encoder_module.parameters())

    def _state_modules(self) -> list[tuple[str, torch.nn.Module]]:
        return [*super()._state_modules(), ("encoder", self.encoder_module)]

    def _save_checkpoint(self, out: Path) -> None:
        save_checkpoint(out, self.model, self.prior_array, encoder=self.encoder, trained_steps=self.step_count,
                        phase=self.phase)

    def _step_metrics(self) -> dict[str, float]:
        grads = [p.grad for p in self.encoder_module.parameters() if p.grad is not None]
        norm = torch.nn.utils.get_total_norm(grads) if grads else torch.zeros(())
        return {"encoder_grad_norm": float(norm)}

    # ----- batches of raw prompts and images ----------------------------------------
    def make_batch(self, samples: np.ndarray) -> Batch:
        """Embeddings of the batch's prompts and images, computed now (with gradients
        when grad mode is on)."""
        prompt_ids, image_ids, labels, count = gather_batch(self.labels, samples, self.device)
        pixels = self._prepared(np.asarray(samples), image_ids)
        text = self.encoder.forward_text([self.labels.texts[i] for i in prompt_ids])
        images = self.encoder.forward_images(pixels)
        return Batch(num_samples=len(samples), text=text, images=images, labels=labels, num_labels=count)

    def _prepared(self, samples: np.ndarray, image_ids: np.ndarray) -> torch.Tensor:
        """This batch's image inputs; during training, also start on the next batch's."""
        if self._pool is None or not np.array_equal(samples, self.local_samples(self.step_count)):
            return self.images(image_ids)
        ahead, self._ahead = self._ahead, None
        pixels = ahead[1].result() if ahead is not None and ahead[0] == self.step_count else self.images(image_ids)
        step = self.step_count + 1
        if step < self.config.steps:
            next_ids = gather_batch(self.labels, self.local_samples(step))[1]
            self._ahead = (step, self._pool.submit(self.images, next_ids))
        return pixels

    def train(self, progress: bool = True, stop_after: int | None = None,
              on_step: Callable[[int, dict[str, float]], None] | None = None) -> Any:
        """As EMTrainer.train, with images prepared one batch ahead in a background thread."""
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pasta-images")
        try:
            return super().train(progress=progress, stop_after=stop_after, on_step=on_step)
        finally:
            self._ahead = None
            self._pool.shutdown(wait=True)
            self._pool = None
