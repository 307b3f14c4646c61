"""The local-llm generator on a tiny random Gemma chat model saved to a folder."""

from __future__ import annotations

import json
import string

import pytest

from pasta_core import get_plugins
from pasta_core.errors import BackendError, InvalidValueError
from pasta_llm import GeneratorFallbackWarning, build_prompt

TEMPLATE = (
    "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory):
    import torch
    from transformers import GemmaConfig, GemmaForCausalLM, GemmaTokenizer

    corpus = ['{"rephrase": ["a white cat on a red sofa"], "style": ["oil painting"]}', string.printable] * 5
    tokenizer = GemmaTokenizer().train_new_from_iterator(corpus, vocab_size=300)
    tokenizer.chat_template = TEMPLATE
    torch.manual_seed(0)
    config = GemmaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=1, head_dim=8, pad_token_id=0,
                         eos_token_id=1, bos_token_id=2)
    folder = tmp_path_factory.mktemp("tiny-chat")
    GemmaForCausalLM(config).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def _local(folder, **options):
    return get_plugins().create("generator", "local-llm", model=folder, device="cpu", max_new_tokens="12", **options)


def test_a_well_formed_answer_is_used(tiny_chat_model, make_request):
    import torch

    gen = _local(tiny_chat_model)
    request = make_request(turns=2)
    prompt = build_prompt(request)
    answer = {c: [f"a {c} prompt {i}" for i in range(5)] for c in request.categories}
    tokenizer, seen = gen.ask.tokenizer, []

    def generate(ids, **kwargs):
        seen.append((tokenizer.decode(ids[0]), kwargs))
        reply = tokenizer(json.dumps(answer), add_special_tokens=False, return_tensors="pt").input_ids
        return torch.cat([ids, reply], dim=1)

    gen.ask.model.generate = generate
    candidates = gen.generate(request)
    assert [c.text for c in candidates] == [t for ts in answer.values() for t in ts]
    text, kwargs = seen[0]
    assert prompt.user in text and prompt.system in text and '"minItems":5' in text
    assert text.rstrip().endswith("<start_of_turn>model")
    assert (kwargs["do_sample"], kwargs["top_p"], kwargs["max_new_tokens"]) == (True, 0.9, 12)


def test_sampling_is_seeded(tiny_chat_model, make_request):
    gen = _local(tiny_chat_model)
    prompt = build_prompt(make_request(seed=11))
    assert gen.ask(prompt) == gen.ask(prompt)


def test_random_model_gives_up_or_falls_back(tiny_chat_model, make_request):
    request = make_request()
    with pytest.raises(BackendError, match="local-llm gave no usable answer after 2 tries"):
        _local(tiny_chat_model, max_repairs="1").generate(request)
    gen = _local(tiny_chat_model, max_repairs="0", fallback="template")
    with pytest.warns(GeneratorFallbackWarning):
        candidates = gen.generate(request)
    assert candidates == get_plugins().create("generator", "template").generate(request)
    assert gen.fallback_turns == [request.turn]


def test_missing_model_folder_is_explained(tmp_path):
    with pytest.raises(InvalidValueError, match="needs a model folder"):
        get_plugins().create("generator", "local-llm")
    with pytest.raises(BackendError, match="not a transformers model folder .*--generator-option model="):
        get_plugins().create("generator", "local-llm", model=str(tmp_path))
