"""Figures for the backend plugins, rerunnable on a quiet machine (not a test: no test_ prefix).

    HF_HUB_OFFLINE=1 .venv/bin/python tests/backends/bench_backends.py [--turns 30] [--repeats 5]

1. LLM generators with a stubbed provider: requests per turn (good, malformed-once,
   rate-limited-twice answers) and the plugin's latency overhead per turn over a bare SDK
   call answered by the same in-process mock transport.
2. Tiny SDXL pipeline, one turn of 16 images (64x64, 2 steps): the sdxl plugin's render time
   against a plain diffusers call with the same prompts and generators.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GEMINI_API_KEY", "bench-key")
os.environ.setdefault("ANTHROPIC_API_KEY", "bench-key")

from backends_helpers import NoSleep, Provider, anthropic_body, gemini_body, good_reply  # noqa: E402

from pasta_core import History, get_plugins  # noqa: E402
from pasta_core.config import DEFAULT_CATEGORIES  # noqa: E402
from pasta_core.protocols import GenerationRequest  # noqa: E402
from pasta_llm import RetryPolicy, build_prompt  # noqa: E402


def _median_ms(a, b, repeats: int) -> tuple[float, float]:
    """Median wall times of ``a()`` and ``b()``, interleaved so that machine noise hits both."""
    a(), b()  # warm-up
    times: tuple[list[float], list[float]] = ([], [])
    for _ in range(repeats):
        for fn, bucket in ((a, times[0]), (b, times[1])):
            start = time.perf_counter()
            fn()
            bucket.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[0]), 1000 * statistics.median(times[1])


def _request(seed: int = 1) -> GenerationRequest:
    return GenerationRequest(History("a white cat"), 1, DEFAULT_CATEGORIES, 5, 12, seed)


def _generator(name: str, provider: Provider):
    retry = RetryPolicy(sleep=NoSleep())
    return get_plugins().create("generator", name, http_client=provider.client(), retry=retry)


def _bare_call(name: str, generator, prompt) -> None:
    """The same request through the SDK alone (what the plugin adds is the difference)."""
    ask = generator.ask
    if name == "gemini":
        from google.genai import types

        config = types.GenerateContentConfig(
            system_instruction=prompt.system, temperature=1.0, top_p=0.9, seed=prompt.seed,
            candidate_count=1, response_mime_type="application/json", response_json_schema=prompt.schema,
        )
        ask.client.models.generate_content(model=ask.model, contents=prompt.user, config=config)
    else:
        tool = {"name": "propose_prompt_expansions", "description": "d", "input_schema": prompt.schema}
        ask.client.messages.create(
            model=ask.model, max_tokens=4096, system=prompt.system,
            messages=[{"role": "user", "content": prompt.user}], tools=[tool],
            tool_choice={"type": "tool", "name": "propose_prompt_expansions"},
        )


def _requests_per_turn(name: str) -> dict[str, int]:
    body = gemini_body if name == "gemini" else anthropic_body
    limited = (429, {"error": {"code": 429, "message": "quota", "status": "RESOURCE_EXHAUSTED"},
                     "type": "error"})
    scenarios = {
        "good": Provider(good_reply),
        "malformed once": Provider((200, body("not json")), good_reply),
        "rate-limited twice": Provider(limited, limited, good_reply),
    }
    counts = {}
    for label, provider in scenarios.items():
        _generator(name, provider).generate(_request())
        counts[label] = len(provider.requests)
    return counts


def bench_generators(turns: int) -> None:
    print("## LLM generators, stubbed provider (in-process mock transport)")
    print("| generator | requests/turn: good / malformed once / 429 twice | plugin ms/turn | bare SDK ms/call | overhead ms |")
    print("|---|---|---|---|---|")
    for name in ("gemini", "anthropic"):
        counts = " / ".join(str(v) for v in _requests_per_turn(name).values())
        plugin, bare = _time_generator(name, turns)
        print(f"| {name} | {counts} | {plugin:.2f} | {bare:.2f} | {plugin - bare:.2f} |")


def _time_generator(name: str, turns: int) -> tuple[float, float]:
    generator = _generator(name, Provider(good_reply))
    request = _request()
    prompt = build_prompt(request)
    return _median_ms(lambda: generator.generate(request), lambda: _bare_call(name, generator, prompt), turns)


def bench_tiny_pipeline(repeats: int) -> None:
    import diffusers
    import torch

    from pasta_diffusers.tiny import save_tiny_pipeline

    folder = save_tiny_pipeline("sdxl", Path(tempfile.mkdtemp()) / "tiny-sdxl")
    t2i = get_plugins().create("t2i", "sdxl", model=str(folder), steps="2", width="64", height="64",
                               device="cpu", batch_size="16")
    pipe = diffusers.StableDiffusionXLPipeline.from_pretrained(str(folder))
    pipe.set_progress_bar_config(disable=True)
    prompts = [f"a white cat, variant {i % 4}" for i in range(16)]
    seeds = list(range(16))

    def plain() -> None:
        pipe(prompt=prompts, generator=[torch.Generator().manual_seed(s) for s in seeds],
             num_inference_steps=2, guidance_scale=5.0, width=64, height=64)

    ours, theirs = _median_ms(lambda: t2i.render(prompts, seeds), plain, repeats)
    print(f"\n## Tiny SDXL, one turn of 16 images, 64x64, 2 steps, CPU ({torch.get_num_threads()} threads)")
    print(f"sdxl plugin: {ours:.0f} ms/turn ({t2i.calls} pipeline calls for {repeats + 1} turns); "
          f"plain diffusers call: {theirs:.0f} ms; overhead {ours - theirs:+.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=50, help="generator turns timed per plugin")
    parser.add_argument("--repeats", type=int, default=7, help="tiny-pipeline turns timed")
    args = parser.parse_args()
    bench_generators(args.turns)
    bench_tiny_pipeline(args.repeats)


if __name__ == "__main__":
    main()
