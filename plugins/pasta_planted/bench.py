"""``pasta bench planted``: the method, end to end, graded against a known truth.

Stages (each timed). A stage is ``ok``, ``skipped`` on purpose (an optional extra is not
installed: :class:`StageSkipped` or :class:`~pasta_core.errors.MissingDependencyError`,
the report says which), or ``failed`` (it raised anything else: the report says FAILED
with the error, and :func:`run_bench` raises :class:`BenchFailed` after writing the
outputs, so ``pasta bench planted`` exits non-zero). A stage that needs a skipped stage
is skipped too; one that needs a failed stage is ``not run``:

1. data: human-like training sessions, held-out sessions and Pick-a-Pic-style pairs from
   the planted raters (embedded by the user model's encoder, in memory);
2. user model: clip-em trained by EM (K = K*), held-out choice accuracy against the
   Bayes-optimal accuracy, adjusted Rand index of the posterior types;
3. simulation: trajectories of the *learned* user model with the random policy;
4. value model: IQL on human-like only (rewards labelled by the learned user model under
   each session's most likely type), simulated only, and mixed data;
5. agents on planted users: random, first, value (three data regimes), oracle.

Writes ``figures.json``, ``report.md`` and ``figures.png`` to the output folder.
"""

from __future__ import annotations

import time
import traceback
from pathlib import Path
from typing import Any

import attrs

from pasta_core.config import EpisodeConfig
from pasta_core.errors import MissingDependencyError, PastaError, require
from pasta_planted.bench_common import StageSkipped, single_thread_torch
from pasta_planted.bench_report import dump_json
from pasta_planted.config import load_config
from pasta_planted.world import PlantedWorld

__all__ = ["Bench", "BenchFailed", "StageSkipped", "run_bench"]


class BenchFailed(PastaError):
    """A stage of the bench raised: the outputs are written, the run failed."""


