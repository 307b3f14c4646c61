"""The ``clip-em`` UserModel: a trained (or fresh) score model behind the core protocol.

Utilities aggregate the M image scores of a column with the aggregator the model's config
names (built by the factory from its plugin set); choice probabilities are a softmax over
columns of tau(scores) * R_k; the posterior over types follows Bayes' rule over the
observed choices. Embeddings of images and prompts already seen are kept in memory (a
simulator asks for the same images many times). Prefetch threads may call the model at
once: one lock guards that memory, the encoder's first load and every call to the encoder.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pasta_checkpoints.hub import HubMixin
from pasta_clip_em.config import ModelConfig
from pasta_core.errors import InvalidValueError
from pasta_core.types import Column
from pasta_users import AggregatingUserModel


def image_key(image: Any) -> bytes:
    """A content hash of a PIL image (pixels, size and mode)."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"{image.mode}:{image.size}".encode())
    digest.update(image.tobytes())
    return digest.digest()


class EmbeddingMemo:
    """A bounded in-process map from a key to an embedding row (least recently used out).

    Lookups hold ``lock`` while they read the map, encode what is missing and write it
    back: memos that share an encoder share one lock, so the encoder (which need not be
    thread-safe) is called from one thread at a time."""

    def __init__(self, capacity: int = 100_000, lock: Any = None) -> None:
        self.capacity = capacity
        self._rows: OrderedDict[Any, np.ndarray] = OrderedDict()
        self._lock = lock if lock is not None else threading.Lock()

    def lookup(self, keys: Sequence[Any], items: Sequence[Any], encode: Any) -> np.ndarray:
        """Rows for ``keys``; the missing ones are encoded in one batched call."""
        with self._lock:
            missing = {k: item for k, item in zip(keys, items) if k not in self._rows}
            if missing:
                rows = encode(list(missing.values()))
                for key, row in zip(missing, rows):
                    self._rows[key] = np.asarray(row, dtype=np.float32)
            out = []
            for key in keys:
                self._rows.move_to_end(key)
                out.append(self._rows[key])
            while len(self._rows) > self.capacity:
                self._rows.popitem(last=False)
        return np.stack(out)

    def __len__(self) -> int:
        return len(self._rows)


