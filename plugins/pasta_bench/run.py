"""Run the chosen sections and write perf.json and perf.md."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path
from typing import Any

import attrs


@attrs.frozen
class PerfOptions:
    """What ``pasta bench perf`` measures, and at which sizes."""

    sections: tuple[str, ...] = ("latency", "training", "simulation", "memory")
    quick: bool = False
    count: int = 200
    sizes: tuple[int, ...] = (200, 1000, 4000)
    workers: int = 2
    executors: tuple[str, ...] = ("in-process", "process", "ray")
    latency: float = 0.3
    rounds: int = 3


def machine() -> dict[str, Any]:
    """What the figures were taken on, including the load when they started."""
    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine(),
                            "cpus": os.cpu_count(), "python": platform.python_version()}
    try:
        info["load_average_1_5_15"] = [round(x, 2) for x in os.getloadavg()]
    except OSError:
        pass
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                info["memory_gib"] = round(int(line.split()[1]) / 2**20, 1)
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return info


def run_perf(options: PerfOptions, out: str | os.PathLike[str], plugins: Any) -> dict[str, Path]:
    """Measure, then write ``perf.json`` and ``perf.md`` under ``out``."""
    from pasta_bench.report import markdown

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    result: dict[str, Any] = {"machine": machine(), "options": attrs.asdict(options), "seconds": {}}
    for section in options.sections:
        started = time.perf_counter()
        result[section] = _measure(section, options, plugins)
        result["seconds"][section] = round(time.perf_counter() - started, 1)
        (folder / "perf.json").write_text(json.dumps(result, indent=2))  # partial results survive a kill
    result["machine"]["load_average_at_end"] = machine().get("load_average_1_5_15")
    (folder / "perf.json").write_text(json.dumps(result, indent=2))
    (folder / "perf.md").write_text(markdown(result))
    return {"json": folder / "perf.json", "markdown": folder / "perf.md"}


def _measure(section: str, options: PerfOptions, plugins: Any) -> dict[str, Any]:
    if section == "latency":
        from pasta_bench.latency import latency_section

        return latency_section(plugins, options.quick, options.latency)
    if section == "training":
        from pasta_bench.training import training_section

        return training_section(options.quick)
    from pasta_bench.simulation import memory_section, throughput_section

    if section == "simulation":
        return throughput_section(options.count, options.workers, options.executors, options.rounds, plugins=plugins)
    return memory_section(options.sizes, plugins=plugins)
