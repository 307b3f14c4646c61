"""Word lists that steer the procedural renderer.

Each list maps prompt words to a visual effect. Words not listed still matter: they are
hashed into an accent hue and a decoration pattern, so different prompts never collapse
onto one picture.
"""

from __future__ import annotations

COLORS: dict[str, tuple[int, int, int]] = {
    "red": (205, 40, 45), "crimson": (170, 20, 50), "scarlet": (230, 35, 30),
    "orange": (240, 140, 30), "amber": (245, 170, 40), "yellow": (245, 215, 50),
    "gold": (225, 180, 60), "golden": (230, 185, 70), "green": (60, 160, 70),
    "emerald": (30, 150, 100), "lime": (160, 220, 60), "olive": (120, 130, 50),
    "teal": (30, 140, 140), "turquoise": (60, 200, 190), "cyan": (60, 210, 230),
    "blue": (45, 90, 200), "navy": (25, 40, 110), "azure": (70, 150, 240),
    "purple": (120, 60, 170), "violet": (140, 80, 200), "lavender": (180, 160, 225),
    "pink": (240, 140, 180), "magenta": (215, 50, 160), "brown": (120, 80, 45),
    "beige": (220, 200, 165), "black": (25, 25, 30), "white": (240, 240, 240),
    "gray": (130, 130, 135), "grey": (130, 130, 135), "silver": (190, 195, 200),
    "rainbow": (200, 100, 200), "pastel": (225, 200, 220),
}

# Words that set the sky (top) and ground (bottom) colours of the background.
SCENES: dict[str, tuple[tuple[int, int, int], tuple[int, int, int]]] = {
    "sunset": ((250, 150, 80), (120, 60, 90)), "sunrise": ((250, 190, 120), (150, 120, 140)),
    "dawn": ((240, 190, 170), (110, 110, 150)), "dusk": ((110, 80, 140), (40, 40, 70)),
    "night": ((15, 20, 50), (10, 10, 25)), "midnight": ((10, 10, 35), (5, 5, 15)),
    "moonlight": ((40, 50, 90), (20, 25, 45)), "space": ((5, 5, 20), (15, 10, 40)),
    "ocean": ((130, 190, 240), (20, 80, 150)), "sea": ((140, 195, 235), (30, 90, 150)),
    "beach": ((150, 205, 245), (235, 210, 160)), "desert": ((240, 210, 160), (210, 160, 100)),
    "forest": ((150, 200, 160), (40, 90, 40)), "jungle": ((120, 190, 120), (25, 80, 30)),
    "snow": ((225, 235, 245), (245, 248, 252)), "winter": ((200, 215, 235), (235, 240, 248)),
    "city": ((170, 180, 200), (80, 85, 95)), "street": ((180, 185, 195), (90, 90, 95)),
    "downtown": ((170, 180, 200), (80, 85, 95)), "bay": ((140, 195, 235), (30, 90, 150)),
    "mountain": ((160, 200, 235), (90, 110, 90)), "field": ((170, 215, 245), (110, 170, 70)),
    "garden": ((175, 215, 240), (80, 150, 70)), "underwater": ((40, 130, 170), (10, 50, 90)),
    "room": ((215, 200, 180), (150, 120, 90)), "kitchen": ((230, 225, 210), (170, 150, 120)),
    "sky": ((120, 180, 245), (190, 220, 250)), "fire": ((250, 120, 30), (120, 20, 10)),
    "storm": ((70, 75, 90), (40, 45, 55)), "autumn": ((230, 170, 110), (150, 80, 30)),
}

TIMES = frozenset("sunset sunrise dawn dusk night midnight moonlight storm fire".split())

# Mood and lighting words: (brightness factor, saturation factor, warm shift in [-1, 1]).
MOODS: dict[str, tuple[float, float, float]] = {
    "bright": (1.25, 1.1, 0.0), "sunny": (1.2, 1.15, 0.3), "vibrant": (1.1, 1.5, 0.0),
    "colorful": (1.1, 1.6, 0.0), "vivid": (1.1, 1.5, 0.0), "dark": (0.55, 0.9, 0.0),
    "moody": (0.65, 0.8, -0.2), "gloomy": (0.6, 0.6, -0.3), "foggy": (1.1, 0.45, 0.0),
    "misty": (1.1, 0.5, -0.1), "hazy": (1.05, 0.6, 0.1), "warm": (1.05, 1.1, 0.6),
    "cozy": (0.95, 1.05, 0.5), "cold": (0.95, 0.9, -0.6), "icy": (1.05, 0.8, -0.7),
    "golden": (1.1, 1.2, 0.7), "neon": (0.8, 1.8, -0.1), "soft": (1.1, 0.8, 0.1),
    "dramatic": (0.75, 1.3, 0.0), "serene": (1.05, 0.85, -0.1), "muted": (0.95, 0.5, 0.0),
    "glowing": (1.2, 1.3, 0.3), "cinematic": (0.85, 1.15, 0.1), "pastel": (1.2, 0.55, 0.1),
}

