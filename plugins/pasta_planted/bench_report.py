"""Bench outputs: the targets verdict, ``figures.json``, ``report.md`` and ``figures.png``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

ACCURACY_TARGET = 0.97
GAP_TARGET = 0.75


def _stage(figures: dict[str, Any], name: str) -> dict[str, Any]:
    stage = figures["stages"].get(name, {})
    return stage if stage.get("status") == "ok" else {}


def targets(figures: dict[str, Any]) -> dict[str, Any]:
    """Each target of the issue: met, not met, or not measured (and why)."""
    out: dict[str, Any] = {}
    um = _stage(figures, "user_model")
    if um:
        ratio = um["accuracy_ratio"]
        out["em_accuracy"] = {
            "target": f"held-out choice accuracy >= {ACCURACY_TARGET} x Bayes-optimal at K* = 8",
            "value": ratio, "types": figures["world"]["types"],
            "met": bool(ratio >= ACCURACY_TARGET and figures["world"]["types"] == 8),
        }
    else:
        out["em_accuracy"] = {"met": None, "reason": "user-model stage skipped"}
    agents = _stage(figures, "agents").get("agents", {})
    diffs = _stage(figures, "agents").get("differences", {})
    if {"random", "oracle", "value-mixed"} <= set(agents):
        r, o = agents["random"]["final_utility"]["mean"], agents["oracle"]["final_utility"]["mean"]
        gaps = {name: (a["final_utility"]["mean"] - r) / (o - r) if o != r else float("nan")
                for name, a in agents.items() if name.startswith("value-")}
        # The value-slate agent (per-type value models, slate judged as a whole) where it
        # ran, else the paper's one-by-one value selector; both are in per_regime.
        judged = "value-slate-mixed" if "value-slate-mixed" in gaps else "value-mixed"
        out["value_gap"] = {"target": f"value selector closes >= {GAP_TARGET:.0%} of the random-oracle gap",
                            "selector": judged, "value": gaps.get(judged), "per_regime": gaps,
                            "met": bool(gaps.get(judged, 0) >= GAP_TARGET)}
    else:
        out["value_gap"] = {"met": None, "reason": "value agents not evaluated (value-model stage skipped)"}
    if {"value-mixed - value-human", "value-mixed - random", "value-human - random"} <= set(diffs):
        mixed_vs_human = diffs["value-mixed - value-human"]
        checks = {
            "mixed not worse than human-only (95% upper bound >= 0)": mixed_vs_human["ci95"][1] >= 0,
            "mixed better than random (95% lower bound > 0)": diffs["value-mixed - random"]["ci95"][0] > 0,
            "human-only better than random (95% lower bound > 0)": diffs["value-human - random"]["ci95"][0] > 0,
        }
        out["ablation"] = {"target": "mixed >= human-only, both > random, with 95% confidence",
                           "checks": checks, "met": all(checks.values())}
    else:
        out["ablation"] = {"met": None, "reason": "value agents not evaluated (value-model stage skipped)"}
    return out


def _failed_lines(figures: dict[str, Any]) -> list[str]:
    failed = [n for n, s in figures["stages"].items() if s["status"] == "failed"]
    if not failed:
        return []
    return [f"**FAILED**: stage(s) {', '.join(failed)} raised; the run exits with an error. "
            "Every figure below that depends on them is missing.", ""]


def _fmt(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) else str(x)


def _all_answers_line(um: dict[str, Any]) -> list[str]:
    a = um.get("all_answers")
    if not a:
        return []
    return [f"- with the posterior from all earlier answers (choice, satisfaction, comparison): learned "
            f"{_fmt(a['choice_accuracy'])}, Bayes-optimal {_fmt(a['bayes_optimal_accuracy'])}, "
            f"ratio {_fmt(a['accuracy_ratio'])}"]


def _interval(ci: Any) -> str:
    return f"[{_fmt(ci[0])}, {_fmt(ci[1])}]" if ci else ""


def _share_lines(um: dict[str, Any]) -> list[str]:
    e = um.get("expected")
    if not e:
        return []
    return [f"- **share of the chance-to-Bayes gap closed**, (acc - chance) / (Bayes - chance) on expected hits: "
            f"**{_fmt(e['gap_share'])}** {_interval(e['gap_share_ci95'])} (chance {_fmt(e['chance'])}, learned "
            f"{_fmt(e['choice_accuracy'])}, Bayes-optimal {_fmt(e['bayes_optimal_accuracy'])}; plain ratio "
            f"{_fmt(e['accuracy_ratio'])} {_interval(e['accuracy_ratio_ci95'])}; 95% intervals: bootstrap over "
            "held-out sessions)"]


def _ci(entry: dict[str, Any]) -> str:
    low, high = entry["ci95"]
    return f"{_fmt(entry['mean'])} [{_fmt(low)}, {_fmt(high)}]"


def markdown(figures: dict[str, Any]) -> str:
    """The human-readable report."""
    w = figures["world"]
    lines = [f"# Planted-world benchmark{' (--quick)' if figures['quick'] else ''}", "",
             f"World `{w['file']}`: K* = {w['types']} types, choice temperature {w['choice_temperature']}, "
             f"prior {w['prior']}. Total time {figures.get('total_seconds', '?')} s.", "",
             *_failed_lines(figures), "## Stages", "",
             "| stage | status | seconds | note |", "|---|---|---|---|"]
    for name, s in figures["stages"].items():
        status = {"failed": "**FAILED**", "not run": "not run (a stage it needs failed)"}.get(s["status"], s["status"])
        lines.append(f"| {name} | {status} | {s['seconds']} | {s.get('reason', '')} |")
    um = _stage(figures, "user_model")
    if um:
        lines += ["", "## User model (EM) against the truth", "",
                  f"- held-out choice accuracy: {_fmt(um['choice_accuracy'])} "
                  f"(95% CI {_fmt(um['choice_accuracy_ci95'][0])}-{_fmt(um['choice_accuracy_ci95'][1])}, "
                  f"{um['held_out_turns']} turns of {um['held_out_sessions']} held-out sessions)",
                  f"- Bayes-optimal accuracy (planted model, same protocol): {_fmt(um['bayes_optimal_accuracy'])}; "
                  f"ratio {_fmt(um['accuracy_ratio'])} {_interval(um.get('accuracy_ratio_ci95'))}",
                  *_share_lines(um),
                  f"- accuracy with the true type known (upper bound): {_fmt(um['true_type_accuracy'])}",
                  *_all_answers_line(um),
                  f"- adjusted Rand index, learned posterior types vs planted: {_fmt(um['adjusted_rand_index'])} "
                  f"(planted model's own posterior: {_fmt(um['adjusted_rand_index_planted_posterior'])})"]
    agents = _stage(figures, "agents").get("agents", {})
    if agents:
        lines += ["", "## Agents on planted users", "",
                  "| agent | final-turn true utility [95% CI] | expected | turn-5 better / same / worse |",
                  "|---|---|---|---|"]
        for name, a in agents.items():
            last = a["per_turn"][-1] if a["per_turn"] else None
            bsw = " / ".join(_fmt(last[k]["rate"], 2) for k in ("better", "same", "worse")) if last else "-"
            lines.append(f"| {name} | {_ci(a['final_utility'])} | {_fmt(a['final_expected_utility']['mean'])} | {bsw} |")
        diffs = _stage(figures, "agents").get("differences", {})
        if diffs:
            lines += ["", "Paired differences in final-turn true utility (same episodes):", ""]
            lines += [f"- {k}: {_ci(v)}" for k, v in diffs.items()]
    lines += ["", "## Targets", ""]
    for name, t in figures.get("targets", {}).items():
        verdict = {True: "met", False: "NOT met", None: "not measured"}[t.get("met")]
        if t.get("reason"):
            detail = t["reason"]
        elif "checks" in t:
            detail = f"{t.get('target', '')}: " + "; ".join(f"{c}: {'yes' if ok else 'no'}" for c, ok in t["checks"].items())
        else:
            detail = f"{t.get('target', '')}: {_fmt(t.get('value'))}"
            detail += f" ({t['selector']})" if t.get("selector") else ""
        lines.append(f"- **{name}**: {verdict} ({detail})")
    return "\n".join(lines) + "\n"


def plot(figures: dict[str, Any], path: Path) -> None:
    """Final-turn utility per agent, and per-turn better/worse rates."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    agents = _stage(figures, "agents").get("agents", {})
    fig, axes = plt.subplots(1, 2, figsize=(11, 4))
    names = list(agents)
    means = [agents[n]["final_utility"]["mean"] for n in names]
    errors = [[m - agents[n]["final_utility"]["ci95"][0] for n, m in zip(names, means)],
              [agents[n]["final_utility"]["ci95"][1] - m for n, m in zip(names, means)]]
    axes[0].bar(names, means, yerr=errors, capsize=4, color="#4C72B0")
    axes[0].set_title("final-turn true utility (95% CI)")
    axes[0].tick_params(axis="x", rotation=30)
    for n in names:
        turns = [t["turn"] for t in agents[n]["per_turn"]]
        axes[1].plot(turns, [t["better"]["rate"] - t["worse"]["rate"] for t in agents[n]["per_turn"]],
                     marker="o", label=n)
    axes[1].set_title("better minus worse rate per turn")
    axes[1].set_xlabel("turn")
    if names:
        axes[1].legend(fontsize=8)
    um = _stage(figures, "user_model")
    if um:
        fig.suptitle(f"EM accuracy {um['choice_accuracy']:.3f} vs Bayes {um['bayes_optimal_accuracy']:.3f}; "
                     f"ARI {um['adjusted_rand_index']:.2f}", fontsize=10)
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
    if isinstance(value, Path):
        return str(value)
    return value


def dump_json(figures: dict[str, Any], path: Path) -> None:
    """Write ``figures`` as JSON (numpy numbers and paths as plain values)."""
    path.write_text(json.dumps(_jsonable(figures), indent=2, sort_keys=False, allow_nan=True))
