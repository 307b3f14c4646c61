"""``pasta run --generator gemini|anthropic --t2i sdxl --user sim`` end to end: a stub
provider on 127.0.0.1 (reached through the base_url option) and a tiny pipeline folder."""

from __future__ import annotations

import json

import pytest
from backends_helpers import GEMINI_KEY
from click.testing import CliRunner


def _run(args):
    from pasta_cli import cli, load_plugin_commands

    load_plugin_commands()
    return CliRunner().invoke(cli, ["run", *args], catch_exceptions=False)


def _t2i_options(tiny_sdxl):
    options = [f"model={tiny_sdxl}", "steps=2", "width=64", "height=64", "device=cpu", "batch_size=16"]
    return [x for o in options for x in ("--t2i-option", o)]


def _parts(generator, body):
    if generator == "gemini":
        return body["contents"][0]["parts"]
    content = body["messages"][0]["content"]
    return [{"type": "text", "text": content}] if isinstance(content, str) else content


def _prompt_text(generator, body):
    return "\n".join(p["text"] for p in _parts(generator, body) if "text" in p)


def _image_parts(generator, body):
    key = "inline_data" if generator == "gemini" else "source"
    return sum(1 for p in _parts(generator, body) if key in p or "inlineData" in p)


@pytest.mark.slow
@pytest.mark.parametrize("generator", ["gemini", "anthropic"])
def test_pasta_run_with_a_stub_provider_and_a_tiny_sdxl(keys, stub_server, tiny_sdxl, tmp_path, generator):
    result = _run([
        "--generator", generator, "--t2i", "sdxl", "--user", "sim", "--turns", "2",
        "--prompt", "a white cat", "--seed", "3", "--out", str(tmp_path),
        "--generator-option", f"base_url={stub_server.url}", *_t2i_options(tiny_sdxl),
    ])
    assert result.exit_code == 0, result.output
    assert "turn 2: chose column" in result.output
    assert len(stub_server.seen) == 2  # one request per turn
    path, headers, body = stub_server.seen[0]
    if generator == "gemini":
        assert path.endswith("models/gemini-2.5-flash:generateContent")
        assert headers["x-goog-api-key"] == GEMINI_KEY
    else:
        assert path == "/v1/messages"
    assert '"a white cat"' in _prompt_text(generator, body)
    second = stub_server.seen[1][2]
    assert "Turn 1: the person chose" in _prompt_text(generator, second)
    # Turn 2 sees the chosen column's pictures of turn 1 as image parts (the default).
    assert _image_parts(generator, second) >= 1
    (session,) = [p for p in tmp_path.iterdir() if p.is_dir()]
    recorded = json.dumps(json.loads((session / "session.json").read_text()))
    assert GEMINI_KEY not in recorded and "API_KEY" not in recorded
    images = list(session.rglob("*.png"))
    assert len(images) >= 2 * 16


def test_pasta_run_without_a_key_says_what_to_set(monkeypatch, tmp_path):
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    result = _run(["--generator", "gemini", "--user", "sim", "--out", str(tmp_path)])
    assert result.exit_code != 0
    assert "set the environment variable GEMINI_API_KEY or GOOGLE_API_KEY" in result.output


def test_pasta_run_without_weights_says_where_to_put_them(keys, monkeypatch, tmp_path):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.chdir(tmp_path)
    result = _run(["--t2i", "sdxl", "--user", "sim", "--out", str(tmp_path), "--t2i-option", "device=cpu"])
    assert result.exit_code != 0
    assert "is not in the Hugging Face cache" in result.output
    assert "--t2i-option model=/models/sdxl" in result.output


@pytest.mark.slow
def test_prefetch_option_asks_ahead_for_every_click(keys, stub_server, tiny_sdxl, tmp_path):
    """With prefetch=true the session asks ahead for the possible clicks: up to 1 + L requests.

    The branches start while the first turn's images are being saved, so at least two of
    the four have been sent before the simulated click cancels the rest."""
    result = _run([
        "--generator", "gemini", "--t2i", "sdxl", "--user", "sim", "--turns", "2",
        "--prompt", "a white cat", "--out", str(tmp_path), "--generator-option", f"base_url={stub_server.url}",
        "--generator-option", "prefetch=true", *_t2i_options(tiny_sdxl),
    ])
    assert result.exit_code == 0, result.output
    assert 3 <= len(stub_server.seen) <= 5
