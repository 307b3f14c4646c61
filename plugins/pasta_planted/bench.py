"""``pasta bench planted``: the method, end to end, graded against a known truth.

A run covers one world (``--world FILE``) or a set (``--worlds DIR``), each with
``--seeds N`` training seeds. Per world (:class:`WorldRun`):

- ``held_out``: the initial prompts are split by the ``prompt-split`` stream (root
  ``[bench] evaluation_seed``): a ``held_out_prompts`` share is never used by any
  training data; the held-out sessions that grade the user model are drawn from them.
- ``baselines``: random, first, the true oracle (and ``[bench] references``) on the
  evaluation episodes (held-out prompts, fixed for the world: every training seed's
  agents meet the same episodes); with 2+ workers in a background process.

Per training seed (:class:`Bench`; every data set's root is the seed's ``dataset``
stream, so seeds share no data):

1. data: human-like training sessions and Pick-a-Pic-style pairs (training prompts),
   embedded by the user model's encoder, in memory;
2. user model: clip-em trained by EM (K = K*), graded on the world's held-out sessions
   against the Bayes-optimal accuracy (share of the chance-to-Bayes gap, plain ratio,
   adjusted Rand index);
3. simulation: trajectories of the *learned* user model with the random policy;
4. value model: IQL on human-like only (rewards labelled by the learned user model under
   each session's most likely type), simulated only, and mixed data, plus one per learned
   type (the value-slate agent);
5. distill (with ``[bench] distill`` or ``--distill``): the teacher (``[bench]
   distill_teacher``: value-mixed or the user-model-slate planner) distilled into one
   model (:mod:`pasta_planted.bench_distill`);
6. agents: the learned agents (and the distilled one) on the world's evaluation episodes.

A stage is ``ok``, ``skipped`` on purpose (an optional extra is not installed:
:class:`StageSkipped` or :class:`~pasta_core.errors.MissingDependencyError`, said so), or
``failed`` (it raised anything else: the report says FAILED with the error, and
:func:`run_bench` raises :class:`BenchFailed` after writing the outputs, so ``pasta bench
planted`` exits non-zero). A stage that needs a skipped stage is skipped too; one that
needs a failed stage is ``not run``.

Writes ``figures.json``, ``report.md`` and ``figures.png`` to the output folder, and each
world's and seed's ``figures.json`` below it (:mod:`pasta_planted.bench_set` aggregates).
"""

from __future__ import annotations

import logging
import time
import traceback
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from pasta_core.config import EpisodeConfig
from pasta_core.errors import MissingDependencyError, PastaError, require
from pasta_core.streams import run_seed
from pasta_planted.bench_common import StageSkipped, dataset_seed, single_thread_torch
from pasta_planted.bench_report import dump_json
from pasta_planted.config import PlantedConfig, load_config
from pasta_planted.world import PlantedWorld

log = logging.getLogger(__name__)

__all__ = ["Bench", "BenchFailed", "StageSkipped", "WorldRun", "run_bench"]

#: The user model's encoder settings are fixed (not a training seed's): its seed.
ENCODER_SEED = 0


class BenchFailed(PastaError):
    """A stage of the bench raised: the outputs are written, the run failed."""