class ClipEmUserModel(AggregatingUserModel, HubMixin):
    """K latent user types scored by a CLIP-style model with per-type residual offsets.

    ``aggregator`` is the column aggregator the model's config names
    (``model.config.build_aggregator(plugins)``). The encoder is ``encoder``, or built on
    first use by ``load_encoder()`` (a checkpoint's encoder takes a while to load and many
    uses never embed anything new)."""

    def __init__(
        self, model: Any, prior: np.ndarray, *, aggregator: Any, encoder: Any = None,
        load_encoder: Callable[[], Any] | None = None, device: str = "cpu",
    ) -> None:
        if encoder is None and load_encoder is None:
            raise InvalidValueError("a clip-em user model needs an encoder (encoder= or load_encoder=)")
        super().__init__(aggregator)
        self.model = model.to(device).eval()
        self.device = device
        self._prior = np.asarray(prior, dtype=np.float64) / np.sum(prior)
        self._encoder = encoder
        self._load_encoder = load_encoder
        # One lock for loading the encoder and for every call to it (prefetch threads).
        self._encoder_lock = threading.RLock()
        self.images_seen = EmbeddingMemo(lock=self._encoder_lock)
        self.texts_seen = EmbeddingMemo(capacity=10_000, lock=self._encoder_lock)

    @property
    def config(self) -> ModelConfig:
        return self.model.config

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            with self._encoder_lock:
                if self._encoder is None and self._load_encoder is not None:
                    self._encoder = self._load_encoder()
        return self._encoder

    @property
    def num_types(self) -> int:
        return self.config.types

    @property
    def prior(self) -> np.ndarray:
        return self._prior

    def embed_images(self, images: Sequence[Any]) -> np.ndarray:
        """Encoder embeddings of ``images`` (N, d), reusing those already seen."""
        if not images:
            return np.zeros((0, self.config.dim), dtype=np.float32)
        return self.images_seen.lookup([image_key(im) for im in images], images, self.encoder.encode_images)

    def embed_text(self, text: str) -> np.ndarray:
        return self.texts_seen.lookup([text], [text], self.encoder.encode_text)[0]

    def scores(self, intent: str, images: Sequence[Any]) -> np.ndarray:
        return self.scores_from_embeddings(self.embed_text(intent), self.embed_images(images))

    def scores_from_embeddings(self, text: np.ndarray, images: np.ndarray) -> np.ndarray:
        """s(k, p, I) for one prompt embedding (d,) and image embeddings (N, d): (K, N)."""
        import torch

        if len(images) == 0:
            return np.zeros((self.num_types, 0))
        with torch.inference_mode():
            t = torch.as_tensor(text, device=self.device)
            i = torch.as_tensor(images, device=self.device)
            return self.model.score_matrix(t, i).double().cpu().numpy()

    def choice_probabilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        return choice_probabilities(self.model, self.utilities(intent, columns))

    def choice_from_utilities(self, utilities: np.ndarray) -> np.ndarray:
        """The choice model on column utilities already computed, any leading shape:
        (..., L) -> P(column) (..., L) (a planner scoring many slates at once)."""
        return choice_probabilities(self.model, utilities)

    def describe(self) -> dict[str, Any]:
        """The model's settings and prior, for ``pasta user-model show``."""
        return {**self.config.to_json(), "prior": [round(float(p), 4) for p in self.prior]}

    # ----- the Hugging Face way (pasta_checkpoints.hub.HubMixin) -----------------------
    hub_tags = ("pasta-t2i", "user-model", "clip-em")

    def _save_folder(self, folder: Path) -> None:
        from pasta_clip_em.checkpoint import save_checkpoint

        save_checkpoint(folder, self.model, self.prior, encoder=self.encoder if self.config.encoder_state else None)

    @classmethod
    def _from_folder(cls, folder: Path, **kwargs: Any) -> ClipEmUserModel:
        """``ClipEmUserModel.from_pretrained(folder_or_repo_id, plugins=get_plugins(),
        device="cpu")``: the encoder and aggregator are built from ``plugins``."""
        if "plugins" not in kwargs:
            raise InvalidValueError("ClipEmUserModel.from_pretrained needs plugins= (the set that builds its "
                                    "encoder and aggregator, e.g. pasta_core.get_plugins())")
        return create_user_model(path=str(folder), **kwargs)


def choice_probabilities(model: Any, utilities: np.ndarray) -> np.ndarray:
    """Softmax over columns of tau(utilities) * utilities, per type row: (K, L)."""
    import torch

    with torch.inference_mode():
        device = next(model.parameters()).device
        u = torch.as_tensor(np.asarray(utilities, dtype=np.float32), device=device)
        probs = model.choice_log_probs(u).double().exp().cpu().numpy()
    return probs / probs.sum(axis=-1, keepdims=True)


def create_user_model(
    path: str | None = None,
    types: int | str = 8,
    encoder: str = "embedded",
    dim: int | str | None = None,
    seed: int | str = 0,
    device: str = "cpu",
    aggregator: str = "softmax",
    *,
    plugins: Any,
    **encoder_options: Any,
) -> ClipEmUserModel:
    """Factory of the ``clip-em`` plugin: load ``path=DIR`` (a checkpoint folder), or build
    a fresh, untrained model over ``encoder`` with ``types`` user types and a uniform prior.
    Extra options go to the encoder (e.g. ``model=local-dir:FOLDER`` for ``openclip``).
    The aggregator and the encoder are built from ``plugins``, the set this factory is
    called from."""
    from pasta_clip_em.checkpoint import load_checkpoint, load_encoder
    from pasta_clip_em.model import build_model

    if path:
        folder = Path(path)
        model, prior, config = load_checkpoint(folder, device=device)
        return ClipEmUserModel(
            model, prior, aggregator=config.build_aggregator(plugins), device=device,
            load_encoder=lambda: load_encoder(folder, config, plugins=plugins),
        )
    if dim not in (None, "") and encoder == "embedded":
        encoder_options["dim"] = dim
    enc = plugins.create("encoder", encoder, **encoder_options)
    config = ModelConfig(
        dim=enc.dim, types=int(types), aggregator=aggregator, encoder=encoder, encoder_options=encoder_options
    )
    k = config.types
    return ClipEmUserModel(build_model(config, int(seed)), np.full(k, 1.0 / k),
                           aggregator=config.build_aggregator(plugins), encoder=enc, device=device)
