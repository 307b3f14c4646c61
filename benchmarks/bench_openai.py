"""Figures for the openai generator against a stub OpenAI-compatible server on 127.0.0.1.
Prints Markdown (docs/benchmarks.md, issue 18).

    .venv/bin/python benchmarks/bench_openai.py [--turns 40] [--runs 5]

1. Requests per turn: a good answer, a malformed answer once, 429 twice (Retry-After 0),
   and a server without structured output (``response_format=auto``), over three turns.
2. Time per turn of the generator against a bare ``client.chat.completions.create`` call
   with the same messages to the same server, paired and interleaved; per run the median
   of the paired differences with a bootstrap 95% interval. Text-only (turn 1) and turn 5
   with the chosen images of four earlier turns (16 procedural images, 1024 px, sent at
   512 px); the generator encodes each earlier image once (later requests reuse it), so
   the repeated turn shows the steady state and the next table the cost of a new image.
3. The time to scale and encode one new 1024 px image (paid once per image).
4. Bytes of image parts per turn in a 5-turn session with the procedural renderer
   (``images=chosen`` and ``all``; 256 px default images and 1024 px ones capped at 512).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "backends"))
os.environ.pop("OPENAI_API_KEY", None)
os.environ.pop("OPENAI_BASE_URL", None)

from openai_stub import StubServer, completion, error, good  # noqa: E402

from pasta_core import EpisodeConfig, get_plugins  # noqa: E402
from pasta_core.engine import Agent  # noqa: E402
from pasta_core.session import Session  # noqa: E402
from pasta_llm import RetryPolicy, build_prompt, history_image_parts  # noqa: E402
from pasta_openai import messages, response_format  # noqa: E402


def _generator(server: StubServer, **options):
    return get_plugins().create("generator", "openai", base_url=server.url, model="stub",
                                retry=RetryPolicy(sleep=lambda s: None), **options)


def requests_per_turn() -> dict[str, str]:
    def malformed(body):
        return 200, completion("Sorry, here: " + json.dumps({"style": ["one"]}))

    def plain_only(body):
        if "response_format" in body:
            return 400, error("response_format is not supported")
        return good(body)

    limited = (429, error("slow down"), {"retry-after": "0"})
    scenarios = {
        "good": [good], "malformed once": [malformed, good], "429 twice": [limited, limited, good],
        "no structured output (auto)": [plain_only],
    }
    counts = {}
    for label, replies in scenarios.items():
        with StubServer(*replies) as server:
            generator = _generator(server)
            per_turn = []
            for turn in range(1, 4):
                before = len(server.seen)
                generator.generate(_session_request(turn)[0])
                per_turn.append(len(server.seen) - before)
        counts[label] = " / ".join(map(str, per_turn))
    return counts


def _session_request(turn: int, size: int = 256):
    """The generation request of ``turn`` in a procedural session answered with column 1
    each turn (its generator reads the chosen images), and the session."""
    plugins = get_plugins()

    class Recorder:
        history_images = "chosen"

        def __init__(self):
            self.inner, self.last = plugins.create("generator", "template"), None

        def generate(self, request):
            self.last = request
            return self.inner.generate(request)

    recorder = Recorder()
    agent = Agent(recorder, plugins.create("selector", "random"), plugins.create("t2i", "procedural", size=size))
    session = Session(agent, EpisodeConfig(turns=5), seed=3, prefetch=False)
    session.start("a lighthouse on a cliff at dusk")
    for _ in range(turn - 1):
        session.choose(1)
    return recorder.last, session


def _paired(a, b, turns: int, rng: random.Random) -> list[float]:
    """Per-turn differences a() - b() in ms, each pair run in a random order."""
    a(), b()
    differences = []
    for _ in range(turns):
        order = [a, b] if rng.random() < 0.5 else [b, a]
        took = {}
        for fn in order:
            start = time.perf_counter()
            fn()
            took[fn] = time.perf_counter() - start
        differences.append(1000 * (took[a] - took[b]))
    return differences


def _interval(values: list[float], rng: random.Random, draws: int = 2000) -> tuple[float, float, float]:
    medians = sorted(statistics.median(rng.choices(values, k=len(values))) for _ in range(draws))
    return statistics.median(values), medians[int(0.025 * draws)], medians[int(0.975 * draws)]


def overhead(turns: int, runs: int) -> list[str]:
    import openai

    rows = []
    for label, turn, size in (("turn 1, text only", 1, 256), ("turn 5, 16 chosen images (1024 px)", 5, 1024)):
        request, _ = _session_request(turn, size)
        for run in range(runs):
            rng = random.Random(run)
            with StubServer() as server:
                generator = _generator(server)
                client = openai.OpenAI(base_url=server.url, api_key="none", max_retries=0)
                prompt = build_prompt(request, (), history_image_parts(request, generator.images))
                sent = messages(prompt)
                shape = response_format("json_schema", prompt.schema)

                def bare(client=client, sent=sent, shape=shape, seed=prompt.seed):
                    client.chat.completions.create(model="stub", messages=sent, seed=seed, response_format=shape)

                start = time.perf_counter()
                differences = _paired(lambda g=generator, r=request: g.generate(r), bare, turns, rng)
                wall = time.perf_counter() - start
                bare_ms = _bare_median(bare, 9)
            middle, low, high = _interval(differences, rng)
            rows.append(f"| {label} | {run + 1} | {bare_ms:.2f} | {middle:+.2f} [{low:+.2f}, {high:+.2f}] | "
                        f"{generator.requests / (turns + 1):g} | {wall:.1f} | {os.getloadavg()[0]:.1f} |")
    return rows


def _bare_median(fn, n: int) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append(1000 * (time.perf_counter() - start))
    return statistics.median(times)


def encoding_ms(runs: int) -> list[str]:
    """The cost of a new earlier image: scaling a 1024 px procedural image to 512 px and
    encoding it as JPEG (once per image: later turns reuse it)."""
    from pasta_llm.images import encode_image

    images = get_plugins().create("t2i", "procedural", size=1024).render([f"a lighthouse, view {i}" for i in range(16)],
                                                                          list(range(16)))
    rows = []
    for run in range(runs):
        times = []
        for image in images:
            start = time.perf_counter()
            encode_image(image, 512)
            times.append(1000 * (time.perf_counter() - start))
        middle, low, high = _interval(times, random.Random(run))
        rows.append(f"| {run + 1} | {middle:.1f} [{low:.1f}, {high:.1f}] | {os.getloadavg()[0]:.1f} |")
    return rows


def image_bytes() -> list[str]:
    rows = []
    for mode, size in (("chosen", 256), ("chosen", 1024), ("all", 256), ("all", 1024)):
        with StubServer() as server:
            plugins = get_plugins()
            generator = _generator(server, images=mode)
            agent = Agent(generator, plugins.create("selector", "random"), plugins.create("t2i", "procedural", size=size))
            session = Session(agent, EpisodeConfig(turns=5), seed=3, prefetch=False)
            session.start("a lighthouse on a cliff at dusk")
            for _ in range(4):
                session.choose(1)
        per_turn = []
        for body in server.bodies:
            content = body["messages"][1]["content"]
            urls = [p["image_url"]["url"] for p in content if p["type"] == "image_url"] if isinstance(content, list) else []
            raw = sum(len(u.split(",", 1)[1]) * 3 // 4 for u in urls)
            per_turn.append((len(urls), raw, len(json.dumps(body))))
        cells = " | ".join(f"{n} img, {raw / 1024:.0f} KiB ({total / 1024:.0f} KiB body)" for n, raw, total in per_turn)
        rows.append(f"| {mode} | {size} px | {cells} |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=40, help="paired turns timed per run")
    parser.add_argument("--runs", type=int, default=5, help="runs (each on a fresh stub server)")
    args = parser.parse_args()
    print(f"load average at start: {os.getloadavg()[0]:.1f}\n")
    print("| scenario | requests in turns 1 / 2 / 3 |\n|---|---|")
    for label, counts in requests_per_turn().items():
        print(f"| {label} | {counts} |")
    print("\n| turn | run | bare SDK call ms (median) | generator - bare, ms: median [95% interval] | requests/turn | run s | load |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(overhead(args.turns, args.runs)))
    print("\n| run | ms to scale and encode one new 1024 px image: median [95% interval] | load |\n|---|---|---|")
    print("\n".join(encoding_ms(args.runs)))
    print("\n| images | rendered at | turn 1 | turn 2 | turn 3 | turn 4 | turn 5 |\n|---|---|---|---|---|---|---|")
    print("\n".join(image_bytes()))


if __name__ == "__main__":
    main()