class Bench:
    """Holds the state passed between stages; components come from ``plugins``."""

    def __init__(self, world_file: str | None, out: str | Path, quick: bool, seed: int, progress: bool,
                 workers: int = 2, *, plugins: Any) -> None:
        self.workers = workers
        self.plugins = plugins
        self.config = load_config(world_file)
        self.world = PlantedWorld(self.config, plugins)
        self.sizes = self.config.quick if quick else self.config.bench
        self.out = Path(out)
        self.out.mkdir(parents=True, exist_ok=True)
        self.quick, self.seed, self.progress = quick, seed, progress
        s = self.config.sessions
        self.episode_config = EpisodeConfig(turns=s.turns, slate_size=s.slate_size, images_per_prompt=s.images_per_prompt)
        from pasta_procedural import ProceduralT2I

        self.t2i = ProceduralT2I(size=self.sizes.image_size)
        self.figures: dict[str, Any] = {
            "world": {"file": self.config.source, **self.world.describe()},
            "sizes": attrs.asdict(self.sizes), "quick": quick, "seed": seed, "stages": {},
        }
        self.state: dict[str, Any] = {}

    def stage(self, name: str, function: Any, needs: tuple[str, ...] = ()) -> None:
        """Run one stage, recording its time and status: ``ok``, ``skipped`` (on purpose: a
        missing extra), ``failed`` (it raised: the error and traceback are kept) or ``not
        run`` (a stage it needs failed)."""
        statuses = {n: self.figures["stages"].get(n, {}).get("status") for n in needs}
        failed = [n for n, s in statuses.items() if s != "ok" and s != "skipped"]
        skipped = [n for n, s in statuses.items() if s == "skipped"]
        record: dict[str, Any] = {}
        started = time.perf_counter()
        if failed:
            record = {"status": "not run", "reason": f"needs stage(s) {', '.join(failed)}, which failed"}
        elif skipped:
            record = {"status": "skipped", "reason": f"needs stage(s) {', '.join(skipped)}, skipped on purpose"}
        else:
            try:
                result = function()
                record = {"status": "ok", **(result or {})}
            except (StageSkipped, MissingDependencyError) as exc:
                record = {"status": "skipped", "reason": f"skipped on purpose: {exc}"}
            except Exception as exc:  # reported, the later stages go on; run_bench then fails
                record = {"status": "failed", "reason": f"{type(exc).__name__}: {exc}",
                          "traceback": traceback.format_exc(limit=8)}
        record["seconds"] = round(time.perf_counter() - started, 2)
        self.figures["stages"][name] = record
        dump_json(self.figures, self.out / "figures.json")  # partial figures survive a kill
        if self.progress:
            print(f"[bench] {name}: {record['status']} in {record['seconds']} s"
                  + (f" ({record['reason']})" if record["status"] != "ok" else ""), flush=True)

    def start_early_agents(self) -> None:
        """With 2+ workers, evaluate the agents that need nothing learned (random, first,
        oracle, references) in a background process from now on: EM trains on one core."""
        if self.workers < 2:
            return
        from pasta_planted.bench_agents import EarlyAgents, baseline_specs

        self.state["early_agents"] = EarlyAgents(self.config, baseline_specs(self.sizes), self.sizes.episodes,
                                                 self.seed + 2, self.episode_config, self.sizes.image_size,
                                                 progress=self.progress)

    # ----- stages ------------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        from pasta_planted.bench_data import collect_pairs, collect_sessions

        options = {"dim": self.sizes.em_dim, "seed": self.seed}
        encoder = self.plugins.create("encoder", "embedded", **options)
        self.state["encoder"] = encoder
        z = self.sizes
        common = dict(progress=self.progress, workers=self.workers, encoder_options=options, plugins=self.plugins)
        self.state["train"] = collect_sessions(self.world, z.sessions, self.seed, encoder, self.t2i,
                                               self.episode_config, "human", **common)
        self.state["test"] = collect_sessions(self.world, z.test_sessions, self.seed + 1, encoder, self.t2i,
                                              self.episode_config, "heldout", **common)
        self.state["pairs"] = collect_pairs(self.world, z.pair_raters, z.pairs_per_rater, self.seed, encoder,
                                            plugins=self.plugins)
        return {"sessions": z.sessions, "test_sessions": z.test_sessions,
                "pairs": int(len(self.state["pairs"].rater)), "pair_raters": z.pair_raters}

    def user_model(self) -> dict[str, Any]:
        require("torch", "train")
        from pasta_planted.bench_data import build_labels
        from pasta_planted.bench_em import evaluate_em, train_em

        encoder = self.state["encoder"]
        labels = build_labels(encoder, self.state["train"], self.state["pairs"])
        trained = train_em(labels, self.world, self.sizes, self.out / "user-model", self.seed, self.progress,
                           self.plugins)
        self.state["em"] = trained
        self.state["train_labels"] = build_labels(encoder, self.state["train"])
        test_labels = build_labels(encoder, self.state["test"])
        figures = evaluate_em(trained["model"], trained["prior"], self.world, self.state["test"], test_labels,
                              self.plugins)
        return {**figures, "train_seconds": round(trained["seconds"], 2), "checkpoint": str(trained["path"]),
                "em_splits": trained["splits"]}

    def simulation(self) -> dict[str, Any]:
        from pasta_clip_em.usermodel import ClipEmUserModel
        from pasta_simulate.simulate import SimulationSpec, simulate

        em = self.state["em"]
        user_model = ClipEmUserModel(em["model"], em["prior"], encoder=self.state["encoder"],
                                     aggregator=em["model"].config.build_aggregator(self.plugins))
        spec = SimulationSpec(count=self.sizes.simulated, seed=self.seed, user_model=str(em["path"]),
                              t2i_options={"size": self.sizes.image_size}, shard_size=max(self.sizes.simulated // 4, 1),
                              embeddings="none", reward_mode="sparse")
        folder = self.out / "simulated"
        if (folder / "simulation.json").is_file():  # a fresh model each run: never resume another's shards
            import shutil

            shutil.rmtree(folder)
        if self.workers > 1 and self.sizes.simulated >= 200:  # workers load the checkpoint (same shards);
            # below that, starting them costs more than they save
            result = simulate(spec, folder, progress=self.progress, workers=self.workers, plugins=self.plugins)
        else:
            result = simulate(spec, folder, progress=self.progress, user_model=user_model, plugins=self.plugins)
        self.state["simulated"] = folder
        return {"trajectories": result.trajectories, "trajectories_per_s": round(result.trajectories / result.seconds, 3),
                "folder": str(folder)}

    def value_models(self) -> dict[str, Any]:
        require("torch", "train")
        from pasta_planted.bench_value import train_regimes

        models, figures = train_regimes(self)
        self.state["value_models"] = models
        return figures

    def agents(self) -> dict[str, Any]:
        from pasta_planted.bench_agents import agents_stage

        return agents_stage(self)


def run_bench(world_file: str | None, out: str | Path, quick: bool = False, seed: int = 0,
              progress: bool = True, workers: int = 2, *, plugins: Any) -> dict[str, Any]:
    """Run every stage, with components from ``plugins``, and write the figures, the
    report and the plot."""
    from pasta_planted.bench_report import targets, write_outputs

    started = time.perf_counter()
    single_thread_torch()
    bench = Bench(world_file, out, quick, seed, progress, workers, plugins=plugins)
    bench.stage("data", bench.data)
    bench.start_early_agents()
    bench.stage("user_model", bench.user_model, needs=("data",))
    bench.stage("simulation", bench.simulation, needs=("user_model",))
    bench.stage("value_models", bench.value_models, needs=("user_model",))
    bench.stage("agents", bench.agents)
    bench.figures["total_seconds"] = round(time.perf_counter() - started, 2)
    bench.figures["targets"] = targets(bench.figures)
    files = write_outputs(bench.figures, bench.out)
    failed = failed_stages(bench.figures)
    if failed:
        raise BenchFailed(f"stage(s) {', '.join(failed)} FAILED (see {files['report']}): "
                          + "; ".join(f"{n}: {bench.figures['stages'][n]['reason']}" for n in failed))
    return {"figures": bench.figures, "files": files}


def failed_stages(figures: dict[str, Any]) -> list[str]:
    """The stages that raised (or could not run because one did)."""
    return [name for name, s in figures["stages"].items() if s["status"] in ("failed", "not run")]
