"""Vocabularies of the template generator: phrases by *slot*.

A prompt holds at most one phrase per slot (one style, one light, one setting, ...): a new
phrase for a filled slot replaces the old one, so refinements never stack ("as an
impressionist painting as an ink drawing"). The slots, in the order they are written:
``form`` (what the subject is made as), ``feature`` (a detail of the subject), ``setting``
(where), ``view`` (how near), ``light`` (lighting and weather), ``tone`` (colours),
``style`` (art style).
"""

from __future__ import annotations

SLOTS = ("form", "feature", "setting", "view", "light", "tone", "style")

# Each style as a trailing phrase and as a leading one ("an oil painting of a cat").
STYLES: list[tuple[str, str]] = [
    ("as an oil painting", "an oil painting of"), ("in watercolor", "a watercolor of"),
    ("as pixel art", "pixel art of"), ("as a pencil sketch", "a pencil sketch of"),
    ("as a studio photograph", "a studio photograph of"), ("as a 3d render", "a 3d render of"),
    ("as a ukiyo-e woodblock print", "a ukiyo-e woodblock print of"),
    ("as a flat vector illustration", "a flat vector illustration of"),
    ("as a charcoal drawing", "a charcoal drawing of"), ("as a cartoon", "a cartoon of"),
    ("as a stained glass mosaic", "a stained glass mosaic of"), ("as a vintage poster", "a vintage poster of"),
    ("as a photorealistic photo", "a photorealistic photo of"),
    ("as an impressionist painting", "an impressionist painting of"),
    ("as a clay model", "a clay model of"), ("as a minimalist illustration", "a minimalist illustration of"),
    ("as an isometric 3d scene", "an isometric 3d scene of"), ("as an ink drawing", "an ink drawing of"),
    ("as a retro 8-bit game scene", "a retro 8-bit game scene of"),
    ("as a children's book illustration", "a children's book illustration of"),
    ("as a pop art poster", "a pop art poster of"), ("as a cinematic film still", "a cinematic film still of"),
]
STYLE = [suffix for suffix, _ in STYLES]

LIGHT = [
    "at golden hour", "at sunset", "at night under moonlight", "in soft morning light",
    "with dramatic lighting", "on a foggy morning", "in bright sunny weather", "in warm cozy light",
    "under neon lights", "in cold winter light", "at dawn", "during a storm", "in hazy dusk light",
    "with cinematic lighting", "on a gloomy rainy day", "in bright light", "at night",
    "at dusk", "at sunrise", "at noon", "in the evening", "in the morning", "in the rain",
    "in the fog", "in the snow",
]
TONE = [
    "in vibrant colors", "in muted pastel tones", "in warm tones", "in cool blue tones",
    "in dark tones", "in soft earthy tones", "in black and white",
]
# Words that already set the light when a subject holds them ("a cityscape at night with ...").
LIGHT_WORDS = frozenset(
    "night dusk dawn sunset sunrise noon evening morning moonlight midnight twilight storm foggy rainy".split()
)
# What "mood" offers: lighting first, colour tones as well.
MOOD = LIGHT + TONE

FEATURE = [
    "with intricate details", "with fine textures", "with ornate patterns",
    "with scattered autumn leaves", "with reflections on wet ground", "with two small birds nearby",
    "with mountains in the distance", "with flowers in the foreground", "with snow on the ground",
    "with a detailed background", "surrounded by wildflowers",
]
SETTING = [
    "on a wooden table", "next to a small pond", "among tall grass", "on a cobblestone street",
    "under a clear blue sky", "in a cozy living room", "beside an old stone wall", "in a sunlit meadow",
    "near a window with plants", "in front of a brick house", "on a sandy beach",
    "in a lush green garden",
]
VIEW = ["seen up close", "seen from far away", "seen from a low angle", "seen from above"]
DETAIL = FEATURE + SETTING

# Creative twists: a new form for the subject, or an unexpected place for it.
FORM = [
    "made of glass", "made of paper", "as a tiny figurine", "as a golden statue", "as a robot",
    "knitted from wool", "carved from wood", "made of clouds", "wearing a tiny crown",
]
CREATIVE_SETTING = [
    "in a futuristic city", "floating in outer space", "in an underwater world",
    "on the surface of the moon", "in a steampunk workshop", "in a snowy winter wonderland",
    "in a fairy tale castle", "on a pirate ship", "in an enchanted garden", "in a jungle full of vines",
    "in a miniature toy world", "in a library of giant books", "in a sandy desert",
]
# Subject variations: a size word put before the subject ("a tiny white cat").
VARIATIONS = ["tiny", "giant", "miniature", "huge", "enormous"]

# Leading frames a rephrasing may use; never stacked (an old frame is removed first).
FRAMES = [
    "a picture of", "an image of", "a view of", "a depiction of", "a scene with", "a close look at",
    "a picture showing", "an image featuring",
]

# Other words for the picture a framed prompt names ("a photo of" -> "a photograph of").
FRAME_SYNONYMS: dict[str, list[str]] = {
    "photo": ["photograph", "snapshot"], "photograph": ["photo", "snapshot"], "picture": ["image", "view"],
    "image": ["picture", "view"], "painting": ["painted picture", "canvas"], "drawing": ["drawn picture"],
    "illustration": ["illustrated picture"], "portrait": ["portrait painting", "likeness"],
    "sketch": ["quick sketch"], "view": ["picture", "scene"], "scene": ["view", "picture"],
    "poster": ["print"], "close-up": ["close view"], "cartoon": ["cartoon drawing"],
}

# Word substitutions a rephrasing may use (both directions are fine for these pairs).
SYNONYMS = {
    "cat": "kitty", "dog": "hound", "car": "automobile", "house": "home", "big": "large",
    "small": "little", "picture": "image", "forest": "woods", "ocean": "sea", "city": "town",
    "boat": "vessel", "happy": "joyful", "old": "ancient", "beautiful": "lovely", "road": "street",
    "hill": "slope", "river": "stream", "flower": "blossom", "bird": "songbird", "stone": "rock",
}

# Colour words a critique may ask for ("make it red" -> "in red tones").
COLOURS = frozenset(
    "red orange yellow green blue purple pink brown black white gray grey gold silver teal".split()
)

SLOT_PHRASES: dict[str, list[str]] = {
    "form": FORM, "feature": FEATURE, "setting": SETTING + CREATIVE_SETTING, "view": VIEW, "light": LIGHT,
    "tone": TONE + [f"in {c} tones" for c in sorted(COLOURS)], "style": STYLE,
}

NEGATIONS = frozenset("no not less without fewer never don't stop remove".split())

# Critique words the generator understands: the slot and phrase each one asks for.
CRITIQUE_WANTS: dict[str, tuple[str, str]] = {
    "brighter": ("light", "in bright light"), "bright": ("light", "in bright light"),
    "darker": ("tone", "in dark tones"), "dark": ("tone", "in dark tones"),
    "colorful": ("tone", "in vibrant colors"), "colourful": ("tone", "in vibrant colors"),
    "warmer": ("tone", "in warm tones"), "warm": ("tone", "in warm tones"),
    "cooler": ("tone", "in cool blue tones"), "realistic": ("style", "as a photorealistic photo"),
    "painting": ("style", "as an oil painting"), "cartoon": ("style", "as a cartoon"),
    "simpler": ("style", "as a minimalist illustration"), "detailed": ("feature", "with intricate details"),
    "night": ("light", "at night"), "sunny": ("light", "in bright sunny weather"),
    "calmer": ("light", "in soft morning light"), "closer": ("view", "seen up close"),
    "bigger": ("view", "seen up close"),
}
