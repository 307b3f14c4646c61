"""Reading a provider's answer: decode, validate against the request, repair what is safe."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import attrs

from pasta_core.errors import BackendError, InvalidValueError
from pasta_core.protocols import GenerationRequest
from pasta_core.types import Candidate, word_count

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)
_NUMBERING = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+")
_CLAUSE_END = re.compile(r"[,;:]")


@attrs.frozen
class ParsedAnswer:
    """Candidates read from an answer, and the problems found (``complete`` when none block use)."""

    candidates: tuple[Candidate, ...]
    problems: tuple[str, ...]
    repairs: tuple[str, ...]
    complete: bool


def decode_json(raw: Any) -> Any:
    """Decode an answer: an object passes through; text may wrap its JSON in fences or prose."""
    if not isinstance(raw, (str, bytes)):
        return raw
    text = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    attempts = [text, *_FENCE.findall(text)]
    for opener, closer in ("{}", "[]"):
        start, end = text.find(opener), text.rfind(closer)
        if 0 <= start < end:
            attempts.append(text[start : end + 1])
    for attempt in attempts:
        try:
            return json.loads(attempt)
        except ValueError:
            continue
    raise InvalidValueError("the answer is not JSON")


def not_an_answer(provider: str, page: Any = None) -> BackendError:
    """A one-line error for an answer that is not the API's JSON (an HTML login or error
    page from a proxy, a wrong ``base_url``); ``page`` is the text, when the SDK gave it."""
    seen = ""
    if isinstance(page, (str, bytes)):
        text = page.decode("utf-8", "replace") if isinstance(page, bytes) else page
        seen = f": {' '.join(text.split())[:60]!r}"
    return BackendError(
        f"{provider}: the server's answer is not the API's JSON{seen}; check base_url "
        "(a proxy or login page answers instead of the API?)"
    )


def _norm_category(name: str) -> str:
    key = re.sub(r"[\s_\-]+", "", str(name).lower())
    return key[:-1] if key.endswith("s") else key


def _groups(decoded: Any, categories: Sequence[str]) -> tuple[dict[str, list[Any]], list[str]]:
    """Category -> raw texts, accepting ``{category: [...]}`` or ``[{category, text}]`` shapes."""
    if isinstance(decoded, Mapping) and len(decoded) == 1:
        (only,) = decoded.values()
        if isinstance(only, list) and not set(map(_norm_category, decoded)) & set(
            map(_norm_category, categories)
        ):
            decoded = only  # e.g. {"candidates": [{"category": ..., "text": ...}, ...]}
    pairs: list[tuple[str, Any]] = []
    if isinstance(decoded, Mapping):
        for key, value in decoded.items():
            values = value if isinstance(value, list) else [value]
            pairs += [(str(key), v) for v in values]
    elif isinstance(decoded, list):
        for item in decoded:
            if isinstance(item, Mapping):
                text = item.get("text", item.get("prompt"))
                pairs.append((str(item.get("category", "")), text))
    else:
        raise InvalidValueError("the answer is neither a JSON object nor a list")
    known = {_norm_category(c): c for c in categories}
    groups: dict[str, list[Any]] = {c: [] for c in categories}
    unknown: list[str] = []
    for key, value in pairs:
        category = known.get(_norm_category(key))
        if category is None:
            unknown.append(key)
        else:
            groups[category].append(value)
    return groups, sorted(set(unknown))


def _clean_text(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    text = _NUMBERING.sub("", " ".join(value.split()))
    return text.strip().strip("\"'\u201c\u201d").strip() or None


def shorten(text: str, limit: int) -> str | None:
    """``text`` cut at its last clause boundary within ``limit`` words, or None if there is none.

    Dropping a trailing clause keeps a well-formed prompt; cutting mid-clause would not.
    """
    words = text.split()
    for end in range(min(limit, len(words)), 0, -1):
        if _CLAUSE_END.search(words[end - 1][-1:]):
            cut = " ".join(words[:end]).rstrip(",;:").strip()
            if word_count(cut) >= max(1, limit // 2):
                return cut
            return None
    return None


def _category_texts(
    category: str, values: list[Any], request: GenerationRequest
) -> tuple[list[str], list[str], list[str]]:
    texts: list[str] = []
    problems: list[str] = []
    repairs: list[str] = []
    seen: set[str] = set()
    for value in values:
        text = _clean_text(value)
        if text is None:
            repairs.append(f"{category}: dropped an empty or non-text candidate")
            continue
        if word_count(text) > request.word_limit:
            short = shorten(text, request.word_limit)
            if short is None:
                problems.append(
                    f"{category}: {text[:40]!r}... has {word_count(text)} words, "
                    f"over the {request.word_limit}-word limit"
                )
                continue
            repairs.append(f"{category}: cut an over-long candidate at a clause boundary")
            text = short
        key = text.lower()
        if key in seen:
            repairs.append(f"{category}: dropped a duplicate")
            continue
        seen.add(key)
        texts.append(text)
    if len(texts) > request.per_category:
        repairs.append(f"{category}: kept the first {request.per_category} of {len(texts)}")
        texts = texts[: request.per_category]
    return texts, problems, repairs


def parse_answer(raw: Any, request: GenerationRequest) -> ParsedAnswer:
    """Validate an answer against ``request``, repairing what is safe to repair.

    Safe repairs: JSON wrapped in prose or code fences, category names differing in case,
    spacing or plural, numbering and quotes around texts, duplicates and empty texts
    dropped, extra candidates cut, an over-long candidate cut at a clause boundary. Not
    safe (reported as problems, so the caller asks again): non-JSON, too few usable
    candidates in a category.
    """
    try:
        groups, unknown = _groups(decode_json(raw), request.categories)
    except InvalidValueError as exc:
        return ParsedAnswer((), (f"{exc}; answer with a JSON object only",), (), False)
    candidates: list[Candidate] = []
    problems: list[str] = []
    repairs = [f"ignored unknown categories {unknown}"] if unknown else []
    for category in request.categories:
        texts, category_problems, category_repairs = _category_texts(
            category, groups[category], request
        )
        repairs += category_repairs
        if len(texts) < request.per_category:
            problems += category_problems
            problems.append(
                f"{category}: {len(texts)} usable candidates, {request.per_category} wanted"
            )
        candidates += [Candidate(t, category) for t in texts]
    return ParsedAnswer(tuple(candidates), tuple(problems), tuple(repairs), not problems)
