"""The compact codec of the embedded distilled model: each slate item one token.

An offline teacher writes each candidate from the last chosen prompt by an *edit*: a phrase
added at the end ("... at golden hour"), in front ("a picture of ..."), before a phrase
already there, or in place of one ("in watercolor" for "as an oil painting"). The codec
reads every prompt as its edit of the prompt it expanded, (removed words, added words,
where), learned from the training pairs, and makes each edit of each category one token;
each chosen column and the word room left are tokens too, as are the words of the packaged
prompts and of the pairs. A five-turn history is about forty tokens, and the model proposes
a whole slate from *one* forward pass: the next-token scores of the edits that apply, best
of each category, the L best categories (:class:`pasta_distill.local.CompactAsk`). A
prompt no learned edit writes is read as its category's token and its words.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from pasta_core.errors import BackendError
from pasta_core.types import Candidate, History

SPECIALS = ("<pad>", "<bos>", "<eos>", "<unk>", "<turn>", "<critique>", "<slate>")
MAX_ROOM = 40
MAX_COLUMNS = 16
START, END = "^", "$"

#: (removed words, added words, where: START, END or the words the addition goes before).
Edit = tuple[str, str, str]


_WORD = re.compile(r"[^\s,;:]+|[,;:]")


def _words(text: str) -> list[str]:
    """Words, with commas, semicolons and colons as words of their own."""
    return _WORD.findall(text)


def _text(words: list[str]) -> str:
    return re.sub(r" ([,;:])", r"\1", " ".join(words))


def edit_of(text: str, base: str) -> Edit | None:
    """How ``text`` is written from ``base``: what is removed and added between their
    common first and last words, and where (None when they are the same or the edit does
    not write ``text`` back)."""
    a, b = _words(base), _words(text)
    suffix = 0  # the common end first: a frame put in front keeps the whole base as the end
    while suffix < min(len(a), len(b)) and a[-1 - suffix] == b[-1 - suffix]:
        suffix += 1
    prefix = 0
    while prefix < min(len(a), len(b)) - suffix and a[prefix] == b[prefix]:
        prefix += 1
    removed, added = a[prefix:len(a) - suffix], b[prefix:len(b) - suffix]
    if not removed and not added:
        return None
    where = START if prefix == 0 else END if suffix == 0 else " ".join(a[len(a) - suffix:][:2])
    edit = (" ".join(removed), " ".join(added), where)
    return edit if apply_edit(edit, base) == text else None


def _find(words: list[str], part: list[str]) -> int:
    for i in range(len(words) - len(part) + 1):
        if words[i:i + len(part)] == part:
            return i
    return -1


def apply_edit(edit: Edit, base: str) -> str | None:
    """The prompt an edit writes from ``base``, or None when it does not apply."""
    removed, added, where = (part.split() for part in edit)
    words = _words(base)
    if removed:
        at = _find(words, removed)
        return None if at < 0 else _text(words[:at] + added + words[at + len(removed):])
    if edit[2] == START:
        return _text(added + words)
    if edit[2] == END:
        return _text(words + added)
    at = _find(words, where)
    return None if at < 1 else _text(words[:at] + added + words[at:])


def edit_token(category: str, edit: Edit) -> str | None:
    """One token for a category's edit (None if its text cannot be one token)."""
    parts = (category, *edit)
    if any("|" in p or "_" in p for p in parts):
        return None
    return "|".join(p.replace(" ", "_") for p in parts)


def token_edit(token: str) -> tuple[str, Edit] | None:
    """(category, edit) of an edit token; None for other tokens."""
    parts = token.split("|")
    if len(parts) != 4:
        return None
    category, removed, added, where = (p.replace("_", " ") for p in parts)
    return category, (removed, added, where)


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


def _token(candidate: Candidate, base: str) -> str | None:
    edit = edit_of(candidate.text, base)
    return None if edit is None else edit_token(candidate.category, edit)


@attrs.frozen
class Codec:
    """Token strings <-> ids (the saved tokenizer's vocabulary) and the encodings."""

    tokens: tuple[str, ...]
    ids: dict[str, int] = attrs.field(init=False, eq=False, repr=False)
    edits: dict[int, tuple[str, Edit]] = attrs.field(init=False, eq=False, repr=False)

    def __attrs_post_init__(self) -> None:
        object.__setattr__(self, "ids", {t: i for i, t in enumerate(self.tokens)})
        edits = {i: parsed for t, i in self.ids.items() if (parsed := token_edit(t)) is not None}
        object.__setattr__(self, "edits", edits)

    @classmethod
    def build(cls, items: Iterable[tuple[Candidate, str]], words: Iterable[str]) -> Codec:
        """A codec whose edits are those of ``items`` (candidate, the prompt it expanded)
        and whose words are ``words`` and the packaged prompts'."""
        from pasta_simulate.prompts import load_prompts

        edits, categories = set(), set()
        for candidate, base in items:
            categories.add(category_token(candidate.category))
            token = _token(candidate, base)
            if token is not None:
                edits.add(token)
        vocabulary = [w for text in (*load_prompts(), *words) for w in text.split()]
        tokens = [*SPECIALS, *(chosen_token(i) for i in range(MAX_COLUMNS)), *(room_token(i) for i in range(MAX_ROOM + 1)),
                  *sorted(categories), *sorted(edits), *vocabulary]
        return cls(tuple(dict.fromkeys(tokens)))

    def item(self, candidate: Candidate, base: str) -> list[str]:
        """The tokens of one slate item: its edit's token, or its category's and its words."""
        token = _token(candidate, base)
        if token is not None and token in self.ids:
            return [token]
        return [category_token(candidate.category), *candidate.text.split()]

    def history(self, history: History, word_limit: int) -> list[str]:
        """The tokens a request is read as, ending where the slate's scores are read."""
        tokens = ["<bos>", *history.initial_prompt.split()]
        base = history.initial_prompt
        for turn in history.turns:
            tokens.append("<turn>")
            for candidate in turn.slate:
                tokens += self.item(candidate, base)
            tokens.append(chosen_token(turn.choice))
            if turn.critique:
                tokens += ["<critique>", *turn.critique.split()]
            base = turn.chosen.text
        return [*tokens, room_token(word_limit - len(base.split())), "<slate>"]

    def targets(self, slate: Sequence[Candidate], history: History) -> list[int]:
        """The ids of the slate's items that have a token (what the model learns to score high)."""
        ids = [self.ids.get(_token(c, history.last_prompt) or "") for c in slate]
        return [i for i in ids if i is not None]

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
