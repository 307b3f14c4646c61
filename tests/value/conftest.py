"""Shared fixtures of the value-model tests."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")


@pytest.fixture(scope="session")
def tiny_lm(tmp_path_factory: pytest.TempPathFactory):
    """A tiny random Gemma with an offline-trained tokenizer, saved as a model folder."""
    pytest.importorskip("transformers")
    from pasta_value.tiny import build_tiny_causal_lm

    return build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-gemma"))


@pytest.fixture(autouse=True, scope="module")
def _one_thread():
    """Tiny networks run faster on one thread (and the test machines are shared)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
