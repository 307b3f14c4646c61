"""Every component protocol, in one module and one vocabulary.

They are structural (``typing.Protocol``): a plugin needs no base class, only these
methods. ``pasta_core.testing`` has a conformance suite that checks the contracts stated
in the docstrings below.

Kinds: :class:`CandidateGenerator`, :class:`Selector` (and the optional
:class:`BatchSelector`), :class:`T2IModel`, :class:`UserModel`, :class:`Aggregator`,
:class:`ValueModel` / :class:`TrainableValueModel`, :class:`Encoder` /
:class:`TrainableEncoder`, and who answers a turn: :class:`User` (and the optional
:class:`Rater`).

Vocabulary. A *choice temperature* ``T`` always divides: P(column) = softmax(utility / T),
so a higher temperature is a more random person. A number that multiplies scores is a
*scale* (the user model's ``score_scale``, the paper's logit scale). A *seed* is an int in
[0, 2**31) from :mod:`pasta_core.streams`.

Concurrency contract. A :class:`~pasta_core.session.Session` prepares the next turn for
every possible click while the person looks (prefetch): it calls ``generate`` and
``select`` (and, through them, value models and user models) from up to two worker threads
at once, next to the thread that renders. So generators, selectors, value models and user
models must be safe to call concurrently: no unguarded mutable state shared between calls
(every built-in either keeps none or guards it with a lock). A generator whose calls cost
money or quota sets ``prefetch = False`` and is then asked once per turn only. T2I models,
aggregators and encoders are called from one thread at a time per session; a host sharing
one T2I model across sessions (the web app) serializes its calls.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs
import numpy as np

from pasta_core.types import Candidate, Column, History

if TYPE_CHECKING:
    from PIL.Image import Image


@attrs.frozen
class GenerationRequest:
    """What a candidate generator is asked for in one turn.

    ``turn`` is 1-based. Every returned candidate must belong to one of ``categories``, and
    have at most ``word_limit`` words; ``per_category`` candidates per category are wanted.
    """

    history: History
    turn: int
    categories: tuple[str, ...]
    per_category: int
    word_limit: int
    seed: int
    #: The images shown in the history's turns, for generators that look at them (their
    #: ``history_images`` attribute says which); None when none are kept.
    images: HistoryImages | None = attrs.field(default=None, eq=False, repr=False)


@runtime_checkable
class HistoryImages(Protocol):
    """The images a person was shown in earlier turns, loaded on demand."""

    def images(self, turn: int, column: int) -> Sequence[Image]:
        """The M images of slate column ``column`` (0-based) of answered turn ``turn``
        (1-based) as they were shown; empty when they are not kept (a column the person
        passed over while only the chosen ones are kept, or a file gone from disk)."""
        ...


class FallbackCandidates(list):
    """A generator's answer written by a fallback generator in its place (a list of
    :class:`~pasta_core.types.Candidate`); ``fallback`` names it. The engine records the
    name in the turn (:attr:`pasta_core.types.Turn.fallback`)."""

    def __init__(self, candidates: Sequence[Candidate], fallback: str) -> None:
        super().__init__(candidates)
        self.fallback = str(fallback)


@runtime_checkable
class CandidateGenerator(Protocol):
    """Turns a history into categorized prompt expansions (the paper's candidate generator).

    An optional ``prefetch`` attribute (default True) says whether a session may ask
    ahead, once per possible click; paid APIs set it False. An optional
    ``history_images`` attribute (``none`` when absent, ``chosen`` or ``all``) says which
    earlier images the generator reads from ``request.images``, so that the engine keeps
    only those, and an optional ``history_image_side`` (pixels) how large at most it needs
    them (the engine keeps them scaled down to it). A generator that answers with a
    fallback in its place returns a :class:`FallbackCandidates`."""

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        """Return ``per_category`` distinct candidates for each requested category.

        Contract: categories are among ``request.categories``; texts are non-empty, distinct
        and within ``request.word_limit`` words; the same request gives the same answer when
        the backend is deterministic (the embedded template generator is).
        """
        ...


@runtime_checkable
class Selector(Protocol):
    """Picks the slate shown to the person from the candidates."""

    def select(
        self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int
    ) -> list[Candidate]:
        """Return ``min(slate_size, number of categories)`` candidates, at most one per category.

        Contract: every returned candidate is one of ``candidates``; no two share a
        category; deterministic for a given ``seed``.
        """
        ...


@runtime_checkable
class BatchSelector(Selector, Protocol):
    """A selector that picks the slates of many episodes at once (optional).

    The batch runner (:func:`pasta_core.engine.run_episodes`) calls ``select_many`` once a
    turn with every episode that shares this selector, so a value model scores all their
    candidates in one batched call."""

    def select_many(
        self,
        histories: Sequence[History],
        candidates: Sequence[Sequence[Candidate]],
        slate_size: int,
        seeds: Sequence[int],
    ) -> list[list[Candidate]]:
        """One slate per episode, each exactly what ``select`` would return for it."""
        ...


@runtime_checkable
class T2IModel(Protocol):
    """Renders prompts into images; one seed per image so any image can be reproduced."""

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Image]:
        """Return one PIL image per (prompt, seed) pair, in order.

        Contract: ``len(result) == len(prompts) == len(seeds)``; the same prompt and seed give
        the same image. Callers batch: one call may hold every image of a turn, or of many
        episodes.
        """
        ...


@runtime_checkable
class Aggregator(Protocol):
    """Reduces the M image scores of a column to one column utility."""

    def __call__(self, scores: Any) -> Any:
        """Reduce the last axis of ``scores`` (a numpy array or a torch tensor).

        Contract: the result lies between the minimum and the maximum of the scores, does
        not depend on their order, and is differentiable where torch tensors come in.
        """
        ...


@runtime_checkable
class UserModel(Protocol):
    """A model of people with K latent user types (the paper's user model).

    Scores are s(k, p0, I): image I judged against the person's *initial* prompt p0 (their
    intent), because people see only images, never the expansions.
    """

    @property
    def num_types(self) -> int:
        """K, the number of latent user types."""
        ...

    @property
    def prior(self) -> np.ndarray:
        """Prior probability of each user type, shape (K,), sums to 1."""
        ...

    def scores(self, intent: str, images: Sequence[Image]) -> np.ndarray:
        """s(k, intent, image) for every type and image: shape (K, len(images))."""
        ...

    def utilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        """R_k(column): the aggregated column utility per type, shape (K, len(columns))."""
        ...

    def choice_probabilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        """P(choose column | type): shape (K, len(columns)), rows sum to 1, and within a
        row a column with a higher utility is never less likely (softmax of utility divided
        by the choice temperature)."""
        ...

    def posterior(self, intent: str, observed: Sequence[tuple[Sequence[Column], int]]) -> np.ndarray:
        """P(type | the choices observed so far): shape (K,), sums to 1.

        ``observed`` holds, per turn, the columns shown and the chosen column's index; an
        empty sequence gives the prior.
        """
        ...


@attrs.frozen
class Answer:
    """A user's answer to one turn, recorded as a :class:`~pasta_core.types.Turn` (same
    field names); ``utilities``: for simulated users, every column's utility under the
    user's type (the turn's reward is the chosen one's)."""

    choice: int
    critique: str | None = None
    utilities: tuple[float, ...] | None = None
    satisfaction: tuple[int, ...] | None = None
    comparison: str | None = None


