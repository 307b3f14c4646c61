"""Template refinements: how many read as machine-made, before and after issue 19.

Two steps, so a generator from another tree can be scored by this tree's checks:

    # candidates of the generator on the path: turn 1 of every packaged prompt, and 6-turn
    # walks (each turn a seeded random candidate is chosen) from every 4th prompt
    .venv/bin/python benchmarks/bench_template.py generate --out after.json
    PYTHONPATH=OLD:OLD/plugins .venv/bin/python benchmarks/bench_template.py generate --out before.json
    # the share of candidates with a problem (tests/plugins/test_template_refinements.py:
    # over the word limit, a repeated clause, two phrases of one slot, two styles, stacked
    # frames, broken grammar, a dangling last word)
    .venv/bin/python benchmarks/bench_template.py check before.json after.json
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import numpy as np

LIMIT = 30


def _prompts() -> tuple[str, ...]:
    try:
        from pasta_cli.data import initial_prompts
    except ImportError:  # a tree from before the CLI left the core
        from pasta_core.data import initial_prompts  # type: ignore[no-redef]
    return initial_prompts()


def generate(out: str, turns: int = 6) -> None:
    from pasta_core import DEFAULT_CATEGORIES, History, Turn
    from pasta_core.protocols import GenerationRequest
    from pasta_template import TemplateGenerator

    generator, rows = TemplateGenerator(), []
    for n, prompt in enumerate(_prompts()):
        history, rng = History(prompt), np.random.default_rng(n)
        for turn in range(1, (turns if n % 4 == 0 else 1) + 1):
            request = GenerationRequest(history, turn, DEFAULT_CATEGORIES, 5, LIMIT, n)
            candidates = generator.generate(request)
            rows += [{"intent": prompt, "turn": turn, "category": c.category, "text": c.text} for c in candidates]
            chosen = candidates[int(rng.integers(len(candidates)))]
            history = History(prompt, [*history.turns, Turn(candidates, [chosen], 0)])
    Path(out).write_text(json.dumps(rows), encoding="utf-8")


def check(paths: list[str]) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "plugins"))
    from test_template_refinements import problems

    for path in paths:
        rows = json.loads(Path(path).read_text(encoding="utf-8"))
        for label, part in (("turn 1", [r for r in rows if r["turn"] == 1]), ("turn 6", [r for r in rows if r["turn"] == 6])):
            found = Counter(p.split(" '")[0] for r in part for p in problems(r["text"], r["intent"]))
            bad = sum(bool(problems(r["text"], r["intent"])) for r in part)
            print(f"{path} {label}: {bad}/{len(part)} candidates with a problem ({bad / max(len(part), 1):.1%}); {dict(found)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    gen = sub.add_parser("generate")
    gen.add_argument("--out", required=True)
    chk = sub.add_parser("check")
    chk.add_argument("paths", nargs="+")
    args = parser.parse_args()
    generate(args.out) if args.command == "generate" else check(args.paths)


if __name__ == "__main__":
    main()
