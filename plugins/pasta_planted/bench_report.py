"""Bench outputs: ``figures.json``, ``report.md`` and ``figures.png`` of a run (one world
or a set; the figures and targets come from :mod:`pasta_planted.bench_set`)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np


def _fmt(x: Any, digits: int = 3) -> str:
    if isinstance(x, (int, float, np.floating)) and not isinstance(x, bool):
        return f"{x:.{digits}f}"
    return "-" if x is None else str(x)


def _est(entry: dict[str, Any] | None) -> str:
    """value [low, high] of an estimate."""
    if not entry:
        return "-"
    low, high = entry["ci95"]
    return f"{_fmt(entry['value'])} [{_fmt(low)}, {_fmt(high)}]"


def _status(s: dict[str, Any]) -> str:
    return {"failed": "**FAILED**", "not run": "not run (a stage it needs failed)"}.get(s["status"], s["status"])


def _failures(figures: dict[str, Any]) -> list[str]:
    lines = []
    for w in figures["worlds"]:
        for name, s in w["stages"].items():
            if s["status"] == "failed":
                lines.append(f"- {w['name']} {name}: {s['reason']}")
        for seed, run in w.get("seeds", {}).items():
            for name, s in run["stages"].items():
                if s["status"] == "failed":
                    lines.append(f"- {w['name']} seed {seed} {name}: {s['reason']}")
    if not lines:
        return []
    return ["**FAILED**: these stages raised; the run exits with an error and every figure that depends on "
            "them is missing:", "", *lines, ""]


def _agents(summary: dict[str, Any]) -> list[str]:
    return [k[4:] for k in summary if k.startswith("gap/")]


def markdown(figures: dict[str, Any]) -> str:
    """The human-readable report of a run."""
    summary = figures["summary"]["figures"]
    names = [w["name"] for w in figures["worlds"]]
    lines = [f"# Planted-world benchmark{' (--quick)' if figures['quick'] else ''}", "",
             f"{len(names)} world(s), training seeds {figures['seeds']}, user-model encoder `{figures['encoder']}`, "
             f"{figures['workers']} worker(s). Total time {figures.get('total_seconds', '?')} s.", "",
             *_failures(figures),
             "Figures are means over worlds (each world: the mean over its training seeds) with 95% intervals of a "
             "hierarchical bootstrap over worlds, training seeds and sessions (evaluation episodes or held-out "
             "sessions, a session's turns together); `worst` is the world with the lowest figure, with its own "
             "seeds-and-sessions interval. Agents are compared on the expected final-turn true utility.", "",
             "## Worlds", "", "| world | K* | choice temperature | prior | attribute weights | fidelity |",
             "|---|---|---|---|---|---|"]
    for w in figures["worlds"]:
        d = w["world"]
        prior = "uniform" if len(set(d["prior"])) == 1 else "skewed " + str([round(p, 2) for p in d["prior"]])
        lines.append(f"| {w['name']} | {d['types']} | {d['choice_temperature']} | {prior} | "
                     f"{d.get('attribute_weights', 'all 1')} | {d.get('fidelity_range', '-')} |")
    agents = _agents(summary)
    if agents:
        lines += ["", "## Agents: share of the random-to-oracle gap closed", "",
                  "The oracle knows the type and the very images of every candidate at every slate position and "
                  "picks the slate of highest expected chosen utility (exhaustive search): no agent beats it on a "
                  "turn; an agent can pass 1 over an episode only by planning across turns.", "",
                  "| agent | mean [95%] | worst world | " + " | ".join(names) + " |",
                  "|---|---|---|" + "---|" * len(names)]
        for a in agents:
            e = summary[f"gap/{a}"]
            cells = [_est(e["worlds"].get(n)) for n in names]
            lines.append(f"| {a} | **{_est(e['mean'])}** | {e['worst']['world']}: {_est(e['worst'])} | "
                         + " | ".join(cells) + " |")
        lines += ["", "Expected final-turn true utility:", "", "| agent | mean [95%] | " + " | ".join(names) + " |",
                  "|---|---|" + "---|" * len(names)]
        for key in [k for k in summary if k.startswith("utility/")]:
            e = summary[key]
            lines.append(f"| {key[8:]} | {_est(e['mean'])} | " + " | ".join(_est(e["worlds"].get(n)) for n in names)
                         + " |")
        diffs = [k for k in summary if k.startswith("diff/")]
        if diffs:
            lines += ["", "Paired differences, in units of the random-to-oracle gap:", ""]
            lines += [f"- {k[5:]}: {_est(summary[k]['mean'])} (worst world {summary[k]['worst']['world']}: "
                      f"{_est(summary[k]['worst'])})" for k in diffs]
    if "em/gap_share" in summary:
        lines += ["", "## User model (EM) on held-out sessions", "",
                  "Choice accuracy with the posterior from the session's earlier choices, on expected hits. The "
                  "share of the chance-to-Bayes gap is (accuracy - chance) / (Bayes-optimal - chance).", "",
                  "| figure | mean [95%] | worst world | " + " | ".join(names) + " |",
                  "|---|---|---|" + "---|" * len(names)]
        for key in ("em/gap_share", "em/ratio", "em/accuracy", "em/bayes", "em/chance", "em/ari", "em/ari_planted"):
            if key in summary:
                e = summary[key]
                lines.append(f"| {key[3:]} | **{_est(e['mean'])}** | {e['worst']['world']}: {_est(e['worst'])} | "
                             + " | ".join(_est(e["worlds"].get(n)) for n in names) + " |")
    lines += _distillation(figures, summary)
    lines += ["", "## Held-out prompts and the oracle's bound", ""]
    for w in figures["worlds"]:
        o, b = w["summary"]["prompt_overlap"], w["summary"]["oracle"]
        lines.append(f"- {w['name']}: {o['training_prompts']} training prompts; held-out sessions use "
                     f"{o['held_out_session_prompts']} prompts, {o['held_out_sessions_in_training']} of them in any "
                     f"training data; evaluation episodes {o['evaluation_prompts']} prompts, "
                     f"{o['evaluation_in_training']} in training data. Turn-1 episodes where an agent beat the oracle: "
                     f"{sum(b.get('turn1_violations', {}).values()) if b else '-'}; agents passing the oracle over "
                     f"an episode: {', '.join(b.get('passes_oracle', [])) or 'none' if b else '-'}"
                     + (" (only possible by planning across turns)" if b and b.get("passes_oracle") else "") + ".")
    lines += ["", "## Targets", ""]
    for name, t in figures["summary"]["targets"].items():
        met = t.get("met")
        verdict = {True: "met", False: "NOT met", None: "not measured"}[met]
        if name == "ablation":
            detail = (f"mixed - human-only = {_fmt(t.get('value'))} [{_fmt(t['ci95'][0])}, {_fmt(t['ci95'][1])}] of "
                      f"the gap: **{t['claim']}** (non-inferior only if the lower bound > {t['margin']}, better only "
                      f"if > 0)") if t.get("claim") else t.get("reason", "")
        else:
            detail = f"{t.get('target', '')}: {_fmt(t.get('value')) if 'value' in t else ''}"
            for extra in ("failed", "lower_bounds", "worlds"):
                if extra in t:
                    detail += f" {extra}: {t[extra]}"
        lines.append(f"- **{name}**: {verdict} ({detail})")
    lines += ["", "## Stages (seconds)", "", "| world | seed | stage | status | seconds | note |", "|---|---|---|---|---|---|"]
    for w in figures["worlds"]:
        for name, s in w["stages"].items():
            lines.append(f"| {w['name']} | - | {name} | {_status(s)} | {s['seconds']} | {s.get('reason', '')} |")
        for seed, run in w.get("seeds", {}).items():
            for name, s in run["stages"].items():
                lines.append(f"| {w['name']} | {seed} | {name} | {_status(s)} | {s['seconds']} | {s.get('reason', '')} |")
    return "\n".join(lines) + "\n"


def _ms(entry: dict[str, Any]) -> str:
    return f"{entry['ms']['mean']:.2f} [{entry['ms']['ci95'][0]:.2f}, {entry['ms']['ci95'][1]:.2f}]"


def _calls(teacher: dict[str, Any]) -> str:
    """The teacher's value-model calls per turn (a planner teacher calls none)."""
    calls = teacher.get("value_model_calls_per_turn")
    return "-" if calls is None else f"{calls:.2f}"


