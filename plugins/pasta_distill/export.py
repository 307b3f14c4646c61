"""Writing and reading the supervised pairs: OpenAI chat JSONL, Gemini / Vertex AI JSONL
and a plain Parquet (the one this project's trainer reads; the history kept structured)."""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from pasta_core.atomic import write_atomically, write_text
from pasta_core.errors import SessionError
from pasta_core.types import Candidate, History, Turn
from pasta_distill.pairs import Pair
from pasta_distill.prompt import SYSTEM_INSTRUCTION, SlateRequest, slate_answer, user_text
from pasta_distill.schemas import check_lines

FILES = {"openai": "openai.jsonl", "gemini": "gemini.jsonl", "parquet": "pairs.parquet"}
FORMATS = tuple(FILES)


def request_of(pair: Pair) -> SlateRequest:
    """The slate request a pair answers (seed 0: the answer is the target, not a sample)."""
    return SlateRequest(pair.history, pair.turn, pair.categories, pair.slate_size, pair.word_limit, 0)


def openai_line(pair: Pair) -> dict[str, Any]:
    """One OpenAI chat fine-tuning example."""
    return {"messages": [{"role": "system", "content": SYSTEM_INSTRUCTION},
                         {"role": "user", "content": user_text(request_of(pair))},
                         {"role": "assistant", "content": slate_answer(pair.slate)}]}


def gemini_line(pair: Pair) -> dict[str, Any]:
    """One Gemini / Vertex AI supervised tuning example."""
    return {"systemInstruction": {"role": "system", "parts": [{"text": SYSTEM_INSTRUCTION}]},
            "contents": [{"role": "user", "parts": [{"text": user_text(request_of(pair))}]},
                         {"role": "model", "parts": [{"text": slate_answer(pair.slate)}]}]}


def history_json(history: History) -> str:
    """A history as JSON: the initial prompt and per turn the slate, choice and critique."""
    return json.dumps({"initial_prompt": history.initial_prompt, "turns": [
        {"slate": [[c.category, c.text] for c in t.slate], "choice": t.choice, "critique": t.critique}
        for t in history.turns]}, ensure_ascii=False)


def history_from_json(text: str) -> History:
    data = json.loads(text)
    history = History(data["initial_prompt"])
    for t in data["turns"]:
        slate = [Candidate(text, category) for category, text in t["slate"]]
        history = history.append(Turn(slate, slate, t["choice"], critique=t["critique"]))
    return history


SCHEMA = pa.schema([
    ("source", pa.string()), ("session_id", pa.string()), ("turn", pa.int32()), ("history", pa.string()),
    ("categories", pa.list_(pa.string())), ("slate_size", pa.int32()), ("word_limit", pa.int32()),
    ("slate_categories", pa.list_(pa.string())), ("slate_prompts", pa.list_(pa.string())),
    ("system", pa.string()), ("user", pa.string()), ("answer", pa.string()),
])


def parquet_table(pairs: Sequence[Pair]) -> pa.Table:
    rows: dict[str, list[Any]] = {name: [] for name in SCHEMA.names}
    for p in pairs:
        values = [p.source, p.session_id, p.turn, history_json(p.history), list(p.categories), p.slate_size,
                  p.word_limit, [c.category for c in p.slate], [c.text for c in p.slate], SYSTEM_INSTRUCTION,
                  user_text(request_of(p)), slate_answer(p.slate)]
        for name, value in zip(SCHEMA.names, values):
            rows[name].append(value)
    return pa.table(rows, schema=SCHEMA)


def _parquet_writer(table: pa.Table) -> Callable[[Path], None]:
    def write(tmp: Path) -> None:
        pq.write_table(table, tmp)
    return write


def _jsonl(lines: Iterable[dict[str, Any]]) -> str:
    return "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines)


def write_pairs(pairs: Sequence[Pair], out: str | os.PathLike[str], formats: Sequence[str] = FORMATS) -> dict[str, Any]:
    """Write ``pairs`` in each of ``formats`` to the folder ``out``, every JSONL line checked
    against its provider's format first; returns {format: {"file", "rows"}}."""
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {}
    for kind in formats:
        path = folder / FILES[kind]
        if kind == "parquet":
            write_atomically(path, _parquet_writer(parquet_table(pairs)))
        else:
            lines = [openai_line(p) if kind == "openai" else gemini_line(p) for p in pairs]
            check_lines(kind, lines, str(path))
            write_text(path, _jsonl(lines))
        written[kind] = {"file": str(path), "rows": len(pairs)}
    return written


def read_pairs(paths: Iterable[str | os.PathLike[str]]) -> list[Pair]:
    """Pairs from ``pairs.parquet`` files or folders holding one."""
    pairs: list[Pair] = []
    for entry in map(Path, paths):
        file = entry / FILES["parquet"] if entry.is_dir() else entry
        if not file.is_file():
            raise SessionError(f"no distillation pairs at {entry} (write them with `pasta distill data`)")
        try:
            table = pq.read_table(file)
        except (pa.ArrowInvalid, OSError) as exc:
            raise SessionError(f"{file} is not a distillation pairs Parquet file: {exc}") from None
        missing = set(SCHEMA.names) - set(table.column_names)
        if missing:
            raise SessionError(f"{file} is not a distillation pairs file (missing columns {sorted(missing)})")
        for row in table.to_pylist():
            slate = tuple(Candidate(t, c) for c, t in zip(row["slate_categories"], row["slate_prompts"]))
            pairs.append(Pair(row["source"], row["session_id"], row["turn"], history_from_json(row["history"]),
                              tuple(row["categories"]), row["slate_size"], row["word_limit"], slate))
    return pairs
