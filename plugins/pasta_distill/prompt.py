"""What the distilled model is asked each turn, and the answer it is trained to give.

One request per turn: the history (the initial prompt, every slate shown with its
categories, the column chosen, critiques) and the slate wanted (L prompts, at most one per
category, within the turn's word limit). The answer is one JSON object,
``{"slate": [{"category": ..., "prompt": ...}, ...]}``, best column first. The slates shown
are part of the history because what a person picked *over what they were shown* is what
says who they are (the value model reads the same).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

from pasta_core.protocols import GenerationRequest
from pasta_core.types import Candidate, History
from pasta_llm import ImagePart, Prompt

SYSTEM_INSTRUCTION = (
    "You are a text-to-image agent. A person typed a short prompt and, turn by turn, picked "
    "the column of images they liked best from the slate of prompts you showed. Propose the "
    "next slate directly: complete image prompts, each from a different category, that keep "
    "the person's intent and follow what their choices say about their taste. The person "
    "sees only the images, never the prompts. Answer with JSON only."
)


@attrs.frozen
class SlateRequest:
    """What the distilled model is asked for in one turn (``turn`` is 1-based)."""

    history: History
    turn: int
    categories: tuple[str, ...]
    slate_size: int
    word_limit: int
    seed: int

    @property
    def size(self) -> int:
        """The number of prompts wanted: L, or fewer when there are fewer categories."""
        return min(self.slate_size, len(self.categories))

    @classmethod
    def of(cls, request: GenerationRequest, slate_size: int) -> SlateRequest:
        """The slate request of an engine's generation request."""
        return cls(request.history, request.turn, tuple(request.categories), slate_size, request.word_limit,
                   request.seed)


@attrs.frozen
class SlatePrompt(Prompt):
    """A :class:`pasta_llm.Prompt` that also carries the structured request (for local
    models that read the history directly) and the try number (0: the first ask)."""

    request: SlateRequest = attrs.field(kw_only=True)
    attempt: int = attrs.field(default=0, kw_only=True)


def slate_schema(categories: Sequence[str], size: int) -> dict[str, Any]:
    """JSON schema of the answer: ``size`` items of a category and a prompt."""
    item = {"type": "object",
            "properties": {"category": {"type": "string", "enum": list(categories)},
                           "prompt": {"type": "string", "description": "a complete image prompt"}},
            "required": ["category", "prompt"]}
    return {"type": "object",
            "properties": {"slate": {"type": "array", "items": item, "minItems": size, "maxItems": size}},
            "required": ["slate"]}


def history_lines(history: History) -> list[str]:
    """The history as the distilled model reads it."""
    lines = [f'Initial prompt (the person\'s intent): "{history.initial_prompt}"']
    for index, turn in enumerate(history.turns, start=1):
        shown = "; ".join(f"{j + 1}. [{c.category}] {c.text}" for j, c in enumerate(turn.slate))
        lines.append(f"Turn {index} slate: {shown}")
        lines.append(f"Turn {index} chosen: column {turn.choice + 1}")
        if turn.critique:
            lines.append(f'Turn {index} critique: "{turn.critique}"')
    return lines


def user_text(request: SlateRequest, problems: Sequence[str] = ()) -> str:
    """The user message of one turn; ``problems`` of a rejected answer are appended."""
    lines = history_lines(request.history)
    lines += ["", f"Turn {request.turn}: propose a slate of {request.size} prompts, at most one per category "
              f"({', '.join(request.categories)}), each of at most {request.word_limit} words, best first."]
    if problems:
        lines += ["", "Your previous answer could not be used:", *[f"- {p}" for p in problems],
                  "Answer again, fixing these problems."]
    return "\n".join(lines)


def slate_prompt(request: SlateRequest, problems: Sequence[str] = (), attempt: int = 0,
                 images: Sequence[ImagePart] = ()) -> SlatePrompt:
    """The prompt of one turn (what the distilled model is trained on and asked)."""
    return SlatePrompt(system=SYSTEM_INSTRUCTION, user=user_text(request, problems),
                       schema=slate_schema(request.categories, request.size), seed=request.seed,
                       images=tuple(images), request=request, attempt=attempt)


def slate_answer(slate: Sequence[Candidate]) -> str:
    """The answer the distilled model is trained to give for ``slate``."""
    return json.dumps({"slate": [{"category": c.category, "prompt": c.text} for c in slate]}, ensure_ascii=False)
