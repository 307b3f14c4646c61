"""The compact codec of the embedded distilled model: the teacher's prompt patterns as tokens.

An offline teacher writes its prompts from the last chosen prompt: "{p} as an oil painting",
"a depiction of {p}", or from the person's intent with other phrases, "{i} in watercolor at
dusk". The codec learns these *patterns* from the training pairs (a prompt with the last
chosen prompt written ``{p}``, or else the intent written ``{i}``) and makes each pattern of
each category one token; each chosen column and the word room left are tokens too, and the
words of the packaged prompts and of the pairs. A slate of L prompts is then L tokens and a
five-turn history about forty, so a small model trained from scratch learns it in minutes
on 2 cores, and a slate costs L forward passes. A prompt that fits no learned pattern is read
as its category's token and its words (the model reads it; it never writes one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from pasta_core.errors import BackendError
from pasta_core.types import Candidate, History

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>", "<turn>", "<critique>", "<slate>", "{p}", "{i}")
MAX_ROOM = 40
MAX_COLUMNS = 16
_SEP = "|"


def pattern_of(text: str, base: str, intent: str) -> str | None:
    """The pattern ``text`` follows: ``base`` (the last chosen prompt) written ``{p}``, or
    else ``intent`` written ``{i}``; None when it holds neither."""
    if "{" in text:
        return None
    for whole, mark in ((base, "{p}"), (intent, "{i}")):
        if whole and f" {whole} " in f" {text} ":  # whole words only
            return f" {text} ".replace(f" {whole} ", f" {mark} ", 1).strip()
    return None


def expand(pattern: str, base: str, intent: str) -> str:
    """The prompt a pattern writes for this base and intent."""
    return pattern.replace("{p}", base).replace("{i}", intent)


def pattern_token(category: str, pattern: str) -> str:
    """One token for a category's pattern: a slate item is one token."""
    return f"{category}{_SEP}{pattern.replace(' ', '_')}"


def token_pattern(token: str) -> tuple[str, str] | None:
    """(category, pattern) of a pattern token, None for other tokens."""
    category, sep, pattern = token.partition(_SEP)
    return (category, pattern.replace("_", " ")) if sep and ("{p}" in pattern or "{i}" in pattern) else None


def category_token(category: str) -> str:
    return f"<cat:{category}>"


def room_token(room: int) -> str:
    return f"<room:{max(0, min(MAX_ROOM, room))}>"


def chosen_token(column: int) -> str:
    return f"<chose:{min(column, MAX_COLUMNS - 1)}>"


def slate_items(history: History) -> Iterable[tuple[Candidate, str]]:
    """Every shown candidate of a history with the prompt it expanded."""
    base = history.initial_prompt
    for turn in history.turns:
        for candidate in turn.slate:
            yield candidate, base
        base = turn.chosen.text


@attrs.frozen
class Codec:
    """Token strings <-> ids (the saved tokenizer's vocabulary) and the encodings."""

    tokens: tuple[str, ...]
    ids: dict[str, int] = attrs.field(init=False, eq=False, repr=False)
    patterns: dict[str, list[tuple[int, str]]] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "ids", {t: i for i, t in enumerate(self.tokens)})
        patterns: dict[str, list[tuple[int, str]]] = {}
        for token, index in self.ids.items():
            parsed = token_pattern(token)
            if parsed:
                patterns.setdefault(parsed[0], []).append((index, parsed[1]))
        object.__setattr__(self, "patterns", patterns)

    @classmethod
    def build(cls, items: Iterable[tuple[Candidate, str, str]], words: Iterable[str]) -> Codec:
        """A codec whose patterns are those of ``items`` (candidate, the prompt it expanded,
        the intent) and whose words are ``words`` and the packaged prompts'."""
        from pasta_simulate.prompts import load_prompts

        patterns, categories = [], []
        for candidate, base, intent in items:
            categories.append(category_token(candidate.category))
            pattern = pattern_of(candidate.text, base, intent)
            if pattern is not None:
                patterns.append(pattern_token(candidate.category, pattern))
        vocabulary = [w for text in (*load_prompts(), *words) for w in text.split()]
        tokens = [*SPECIALS, *(chosen_token(i) for i in range(MAX_COLUMNS)), *(room_token(i) for i in range(MAX_ROOM + 1)),
                  *sorted(set(categories)), *sorted(set(patterns)), *vocabulary]
        return cls(tuple(dict.fromkeys(tokens)))

    def item(self, candidate: Candidate, base: str, intent: str) -> list[str]:
        """The tokens of one slate item: its pattern's token, or its category's and its words."""
        pattern = pattern_of(candidate.text, base, intent)
        if pattern is not None and pattern_token(candidate.category, pattern) in self.ids:
            return [pattern_token(candidate.category, pattern)]
        return [category_token(candidate.category), *candidate.text.split()]

    def history(self, history: History, word_limit: int) -> list[str]:
        """The tokens a request is read as, ending where the slate begins."""
        intent = history.initial_prompt
        tokens = ["<bos>", *intent.split()]
        base = intent
        for turn in history.turns:
            tokens.append("<turn>")
            for candidate in turn.slate:
                tokens += self.item(candidate, base, intent)
            tokens.append(chosen_token(turn.choice))
            if turn.critique:
                tokens += ["<critique>", *turn.critique.split()]
            base = turn.chosen.text
        return [*tokens, room_token(word_limit - len(base.split())), "<slate>"]

    def target(self, slate: Sequence[Candidate], history: History) -> list[str]:
        return [*(t for c in slate for t in self.item(c, history.last_prompt, history.initial_prompt)), "<eos>"]

    def to_ids(self, tokens: Sequence[str]) -> list[int]:
        unknown = self.ids["<unk>"]
        return [self.ids.get(t, unknown) for t in tokens]

    def save(self, folder: str | os.PathLike[str]) -> None:
        """Save the vocabulary as a transformers tokenizer (word level, whitespace split)."""
        from tokenizers import Tokenizer, models, pre_tokenizers
        from transformers import PreTrainedTokenizerFast

        tokenizer = Tokenizer(models.WordLevel(dict(self.ids), unk_token="<unk>"))
        tokenizer.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
        fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, bos_token="<bos>", eos_token="<eos>",
                                       pad_token="<pad>", unk_token="<unk>")
        fast.save_pretrained(str(folder))

    @classmethod
    def load(cls, folder: str | os.PathLike[str]) -> Codec:
        """The codec saved in ``folder`` (its ``tokenizer.json``)."""
        path = Path(folder) / "tokenizer.json"
        try:
            vocab_ids = json.loads(path.read_text(encoding="utf-8"))["model"]["vocab"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise BackendError(f"{path} is not a distilled model's vocabulary: {exc}") from None
        tokens = sorted(vocab_ids, key=vocab_ids.__getitem__)
        if [vocab_ids[t] for t in tokens] != list(range(len(tokens))):
            raise BackendError(f"{path} is not a distilled model's vocabulary (ids are not 0..n-1)")
        return cls(tuple(tokens))
