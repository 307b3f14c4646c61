"""Protocol conformance checks a plugin's own test suite can run.

    from pasta_core.testing import check_selector

    def test_my_selector_follows_the_contract():
        check_selector(MySelector())

Each check raises ``AssertionError`` naming the broken contract. Most are property-based:
they run the component on inputs drawn from :mod:`pasta_core.testing.strategies`
(the encoder checks use two fixed texts and images). ``max_examples`` trades thoroughness
for time (slow backends: use a few); ``shrink=False`` skips the search for the smallest
failing input.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from pasta_core.config import DEFAULT_CATEGORIES, word_limit
from pasta_core.protocols import (
    Aggregator,
    CandidateGenerator,
    Encoder,
    GenerationRequest,
    Selector,
    T2IModel,
    TrainableEncoder,
    UserModel,
)
from pasta_core.testing import strategies as pst
from pasta_core.types import Candidate, Column, word_count


def _settings(max_examples: int, shrink: bool = True) -> Callable[[Any], Any]:
    phases = list(Phase) if shrink else [p for p in Phase if p is not Phase.shrink]
    return settings(
        max_examples=max_examples,
        phases=phases,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        database=None,
        report_multiple_bugs=False,
    )


def check_generator(generator: CandidateGenerator, max_examples: int = 20) -> None:
    """Candidates are in the asked categories, within the word limit, distinct per category,
    ``per_category`` of each, and deterministic for a seed when the backend claims so."""
    assert isinstance(generator, CandidateGenerator), "generate(request) is missing"

    @_settings(max_examples)
    @given(pst.histories(max_turns=3), st.integers(1, 5), st.integers(0, 2**31 - 1))
    def run(history: Any, turns_left: int, seed: int) -> None:
        turn = len(history.turns) + 1
        total = turn + turns_left - 1
        limit = word_limit(word_count(history.initial_prompt), turn, total, 62)
        request = GenerationRequest(history, turn, DEFAULT_CATEGORIES, 5, limit, seed)
        candidates = generator.generate(request)
        assert all(isinstance(c, Candidate) for c in candidates), "return Candidate objects"
        for category in DEFAULT_CATEGORIES:
            texts = [c.text for c in candidates if c.category == category]
            assert len(texts) == 5, f"{len(texts)} candidates for {category!r}, wanted 5"
            assert len(set(texts)) == len(texts), f"duplicate candidates in {category!r}"
        assert {c.category for c in candidates} <= set(DEFAULT_CATEGORIES), "unknown category"
        over = [c.text for c in candidates if word_count(c.text) > limit]
        assert not over, f"over the {limit}-word limit: {over[:2]}"

    run()


def check_selector(selector: Selector, max_examples: int = 50, shrink: bool = True) -> None:
    """Slates have min(L, categories) items, at most one per category, drawn from the
    candidates, and are deterministic for a seed."""
    assert isinstance(selector, Selector), "select(history, candidates, slate_size, seed) is missing"

    @_settings(max_examples, shrink)
    @given(pst.histories(max_turns=2), pst.candidate_lists(), st.integers(1, 6), st.integers(0, 2**31 - 1))
    def run(history: Any, candidates: list[Candidate], size: int, seed: int) -> None:
        slate = selector.select(history, candidates, size, seed)
        n_categories = len({c.category for c in candidates})
        assert len(slate) == min(size, n_categories), f"slate of {len(slate)}, wanted {min(size, n_categories)}"
        assert len({c.category for c in slate}) == len(slate), "two candidates share a category"
        assert set(slate) <= set(candidates), "slate item not among the candidates"
        assert selector.select(history, candidates, size, seed) == slate, "not deterministic for a seed"

    run()


def check_t2i(t2i: T2IModel, max_examples: int = 5, max_batch: int = 4) -> None:
    """One PIL image per (prompt, seed), reproducible for the same prompt and seed."""
    assert isinstance(t2i, T2IModel), "render(prompts, seeds) is missing"

    @_settings(max_examples)
    @given(st.lists(st.tuples(pst.prompts(1, 6), st.integers(0, 2**31 - 1)), min_size=1, max_size=max_batch))
    def run(pairs: list[tuple[str, int]]) -> None:
        prompts, seeds = [p for p, _ in pairs], [s for _, s in pairs]
        images = t2i.render(prompts, seeds)
        assert len(images) == len(pairs), f"{len(images)} images for {len(pairs)} prompts"
        again = t2i.render(prompts[:1], seeds[:1])[0]
        assert np.array_equal(np.asarray(again), np.asarray(images[0])), "same prompt and seed, other image"

    run()


def check_aggregator(aggregator: Aggregator, max_examples: int = 100) -> None:
    """Between min and max of the scores, and invariant to their order."""

    @_settings(max_examples)
    @given(pst.scores(), st.randoms(use_true_random=False))
    def run(scores: np.ndarray, rnd: Any) -> None:
        result = np.asarray(aggregator(scores), dtype=np.float64)
        assert result.shape == scores.shape[:-1], f"shape {result.shape}, wanted {scores.shape[:-1]}"
        tol = 1e-6 * (1 + np.abs(scores).max())
        assert np.all(result >= scores.min(axis=-1) - tol), "below the minimum score"
        assert np.all(result <= scores.max(axis=-1) + tol), "above the maximum score"
        order = list(range(scores.shape[-1]))
        rnd.shuffle(order)
        shuffled = np.asarray(aggregator(scores[..., order]), dtype=np.float64)
        assert np.allclose(shuffled, result, atol=tol), "depends on the order of images"

    run()


def check_user_model(user_model: UserModel, t2i: T2IModel | None = None, max_examples: int = 5) -> None:
    """Scores are (K, images); choice probabilities are rows summing to 1 that follow the
    order of utilities; the posterior is a distribution and is the prior with no data."""
    from pasta_core.testing.fakes import FakeT2I

    renderer = t2i or FakeT2I()
    k = user_model.num_types
    assert np.isclose(np.sum(user_model.prior), 1.0), "prior does not sum to 1"

    @_settings(max_examples)
    @given(pst.prompts(1, 6), st.lists(pst.prompts(1, 6), min_size=2, max_size=4, unique=True), st.integers(0, 1000))
    def run(intent: str, prompts: list[str], seed: int) -> None:
        columns = [
            Column(Candidate(p, f"c{i}"), renderer.render([p, p], [seed, seed + 1]), (seed, seed + 1))
            for i, p in enumerate(prompts)
        ]
        images = [im for c in columns for im in c.images]
        assert np.shape(user_model.scores(intent, images)) == (k, len(images)), "scores shape"
        utilities = np.asarray(user_model.utilities(intent, columns))
        assert utilities.shape == (k, len(columns)), "utilities shape"
        probs = np.asarray(user_model.choice_probabilities(intent, columns))
        assert probs.shape == (k, len(columns)), "choice probabilities shape"
        assert np.allclose(probs.sum(axis=1), 1.0), "choice probabilities do not sum to 1"
        for row_u, row_p in zip(utilities, probs):
            order = np.argsort(row_u, kind="stable")
            assert np.all(np.diff(row_p[order]) >= -1e-9), "a better column is less likely"
        assert np.allclose(user_model.posterior(intent, []), user_model.prior), "no data must give the prior"
        post = np.asarray(user_model.posterior(intent, [(columns, 0)]))
        assert post.shape == (k,) and np.isclose(post.sum(), 1.0), "posterior is not a distribution"

    run()


def _two_images() -> list[Any]:
    from PIL import Image as PILImage

    return [PILImage.new("RGB", (40, 30), c) for c in ((200, 10, 10), (10, 10, 200))]


def check_encoder(encoder: Encoder) -> None:
    """Text and image batches give float32 (n, dim) arrays, finite, empty batches (0, dim);
    text embeddings are deterministic; ``identity`` is a non-empty string."""
    assert isinstance(encoder, Encoder), "dim, identity, encode_text, encode_images are needed"
    texts = encoder.encode_text(["a red cat", "a blue dog"])
    assert texts.shape == (2, encoder.dim) and texts.dtype == np.float32, f"text shape {texts.shape}"
    embedded = encoder.encode_images(_two_images())
    assert embedded.shape == (2, encoder.dim) and embedded.dtype == np.float32, "image shape"
    assert np.all(np.isfinite(texts)) and np.all(np.isfinite(embedded)), "non-finite embedding"
    assert encoder.encode_text([]).shape == (0, encoder.dim), "empty text batch"
    assert encoder.encode_images([]).shape == (0, encoder.dim), "empty image batch"
    again = encoder.encode_text(["a red cat"])
    assert np.allclose(again[0], texts[0], atol=1e-4), "not deterministic"
    assert isinstance(encoder.identity, str) and encoder.identity, "identity must be a string"


def check_trainable_encoder(encoder: TrainableEncoder, atol: float = 1e-4) -> None:
    """:func:`check_encoder`, plus: ``trainable_module()`` is a torch module; the tensor
    paths (``forward_text``, ``prepare_images`` + ``forward_images``) agree with the numpy
    ones within ``atol``; a gradient reaches the module; its ``requires_grad`` flags are
    left as they were. Needs torch."""
    import torch

    check_encoder(encoder)
    assert isinstance(encoder, TrainableEncoder), "trainable_module, forward_text, ... are needed"
    module = encoder.trainable_module()
    assert isinstance(module, torch.nn.Module), "trainable_module() must be a torch module"
    texts = ["a red cat", "a blue dog on a hill"]
    images = _two_images()
    trainable = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(True)
    t = encoder.forward_text(texts)
    i = encoder.forward_images(encoder.prepare_images(images))
    assert tuple(t.shape) == (2, encoder.dim) and tuple(i.shape) == (2, encoder.dim), "tensor shapes"
    assert np.allclose(t.detach().cpu().numpy(), encoder.encode_text(texts), atol=atol), "text paths disagree"
    assert np.allclose(i.detach().cpu().numpy(), encoder.encode_images(images), atol=atol), "image paths disagree"
    module.zero_grad(set_to_none=True)
    (t.square().sum() + i.square().sum()).backward()
    reached = [p for p in module.parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)]
    module.zero_grad(set_to_none=True)
    for p, flag in zip(module.parameters(), trainable):
        p.requires_grad_(flag)
    assert reached, "no gradient reaches the trainable module"
