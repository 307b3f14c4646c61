"""perf.json -> perf.md: tables, and each target with its figure and verdict."""

from __future__ import annotations

from typing import Any


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return lines + [""]


#: The training section's trainers, as its table and targets name them.
TRAINERS = {"em": "EM", "iql": "IQL", "iql_causal_lm": "IQL (causal LM)"}


def _trainers(training: dict[str, Any]) -> list[tuple[str, str]]:
    return [(name, label) for name, label in TRAINERS.items() if name in training]


def targets(result: dict[str, Any]) -> list[list[Any]]:
    """(target, figure, met?) rows for the sections that were measured."""
    rows: list[list[Any]] = []

    def add(name: str, figure: str, ok: bool) -> None:
        rows.append([name, figure, "met" if ok else "**not met**"])

    if "latency" in result:
        share = result["latency"]["per_turn_in_memory"]["framework_share"]
        add("framework overhead <= 5% of a turn (in memory)", f"{100 * share:.1f}%", share <= 0.05)
        persisted = result["latency"]["per_turn_persisted"]
        share = persisted["framework_share"]
        add("framework overhead <= 5% of a turn (persisted session)", f"{100 * share:.1f}%", share <= 0.05)
        if "framework_share_with_close" in persisted:
            share = persisted["framework_share_with_close"]
            add("... counting close() (waits for the last slate's files) in the session's turns",
                f"{100 * share:.1f}%", share <= 0.05)
        for key, runs in result["latency"]["prefetch"].items():
            on = runs["on"]
            bound = 1.1 * on["t2i_per_turn_s"]
            add(f"click-to-next-slate <= 1.1 x T2I with prefetch ({key})",
                f"{on['click_to_next_slate_s']:.3f} s vs T2I {on['t2i_per_turn_s']:.3f} s",
                on["click_to_next_slate_s"] <= bound)
    if "training" in result:
        for name, label in _trainers(result["training"]):
            figures = result["training"][name]
            ratio = figures["ratio_to_networks_forward_backward"]
            add(f"{label} step <= 1.5 x bare forward+backward of the same networks (online + target)",
                f"{ratio:.2f}x", ratio <= 1.5)
            ratio = figures["ratio_to_forward_backward"]
            add("... against the online network's forward+backward alone (no target pass, no optimizer)",
                f"{ratio:.2f}x", ratio <= 1.5)
    if "simulation" in result:
        for run in result["simulation"]["runs"]:
            if run.get("executor") != "in-process" and "speedup_vs_serial" in run:
                add(f"{run['executor']} >= 1.7 x serial ({run['workers']} workers)",
                    f"{run['speedup_vs_serial']:.2f}x", run["speedup_vs_serial"] >= 1.7)
    if "memory" in result and result["memory"].get("peak_growth_largest_to_smallest"):
        growth = result["memory"]["peak_growth_largest_to_smallest"]
        add("peak memory flat in N (largest / smallest N <= 1.1)", f"{growth:.2f}x", growth <= 1.1)
    return rows


def markdown(result: dict[str, Any]) -> str:
    m = result["machine"]
    lines = ["# pasta bench perf", "",
             f"Machine: {m.get('cpu', m['machine'])}, {m['cpus']} CPUs, {m.get('memory_gib', '?')} GiB, "
             f"Python {m['python']}; load average at start {m.get('load_average_1_5_15')}, "
             f"at end {m.get('load_average_at_end')}. Parallel speed-ups need a quiet machine.", ""]
    lines += ["## Targets", ""] + _table(["target", "figure", "verdict"], targets(result))
    if "latency" in result:
        lat = result["latency"]
        lines += ["## Per-turn latency (seconds per turn)", "", lat["components"], ""]
        keys = [k for k in lat["per_turn_in_memory"] if "share" not in k]
        lines += _table(["component", "in memory", "persisted"],
                        [[k, lat["per_turn_in_memory"][k], lat["per_turn_persisted"].get(k, "")] for k in keys])
        rows = [[key, r["off"]["click_to_next_slate_s"], r["on"]["click_to_next_slate_s"], r["on"]["t2i_per_turn_s"]]
                for key, r in lat["prefetch"].items()]
        lines += ["Click to next slate (median s):", ""]
        lines += _table(["generator", "prefetch off", "prefetch on", "T2I per turn"], rows)
    if "training" in result:
        tr = result["training"]
        lines += ["## Training steps", "", f"torch threads: {tr['threads']}", ""]
        keys = ["bare_forward_backward_s", "bare_networks_forward_backward_s", "bare_networks_optimizer_s",
                "ratio_to_forward_backward", "ratio_to_networks_forward_backward", "ratio_to_networks_optimizer"]
        rows = [[label, tr[name]["em_step_s" if name == "em" else "iql_step_s"], *(tr[name][k] for k in keys)]
                for name, label in _trainers(tr)]
        lines += ["References: online fwd+bwd; fwd+bwd of the same networks (online + target passes); "
                  "the same + optimizer step.", ""]
        lines += _table(["trainer", "step s", "online fwd+bwd s", "networks fwd+bwd s", "networks + opt s",
                         "ratio online", "ratio networks", "ratio networks + opt"], rows)
    if "simulation" in result:
        sim = result["simulation"]
        rounds = sim.get("rounds", 1)
        lines += ["## Simulation throughput", "", f"N = {sim['count']}, shards of {sim['shard_size']}"
                  + (f"; medians of {rounds} rounds, the executors taking turns." if rounds > 1 else "."), ""]
        rows = [[r.get("executor"), r.get("workers", ""), r.get("seconds", r.get("error")),
                 r.get("trajectories_per_s", ""), r.get("speedup_vs_serial", ""),
                 " / ".join(map(str, r.get("round_speedups", []))), r.get("ray_start_s") or ""]
                for r in sim["runs"]]
        lines += _table(["executor", "workers", "seconds", "trajectories/s", "speed-up", "per round", "Ray start s"],
                        rows)
        lines += [f"- {note}" for note in sim["notes"]] + ([""] if sim["notes"] else [])
    if "memory" in result:
        mem = result["memory"]
        lines += ["## Peak memory as N grows (serial)", ""]
        lines += _table(["N", "peak RSS MiB", "seconds"],
                        [[r["n"], r.get("peak_rss_mib", r.get("error")), r.get("seconds", "")] for r in mem["runs"]])
    return "\n".join(lines) + "\n"