def split_prompts(prompts: tuple[str, ...], share: float, root: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(training prompts, held-out prompts): a ``share`` of ``prompts`` drawn by the
    ``prompt-split`` stream of ``root``; both keep the original order."""
    order = np.random.default_rng(run_seed(root, "prompt-split", 0)).permutation(len(prompts))
    held = set(order[: max(1, round(share * len(prompts)))].tolist())
    return (tuple(p for i, p in enumerate(prompts) if i not in held),
            tuple(p for i, p in enumerate(prompts) if i in held))


class Stages:
    """Runs stages into ``figures["stages"]``, timing each and keeping its status."""

    figures: dict[str, Any]
    out: Path
    progress: bool
    label: str = ""

    def status_of(self, name: str) -> str | None:
        return self.figures["stages"].get(name, {}).get("status")

    def stage(self, name: str, function: Any, needs: tuple[str, ...] = ()) -> None:
        """Run one stage, recording its time and status: ``ok``, ``skipped`` (on purpose: a
        missing extra), ``failed`` (it raised: the error and traceback are kept) or ``not
        run`` (a stage it needs failed)."""
        statuses = {n: self.status_of(n) for n in needs}
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
        self.out.mkdir(parents=True, exist_ok=True)
        dump_json(self.figures, self.out / "figures.json")  # partial figures survive a kill
        if self.progress:
            log.info("[bench%s] %s: %s in %s s%s", self.label, name, record["status"], record["seconds"],
                     f" ({record['reason']})" if record["status"] != "ok" else "")


class WorldRun(Stages):
    """One world: its prompt split, held-out sessions and baselines, shared by the
    training seeds (:class:`Bench`) run on it."""

    def __init__(self, config: PlantedConfig, out: str | Path, quick: bool, progress: bool, workers: int = 2,
                 encoder: str = "embedded", distill: bool | None = None, *, plugins: Any) -> None:
        from pasta_procedural import ProceduralT2I
        from pasta_simulate.prompts import load_prompts

        self.config, self.plugins, self.workers = config, plugins, workers
        self.world = PlantedWorld(config, plugins)
        self.sizes = config.quick if quick else config.bench
        if distill is not None:
            self.sizes = attrs.evolve(self.sizes, distill=distill)
        self.quick, self.progress = quick, progress
        self.out = Path(out)
        self.label = f" {self.out.name}"
        s = config.sessions
        self.episode_config = EpisodeConfig(turns=s.turns, slate_size=s.slate_size, images_per_prompt=s.images_per_prompt)
        self.t2i = ProceduralT2I(size=self.sizes.image_size)
        self.encoder_spec = (encoder, {"dim": self.sizes.em_dim, "seed": ENCODER_SEED})
        self.evaluation_seed = self.sizes.evaluation_seed
        self.prompts, self.held_out = split_prompts(load_prompts(), self.sizes.held_out_prompts, self.evaluation_seed)
        self.figures: dict[str, Any] = {
            "world": {"file": config.source, **self.world.describe(), "fidelity_range": list(config.utility.fidelity)},
            "sizes": attrs.asdict(self.sizes), "quick": quick, "encoder": encoder, "stages": {},
            "prompts": {"training": len(self.prompts), "held_out": len(self.held_out)},
        }
        self.state: dict[str, Any] = {}
        self._encoder: Any = None

    @property
    def encoder(self) -> Any:
        if self._encoder is None:
            name, options = self.encoder_spec
            self._encoder = self.plugins.create("encoder", name, **options)
        return self._encoder

    # ----- world stages ------------------------------------------------------------------
    def held_out_sessions(self) -> dict[str, Any]:
        """The held-out sessions of the world (held-out prompts), embedded once."""
        require("torch", "train")
        from pasta_planted.bench_data import build_labels, collect_sessions

        test = collect_sessions(self.world, self.sizes.test_sessions, dataset_seed(self.evaluation_seed, "test"),
                                self.encoder, self.t2i, self.episode_config, "heldout", progress=self.progress,
                                workers=self.workers, encoder_spec=self.encoder_spec, prompts=self.held_out,
                                plugins=self.plugins)
        self.state["test"] = test
        self.state["test_labels"] = build_labels(self.encoder, test)
        return {"sessions": len(test.trajectories), "prompts": sorted({t.initial_prompt for t in test.trajectories})}

    def start_baselines(self) -> None:
        """With 2+ workers, evaluate the agents that need nothing learned (random, first,
        the oracle, references) in a background process from now on."""
        if self.workers < 2:
            return
        from pasta_planted.bench_agents import EarlyAgents, baseline_specs

        self.state["early"] = EarlyAgents(self.config, baseline_specs(self.sizes), self.sizes.episodes,
                                          dataset_seed(self.evaluation_seed, "evaluation"), self.episode_config,
                                          self.sizes.image_size, progress=self.progress, prompts=self.held_out,
                                          plugins=self.plugins)

    def baselines(self) -> dict[str, Any]:
        from pasta_planted.bench_agents import baseline_specs, evaluate_agents, strip_private

        early = self.state.pop("early", None)
        try:
            results = evaluate_agents(self.config, baseline_specs(self.sizes), self.sizes.episodes,
                                      dataset_seed(self.evaluation_seed, "evaluation"), self.episode_config,
                                      self.sizes.image_size, workers=self.workers, progress=self.progress,
                                      early=early.futures if early else None, prompts=self.held_out,
                                      plugins=self.plugins)
        finally:
            if early is not None:
                early.close()
        self.state["baselines"] = results
        return {"agents": strip_private(results),
                "prompts": sorted({p for r in results.values() for p in r["_prompts"]})}

    def run(self, seeds: list[int]) -> dict[str, Any]:
        """Every stage of the world and of each training seed; returns the world figures
        (:func:`pasta_planted.bench_set.world_figures`)."""
        from pasta_planted.bench_set import world_figures

        started = time.perf_counter()
        self.stage("held_out", self.held_out_sessions)
        self.start_baselines()
        runs = []
        for seed in seeds:
            bench = Bench(self, seed, self.out / f"seed-{seed}")
            bench.run()
            runs.append(bench.figures)
        self.stage("baselines", self.baselines)
        self.figures["seeds"] = {str(r["seed"]): r for r in runs}
        self.figures["summary"] = world_figures(self.figures)
        self.figures["total_seconds"] = round(time.perf_counter() - started, 2)
        dump_json(self.figures, self.out / "figures.json")
        return self.figures


class Bench(Stages):
    """One training seed on one world; components come from the world's plugin set."""

    def __init__(self, world_run: WorldRun, seed: int, out: str | Path) -> None:
        self.world_run = world_run
        self.config, self.world, self.sizes = world_run.config, world_run.world, world_run.sizes
        self.plugins, self.workers, self.progress = world_run.plugins, world_run.workers, world_run.progress
        self.episode_config, self.t2i = world_run.episode_config, world_run.t2i
        self.seed = seed
        self.out = Path(out)
        self.label = f" {world_run.out.name} seed {seed}"
        self.figures: dict[str, Any] = {"seed": seed, "stages": {}}
        self.state: dict[str, Any] = {}

    def status_of(self, name: str) -> str | None:
        if name == "held_out":  # the world's
            return self.world_run.status_of(name)
        return super().status_of(name)

    def run(self) -> None:
        self.stage("data", self.data)
        self.stage("user_model", self.user_model, needs=("data", "held_out"))
        self.stage("simulation", self.simulation, needs=("user_model",))
        self.stage("value_models", self.value_models, needs=("user_model",))
        if self.sizes.distill:
            self.stage("distill", self.distill, needs=("value_models",))
        self.stage("agents", self.agents, needs=("value_models",))

    # ----- stages ------------------------------------------------------------------------
    def data(self) -> dict[str, Any]:
        from pasta_planted.bench_data import collect_pairs, collect_sessions

        w, z = self.world_run, self.sizes
        self.state["train"] = collect_sessions(self.world, z.sessions, dataset_seed(self.seed, "train"), w.encoder,
                                               self.t2i, self.episode_config, "human", progress=self.progress,
                                               workers=self.workers, encoder_spec=w.encoder_spec, prompts=w.prompts,
                                               plugins=self.plugins)
        self.state["pairs"] = collect_pairs(self.world, z.pair_raters, z.pairs_per_rater, dataset_seed(self.seed, "pairs"),
                                            w.encoder, prompts=w.prompts, plugins=self.plugins)
        return {"sessions": z.sessions, "pairs": int(len(self.state["pairs"].rater)), "pair_raters": z.pair_raters,
                "prompts": sorted({t.initial_prompt for t in self.state["train"].trajectories}
                                  | set(self.state["pairs"].prompts))}

    def user_model(self) -> dict[str, Any]:
        require("torch", "train")
        from pasta_planted.bench_data import build_labels
        from pasta_planted.bench_em import evaluate_em, train_em

        w = self.world_run
        labels = build_labels(w.encoder, self.state["train"], self.state["pairs"])
        trained = train_em(labels, self.world, self.sizes, self.out / "user-model", self.seed, self.progress,
                           self.plugins, encoder=w.encoder_spec)
        self.state["em"] = trained
        self.state["train_labels"] = build_labels(w.encoder, self.state["train"])
        figures = evaluate_em(trained["model"], trained["prior"], self.world, w.state["test"], w.state["test_labels"],
                              self.plugins)
        return {**figures, "train_seconds": round(trained["seconds"], 2), "checkpoint": str(trained["path"]),
                "em_splits": trained["splits"], "em_best_step": trained["best_step"]}

    def simulation(self) -> dict[str, Any]:
        from pasta_clip_em.usermodel import ClipEmUserModel
        from pasta_simulate.simulate import SimulationSpec, simulate

        em = self.state["em"]
        user_model = ClipEmUserModel(em["model"], em["prior"], encoder=self.world_run.encoder,
                                     aggregator=em["model"].config.build_aggregator(self.plugins))
        folder = self.out / "simulated"
        if (folder / "simulation.json").is_file():  # a fresh model each run: never resume another's shards
            import shutil

            shutil.rmtree(folder)
        folder.mkdir(parents=True, exist_ok=True)
        prompts_file = self.out / "training-prompts.txt"
        prompts_file.write_text("\n".join(self.world_run.prompts) + "\n", encoding="utf-8")
        # every turn's reward is recorded (dense): the value stage reads the ones [bench] iql_rewards needs
        spec = SimulationSpec(count=self.sizes.simulated, seed=dataset_seed(self.seed, "simulated"),
                              user_model=str(em["path"]), t2i_options={"size": self.sizes.image_size},
                              shard_size=max(self.sizes.simulated // 4, 1), embeddings="none", reward_mode="dense",
                              prompts_file=str(prompts_file))
        if self.workers > 1 and self.sizes.simulated >= 200:  # workers load the checkpoint (same shards);
            # below that, starting them costs more than they save
            result = simulate(spec, folder, progress=self.progress, workers=self.workers, plugins=self.plugins)
        else:
            result = simulate(spec, folder, progress=self.progress, user_model=user_model, plugins=self.plugins)
        self.state["simulated"] = folder
        from pasta_core.store import parquet_files, read_trajectories

        prompts = {t.initial_prompt for f in parquet_files([folder]) for t in read_trajectories(f)}
        return {"trajectories": result.trajectories, "trajectories_per_s": round(result.trajectories / result.seconds, 3),
                "folder": str(folder), "prompts": sorted(prompts)}

    def value_models(self) -> dict[str, Any]:
        require("torch", "train")
        from pasta_planted.bench_value import train_regimes

        models, figures = train_regimes(self)
        self.state["value_models"] = models
        return figures

    def distill(self) -> dict[str, Any]:
        from pasta_planted.bench_distill import distill_stage

        return distill_stage(self)

    def agents(self) -> dict[str, Any]:
        from pasta_planted.bench_agents import learned_agents_stage

        return learned_agents_stage(self)


def failed_stages(figures: dict[str, Any]) -> list[str]:
    """The stages of a world's figures (its own and its seeds') that raised, or could not
    run because one did: ``name`` or ``seed S: name``."""
    out = [name for name, s in figures.get("stages", {}).items() if s["status"] in ("failed", "not run")]
    for seed, run in figures.get("seeds", {}).items():
        out += [f"seed {seed}: {name}" for name, s in run["stages"].items() if s["status"] in ("failed", "not run")]
    return out


def run_bench(world_files: list[str | None], out: str | Path, quick: bool = False, seeds: list[int] | None = None,
              progress: bool = True, workers: int = 2, encoder: str = "embedded", distill: bool | None = None, *,
              plugins: Any) -> dict[str, Any]:
    """Run every world of ``world_files`` (``None``: the packaged example world) with each
    training seed of ``seeds``, components from ``plugins`` (``distill``: the distillation
    stage on or off, None: as the world files say); write the set's figures,
    report and plot to ``out``. Raises :class:`BenchFailed` (after writing) if any stage
    failed."""
    from pasta_planted.bench_report import write_outputs
    from pasta_planted.bench_set import set_figures

    if encoder not in plugins.registry("encoder"):
        from pasta_core.errors import InvalidValueError

        raise InvalidValueError(f"unknown encoder {encoder!r}; installed: {', '.join(plugins.registry('encoder').names())}")
    started = time.perf_counter()
    single_thread_torch()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    seeds = list(seeds if seeds is not None else [0])
    worlds = []
    for i, path in enumerate(world_files):
        config = load_config(path)
        name = Path(path).stem if path else "example-world"
        if any(w["name"] == name for w in worlds):
            name = f"{name}-{i}"
        figures = WorldRun(config, out / name, quick, progress, workers, encoder, distill, plugins=plugins).run(seeds)
        worlds.append({"name": name, **figures})
    figures = {"worlds": worlds, "seeds": seeds, "quick": quick, "encoder": encoder, "workers": workers}
    figures["total_seconds"] = round(time.perf_counter() - started, 2)
    figures["summary"] = set_figures(figures)
    files = write_outputs(figures, out)
    failed = [f"{w['name']}: {s}" for w in worlds for s in failed_stages(w)]
    if failed:
        raise BenchFailed(f"{len(failed)} stage(s) FAILED (see {files['report']}): " + "; ".join(failed[:6]))
    return {"figures": figures, "files": files}
