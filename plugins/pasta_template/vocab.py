"""Vocabularies of the template generator, one list per candidate category.

``{p}`` stands for the prompt being expanded (the last chosen prompt, or the intent).
"""

from __future__ import annotations

REPHRASE = [
    "an image of {p}", "a depiction of {p}", "{p}, as the main subject", "a scene showing {p}",
    "a view of {p}", "a rendering of {p}", "an artwork of {p}", "{p}, centered in the frame",
    "a composition featuring {p}", "a clear picture of {p}", "{p}, seen up close",
    "a portrait of {p}", "{p}, shown in full", "a snapshot of {p}", "a study of {p}",
]

# Word substitutions a rephrasing may use (both directions are fine for these pairs).
SYNONYMS = {
    "cat": "kitty", "dog": "hound", "puppy": "young dog", "car": "automobile", "house": "home",
    "big": "large", "small": "little", "picture": "image", "photo": "photograph",
    "forest": "woods", "ocean": "sea", "city": "town", "boat": "vessel", "happy": "joyful",
    "old": "ancient", "beautiful": "lovely", "road": "street", "hill": "slope",
    "river": "stream", "tree": "oak", "flower": "blossom", "bird": "songbird",
}

DETAIL = [
    "with intricate details", "with fine textures", "surrounded by wildflowers",
    "with soft fur and bright eyes", "on a wooden table", "with a detailed background",
    "next to a small pond", "among tall grass", "with scattered autumn leaves",
    "on a cobblestone street", "with a red ribbon", "under a clear blue sky",
    "with mountains in the distance", "in a cozy living room", "beside an old stone wall",
    "with reflections on wet ground", "with two small birds nearby", "in a sunlit meadow",
    "with ornate patterns", "surrounded by books", "near a window with plants",
    "with snow on the ground", "in front of a brick house", "on a sandy beach",
    "with a lush green garden behind", "with flowers in the foreground",
]

STYLE = [
    "as an oil painting", "in watercolor", "as pixel art", "as a pencil sketch",
    "as a studio photograph", "as a 3d render", "in the style of a ukiyo-e woodblock print",
    "as a flat vector illustration", "as a charcoal drawing", "as a cartoon",
    "as a stained glass mosaic", "as a vintage poster", "as a photorealistic photo",
    "as an impressionist painting", "as a clay model render", "as a minimalist illustration",
    "in an isometric 3d style", "as an ink drawing", "as a retro 8-bit game scene",
    "as a children's book illustration", "as a pop art poster", "as a cinematic film still",
]

MOOD = [
    "at golden hour", "at sunset", "at night under moonlight", "in soft morning light",
    "with dramatic lighting", "on a foggy morning", "in a moody dark atmosphere",
    "in bright sunny weather", "with warm cozy light", "under neon lights",
    "in cold winter light", "at dawn", "with a serene calm mood", "in vibrant colors",
    "in muted pastel tones", "with glowing highlights", "during a storm", "in hazy dusk light",
    "with cinematic lighting", "in a gloomy rainy atmosphere", "in a misty forest light",
]

TWIST = [
    "reimagined as a tiny figurine", "made of glass", "in a futuristic city",
    "floating in outer space", "as a giant", "in an underwater world", "made of paper",
    "in a fairy tale castle", "on the surface of the moon", "in a steampunk workshop",
    "wearing a tiny crown", "in a snowy winter wonderland", "in a desert at noon",
    "as a robot", "surrounded by floating bubbles", "in a jungle full of vines",
    "in a miniature toy world", "as a golden statue", "in a library of giant books",
    "on a pirate ship", "in an enchanted garden", "riding a bicycle",
]

CATEGORY_PHRASES: dict[str, list[str]] = {
    "detail": DETAIL,
    "style": STYLE,
    "mood": MOOD,
    "twist": TWIST,
}

NEGATIONS = frozenset("no not less without fewer never don't stop remove".split())

# Critique words the generator understands, and the phrase each one asks for.
CRITIQUE_WANTS = {
    "brighter": "in bright light", "bright": "in bright light", "darker": "in dark tones",
    "dark": "in dark tones", "colorful": "in vibrant colors", "colourful": "in vibrant colors",
    "warmer": "in warm tones", "warm": "in warm tones", "cooler": "in cool blue tones",
    "realistic": "as a photorealistic photo", "painting": "as an oil painting",
    "cartoon": "as a cartoon", "simpler": "as a minimalist illustration",
    "detailed": "with intricate details", "night": "at night", "sunny": "in bright sunny weather",
    "bigger": "seen up close", "closer": "seen up close", "calmer": "with a serene calm mood",
}
