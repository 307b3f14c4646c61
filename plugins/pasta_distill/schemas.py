"""The providers' documented fine-tuning formats, as JSON schemas plus the rules a schema
cannot say, so that every exported line is checked before anyone uploads it.

- OpenAI chat fine-tuning (supervised): one JSON object per line with ``messages``, a list
  of ``{"role", "content"}`` (roles system/developer, user, assistant, tool, function;
  content a string or a list of content parts), ``weight`` (0 or 1) only on assistant
  messages, at least one assistant message to learn from.
- Gemini / Vertex AI supervised tuning: one JSON object per line with ``contents``, a list
  of ``{"role": "user" | "model", "parts": [...]}`` (a part holds ``text`` or
  ``fileData`` with ``mimeType`` and ``fileUri``), an optional ``systemInstruction`` with
  ``parts``; the turns alternate starting with ``user`` and the last one is ``model``.
"""

from __future__ import annotations

from typing import Any

from pasta_core.errors import InvalidValueError, require

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


def openai_problems(line: dict[str, Any]) -> list[str]:
    """What is wrong with one OpenAI chat fine-tuning line (empty: nothing)."""
    problems = _schema_problems(line, OPENAI_CHAT_SCHEMA)
    found = line.get("messages")
    messages: list[Any] = found if isinstance(found, list) else []
    roles = [m.get("role") for m in messages if isinstance(m, dict)]
    if "assistant" not in roles:
        problems.append("messages: no assistant message to learn from")
    problems += [f"messages/{i}: weight on a {m.get('role')} message" for i, m in enumerate(messages)
                 if isinstance(m, dict) and "weight" in m and m.get("role") != "assistant"]
    return problems


def gemini_problems(line: dict[str, Any]) -> list[str]:
    """What is wrong with one Gemini / Vertex AI tuning line (empty: nothing)."""
    problems = _schema_problems(line, GEMINI_TUNING_SCHEMA)
    found = line.get("contents")
    contents: list[Any] = found if isinstance(found, list) else []
    roles = [c.get("role") for c in contents if isinstance(c, dict)]
    if any(role != ("user" if i % 2 == 0 else "model") for i, role in enumerate(roles)):
        problems.append(f"contents: roles must alternate user, model, ... (got {roles})")
    if roles and roles[-1] != "model":
        problems.append("contents: the last turn must be the model's (the target)")
    return problems


CHECKS = {"openai": openai_problems, "gemini": gemini_problems}


def check_lines(kind: str, lines: list[dict[str, Any]], file: str) -> None:
    """Raise one line naming ``file`` and the first bad line if any line breaks the format."""
    for number, line in enumerate(lines, start=1):
        problems = CHECKS[kind](line)
        if problems:
            raise InvalidValueError(f"{file} line {number} is not a valid {kind} tuning example: {problems[0]}")
