"""Provider-neutral helpers for LLM candidate generators.

An LLM generator plugin supplies one function, ``ask(prompt) -> answer`` (one HTTP request
to its provider, the answer as JSON text or an already-decoded object), and a test
``is_transient(exc)`` for errors worth retrying. :class:`LLMGenerator` does the rest:

- builds the generation prompt from a :class:`~pasta_core.protocols.GenerationRequest`
  (:func:`build_prompt`: the history, the categories, the per-category count, the word limit)
  and the JSON schema of the expected answer (:func:`answer_schema`);
- parses, validates and safely repairs the answer (:func:`parse_answer`), asking again with
  the list of problems when a repair is not safe;
- retries 429 / 5xx / timeouts with bounded exponential backoff (:class:`RetryPolicy`);
- after that raises :class:`~pasta_core.errors.BackendError`, or, with ``fallback="template"``,
  answers with the ``template`` generator and a visible :class:`GeneratorFallbackWarning`.

Third-party generator plugins can use it the same way the Gemini and Anthropic plugins do.
"""

from __future__ import annotations

import json
import random
import re
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TypeVar

import attrs

from pasta_core.errors import BackendError, InvalidValueError
from pasta_core.protocols import GenerationRequest
from pasta_core.types import Candidate, word_count

T = TypeVar("T")

#: What each built-in category asks for; other categories are passed by name only.
CATEGORY_GUIDES: dict[str, str] = {
    "rephrase": "the same image in other words, without adding content",
    "detail": "add concrete visual details (objects, textures, composition, setting)",
    "style": "render it in a specific art style or medium",
    "mood": "set the lighting, colour palette, time of day or atmosphere",
    "twist": "a variation of the subject or a creative twist that keeps the intent",
}

SYSTEM_INSTRUCTION = (
    "You help a person get the image they have in mind from a text-to-image model. "
    "They typed a short prompt and, turn by turn, picked the images they liked best. "
    "You write prompt expansions: complete prompts for the image model that keep the "
    "person's intent, build on the prompt they chose last and follow their critiques. "
    "The person sees only the images, never your prompts. Answer with JSON only."
)

FALLBACKS = ("none", "template")


class GeneratorFallbackWarning(UserWarning):
    """An LLM generator answered with its fallback generator for a turn."""


# --------------------------------------------------------------------------- prompt


@attrs.frozen
class Prompt:
    """One generation request as the provider sees it: instructions, text, answer schema."""

    system: str
    user: str
    schema: dict[str, Any]
    seed: int


def answer_schema(categories: Sequence[str], per_category: int) -> dict[str, Any]:
    """JSON schema of the answer: one array of ``per_category`` prompt strings per category."""
    item = {"type": "string", "description": "a complete image prompt"}
    array = {"type": "array", "items": item, "minItems": per_category, "maxItems": per_category}
    return {
        "type": "object",
        "properties": {category: dict(array) for category in categories},
        "required": list(categories),
    }


def _history_lines(request: GenerationRequest) -> list[str]:
    history = request.history
    lines = [f'Initial prompt (the person\'s intent): "{history.initial_prompt}"']
    for index, turn in enumerate(history.turns, start=1):
        lines.append(f'Turn {index}: the person chose "{turn.chosen.text}"')
        if turn.critique:
            lines.append(f'Turn {index} critique: "{turn.critique}"')
    return lines


def build_prompt(request: GenerationRequest, problems: Sequence[str] = ()) -> Prompt:
    """The prompt for one turn; ``problems`` (from a rejected answer) are appended when asking again."""
    n = request.per_category
    lines = _history_lines(request)
    lines += [
        "",
        f'Write {n} distinct prompt expansions of "{request.history.last_prompt}" '
        f"for each of these {len(request.categories)} categories:",
    ]
    for category in request.categories:
        guide = CATEGORY_GUIDES.get(category)
        lines.append(f"- {category}: {guide}" if guide else f"- {category}")
    lines += [
        "",
        f"Rules: every expansion has at most {request.word_limit} words; expansions differ "
        "from each other and from the prompts already chosen; do not number them.",
        f"Answer with a JSON object whose keys are the category names and whose values are "
        f"arrays of exactly {n} strings.",
    ]
    if problems:
        lines += ["", "Your previous answer could not be used:"]
        lines += [f"- {p}" for p in problems]
        lines.append("Answer again, fixing these problems.")
    return Prompt(
        system=SYSTEM_INSTRUCTION,
        user="\n".join(lines),
        schema=answer_schema(request.categories, n),
        seed=request.seed,
    )


# --------------------------------------------------------------------------- parsing

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


# --------------------------------------------------------------------------- retries


class TransientError(Exception):
    """Raised by ``ask`` functions for a failure worth retrying (rate limit, 5xx, timeout)."""


@attrs.define
class RetryPolicy:
    """Bounded exponential backoff: ``max_retries`` more tries, waits doubling from
    ``base_delay`` up to ``max_delay`` seconds, each scaled by a random factor in [0.5, 1]
    so that many clients do not retry in lock-step."""

    max_retries: int = 4
    base_delay: float = 1.0
    max_delay: float = 20.0
    sleep: Callable[[float], None] = time.sleep
    rng: random.Random = attrs.field(factory=random.Random)

    def __attrs_post_init__(self) -> None:
        if self.max_retries < 0 or self.base_delay < 0 or self.max_delay < 0:
            raise InvalidValueError("max_retries and the delays must not be negative")

    def delay(self, attempt: int) -> float:
        """The wait before retry ``attempt`` (0-based)."""
        return min(self.max_delay, self.base_delay * 2**attempt) * self.rng.uniform(0.5, 1.0)

    def call(self, fn: Callable[[], T], is_transient: Callable[[BaseException], bool]) -> T:
        """``fn()``, retried while it raises transient errors; the last error propagates."""
        for attempt in range(self.max_retries + 1):
            try:
                return fn()
            except Exception as exc:
                if attempt == self.max_retries or not is_transient(exc):
                    raise
                self.sleep(self.delay(attempt))
        raise AssertionError("unreachable")  # pragma: no cover


