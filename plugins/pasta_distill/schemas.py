"""The providers' documented fine-tuning formats, as JSON schemas plus the rules a schema
cannot say, so that every exported line is checked before anyone uploads it.

- OpenAI chat fine-tuning (supervised): one JSON object per line with ``messages``, a list
  of ``{"role", "content"}`` (roles system/developer, user, assistant, tool, function;
  content a string or a list of content parts), ``weight`` (0 or 1) only on assistant
  messages, at least one assistant message to learn from.
  Images (OpenAI's vision fine-tuning guide, developers.openai.com/api/docs/guides/
  vision-fine-tuning, "Image data requirements"): content parts ``{"type": "image_url",
  "image_url": {"url": ...}}`` with an HTTP(S) URL or a ``data:`` URL of a base64 image,
  JPEG, PNG or WEBP, in RGB or RGBA, at most 10 MB each, at most 10 per example, and never
  in assistant messages.
- Gemini / Vertex AI supervised tuning: one JSON object per line with ``contents``, a list
  of ``{"role": "user" | "model", "parts": [...]}`` (a part holds one of ``text``,
  ``fileData`` with ``mimeType`` and ``fileUri``, or ``inlineData`` with ``mimeType`` and
  base64 ``data``), an optional ``systemInstruction`` with ``parts``; the turns alternate
  starting with ``user`` and the last one is ``model``. Images: Vertex AI's image tuning
  page (cloud.google.com/vertex-ai/generative-ai/docs/models/tune_gemini/image_tune) gives
  at most 30 images per example and 20 MB per image, and shows them as ``fileData`` (a
  Cloud Storage or public URL); ``inlineData`` is the other media field of the same
  ``Content``/``Part`` type (the Gemini API's ``Blob``: ``mimeType`` and base64 ``data``),
  the one a file can carry offline. Media parts here go in user turns only (the target is
  the model's text; our rule).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
from collections.abc import Callable, Iterator
from typing import Any

from pasta_core.errors import InvalidValueError, require

#: The documented image limits: (images per example, bytes per image).
OPENAI_IMAGE_LIMITS = (10, 10 * 1024 * 1024)
GEMINI_IMAGE_LIMITS = (30, 20 * 1024 * 1024)
#: Image MIME types both providers take, with Pillow's name of the format.
IMAGE_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP"}
_DATA_URL = re.compile(r"data:(?P<mime>[\w/+.-]+);base64,(?P<data>.*)", re.DOTALL)

_TEXT_PART = {"type": "object", "required": ["type", "text"], "additionalProperties": False,
              "properties": {"type": {"const": "text"}, "text": {"type": "string"}}}
_IMAGE_PART = {"type": "object", "required": ["type", "image_url"], "additionalProperties": False,
               "properties": {"type": {"const": "image_url"},
                              "image_url": {"type": "object", "required": ["url"],
                                            "properties": {"url": {"type": "string"},
                                                           "detail": {"enum": ["auto", "low", "high"]}}}}}

OPENAI_CHAT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["messages"],
    "additionalProperties": False,
    "properties": {
        "messages": {"type": "array", "minItems": 2, "items": {
            "type": "object", "required": ["role", "content"],
            "properties": {
                "role": {"enum": ["system", "developer", "user", "assistant", "tool", "function"]},
                "content": {"anyOf": [{"type": "string"},
                                      {"type": "array", "minItems": 1, "items": {"anyOf": [_TEXT_PART, _IMAGE_PART]}}]},
                "name": {"type": "string"},
                "weight": {"enum": [0, 1]},
            }}},
        "tools": {"type": "array"},
        "parallel_tool_calls": {"type": "boolean"},
    },
}

_GEMINI_PART = {"type": "object", "minProperties": 1, "maxProperties": 1, "properties": {
    "text": {"type": "string"},
    "fileData": {"type": "object", "required": ["mimeType", "fileUri"], "additionalProperties": False,
                 "properties": {"mimeType": {"type": "string"}, "fileUri": {"type": "string"}}},
    "inlineData": {"type": "object", "required": ["mimeType", "data"], "additionalProperties": False,
                   "properties": {"mimeType": {"type": "string"}, "data": {"type": "string"}}},
}, "additionalProperties": False}

GEMINI_TUNING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["contents"],
    "additionalProperties": False,
    "properties": {
        "systemInstruction": {"type": "object", "required": ["parts"], "additionalProperties": False,
                              "properties": {"role": {"type": "string"},
                                             "parts": {"type": "array", "minItems": 1,
                                                       "items": {"type": "object", "required": ["text"],
                                                                 "properties": {"text": {"type": "string"}},
                                                                 "additionalProperties": False}}}},
        "contents": {"type": "array", "minItems": 2, "items": {
            "type": "object", "required": ["role", "parts"], "additionalProperties": False,
            "properties": {"role": {"enum": ["user", "model"]},
                           "parts": {"type": "array", "minItems": 1, "items": _GEMINI_PART}}}},
    },
}


def _schema_problems(line: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    jsonschema = require("jsonschema", "distill")
    validator = jsonschema.Draft202012Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(line)'}: {e.message}" for e in validator.iter_errors(line)]


def image_problems(where: str, mime: str, data: str, max_bytes: int, max_side: int | None = None) -> list[str]:
    """What is wrong with one base64 image of MIME type ``mime``: not base64, over
    ``max_bytes``, not a picture of that type, not RGB/RGBA, or a side over ``max_side``."""
    if mime not in IMAGE_FORMATS:
        return [f"{where}: image type {mime!r} is not one of {', '.join(IMAGE_FORMATS)}"]
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        return [f"{where}: the image data is not base64"]
    if len(raw) > max_bytes:
        return [f"{where}: the image is {len(raw):,} bytes, over the documented {max_bytes:,}"]
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(raw)) as picture:
            found, size, mode = picture.format, picture.size, picture.mode
            picture.verify()
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
        return [f"{where}: the data is not a readable {mime} image ({exc})"]
    problems = []
    if found != IMAGE_FORMATS[mime]:
        problems.append(f"{where}: the data is a {found} image, not {mime}")
    if mode not in ("RGB", "RGBA"):
        problems.append(f"{where}: image mode {mode}, not RGB or RGBA")
    if max_side is not None and max(size) > max_side:
        problems.append(f"{where}: the image is {size[0]}x{size[1]}, over the stated {max_side} px a side")
    return problems


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _openai_image(where: str, url: Any, max_side: int | None) -> list[str]:
    if not isinstance(url, str):
        return []  # the schema says what is wrong
    if url.startswith(("https://", "http://")):
        return []  # fetched by the provider; nothing to check offline
    match = _DATA_URL.fullmatch(url)
    if match is None:
        return [f"{where}: an image URL is an http(s) URL or a data:<type>;base64, URL"]
    return image_problems(where, match["mime"], match["data"], OPENAI_IMAGE_LIMITS[1], max_side)


def _media_parts(entries: list[Any], name: str, field: str,
                 is_media: Callable[[dict[str, Any]], bool]) -> Iterator[tuple[str, Any, dict[str, Any]]]:
    """(where, role, part) of the media parts of messages / contents ``entries``."""
    for i, entry in enumerate(entries):
        if isinstance(entry, dict):
            for j, part in enumerate(_list(entry.get(field))):
                if isinstance(part, dict) and is_media(part):
                    yield f"{name}/{i}/{field}/{j}", entry.get("role"), part


def _too_many(name: str, count: int, limit: int) -> list[str]:
    return [f"{name}: {count} images, over the documented {limit} per example"] if count > limit else []


def openai_image_problems(messages: list[Any], max_side: int | None = None) -> list[str]:
    """What is wrong with the image parts of OpenAI ``messages`` (see the module docstring)."""
    parts = list(_media_parts(messages, "messages", "content", lambda p: p.get("type") == "image_url"))
    problems = [f"{where}: images are allowed only in user messages, not {role}" for where, role, _ in parts
                if role != "user"]
    for where, _, part in parts:
        image = part.get("image_url")
        problems += _openai_image(where, image.get("url") if isinstance(image, dict) else None, max_side)
    return problems + _too_many("messages", len(parts), OPENAI_IMAGE_LIMITS[0])


def gemini_image_problems(contents: list[Any], max_side: int | None = None) -> list[str]:
    """What is wrong with the media parts of Gemini ``contents`` (see the module docstring)."""
    parts = list(_media_parts(contents, "contents", "parts", lambda p: "inlineData" in p or "fileData" in p))
    problems = [f"{where}: media parts go in user turns only, not {role}" for where, role, _ in parts
                if role != "user"]
    for where, _, part in parts:
        blob = part.get("inlineData")
        if isinstance(blob, dict) and isinstance(blob.get("data"), str) and isinstance(blob.get("mimeType"), str):
            problems += image_problems(where, blob["mimeType"], blob["data"], GEMINI_IMAGE_LIMITS[1], max_side)
    return problems + _too_many("contents", len(parts), GEMINI_IMAGE_LIMITS[0])


def openai_problems(line: dict[str, Any], max_side: int | None = None) -> list[str]:
    """What is wrong with one OpenAI chat fine-tuning line (empty: nothing); ``max_side``:
    the longest side its inline images may have."""
    problems = _schema_problems(line, OPENAI_CHAT_SCHEMA)
    messages = _list(line.get("messages"))
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if "assistant" not in roles:
        problems.append("messages: no assistant message to learn from")
    problems += [f"messages/{i}: weight on a {m.get('role')} message" for i, m in enumerate(messages)
                 if isinstance(m, dict) and "weight" in m and m.get("role") != "assistant"]
    return problems + openai_image_problems(messages, max_side)


def gemini_problems(line: dict[str, Any], max_side: int | None = None) -> list[str]:
    """What is wrong with one Gemini / Vertex AI tuning line (empty: nothing); ``max_side``:
    the longest side its inline images may have."""
    problems = _schema_problems(line, GEMINI_TUNING_SCHEMA)
    contents = _list(line.get("contents"))
    roles = [c.get("role") for c in contents if isinstance(c, dict)]
    if any(role != ("user" if i % 2 == 0 else "model") for i, role in enumerate(roles)):
        problems.append(f"contents: roles must alternate user, model, ... (got {roles})")
    if roles and roles[-1] != "model":
        problems.append("contents: the last turn must be the model's (the target)")
    return problems + gemini_image_problems(contents, max_side)


CHECKS = {"openai": openai_problems, "gemini": gemini_problems}


def check_line(kind: str, line: dict[str, Any], file: str, number: int, max_side: int | None = None) -> None:
    """Raise one line naming ``file`` and line ``number`` if ``line`` breaks ``kind``'s format."""
    problems = CHECKS[kind](line, max_side)
    if problems:
        raise InvalidValueError(f"{file} line {number} is not a valid {kind} tuning example: {problems[0]}")


def check_lines(kind: str, lines: list[dict[str, Any]], file: str, max_side: int | None = None) -> None:
    """Raise one line naming ``file`` and the first bad line if any line breaks the format."""
    for number, line in enumerate(lines, start=1):
        check_line(kind, line, file, number, max_side)
