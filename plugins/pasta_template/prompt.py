"""A prompt as the template generator sees it: a subject and at most one phrase per slot.

``parse`` finds the phrases the generator knows (at the end, or a style or frame in front,
or a setting before a comma) and keeps the rest as the subject; ``compose`` writes it back
in one order, so a refinement replaces a phrase instead of stacking another.
"""

from __future__ import annotations

import re

import attrs

from pasta_template import vocab

_ARTICLES = ("a", "an", "the")
_PREFIXES = {prefix: suffix for suffix, prefix in vocab.STYLES}
_SUFFIX_TO_PREFIX = {suffix: prefix for suffix, prefix in vocab.STYLES}
# A place already in the subject ("... driving on the road"): no second setting is added.
_PLACE = re.compile(r"\b(on|in|at|inside|under|beside|near|by|behind|next to|in front of) (the|a|an) [\w' -]+$", re.I)
_FRAMED = re.compile(
    r"(a|an|the) ([\w'-]+ ){0,4}(portrait|photo|photograph|painting|drawing|picture|image|sketch|"
    r"illustration|view|study|snapshot|rendering|artwork|depiction|close-up|scene|poster|cartoon) of ",
    re.I,
)
_VERB = re.compile(r"\b(is|are) (?=\w+ing\b)", re.I)
_ALL = sorted(
    ((phrase, slot) for slot, phrases in vocab.SLOT_PHRASES.items() for phrase in phrases),
    key=lambda item: -len(item[0]),
)


@attrs.frozen
class Prompt:
    """``subject`` as written, ``slots`` (slot -> phrase), and how the prompt is laid out:
    a leading ``frame`` ("a picture of"), the style in front, the setting first."""

    subject: str
    slots: tuple[tuple[str, str], ...] = ()
    frame: str = ""
    style_first: bool = False
    setting_first: bool = False

    def get(self, slot: str) -> str | None:
        return dict(self.slots).get(slot)

    @property
    def framed(self) -> bool:
        """Whether the subject already names the picture ("a portrait of", "a photo of")."""
        return bool(_FRAMED.match(self.subject))

    def in_subject(self) -> set[str]:
        """The slots the subject's own words already fill: "at night" (light), "with a red
        ribbon" (feature), "on the road" (setting), ... A refinement adds none of those."""
        lowered = f" {self.subject.lower()} "
        taken = {s for s, phrases in vocab.SLOT_PHRASES.items() if any(f" {p} " in lowered for p in phrases)}
        if _PLACE.search(self.subject):
            taken.add("setting")
        if " with " in lowered:
            taken.add("feature")
        if set(lowered.split()) & vocab.LIGHT_WORDS:
            taken.add("light")
        return taken

    def shares_words(self, phrase: str) -> bool:
        """Whether ``phrase`` repeats a content word of the subject ("snow", "ground")."""
        mine = {w for w in re.findall(r"[a-z]+", self.subject.lower()) if len(w) > 3}
        return bool(mine & {w for w in re.findall(r"[a-z]+", phrase) if len(w) > 3})

    def with_slot(self, slot: str, phrase: str | None) -> Prompt:
        """This prompt with ``slot`` set to ``phrase`` (None: emptied)."""
        slots = dict(self.slots)
        if phrase is None:
            slots.pop(slot, None)
        else:
            slots[slot] = phrase
        return attrs.evolve(self, slots=tuple((s, slots[s]) for s in vocab.SLOTS if s in slots))


def _lower_article(text: str) -> str:
    first, _, rest = text.partition(" ")
    return f"{first.lower()} {rest}" if first.lower() in _ARTICLES and rest else text


def _strip_lead(text: str, leads: list[str]) -> tuple[str, str]:
    lowered = text.lower()
    for lead in sorted(leads, key=len, reverse=True):
        if lowered.startswith(lead + " ") and len(text) > len(lead) + 1:
            return lead, text[len(lead) + 1 :]
    return "", text


def _strip_tail(text: str) -> tuple[str, str, str]:
    """(slot, phrase, rest) for a known phrase at the end of ``text``; ("", "", text) if none."""
    lowered = text.lower()
    for phrase, slot in _ALL:
        for glue in (", ", " "):
            if lowered.endswith(glue + phrase) and len(text) > len(glue + phrase):
                return slot, phrase, text[: -len(glue + phrase)].rstrip(" ,")
    return "", "", text


def parse(text: str) -> Prompt:
    """The subject and the known phrases of ``text``."""
    text = " ".join(text.split()).strip(" ,.")
    slots: dict[str, str] = {}
    style_lead, text = _strip_lead(text, list(_PREFIXES))
    frame, text = _strip_lead(text, vocab.FRAMES)
    if style_lead:
        slots["style"] = _PREFIXES[style_lead]
    setting_first = False
    for phrase in sorted(vocab.SLOT_PHRASES["setting"], key=len, reverse=True):
        if text.lower().startswith(phrase + ", "):
            slots["setting"], text, setting_first = phrase, text[len(phrase) + 2 :], True
            break
    while True:
        slot, phrase, rest = _strip_tail(text)
        if not slot:
            break
        slots.setdefault(slot, phrase)  # the last one written wins
        text = rest
    prompt = Prompt(text, frame=frame, style_first=bool(style_lead), setting_first=setting_first)
    for slot, phrase in slots.items():
        prompt = prompt.with_slot(slot, phrase)
    return prompt


def compose(prompt: Prompt) -> str:
    """The prompt written out: [frame | style] subject, form, feature, setting, view, light,
    tone[, style] (a setting may come first)."""
    slots = dict(prompt.slots)
    subject = prompt.subject
    style = slots.pop("style", None)
    setting = slots.pop("setting", None) if prompt.setting_first else None
    if style and prompt.style_first:
        subject, style = f"{_SUFFIX_TO_PREFIX[style]} {_lower_article(subject)}", None
    elif prompt.frame:  # "a picture of a bus driving", not "... of a bus is driving"
        subject = f"{prompt.frame} {_lower_article(_VERB.sub('', subject))}"
    text = " ".join([subject, *(slots[s] for s in vocab.SLOTS if s in slots)])
    if setting:
        text = f"{setting}, {_lower_article(text)}"
    return f"{text}, {style}" if style else text


def unframed(subject: str) -> list[str]:
    """A framed subject written the other way round, with the frame's word or a synonym of it:
    "a portrait of an old man" -> "an old man, as a portrait"."""
    match = _FRAMED.match(subject)
    if match is None or not subject[match.end() :].strip():
        return []
    lead, rest = subject[: match.end()].rsplit(" of ", 1)[0], subject[match.end() :]
    noun = lead.split()[-1].lower()
    leads = [lead] + [f"{lead.rsplit(' ', 1)[0]} {w}" for w in vocab.FRAME_SYNONYMS.get(noun, [])]
    return [f"{rest}, as {_lower_article(x)}" for x in leads] + [f"{x} of {rest}" for x in leads[1:]]


def vary_subject(subject: str, word: str) -> str | None:
    """``subject`` with a size or age ``word`` after its article ("a tiny white cat"), replacing
    one such word already there; None when it does not start with "a", "an" or "the"."""
    words = subject.split()
    if len(words) < 2 or words[0].lower() not in _ARTICLES:
        return None
    rest = words[2:] if words[1].lower() in vocab.VARIATIONS else words[1:]
    if not rest:
        return None
    article = words[0]
    if article.lower() in ("a", "an"):
        an = word[0] in "aeiou"
        article = ("An" if an else "A") if article[0].isupper() else ("an" if an else "a")
    return " ".join([article, word, *rest])
