"""Writing and reading the supervised pairs: OpenAI chat JSONL, Gemini / Vertex AI JSONL
and a plain Parquet (the one this project's trainer reads; the history kept structured).

With history images (:mod:`pasta_distill.history_images`) the user message carries them
after its text, each after a caption naming its turn and column: in OpenAI's vision
fine-tuning form (content parts ``{"type": "image_url", "image_url": {"url":
"data:image/png;base64,..."}}``), in Gemini / Vertex AI's (parts ``{"inlineData":
{"mimeType": "image/png", "data": ...}}``), and in the Parquet file as the columns
``images`` (PNG bytes) and ``image_captions``. The formats and their limits are cited in
:mod:`pasta_distill.schemas`. Rows are written as they come (:class:`PairWriter`), so a
large export never sits in memory.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from pasta_core.atomic import move_into_place
from pasta_core.errors import SessionError
from pasta_core.types import Candidate, History, Turn
from pasta_distill.pairs import Pair
from pasta_distill.prompt import SYSTEM_INSTRUCTION, SlateRequest, slate_answer, user_text
from pasta_distill.schemas import check_line
from pasta_llm import ImagePart

FILES = {"openai": "openai.jsonl", "gemini": "gemini.jsonl", "parquet": "pairs.parquet"}
FORMATS = tuple(FILES)


def request_of(pair: Pair) -> SlateRequest:
    """The slate request a pair answers (seed 0: the answer is the target, not a sample)."""
    return SlateRequest(pair.history, pair.turn, pair.categories, pair.slate_size, pair.word_limit, 0)


def openai_line(pair: Pair, images: Sequence[ImagePart] = ()) -> dict[str, Any]:
    """One OpenAI chat fine-tuning example (the user content a string without images, and
    text and ``image_url`` parts with them)."""
    text = user_text(request_of(pair))
    content: str | list[dict[str, Any]] = text
    if images:
        content = [{"type": "text", "text": text}]
        for image in images:
            content += [{"type": "text", "text": image.caption},
                        {"type": "image_url", "image_url": {"url": image.data_url}}]
    return {"messages": [{"role": "system", "content": SYSTEM_INSTRUCTION},
                         {"role": "user", "content": content},
                         {"role": "assistant", "content": slate_answer(pair.slate)}]}


def gemini_line(pair: Pair, images: Sequence[ImagePart] = ()) -> dict[str, Any]:
    """One Gemini / Vertex AI supervised tuning example (images as ``inlineData`` parts)."""
    parts: list[dict[str, Any]] = [{"text": user_text(request_of(pair))}]
    for image in images:
        parts += [{"text": image.caption}, {"inlineData": {"mimeType": image.mime, "data": image.base64}}]
    return {"systemInstruction": {"role": "system", "parts": [{"text": SYSTEM_INSTRUCTION}]},
            "contents": [{"role": "user", "parts": parts},
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


#: The columns a Parquet export with images adds.
IMAGE_COLUMNS = [("images", pa.list_(pa.binary())), ("image_captions", pa.list_(pa.string()))]
ROW_GROUP = 256


def parquet_row(pair: Pair) -> dict[str, Any]:
    """One Parquet row of ``pair`` (the columns of :data:`SCHEMA`)."""
    values = [pair.source, pair.session_id, pair.turn, history_json(pair.history), list(pair.categories),
              pair.slate_size, pair.word_limit, [c.category for c in pair.slate], [c.text for c in pair.slate],
              SYSTEM_INSTRUCTION, user_text(request_of(pair)), slate_answer(pair.slate)]
    return dict(zip(SCHEMA.names, values))


def parquet_table(pairs: Sequence[Pair]) -> pa.Table:
    return pa.Table.from_pylist([parquet_row(p) for p in pairs], schema=SCHEMA)


class PairWriter:
    """Writes pairs one by one to each of ``formats`` in ``folder`` (every JSONL line
    checked first, Parquet in row groups); the files appear whole when :meth:`close`
    moves them into place, and none does if the writing fails. ``images``: whether rows
    carry history images (the Parquet file gets the image columns); ``max_side``: the
    longest side the checks allow them."""

    def __init__(self, folder: str | os.PathLike[str], formats: Sequence[str] = FORMATS, images: bool = False,
                 max_side: int | None = None) -> None:
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.formats, self.max_side, self.rows = tuple(formats), max_side, 0
        self.schema = pa.schema([*SCHEMA, *IMAGE_COLUMNS]) if images else SCHEMA
        self._tmp = {kind: self.folder / f".{FILES[kind]}.tmp" for kind in self.formats}
        self._jsonl: dict[str, IO[str]] = {}
        self._parquet: pq.ParquetWriter | None = None
        self._buffer: list[dict[str, Any]] = []
        try:
            for kind in self.formats:
                if kind == "parquet":
                    self._parquet = pq.ParquetWriter(self._tmp[kind], self.schema)
                else:
                    self._jsonl[kind] = self._tmp[kind].open("w", encoding="utf-8")
        except BaseException:  # one file could not be opened: leave none of the others behind
            self.abandon()
            raise

    def add(self, pair: Pair, images: Sequence[ImagePart] = ()) -> None:
        """Write one row of ``pair`` (with ``images``, the history images it carries)."""
        self.rows += 1
        for kind, stream in self._jsonl.items():
            line = openai_line(pair, images) if kind == "openai" else gemini_line(pair, images)
            check_line(kind, line, str(self.folder / FILES[kind]), self.rows, self.max_side)
            stream.write(json.dumps(line, ensure_ascii=False) + "\n")
        if self._parquet is not None:
            row = parquet_row(pair)
            if len(self.schema) > len(SCHEMA):
                row.update(images=[i.data for i in images], image_captions=[i.caption for i in images])
            self._buffer.append(row)
            if len(self._buffer) >= ROW_GROUP:
                self._flush()

    def _flush(self) -> None:
        if self._buffer and self._parquet is not None:
            self._parquet.write_table(pa.Table.from_pylist(self._buffer, schema=self.schema))
            self._buffer = []

    def _shut(self) -> None:
        for stream in self._jsonl.values():
            stream.close()
        if self._parquet is not None:
            self._parquet.close()

    def close(self) -> dict[str, Any]:
        """Finish the files and move them into place: {format: {"file", "rows", "bytes"}}."""
        self._flush()
        self._shut()
        written = {}
        for kind, tmp in self._tmp.items():
            path = move_into_place(tmp, self.folder / FILES[kind])
            written[kind] = {"file": str(path), "rows": self.rows, "bytes": path.stat().st_size}
        return written

    def abandon(self) -> None:
        """Drop the unfinished files (after a failure)."""
        self._shut()
        for tmp in self._tmp.values():
            if not tmp.is_dir():  # never a folder that was in the way
                tmp.unlink(missing_ok=True)

    def __enter__(self) -> PairWriter:
        return self

    def __exit__(self, kind: Any, *rest: Any) -> None:
        if kind is not None:
            self.abandon()


def write_pairs(pairs: Iterable[Pair], out: str | os.PathLike[str], formats: Sequence[str] = FORMATS) -> dict[str, Any]:
    """Write ``pairs`` (text only) in each of ``formats`` to the folder ``out``, every JSONL
    line checked against its provider's format first; returns {format: {"file", "rows", "bytes"}}."""
    with PairWriter(out, formats) as writer:
        for pair in pairs:
            writer.add(pair)
        return writer.close()


def read_pairs(paths: Iterable[str | os.PathLike[str]]) -> list[Pair]:
    """Pairs from ``pairs.parquet`` files or folders holding one."""
    pairs: list[Pair] = []
    for entry in map(Path, paths):
        file = entry / FILES["parquet"] if entry.is_dir() else entry
        if not file.is_file():
            raise SessionError(f"no distillation pairs at {entry} (write them with `pasta distill data`)")
        try:
            missing = set(SCHEMA.names) - set(pq.read_schema(file).names)
            if missing:
                raise SessionError(f"{file} is not a distillation pairs file (missing columns {sorted(missing)})")
            table = pq.read_table(file, columns=SCHEMA.names)  # not the images: the trainer reads text
        except (pa.ArrowInvalid, OSError) as exc:
            raise SessionError(f"{file} is not a distillation pairs Parquet file: {exc}") from None
        for row in table.to_pylist():
            slate = tuple(Candidate(t, c) for c, t in zip(row["slate_categories"], row["slate_prompts"]))
            pairs.append(Pair(row["source"], row["session_id"], row["turn"], history_from_json(row["history"]),
                              tuple(row["categories"]), row["slate_size"], row["word_limit"], slate))
    return pairs
