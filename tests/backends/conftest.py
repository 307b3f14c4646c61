"""Fixtures for the backend tests: tiny diffusers pipelines (built once per session),
mock HTTP transports for the LLM SDKs, and a stub provider server on 127.0.0.1."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from backends_helpers import ANTHROPIC_KEY, GEMINI_KEY, NoSleep, good_reply


@pytest.fixture
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", GEMINI_KEY)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    monkeypatch.setenv("ANTHROPIC_API_KEY", ANTHROPIC_KEY)


@pytest.fixture
def no_sleep() -> NoSleep:
    return NoSleep()


@pytest.fixture
def make_request() -> Callable[..., Any]:
    from pasta_core import Candidate, History, Turn
    from pasta_core.config import DEFAULT_CATEGORIES
    from pasta_core.protocols import GenerationRequest

    def make(turns: int = 1, per_category: int = 5, word_limit: int = 12, seed: int = 7) -> Any:
        history = History("a white cat")
        for t in range(turns - 1):
            cands = [Candidate(f"a white cat, turn {t} {c}", c) for c in DEFAULT_CATEGORIES]
            critique = "more blue" if t == 0 else None
            history = history.append(Turn(cands, cands[:4], 1, critique=critique))
        return GenerationRequest(history, turns, DEFAULT_CATEGORIES, per_category, word_limit, seed)

    return make


# ------------------------------------------------------------------ stub provider server


class _StubHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.seen.append((self.path, dict(self.headers), body))  # type: ignore[attr-defined]
        status, payload = good_reply(body)
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def stub_server() -> Any:
    """A real HTTP server on 127.0.0.1 answering Gemini and Anthropic requests well."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StubHandler)
    server.seen = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    server.url = f"http://127.0.0.1:{server.server_address[1]}"  # type: ignore[attr-defined]
    yield server
    server.shutdown()
    server.server_close()


# ------------------------------------------------------------------ tiny pipelines


@pytest.fixture(scope="session")
def tiny_sdxl(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random StableDiffusionXLPipeline saved to a folder (built once per session)."""
    from pasta_diffusers.tiny import save_tiny_pipeline

    return str(save_tiny_pipeline("sdxl", tmp_path_factory.mktemp("tiny-sdxl")))


@pytest.fixture(scope="session")
def tiny_sd(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random StableDiffusionPipeline saved to a folder (built once per session)."""
    from pasta_diffusers.tiny import save_tiny_pipeline

    return str(save_tiny_pipeline("sd", tmp_path_factory.mktemp("tiny-sd")))


@pytest.fixture(scope="session")
def tiny_sd3(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A tiny random StableDiffusion3Pipeline (two CLIP encoders, no T5) saved to a folder."""
    from pasta_diffusers.tiny import save_tiny_pipeline

    return str(save_tiny_pipeline("sd3", tmp_path_factory.mktemp("tiny-sd3")))


@pytest.fixture(scope="session")
def tiny_loras(tmp_path_factory: pytest.TempPathFactory, tiny_sdxl: str, tiny_sd3: str) -> dict[str, list[str]]:
    """Two random LoRA files (safetensors, built with peft) for each of tiny_sdxl and tiny_sd3."""
    from pasta_diffusers.tiny import save_tiny_lora

    folders = {"sdxl": tiny_sdxl, "sd3": tiny_sd3}
    return {kind: [str(save_tiny_lora(folder, tmp_path_factory.mktemp(f"lora-{kind}-{i}"), seed=i))
                   for i in range(2)] for kind, folder in folders.items()}