# --------------------------------------------------------------------------- generator


def _fallback_option(value: Any) -> str:
    name = "none" if value in (None, "", False) else str(value).strip().lower()
    if name not in FALLBACKS:
        raise InvalidValueError(f"fallback must be one of {', '.join(FALLBACKS)}; got {value!r}")
    return name


class LLMGenerator:
    """A ``CandidateGenerator`` over one provider request per turn (more only on failures).

    ``ask(prompt)`` sends one request and returns the answer (JSON text or decoded JSON);
    ``is_transient(exc)`` says whether an exception from it is worth retrying.
    ``max_repairs`` bounds how often an unusable answer is asked again. Counters
    ``requests`` and ``fallbacks`` report what happened.

    ``prefetch`` (default False) tells a :class:`~pasta_core.session.Session` whether it may
    ask for the next turn's candidates for every possible click ahead of time: that hides
    the provider's latency but costs one request per column instead of one per turn.
    """

    def __init__(
        self,
        name: str,
        ask: Callable[[Prompt], Any],
        is_transient: Callable[[BaseException], bool],
        retry: RetryPolicy | None = None,
        max_repairs: int = 2,
        fallback: str | None = "none",
        prefetch: bool = False,
    ) -> None:
        self.name = name
        self.prefetch = bool(prefetch)
        self._ask = ask
        self._is_transient = is_transient
        self.retry = retry or RetryPolicy()
        self.max_repairs = int(max_repairs)
        self.fallback = _fallback_option(fallback)
        self.requests = 0
        self.fallbacks = 0
        self.last_repairs: tuple[str, ...] = ()

    def __repr__(self) -> str:  # never shows keys: they live in the provider client only
        return f"<{type(self).__name__} {self.name} fallback={self.fallback}>"

    def _send(self, prompt: Prompt) -> Any:
        def once() -> Any:
            self.requests += 1
            return self._ask(prompt)

        return self.retry.call(once, self._is_transient)

    def _generate(self, request: GenerationRequest) -> list[Candidate]:
        problems: tuple[str, ...] = ()
        for _ in range(self.max_repairs + 1):
            parsed = parse_answer(self._send(build_prompt(request, problems)), request)
            if parsed.complete:
                self.last_repairs = parsed.repairs
                return list(parsed.candidates)
            problems = parsed.problems
        raise BackendError(
            f"{self.name} gave no usable answer after {self.max_repairs + 1} tries: "
            + "; ".join(problems[:4])
        )

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        """Candidates for one turn (see :class:`~pasta_core.protocols.CandidateGenerator`)."""
        try:
            return self._generate(request)
        except BackendError as exc:
            return self._fall_back(request, exc)
        except Exception as exc:
            if self._is_transient(exc):
                error = BackendError(
                    f"{self.name} failed after {self.retry.max_retries} retries: "
                    f"{type(exc).__name__}: {exc}"
                )
            else:
                error = BackendError(f"{self.name} request failed: {type(exc).__name__}: {exc}")
            error.__cause__ = exc
            return self._fall_back(request, error)

    def _fall_back(self, request: GenerationRequest, error: BackendError) -> list[Candidate]:
        if self.fallback != "template":
            raise BackendError(
                f"{error} (to continue with the offline template generator instead, "
                f"set the generator option fallback=template)"
            ) from error.__cause__
        from pasta_core.plugins import get_plugins

        self.fallbacks += 1
        warnings.warn(
            f"{self.name} generator failed on turn {request.turn} ({error}); "
            "using the template generator for this turn",
            GeneratorFallbackWarning,
            stacklevel=2,
        )
        generator = get_plugins().create("generator", "template")
        return list(generator.generate(request))


# --------------------------------------------------------------------------- options


def option_float(name: str, value: Any, low: float | None = None, high: float | None = None) -> float:
    """A float option (CLI strings accepted) within [low, high]."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"option {name} must be a number, got {value!r}") from None
    if (low is not None and number < low) or (high is not None and number > high):
        raise InvalidValueError(f"option {name} must lie in [{low}, {high}], got {number}")
    return number


def option_bool(name: str, value: Any) -> bool:
    """A boolean option; CLI strings such as ``true``/``0``/``yes`` accepted."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off", ""):
        return False
    raise InvalidValueError(f"option {name} must be true or false, got {value!r}")


def option_int(name: str, value: Any, low: int = 0) -> int:
    """An integer option (CLI strings accepted) of at least ``low``."""
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidValueError(f"option {name} must be an integer, got {value!r}") from None
    if number < low:
        raise InvalidValueError(f"option {name} must be at least {low}, got {number}")
    return number


def api_key(variables: Sequence[str], provider: str, extra: str) -> str:
    """The first set environment variable of ``variables``, or a clear error saying what to set."""
    import os

    for variable in variables:
        value = os.environ.get(variable, "").strip()
        if value:
            return value
    names = " or ".join(variables)
    raise BackendError(
        f"no {provider} API key: set the environment variable {names} "
        f"(keys are read from the environment only), e.g. export {variables[0]}=... ; "
        f"the SDK comes with pip install 'pasta-t2i[{extra}]'"
    )