def _distillation(figures: dict[str, Any], summary: dict[str, Any]) -> list[str]:
    """The distilled agent against its teacher: gap kept, latency, calls, training, exports."""
    rows = [(w["name"], seed, run["stages"]["distill"]) for w in figures["worlds"]
            for seed, run in w.get("seeds", {}).items() if run["stages"].get("distill", {}).get("status") == "ok"]
    if not rows:
        return []
    lines = ["", "## Distillation (issue 20)", "",
             f"Share of {rows[0][2].get('teacher', 'value-mixed')}'s gap over random kept by the distilled agent: "
             f"**{_est(summary.get('kept/distilled', {}).get('mean'))}**. "
             "Latency: one turn's proposal (candidates and slate) alone, mean ms [95%], on held-out histories; calls: "
             "model calls per turn.", "",
             "| world | seed | teacher ms | distilled ms | speed-up | teacher (MiniLM) ms | speed-up (MiniLM) | "
             "value-model calls | distilled calls | fallback turns | training s | parameters | MB | pairs (sim/human) | "
             "rows openai/gemini/parquet |", "|---" * 15 + "|"]
    for world, seed, d in rows:
        lat = d["latency"]
        minilm = lat.get("teacher_minilm")
        files = d["files"]
        lines.append(
            f"| {world} | {seed} | {_ms(lat['teacher'])} | {_ms(lat['distilled'])} | {_est(lat['speedup'])} | "
            f"{_ms(minilm) if minilm else '-'} | {_est(lat.get('speedup_minilm'))} | "
            f"{_calls(lat['teacher'])} | {lat['distilled']['model_calls_per_turn']:.2f} | "
            f"{lat['distilled']['fallback_turns']} | {d['training']['seconds']} | {d['parameters']:,} | "
            f"{d['weights_bytes'] / 1e6:.2f} | {d['pairs']['simulated']}/{d['pairs']['human']} | "
            f"{files['openai']}/{files['gemini']}/{files['parquet']} |")
    return lines


