"""The procedural renderer: does the picture show the prompt's nouns, and how fast is it?

Coverage, over every packaged PartiPrompts prompt: the prompt's *main nouns* are the heads
of its noun phrases, found by a word-list tagger (lemminflect's lexicon): a noun phrase is a
run of words the lexicon lists as a noun or an adjective (not a determiner, pronoun,
preposition or conjunction, not a verb's -ing/-ed form unless after "a"/"the" or before
"of"); its head is its last noun ("a quiet
harbour town at dusk" -> town, dusk). Nouns that place, count or name the picture ("front",
"pair", "image", "background") are left out. A noun is *shown* when the renderer reports it drew it
(``Scene.shown``: as a pictogram, a scene, a style or weather); "pictogram" counts only the
first. A renderer without that report (the one before issue 19) is scored by its word lists:
a noun is shown when it had a shape for it (any animal was one four-legged shape), a scene
or a style.

Speed: images/s at ``--size`` over ``--count`` prompts drawn from the same file (seed 0),
one thread, after one warm-up pass; median and range over ``--repeats`` passes.

    .venv/bin/python benchmarks/bench_procedural.py
    .venv/bin/python benchmarks/bench_procedural.py --size 64 --json out.json
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time

import lemminflect
import numpy as np

FUNCTION_WORDS = frozenset(
    "a an the this that these those some any each every no of in on at to for from with without by "
    "into onto over under above below near beside behind between through across around and or but "
    "as like it its his her their our my your he she they we i you is are was were be being been "
    "has have had do does one two three four five six seven eight nine ten several many few "
    "very while who which what where when there here up down out off".split()
)
# Nouns that place, count or name the picture rather than a thing in it ("in front of",
# "a pair of", "an image of"): not main nouns.
FRAME_NOUNS = frozenset(
    "front back side left right middle top bottom corner center centre background foreground "
    "pair couple bunch pile series collection set lot bit kind type image picture style".split()
)


def _initial_prompts() -> tuple[str, ...]:
    try:
        from pasta_cli.data import initial_prompts
    except ImportError:  # a tree from before the CLI left the core (for the "before" figures)
        from pasta_core.data import initial_prompts  # type: ignore[no-redef]
    return initial_prompts()


def _kind(word: str, before: str, after: str) -> str:
    if word in FUNCTION_WORDS or word in FRAME_NOUNS or word == ".":
        return "other"
    lemmas = lemminflect.getAllLemmas(word)
    verb = lemmas.get("VERB", ())
    # "a fox sitting on" is a verb; "a painting", "oil painting of" are nouns.
    nominal = before in ("a", "an", "the") or after == "of"
    if word.endswith(("ing", "ed")) and verb and word not in verb and not nominal:
        return "other"
    return "noun" if "NOUN" in lemmas else "adj" if "ADJ" in lemmas else "other"


def main_nouns(prompt: str) -> list[str]:
    """The heads of the prompt's noun phrases (see the module docstring)."""
    heads, run = [], []
    words = [".", *re.findall(r"[a-z][a-z'\-]*", prompt.lower()), "."]
    for before, word, after in zip(words, words[1:], words[2:] + ["."]):
        kind = _kind(word, before, after)
        if kind != "other":
            run.append((word, kind))
            continue
        nouns = [w for w, k in run if k == "noun"]
        if nouns:
            heads.append(nouns[-1])
        run = []
    return heads


def shown_words(prompt: str) -> dict[str, str]:
    """word -> how the current renderer shows it."""
    from pasta_procedural import scene

    described = scene.describe(prompt)
    if hasattr(described, "shown"):
        return {w: how for w, how in reversed(described.shown)}
    from pasta_procedural import lexicon  # the renderer before issue 19: its word lists

    words = scene.tokens(prompt)
    found = {w: "scene" for w in words if w in lexicon.SCENES}
    found |= {w: "style" for w in words if w in lexicon.STYLES}
    shapes = lexicon.SHAPES  # type: ignore[attr-defined]
    return found | {w: "pictogram" for w in words if w in shapes or w.rstrip("s") in shapes}


def coverage(prompts: tuple[str, ...]) -> dict[str, float]:
    """Shares of prompts whose main nouns are all shown, and of main nouns shown."""
    full = full_pictogram = nouns = shown = pictogram = with_nouns = 0
    for prompt in prompts:
        heads = main_nouns(prompt)
        if not heads:
            continue
        how = shown_words(prompt)
        with_nouns += 1
        nouns += len(heads)
        shown += sum(h in how for h in heads)
        pictogram += sum(how.get(h) == "pictogram" for h in heads)
        full += all(h in how for h in heads)
        full_pictogram += all(how.get(h) in ("pictogram", "scene") for h in heads)
    return {
        "prompts": len(prompts), "prompts_with_nouns": with_nouns, "main_nouns": nouns,
        "prompts_all_shown": full / with_nouns, "nouns_shown": shown / nouns,
        "nouns_as_pictogram": pictogram / nouns,
        "prompts_all_as_pictogram_or_scene": full_pictogram / with_nouns,
    }


def speed(prompts: tuple[str, ...], size: int, count: int, repeats: int) -> dict[str, float]:
    """images/s of ``ProceduralT2I(size)`` on ``count`` prompts drawn with seed 0."""
    from pasta_procedural import ProceduralT2I

    rng = np.random.default_rng(0)
    chosen = [prompts[i] for i in rng.choice(len(prompts), count, replace=False)]
    t2i = ProceduralT2I(size)
    t2i.render(chosen, list(range(count)))  # warm-up: word table and pictograms loaded
    rates = []
    for r in range(repeats):
        start = time.perf_counter()
        t2i.render(chosen, [r * count + i for i in range(count)])
        rates.append(count / (time.perf_counter() - start))
    return {"size": size, "count": count, "median": statistics.median(rates), "min": min(rates), "max": max(rates)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--count", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--json", default=None, help="also write the figures here")
    args = parser.parse_args()
    prompts = _initial_prompts()
    figures = {"coverage": coverage(prompts), "speed": speed(prompts, args.size, args.count, args.repeats)}
    print(json.dumps(figures, indent=2))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(figures, handle, indent=2)


if __name__ == "__main__":
    main()
