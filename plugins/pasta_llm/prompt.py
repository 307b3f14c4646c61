"""The generation prompt of one turn and the JSON schema of the expected answer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import attrs

from pasta_core.protocols import GenerationRequest
from pasta_llm.images import ImagePart

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


@attrs.frozen
class Prompt:
    """One generation request as the provider sees it: instructions, text, answer schema,
    and the images of earlier turns (each after its caption) that follow the text."""

    system: str
    user: str
    schema: dict[str, Any]
    seed: int
    images: tuple[ImagePart, ...] = ()


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
        passed = [c.text for c in turn.slate if c != turn.chosen]
        if passed:
            lines.append(f"Turn {index}: the person passed over " + ", ".join(f'"{t}"' for t in passed))
        if turn.critique:
            lines.append(f'Turn {index} critique: "{turn.critique}"')
    return lines


def build_prompt(
    request: GenerationRequest, problems: Sequence[str] = (), images: Sequence[ImagePart] = ()
) -> Prompt:
    """The prompt for one turn; ``problems`` (from a rejected answer) are appended when asking
    again; ``images`` (:func:`pasta_llm.images.history_image_parts`) follow the text."""
    n = request.per_category
    lines = _history_lines(request)
    if images:
        lines.append("The images the person was shown follow this text, each captioned with its turn and column.")
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
        images=tuple(images),
    )
