"""pasta distill train (Trainer, safetensors, resume, LoRA) and the distilled generator."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pasta_core.config import EpisodeConfig
from pasta_core.errors import BackendError
from pasta_core.plugins import get_plugins
from pasta_llm import GeneratorFallbackWarning


def _request(history, turn=None, word_limit=30, seed=5):
    from pasta_core.config import DEFAULT_CATEGORIES
    from pasta_core.protocols import GenerationRequest

    return GenerationRequest(history, turn or len(history.turns) + 1, DEFAULT_CATEGORIES, 5, word_limit, seed)


def test_compact_model_is_saved_as_safetensors_and_resumes(pairs, compact_model):
    """The model and checkpoints are safetensors; a longer rerun resumes from the last checkpoint."""
    from pasta_distill.train import TrainConfig, train_compact

    folder = Path(compact_model)
    info = json.loads((folder / "distill.json").read_text())
    assert info["codec"] == "compact" and info["training"]["steps"] == 4 and info["edits"] > 0
    assert (folder / "model.safetensors").stat().st_size == info["weights_bytes"]
    assert sorted(p.name for p in (folder / "checkpoints").iterdir()) == ["checkpoint-2", "checkpoint-4"]
    assert (folder / "checkpoints" / "checkpoint-4" / "model.safetensors").is_file()
    again = train_compact(pairs, folder, TrainConfig(steps=6, batch_size=8, save_every=2, width=32), progress=False)
    assert again["training"]["resumed_from"].endswith("checkpoint-4") and again["training"]["steps"] == 6


def test_distilled_agent_proposes_a_slate_in_one_call(compact_model, pairs):
    """The slate comes from one model call: L prompts of distinct categories within the word limit,
    shown as they are by the distilled selector."""
    from pasta_core.engine import Agent, propose
    from pasta_core.streams import EpisodeStreams

    plugins = get_plugins()
    generator = plugins.create("generator", "distilled", model=compact_model)
    agent = Agent(generator, plugins.create("selector", "distilled"), plugins.create("t2i", "procedural"))
    for n, pair in enumerate(pairs[:10]):
        proposal = propose(agent, pair.history, EpisodeConfig(), EpisodeStreams(n))
        assert proposal.slate == proposal.candidates and len(proposal.slate) == 4
        assert len({c.category for c in proposal.slate}) == 4
        assert all(len(c.text.split()) <= pair.word_limit for c in proposal.slate)
        assert all(c.text != pair.history.last_prompt for c in proposal.slate)
    assert generator.requests == 10 and generator.fallbacks == 0


def test_a_failing_model_falls_back_on_the_teacher(teacher_model, compact_model, pairs):
    """Unusable answers are asked again, then the teacher's pipeline answers; without a fallback, one error."""
    from pasta_distill.generator import TeacherPipeline

    plugins = get_plugins()
    generator = plugins.create("generator", "distilled", model=compact_model, fallback="teacher",
                               teacher_model=teacher_model, max_repairs=1)
    asked = []
    generator.ask = lambda prompt: asked.append(prompt) or "not json at all"
    request = _request(pairs[7].history, seed=11)
    with pytest.warns(GeneratorFallbackWarning, match="teacher answered"):
        slate = generator.generate(request)
    teacher = TeacherPipeline(plugins.create("generator", "template"),
                              plugins.create("selector", "value", model=teacher_model), 4)
    assert slate == teacher.generate(request) and slate.fallback == "teacher"
    assert len(asked) == 2 and "could not be used" in asked[1].user and generator.fallback_turns == [request.turn]
    bare = plugins.create("generator", "distilled", model=compact_model, max_repairs=0)
    bare.ask = lambda prompt: '{"slate": []}'
    with pytest.raises(BackendError, match="no usable slate after 1 tries.*fallback=teacher teacher_model=DIR"):
        bare.generate(request)


def test_the_planner_teacher_answers_a_failing_turn(compact_model, pairs, tmp_path):
    """With teacher_selector=user-model-slate the fallback plans with the user model named by
    teacher_model (passed as the planner's user_model); without it, one line naming it."""
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_core.errors import InvalidValueError
    from pasta_distill.generator import TeacherPipeline

    plugins = get_plugins()
    user_model = plugins.create("user-model", "clip-em", types=2, dim=16, seed=1)
    save_checkpoint(tmp_path / "um", user_model.model, user_model.prior)
    generator = plugins.create("generator", "distilled", model=compact_model, fallback="teacher",
                               teacher_selector="user-model-slate", teacher_model=str(tmp_path / "um"),
                               max_repairs=0)
    generator.ask = lambda prompt: "not json at all"
    request = _request(pairs[3].history, seed=4)
    with pytest.warns(GeneratorFallbackWarning, match="teacher answered"):
        slate = generator.generate(request)
    planner = plugins.create("selector", "user-model-slate", user_model=str(tmp_path / "um"))
    assert slate == TeacherPipeline(plugins.create("generator", "template"), planner, 4).generate(request)
    with pytest.raises(InvalidValueError, match="user-model-slate selector needs teacher_model=DIR .the user model"):
        plugins.create("generator", "distilled", model=compact_model, fallback="teacher",
                       teacher_selector="user-model-slate")


