"""Evaluation metrics: PickScore accuracy with ties, Spearman, turn accuracies, picture."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_clip_em.evaluate import choose_threshold, evaluate_turns, pickscore_accuracy, spearman


def test_pickscore_accuracy_with_ties():
    p = np.array([0.9, 0.2, 0.5, 0.55, 0.9])
    y = np.array([1.0, 0.0, 0.5, 0.5, 0.0])
    # t = 0: only p = 0.5 is a predicted tie: 1 + 1 + 1 (tie = tie) + 0.5 (label tie) + 0
    assert pickscore_accuracy(p, y, threshold=0.0) == pytest.approx(3.5 / 5)
    # |0.55 - 0.45| = 0.1 <= 0.15 is a predicted tie too, matching the label tie
    assert pickscore_accuracy(p, y, threshold=0.15) == pytest.approx(4.0 / 5)
    # a predicted tie against a real winner scores 0.5
    assert pickscore_accuracy(np.array([0.5]), np.array([1.0])) == 0.5


def test_threshold_is_chosen_on_validation():
    p = np.array([0.52, 0.48, 0.9, 0.1])
    y = np.array([0.5, 0.5, 1.0, 0.0])
    t = choose_threshold(p, y)
    assert 0.04 <= t < 0.8 and pickscore_accuracy(p, y, t) == 1.0


def test_spearman_with_ties():
    assert spearman([1, 2, 3], [10, 20, 30]) == pytest.approx(1.0)
    assert spearman([1, 2, 3], [3, 2, 1]) == pytest.approx(-1.0)
    assert spearman([1, 1, 2], [1, 2, 3]) == pytest.approx(0.8660254)


def test_turn_accuracies_on_a_known_chooser():
    """Sessions whose choices follow type 0's utilities are predicted well by the model."""
    import torch

    from pasta_clip_em.config import ModelConfig
    from pasta_clip_em.labels import LabelSet, turn_labels
    from pasta_clip_em.model import build_model

    rng = np.random.default_rng(0)
    from pasta_core import get_plugins

    model = build_model(ModelConfig(dim=8, types=2, score_scale=10.0, offset_init=2.0), seed=0)
    text, images = rng.normal(size=(1, 8)).astype(np.float32), rng.normal(size=(60, 8)).astype(np.float32)
    grid = rng.permutation(60)[:48].reshape(4, 3, 4)  # 4 turns, 3 columns, 4 images
    with torch.no_grad():
        s = model.score_matrix(torch.as_tensor(text[0]), torch.as_tensor(images)).numpy()
    best = s[0][grid].max(-1)  # (turns, columns) for type 0
    chosen = best.argmax(1)
    comparison = [np.nan] + [float(np.sign(best[t, chosen[t]] - best[t - 1, chosen[t - 1]])) for t in range(1, 4)]
    labels = LabelSet(text, images, ["s"], turns=turn_labels([0] * 4, [0] * 4, grid, np.ones((4, 3), bool), chosen, comparison))
    result = evaluate_turns(model, np.array([0.999, 0.001]), labels,
                            aggregator=model.config.build_aggregator(get_plugins()))
    assert result["choice_accuracy"] >= 0.75 and result["cross_turn_accuracy"] == 1.0
    assert result["turns"] == 4 and result["cross_turn_pairs"] == 3


def test_top_images_picture_has_a_row_per_type(tiny_user_model):
    from PIL import Image

    from pasta_clip_em.figure import top_images_picture

    items = [("a cat", Image.new("RGB", (20, 20), (i * 20, 0, 255 - i * 20))) for i in range(8)]
    picture = top_images_picture(tiny_user_model, items, per_type=4, thumb=32)
    assert picture.size == (150 + 4 * 36, 3 * 36 + 4)


def test_the_picture_numbers_types_from_one():
    from pasta_clip_em.figure import type_label

    assert type_label(0, 0.25) == "type 1  prior 0.25" and type_label(7, 0.125).startswith("type 8 ")
