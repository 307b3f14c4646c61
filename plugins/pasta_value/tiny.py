"""A tiny random causal LM folder for tests and benchmarks (same loading code as Gemma 2B).

Builds a Gemma from a config (hidden 32, 2 layers, 4 heads, 1 KV head) and a tokenizer
trained offline on a small corpus, and saves both with ``save_pretrained``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pasta_core.errors import require

CORPUS = [
    "Initial prompt: a white cat on a red sofa",
    "Turn 1 slate: 1. a fluffy white cat 2. oil painting of a cat 3. a cat at dusk",
    "Turn 1 chosen: a fluffy white cat in soft morning light",
    "Turn 1 critique: more colour please",
    "Candidate: a watercolor city skyline at night with neon lights",
    "Q V a b c d e f g h i j k l m n o p q r s t u v w x y z 0 1 2 3 4 5 6 7 8 9 , . : -",
]


def build_tiny_causal_lm(folder: str | Path, corpus: Iterable[str] = (), vocab_size: int = 400,
                         hidden: int = 32, layers: int = 2, seed: int = 0) -> Path:
    """Write a tiny random Gemma and its tokenizer to ``folder``; returns the folder."""
    torch = require("torch", "causal-lm")
    transformers = require("transformers", "causal-lm")
    texts = list(CORPUS) + list(corpus)
    tokenizer = transformers.GemmaTokenizer().train_new_from_iterator(texts * 20, vocab_size=vocab_size)
    config = transformers.GemmaConfig(
        vocab_size=len(tokenizer), hidden_size=hidden, intermediate_size=2 * hidden,
        num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=1, head_dim=hidden // 4,
        pad_token_id=tokenizer.pad_token_id, bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    torch.manual_seed(seed)
    model = transformers.GemmaForCausalLM(config)
    folder = Path(folder)
    model.save_pretrained(str(folder))
    tokenizer.save_pretrained(str(folder))
    return folder