def plot(figures: dict[str, Any], path: Path) -> None:
    """The gap share of every agent (mean over worlds with its interval, and each world)
    and the EM gap share per world."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = figures["summary"]["figures"]
    agents = _agents(summary)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5))
    for i, a in enumerate(agents):
        e = summary[f"gap/{a}"]
        mean = e["mean"]
        axes[0].errorbar([i], [mean["value"]], yerr=[[mean["value"] - mean["ci95"][0]], [mean["ci95"][1] - mean["value"]]],
                         fmt="o", color="#4C72B0", capsize=4)
        axes[0].scatter([i] * len(e["worlds"]), [w["value"] for w in e["worlds"].values()], s=10, color="#999999")
    axes[0].axhline(0, color="black", lw=0.5)
    axes[0].axhline(1, color="black", lw=0.5, ls="--")
    axes[0].set_xticks(range(len(agents)), agents, rotation=30, ha="right")
    axes[0].set_title("share of the random-to-oracle gap (mean over worlds, 95%; grey: worlds)")
    if "em/gap_share" in summary:
        e = summary["em/gap_share"]
        names = list(e["worlds"])
        values = [e["worlds"][n]["value"] for n in names]
        axes[1].bar(names, values, color="#55A868")
        axes[1].axhline(0.9, color="black", lw=0.5, ls="--")
        axes[1].tick_params(axis="x", rotation=30)
        axes[1].set_title(f"EM: share of the chance-to-Bayes gap (mean {e['mean']['value']:.2f})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_outputs(figures: dict[str, Any], out: Path) -> dict[str, str]:
    """figures.json, report.md and figures.png in ``out``."""
    files = {"json": out / "figures.json", "report": out / "report.md", "plot": out / "figures.png"}
    dump_json(figures, files["json"])
    files["report"].write_text(markdown(figures))
    plot(figures, files["plot"])
    return {k: str(v) for k, v in files.items()}


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.floating, np.integer)):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    return value


def dump_json(figures: dict[str, Any], path: Path) -> None:
    """Write ``figures`` as JSON (numpy numbers and paths as plain values)."""
    path.write_text(json.dumps(_jsonable(figures), indent=2, sort_keys=False, allow_nan=True))