# Style words -> the texture pass applied after drawing.
STYLES: dict[str, str] = {
    "watercolor": "watercolor", "watercolour": "watercolor", "painting": "oil", "oil": "oil",
    "impressionist": "oil", "impasto": "oil", "pixel": "pixel", "8-bit": "pixel",
    "retro": "pixel", "sketch": "sketch", "pencil": "sketch", "charcoal": "sketch",
    "drawing": "sketch", "ink": "sketch", "photo": "photo", "photograph": "photo",
    "photorealistic": "photo", "realistic": "photo", "cinematic": "photo", "cartoon": "flat",
    "flat": "flat", "vector": "flat", "minimalist": "flat", "illustration": "flat",
    "poster": "poster", "ukiyo-e": "poster", "woodblock": "poster", "pop": "poster",
    "render": "render", "3d": "render", "clay": "render", "isometric": "render",
    "mosaic": "mosaic", "stained": "mosaic", "glass": "mosaic", "abstract": "mosaic",
}

# Nouns drawn in the sky rather than on the ground.
FLYING = frozenset(
    "bird birds songbird eagle owl parrot bat butterfly bee plane airplane jet helicopter rocket "
    "balloon kite sun moon star stars cloud clouds planet ufo dragon angel fairy".split()
)

# Scene words also put a few small pictograms (table words) along the horizon or in the sky:
# (noun in the pictogram table, how many, in the sky).
SCENE_PROPS: dict[str, tuple[str, int, bool]] = {
    "forest": ("pine", 5, False), "jungle": ("palm", 4, False), "garden": ("tulip", 5, False),
    "field": ("seedling", 4, False), "city": ("building", 4, False), "downtown": ("building", 4, False), "street": ("building", 3, False),
    "mountain": ("mountain", 2, False), "desert": ("cactus", 2, False), "beach": ("palm", 2, False),
    "ocean": ("wave", 3, False), "sea": ("wave", 3, False), "bay": ("sailboat", 2, False), "underwater": ("fish", 4, False),
    "night": ("moon", 1, True), "midnight": ("moon", 1, True), "moonlight": ("moon", 1, True),
    "sunset": ("sun", 1, True), "sunrise": ("sun", 1, True), "dawn": ("sun", 1, True), "dusk": ("sun", 1, True),
    "space": ("planet", 2, True), "storm": ("lightning", 2, True), "snow": ("snowflake", 4, True),
    "winter": ("snowflake", 3, True), "autumn": ("maple", 3, False), "fire": ("fire", 3, False),
}

# Places that are drawn even before another noun ("a harbour town", "a farm house").
PLACES = frozenset("harbour harbor port marina farm island village river lake castle church".split())

# Weather words drawn over the scene: "fog" (a haze), "rain" (streaks), "snow" (flakes),
# "stars" (dots in a night sky).
WEATHER: dict[str, str] = {
    "fog": "fog", "foggy": "fog", "mist": "fog", "misty": "fog", "haze": "fog", "hazy": "fog",
    "rain": "rain", "rainy": "rain", "raining": "rain", "storm": "rain", "snow": "snow",
    "snowy": "snow", "snowing": "snow", "blizzard": "snow", "night": "stars", "midnight": "stars",
    "starry": "stars", "space": "stars",
}

# "X on Y": X stands on Y; "X above Y": X floats over Y; "X under Y": X stands at Y's foot.
RELATIONS: dict[str, str] = {
    "on": "on", "atop": "on", "onto": "on", "above": "above", "over": "above", "under": "front",
    "below": "front", "beneath": "front", "underneath": "front", "beside": "beside",
}

COUNTS: dict[str, int] = {
    "a": 1, "an": 1, "one": 1, "single": 1, "lone": 1, "two": 2, "pair": 2, "couple": 2,
    "three": 3, "four": 4, "five": 5, "six": 6, "several": 4, "many": 7, "crowd": 9,
    "group": 5, "herd": 6, "flock": 7, "dozens": 9,
}

POSITIONS: dict[str, tuple[float, float]] = {
    "left": (0.28, 0.6), "right": (0.72, 0.6), "top": (0.5, 0.3), "above": (0.5, 0.3),
    "flying": (0.5, 0.3), "below": (0.5, 0.78), "bottom": (0.5, 0.8), "under": (0.5, 0.78),
    "center": (0.5, 0.55), "middle": (0.5, 0.55),
}

SIZES: dict[str, float] = {
    "close-up": 1.9, "closeup": 1.9, "portrait": 1.6, "giant": 1.7, "huge": 1.6,
    "big": 1.35, "large": 1.35, "small": 0.65, "tiny": 0.5, "miniature": 0.55,
    "distant": 0.55, "wide": 0.7, "landscape": 0.75, "panoramic": 0.65,
}

DETAIL_WORDS = frozenset(
    "detailed intricate ornate elaborate textured patterned decorated highly complex".split()
)
