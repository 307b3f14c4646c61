"""Reading a distilled model's slate: decode, validate against the request, repair what is safe."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pasta_core.errors import InvalidValueError
from pasta_core.types import Candidate, word_count
from pasta_distill.prompt import SlateRequest
from pasta_llm import ParsedAnswer, decode_json, shorten

_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+")


def _category_key(name: Any) -> str:
    key = re.sub(r"[\s_\-]+", "", str(name).lower())
    return key[:-1] if key.endswith("s") else key


def _items(decoded: Any) -> list[tuple[Any, Any]]:
    """(category, prompt) pairs from ``{"slate": [...]}``, a bare list, or ``{category: prompt}``."""
    if isinstance(decoded, Mapping) and isinstance(decoded.get("slate"), list):
        decoded = decoded["slate"]
    if isinstance(decoded, list):
        return [(item.get("category"), item.get("prompt", item.get("text")))
                for item in decoded if isinstance(item, Mapping)]
    if isinstance(decoded, Mapping):
        return [(key, value) for key, value in decoded.items()]
    raise InvalidValueError("the answer is neither a JSON object nor a list")


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = _NUMBERING.sub("", " ".join(value.split()))
    return text.strip().strip("\"'\u201c\u201d").strip() or None


def _fit(text: str, limit: int) -> tuple[str | None, str | None]:
    """(the text within ``limit`` words or None, the repair made)."""
    if word_count(text) <= limit:
        return text, None
    short = shorten(text, limit)
    return short, None if short is None else "cut an over-long prompt at a clause boundary"


def parse_slate(raw: Any, request: SlateRequest) -> ParsedAnswer:
    """Validate a slate answer against ``request``, repairing what is safe to repair.

    Safe repairs: JSON in prose or fences, category names differing in case, spacing or
    plural, numbering and quotes around prompts, a second prompt of a category, unknown
    categories, duplicates and extra items dropped, an over-long prompt cut at a clause
    boundary. Not safe (problems: the caller asks again): non-JSON, fewer usable prompts
    than the slate needs."""
    try:
        items = _items(decode_json(raw))
    except InvalidValueError as exc:
        return ParsedAnswer((), (f"{exc}; answer with a JSON object only",), (), False)
    known = {_category_key(c): c for c in request.categories}
    slate: list[Candidate] = []
    problems: list[str] = []
    repairs: list[str] = []
    for category_name, value in items:
        category, text = known.get(_category_key(category_name)), _clean(value)
        if category is None or text is None:
            repairs.append(f"dropped an item of unknown category {category_name!r} or without a prompt")
            continue
        if any(c.category == category for c in slate) or any(c.text.lower() == text.lower() for c in slate):
            repairs.append(f"{category}: dropped a second prompt of the category or a duplicate")
            continue
        fitted, repair = _fit(text, request.word_limit)
        if fitted is None:
            problems.append(f"{category}: {text[:40]!r}... has {word_count(text)} words, over the "
                            f"{request.word_limit}-word limit")
            continue
        repairs += [f"{category}: {repair}"] if repair else []
        slate.append(Candidate(fitted, category))
    if len(slate) > request.size:
        repairs.append(f"kept the first {request.size} of {len(slate)} prompts")
        slate = slate[: request.size]
    if len(slate) < request.size:
        problems.append(f"{len(slate)} usable prompts of distinct categories, {request.size} wanted")
        return ParsedAnswer(tuple(slate), tuple(problems), tuple(repairs), False)
    return ParsedAnswer(tuple(slate), (), tuple(repairs), True)
