"""The bench's EM settings (``[bench] em_*``) reach the clip-em trainer and model."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from pasta_clip_em.labels import LabelSet, pair_labels
from pasta_core import get_plugins
from pasta_core.errors import InvalidValueError
from pasta_planted.bench_em import em_train_config, train_em
from pasta_planted.config import BenchConfig, parse_config
from pasta_planted.world import PlantedWorld

_WORLD = {"seed": 1, "types": 3}


def test_em_keys_reach_the_train_config() -> None:
    """A world file's em_lr / em_batch / em_weight_decay are the trainer's; the defaults
    are the ones the bench trained with before they were keys."""
    config = parse_config({"world": _WORLD, "bench": {"em_lr": 3e-3, "em_batch": 128, "em_weight_decay": 0.0}})
    train = em_train_config(config.bench, seed=5)
    assert (train.lr, train.batch_size, train.weight_decay, train.seed) == (3e-3, 128, 0.0, 5)
    default = em_train_config(BenchConfig(), seed=0)
    assert (default.lr, default.batch_size, default.weight_decay) == (1e-3, 64, 1e-2)
    assert (default.target_every, default.split_every) == (25, 50)


def test_em_hidden_and_score_scale_reach_the_model(tmp_path: Path) -> None:
    """em_hidden is the width of the trained model's offset MLPs (0: em_dim), em_score_scale
    its initial score scale."""
    rng = np.random.default_rng(0)
    dim, n = 4, 6
    labels = LabelSet(rng.normal(size=(2, dim)).astype(np.float32), rng.normal(size=(2 * n, dim)).astype(np.float32),
                      ["r0", "r1"], pairs=pair_labels(np.arange(n) % 2, np.zeros(n, int), np.arange(n),
                                                      n + np.arange(n), np.ones(n, np.float32)))
    world = PlantedWorld(parse_config({"world": _WORLD}))
    for hidden, width in ((7, 7), (0, dim)):
        bench = {"em_hidden": hidden, "em_steps": 2, "em_batch": 2, "em_score_scale": 20 + hidden}
        sizes = parse_config({"world": _WORLD, "bench": bench}).bench
        trained = train_em(labels, world, sizes, tmp_path / f"h{hidden}", seed=0, progress=False,
                           plugins=get_plugins())
        assert trained["model"].config.hidden == hidden
        assert trained["model"].config.score_scale == 20 + hidden
        assert trained["model"].text.heads.in_features == width


@pytest.mark.parametrize(("key", "value", "words"), [
    ("em_lr", 0, "em_lr must be positive"), ("em_lr", -1e-3, "em_lr must be positive"),
    ("em_batch", 0, "em_batch must be at least 1"), ("em_weight_decay", -0.1, "em_weight_decay must be 0 or more"),
    ("em_hidden", -1, "em_hidden must be at least 0"), ("em_lr", "fast", "em_lr must be a finite number"),
    ("em_score_scale", 0, "em_score_scale must be positive"),
])
def test_bad_em_values_are_one_line_errors(key: str, value: object, words: str) -> None:
    with pytest.raises(InvalidValueError, match=words) as caught:
        parse_config({"world": _WORLD, "bench": {key: value}})
    assert "\n" not in str(caught.value)


def test_the_paired_difference_uses_the_seeds_both_settings_finished() -> None:
    """A setting that failed on one training seed of a world is paired with the first
    setting on the seeds both finished (its one finished seed's row was set against the
    first setting's two rows): the difference is exactly the shared seed's."""
    import importlib.util

    path = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_planted_em_settings.py"
    spec = importlib.util.spec_from_file_location("bench_planted_em_settings", path)
    script = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(script)
    n = 4
    table = lambda learned: {"learned_expected": [learned] * n, "bayes_expected": [3.0] * n,  # noqa: E731
                             "chance": [1.0] * n, "turns": [5] * n}

    def row(setting, seed, learned, status="ok"):
        return {"world": "world-00", "seed": seed, "setting": setting, "status": status, "ari": 0.0,
                "ari_planted": 0.0, "gap_share": 0.5 if status == "ok" else None, "train_gap_share": 0.5,
                "seconds": 1.0, "train_seconds": 1.0, "sessions": table(learned) if status == "ok" else None}

    base, new = {}, {"em_lr": 0.01}
    rows = [row(base, 0, 2.0), row(base, 1, 1.0), row(new, 0, 2.5), row(new, 1, 0.0, status="failed")]
    first, second = script.means(rows, [base, new])
    assert second["runs"] == 1 and first["runs"] == 2
    assert second["minus_first"]["value"] == pytest.approx(0.25)  # (2.5 - 2.0) / (3 - 1), seed 0 only
    assert second["minus_first"]["ci95"] == pytest.approx([0.25, 0.25])