@runtime_checkable
class User(Protocol):
    """Anything that answers a turn (a simulated user, a console prompt, a web page)."""

    def answer(self, history: History, columns: Sequence[Column], seed: int) -> Answer:
        """Pick one of ``columns`` (0-based) after seeing ``history``; ``seed`` is the
        turn's ``choice`` stream (:mod:`pasta_core.streams`)."""
        ...


@runtime_checkable
class Rater(User, Protocol):
    """A user who also rates the turn (optional): satisfaction and better/same/worse."""

    def rate(self, history: History, columns: Sequence[Column], answer: Answer, seed: int) -> Answer:
        """``answer`` with ``satisfaction`` / ``comparison`` filled; ``seed`` is the turn's
        ``rating`` stream, independent of the choice's."""
        ...


@runtime_checkable
class ValueModel(Protocol):
    """Scores candidates: f(h, p) for (history, candidate) pairs and V(h) for histories.

    The paper's slate value decomposes as q(h, P) = mean over p in P of f(h, p), so a value
    model only ever scores (history, candidate) pairs; text models read histories as
    :meth:`pasta_core.types.History.render_text` (the paper's Figure 12 layout)."""

    #: The registered value-model name that loads this model's checkpoints.
    plugin: str

    def q_values(self, histories: Sequence[History], candidates: Sequence[Candidate]) -> np.ndarray:
        """f(h_i, p_i) for each pair, shape (len(candidates),), in one batched call.

        Contract: ``len(histories) == len(candidates)``; the same pair gives the same number
        whatever else is in the batch (no dependence on padding or batch order).
        """
        ...

    def values(self, histories: Sequence[History]) -> np.ndarray:
        """V(h) for each history, shape (len(histories),)."""
        ...

    def save(self, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        """Write a checkpoint folder: ``config.json`` (with "plugin" and ``extra``) and
        safetensors weights. ``Plugins.load("value-model", folder)`` loads it."""
        ...


@attrs.frozen
class PairOutputs:
    """What a value model reads for a batch of (history, candidate) pairs (torch tensors).

    ``q``: f(h, p), shape (B,). ``v``: V(h) when the model gets it from the same forward
    pass (the causal LM does), else None. ``token_q`` / ``token_mask``: Q after every prefix
    of the candidate's tokens, shape (B, T), for token-level training; None when the model
    has no tokens.
    """

    q: Any
    v: Any = None
    token_q: Any = None
    token_mask: Any = None


@runtime_checkable
class TrainableValueModel(ValueModel, Protocol):
    """A value model the IQL trainer (:mod:`pasta_core.iql`) can fit: a torch module plus
    functions that read Q and V out of it (with the online module or its target copy)."""

    #: Every trainable parameter lives here; the trainer's target network is a copy of it.
    module: Any
    #: Whether ``pair_outputs(..., token_level=True)`` fills ``token_q`` (causal LMs).
    supports_token_level: bool

    def prepare(self, histories: Sequence[History], candidates: Sequence[Candidate]) -> Any:
        """Precompute inputs (embeddings, token ids) for these unique histories and
        candidates once; later calls index into them."""
        ...

    def pair_outputs(
        self, module: Any, prepared: Any, history_index: Any, candidate_index: Any, token_level: bool = False
    ) -> PairOutputs:
        """Q (and V where free) of pairs (prepared histories[i], prepared candidates[j])
        computed with ``module`` (the online network or its target copy)."""
        ...

    def history_values(self, module: Any, prepared: Any, history_index: Any) -> Any:
        """V(h) of prepared histories, a (B,) tensor computed with ``module``."""
        ...


@runtime_checkable
class Encoder(Protocol):
    """A text/image encoder pair sharing one embedding space of ``dim`` values (what user
    models build on).

    Embeddings are returned *without* output normalization (the user model adds its
    per-type offsets before normalizing, as in the paper). ``identity`` names the encoder
    and its weights so that cached embeddings are never mixed between encoders."""

    @property
    def dim(self) -> int:
        """Embedding size d (text and image embeddings both have it)."""
        ...

    @property
    def identity(self) -> str:
        """A stable string naming the encoder and its weights (a cache key component)."""
        ...

    def encode_text(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts``: float32, shape (len(texts), dim), not normalized."""
        ...

    def encode_images(self, images: Sequence[Image]) -> np.ndarray:
        """Embeddings of PIL ``images``: float32, shape (len(images), dim), not normalized."""
        ...


@runtime_checkable
class TrainableEncoder(Encoder, Protocol):
    """An encoder whose weights can be fine-tuned (the user model's second training phase).

    ``trainable_module()`` holds every parameter fine-tuning updates; the trainer keeps it
    in eval mode (no dropout, fixed normalization statistics) while training its weights, so
    a run is deterministic and resumes exactly. ``forward_text`` / ``forward_images`` return
    torch tensors on the encoder's device that carry gradients when grad mode is on; images
    are first turned into model inputs by ``prepare_images`` (the model's own preprocessing,
    a CPU tensor, done once per image and cacheable). ``encode_text`` / ``encode_images``
    always reflect the current weights.
    """

    def trainable_module(self) -> Any:
        """The ``torch.nn.Module`` whose parameters fine-tuning trains."""
        ...

    def to(self, device: str) -> TrainableEncoder:
        """Move the trainable module (and later inputs) to ``device``; returns self."""
        ...

    def forward_text(self, texts: Sequence[str]) -> Any:
        """(len(texts), dim) float tensor, not normalized, differentiable."""
        ...

    def prepare_images(self, images: Sequence[Image]) -> Any:
        """PIL images -> model inputs: a CPU tensor with one row per image."""
        ...

    def forward_images(self, prepared: Any) -> Any:
        """(n, dim) float tensor from ``prepare_images`` rows, not normalized, differentiable."""
        ...

    def save_finetuned(self, path: str | Path) -> None:
        """Write the trainable module's weights to ``path`` (safetensors) and mark the
        identity as fine-tuned (with a digest of the file)."""
        ...

    def load_finetuned(self, path: str | Path) -> None:
        """Load weights written by ``save_finetuned`` (the identity follows them)."""
        ...
