"""The exported pairs: the teacher's slates, in the providers' documented tuning formats."""

from __future__ import annotations

import json

import pytest

from pasta_core.errors import InvalidValueError
from pasta_distill.export import history_json, read_pairs, write_pairs
from pasta_distill.schemas import check_lines, gemini_problems, openai_problems


def test_pairs_are_the_teachers_slates(pairs, teacher_model, sessions):
    """One pair per recorded turn; each target is what the teacher proposes for that history."""
    from pasta_core.config import EpisodeConfig
    from pasta_core.engine import propose
    from pasta_core.plugins import get_plugins
    from pasta_core.streams import EpisodeStreams
    from pasta_distill.collect import DataSpec, recorded_sessions, teacher_agent
    from pasta_distill.pairs import episode_seed

    recorded = recorded_sessions([sessions])
    assert len(pairs) == sum(len(t.turns) for t in recorded)
    teacher = teacher_agent(DataSpec(teacher_options={"model": teacher_model}), get_plugins())
    for pair in pairs[::7]:
        again = propose(teacher, pair.history, EpisodeConfig(), EpisodeStreams(episode_seed(pair.session_id, 0)))
        assert tuple(again.slate) == pair.slate
        assert len({c.category for c in pair.slate}) == len(pair.slate) == 4
    assert {p.turn for p in pairs} == {1, 2, 3, 4, 5}


def test_every_format_is_written_and_valid(pairs, tmp_path):
    """OpenAI and Gemini lines pass the documented schemas; the Parquet reads back the same pairs."""
    files = write_pairs(pairs, tmp_path)
    assert {k: v["rows"] for k, v in files.items()} == {"openai": len(pairs), "gemini": len(pairs),
                                                        "parquet": len(pairs)}
    openai = [json.loads(x) for x in (tmp_path / "openai.jsonl").read_text().splitlines()]
    gemini = [json.loads(x) for x in (tmp_path / "gemini.jsonl").read_text().splitlines()]
    assert len(openai) == len(gemini) == len(pairs)
    assert all(openai_problems(line) == [] for line in openai)
    assert all(gemini_problems(line) == [] for line in gemini)
    answer = json.loads(openai[3]["messages"][-1]["content"])
    assert [(i["category"], i["prompt"]) for i in answer["slate"]] == [(c.category, c.text) for c in pairs[3].slate]
    assert gemini[3]["contents"][1]["parts"][0]["text"] == openai[3]["messages"][-1]["content"]
    back = read_pairs([tmp_path])  # the history keeps what was shown (slates), not every candidate
    assert [(history_json(p.history), p.slate, p.word_limit, p.turn) for p in back] == \
           [(history_json(p.history), p.slate, p.word_limit, p.turn) for p in pairs]


GOOD_OPENAI = {"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                            {"role": "assistant", "content": "a", "weight": 1}]}
GOOD_GEMINI = {"systemInstruction": {"parts": [{"text": "s"}]},
               "contents": [{"role": "user", "parts": [{"text": "u"}, {"fileData": {"mimeType": "image/png",
                                                                                     "fileUri": "gs://b/i.png"}}]},
                            {"role": "model", "parts": [{"text": "a"}]}]}


@pytest.mark.parametrize("line", [
    {"messages": [{"role": "user", "content": "u"}]},  # one message, no assistant
    {"messages": [{"role": "user", "content": "u"}, {"role": "user", "content": "v"}]},  # nothing to learn
    {"messages": [{"role": "robot", "content": "u"}, {"role": "assistant", "content": "a"}]},
    {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a", "weight": 2}]},
    {"messages": [{"role": "user", "content": "u", "weight": 1}, {"role": "assistant", "content": "a"}]},
    {"messages": [{"role": "user"}, {"role": "assistant", "content": "a"}]},
    {"prompt": "u", "completion": "a"},  # the legacy completions format
])
def test_openai_format_breaks_are_found(line):
    assert openai_problems(GOOD_OPENAI) == []
    assert openai_problems(line)


@pytest.mark.parametrize("line", [
    {"contents": [{"role": "user", "parts": [{"text": "u"}]}]},  # no target
    {"contents": [{"role": "model", "parts": [{"text": "a"}]}, {"role": "user", "parts": [{"text": "u"}]}]},
    {"contents": [{"role": "user", "parts": [{"text": "u"}]}, {"role": "assistant", "parts": [{"text": "a"}]}]},
    {"contents": [{"role": "user", "parts": []}, {"role": "model", "parts": [{"text": "a"}]}]},
    {"contents": [{"role": "user", "parts": [{"fileData": {"fileUri": "gs://x"}}]},
                  {"role": "model", "parts": [{"text": "a"}]}]},
    {"messages": GOOD_OPENAI["messages"]},
])
def test_gemini_format_breaks_are_found(line):
    assert gemini_problems(GOOD_GEMINI) == []
    assert gemini_problems(line)


def test_a_bad_line_is_named():
    with pytest.raises(InvalidValueError, match=r"out.jsonl line 2 is not a valid gemini tuning example"):
        check_lines("gemini", [GOOD_GEMINI, {"contents": []}], "out.jsonl")


@pytest.mark.parametrize(("base", "text"), [
    ("a white cat", "a white cat at golden hour"),
    ("a white cat at dusk", "a white cat, as an oil painting at dusk"),
    ("a white cat, as an oil painting", "a white cat, in watercolor"),
    ("a white cat", "a picture of a white cat"),
    ("a white cat in the snow seen up close", "a white cat in the snow on a pirate ship seen up close"),
])
def test_an_edit_writes_the_prompt_again_and_carries_over(base, text):
    """The compact codec's edits rewrite the teacher's prompt from its base, and apply to other
    prompts that hold the same anchor (what lets the model propose for new intents)."""
    from pasta_distill.codec import apply_edit, edit_of

    edit = edit_of(text, base)
    assert apply_edit(edit, base) == text
    other = base.replace("a white cat", "an old lighthouse")
    assert apply_edit(edit, other) == text.replace("a white cat", "an old lighthouse")
