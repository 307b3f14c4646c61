"""Fixtures of the distillation tests: a small teacher, its pairs and a compact model
trained for a few steps (each built once per module)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHAT_TEMPLATE = (
    "{% for m in messages %}<start_of_turn>{{ m['role'] }}\n{{ m['content'] }}<end_of_turn>\n{% endfor %}"
    "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
)


@pytest.fixture(scope="module")
def teacher_model(tmp_path_factory):
    """An (untrained) embedded value model over hashed words: a teacher with real choices."""
    from pasta_core.plugins import get_plugins

    folder = tmp_path_factory.mktemp("teacher")
    get_plugins().create("value-model", "embedded", encoder="words", dim=32, width=16, seed=3).save(folder)
    return str(folder)


@pytest.fixture(scope="module")
def sessions(tmp_path_factory):
    """Six recorded sessions (random policy, the simple simulated user) in a Parquet file."""
    from pasta_core.engine import Agent, run_episodes
    from pasta_core.plugins import get_plugins
    from pasta_core.store import write_trajectories
    from pasta_users import SimulatedUser

    plugins = get_plugins()
    agent = Agent(plugins.create("generator", "template"), plugins.create("selector", "random"),
                  plugins.create("t2i", "procedural", size=32))
    user_model = plugins.create("user-model", "simple")
    prompts = ["a white cat", "a red car on a street", "an old lighthouse", "a bowl of fruit", "a quiet lake",
               "a city at night"]
    trajectories = run_episodes(agent, [SimulatedUser(user_model, i % user_model.num_types) for i in range(6)], prompts)
    path = tmp_path_factory.mktemp("sessions") / "sessions.parquet"
    write_trajectories(path, trajectories)
    return str(path)


@pytest.fixture(scope="module")
def pairs(teacher_model, sessions):
    from pasta_core.config import EpisodeConfig
    from pasta_core.plugins import get_plugins
    from pasta_distill.collect import DataSpec, recorded_sessions, teacher_agent
    from pasta_distill.pairs import teacher_pairs

    spec = DataSpec(sessions=(sessions,), teacher_options={"model": teacher_model})
    return list(teacher_pairs(teacher_agent(spec, get_plugins()), recorded_sessions([sessions]), EpisodeConfig(),
                              "human"))


@pytest.fixture(scope="module")
def compact_model(pairs, tmp_path_factory):
    from pasta_distill.train import TrainConfig, train_compact

    folder = tmp_path_factory.mktemp("compact")
    train_compact(pairs, folder, TrainConfig(steps=4, batch_size=8, save_every=2, width=32), progress=False)
    return str(folder)


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory):
    """A tiny random Gemma with an offline tokenizer, given a chat template."""
    from transformers import AutoTokenizer

    from pasta_value.tiny import build_tiny_causal_lm

    folder = build_tiny_causal_lm(tmp_path_factory.mktemp("tiny-chat"), ['{"slate": [{"category": "style"}]}'])
    tokenizer = AutoTokenizer.from_pretrained(folder)
    tokenizer.chat_template = CHAT_TEMPLATE
    tokenizer.save_pretrained(folder)
    return str(folder)