def test_chat_model_fine_tunes_fully_or_with_lora(tiny_chat_model, pairs, tmp_path):
    """A chat model is trained on the answer tokens only, LoRA merged on save, and served by
    the distilled generator (a random tiny model answers badly: the teacher's pipeline answers)."""
    from pasta_distill.local import ChatAsk
    from pasta_distill.train import TrainConfig, chat_examples, train_chat

    for lora in (False, True):
        out = tmp_path / f"chat-{lora}"
        info = train_chat(pairs[:8], tiny_chat_model, out, TrainConfig(steps=2, batch_size=4, lr=1e-3, save_every=2,
                                                                       lora=lora), progress=False)
        assert info["lora"] is lora and info["parameters"] == info["base_parameters"]
        assert (out / "model.safetensors").is_file() and not (out / "adapter_config.json").exists()
    from transformers import AutoTokenizer

    examples = chat_examples(pairs[:1], AutoTokenizer.from_pretrained(tiny_chat_model))
    item = examples[0]
    answered = [t for t, label in zip(item["input_ids"], item["labels"]) if label != -100]
    assert answered == item["input_ids"][-len(answered):] and 0 < len(answered) < len(item["input_ids"])
    generator = get_plugins().create("generator", "distilled", model=str(out), max_new_tokens=8, max_repairs=0)
    assert isinstance(generator.ask, ChatAsk)
    with pytest.raises(BackendError, match="no usable slate"):
        generator.generate(_request(pairs[3].history))


def test_a_hosted_fine_tuned_model_through_the_gemini_generator(pairs, monkeypatch):
    """backend=gemini model=ID: the distilled prompt and slate schema go to the provider; its answer is checked."""
    import httpx2

    monkeypatch.setenv("GEMINI_API_KEY", "test-key-0123")
    seen = []
    slate = [{"category": c, "prompt": f"a white cat, {c} {i}"} for i, c in enumerate(["style", "Moods", "detail",
                                                                                      "style", "twist"])]

    def handler(request):
        seen.append((str(request.url), json.loads(request.content)))
        text = json.dumps({"slate": slate})
        return httpx2.Response(200, json={"candidates": [{"content": {"role": "model", "parts": [{"text": text}]},
                                                          "finishReason": "STOP"}]})

    generator = get_plugins().create("generator", "distilled", backend="gemini", model="tunedModels/pasta-123",
                                     http_client=httpx2.Client(transport=httpx2.MockTransport(handler)))
    got = generator.generate(_request(pairs[6].history))
    assert [(c.category, c.text) for c in got] == [("style", "a white cat, style 0"), ("mood", "a white cat, Moods 1"),
                                                   ("detail", "a white cat, detail 2"), ("twist", "a white cat, twist 4")]
    url, body = seen[0]
    assert "tunedModels/pasta-123:generateContent" in url
    assert body["generationConfig"]["responseJsonSchema"]["required"] == ["slate"]
    assert "propose a slate of 4 prompts" in body["contents"][0]["parts"][0]["text"]
    assert generator.requests == 1 and any("second prompt" in r for r in generator.last_repairs)


def test_the_distilled_selector_keeps_the_slate_as_it_is():
    """The selector passes the conformance suite and shows a distilled slate in its order."""
    from pasta_core.testing import check_selector
    from pasta_core.types import Candidate, History

    selector = get_plugins().create("selector", "distilled")
    check_selector(selector, max_examples=20)
    slate = [Candidate("a cat at dusk", "mood"), Candidate("a cat in watercolor", "style"),
             Candidate("a picture of a cat", "rephrase"), Candidate("a cat made of glass", "twist")]
    assert selector.select(History("a cat"), slate, 4, 0) == slate


def test_the_compact_slate_is_sampled_by_the_request_seed(compact_model, pairs):
    """temperature 1 (default): the same request gives the same slate, other seeds other
    slates; temperature 0: the most likely slate whatever the seed."""
    plugins = get_plugins()
    sampled = plugins.create("generator", "distilled", model=compact_model)
    request = _request(pairs[4].history, seed=1)
    assert sampled.generate(request) == sampled.generate(request)
    assert len({tuple(sampled.generate(_request(pairs[4].history, seed=s))) for s in range(8)}) > 1
    greedy = plugins.create("generator", "distilled", model=compact_model, temperature="0")
    assert len({tuple(greedy.generate(_request(pairs[4].history, seed=s))) for s in range(4)}) == 1


def test_teacher_options_reach_the_fallback_selector(compact_model, pairs, tmp_path):
    """``teacher_X=V`` goes to the teacher's selector as ``X=V`` (the bench's planner teacher
    plans at its own renders per candidate and image size); without fallback=teacher, one line."""
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_core.errors import InvalidValueError
    from pasta_distill.generator import TeacherPipeline

    plugins = get_plugins()
    user_model = plugins.create("user-model", "clip-em", types=2, dim=16, seed=1)
    save_checkpoint(tmp_path / "um", user_model.model, user_model.prior)
    generator = plugins.create("generator", "distilled", model=compact_model, fallback="teacher",
                               teacher_selector="user-model-slate", teacher_model=str(tmp_path / "um"),
                               teacher_images=2, teacher_size=32, max_repairs=0)
    selector = generator.fallback.generator.selector
    assert selector.images == 2 and selector.t2i.size == 32
    generator.ask = lambda prompt: "not json at all"
    request = _request(pairs[3].history, seed=4)
    with pytest.warns(GeneratorFallbackWarning, match="teacher answered"):
        slate = generator.generate(request)
    planner = plugins.create("selector", "user-model-slate", user_model=str(tmp_path / "um"), images=2, size=32)
    assert slate == TeacherPipeline(plugins.create("generator", "template"), planner, 4).generate(request)
    with pytest.raises(InvalidValueError, match=r"teacher options \['teacher_images'\] need fallback=teacher"):
        plugins.create("generator", "distilled", model=compact_model, teacher_images=2)
