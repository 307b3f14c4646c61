"""Turn rewards for IQL: recorded ones (simulated trajectories) or labels from a user
model (human trajectories, whose ``reward`` is None).

A human session is labelled as the paper does: the user model's posterior over user
types given every choice of the session, its most likely type k*, and the reward of a
turn = R_{k*}(chosen column), the utility of the chosen column under k*. The columns'
images are read from ``image_refs`` (relative to the trajectory file's folder) or, when
those files are missing, re-rendered from the recorded seeds with a T2I model.

Training rewards (:data:`TRAINING_REWARDS`): ``sparse`` (the paper's main setting: the
final turn's utility, 0 before), ``dense`` (every turn's utility) and ``shaped``: turn
t's reward is u_t - u_{t-1} (u_0 = 0), the change in the chosen column's utility. With
no discount (``gamma`` = 1) the shaped rewards of a session sum to the final utility, and
the shaping is potential-based (Ng, Harada and Russell 1999, the potential being the
last chosen column's utility): every Q(h, p) of a turn moves by the same u_{t-1}, so
every turn's ranking of candidates, and the optimal policy, are those of ``sparse``,
while each turn's own choice is in its reward rather than only in the bootstrapped value.
``dense`` and ``shaped`` need every turn's reward (simulated with ``--reward dense``,
or labelled).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from pasta_core.config import REWARD_MODES
from pasta_core.errors import InvalidValueError
from pasta_core.protocols import T2IModel, UserModel
from pasta_core.types import Column, Trajectory, Turn

#: Rewards a value model can be trained on (the module docstring).
TRAINING_REWARDS = (*REWARD_MODES, "shaped")

#: Gives the columns (with images) of every turn of a trajectory.
ColumnLoader = Callable[[Trajectory], list[list[Column]]]


def column_loader(root: str | Path, t2i: T2IModel | None = None) -> ColumnLoader:
    """Columns from image files under ``root``, else re-rendered with ``t2i`` from seeds."""
    root = Path(root)

    def load(trajectory: Trajectory) -> list[list[Column]]:
        return [_turn_columns(turn, root, t2i, trajectory.session_id) for turn in trajectory.turns]

    return load


def _turn_columns(turn: Turn, root: Path, t2i: T2IModel | None, session: str) -> list[Column]:
    from PIL import Image

    columns = []
    for index, candidate in enumerate(turn.slate):
        refs = turn.image_refs[index] if turn.image_refs else ()
        seeds = turn.seeds[index] if turn.seeds else ()
        paths = [root / ref for ref in refs]
        if paths and all(p.is_file() for p in paths):
            images = []
            for path in paths:
                with Image.open(path) as image:
                    images.append(image.convert("RGB"))
            seeds = seeds if len(seeds) == len(images) else tuple(range(len(images)))
        elif t2i is not None and seeds:
            images = t2i.render([candidate.text] * len(seeds), list(seeds))
        else:
            raise InvalidValueError(
                f"session {session}: no images for column {index + 1} (files {refs or 'not recorded'} "
                f"missing under {root}) and no T2I model to re-render them from seeds; "
                "pass --t2i NAME to re-render, or train on trajectories that carry rewards"
            )
        columns.append(Column(candidate, images, seeds))
    return columns


def label_trajectory(trajectory: Trajectory, user_model: UserModel, columns: Sequence[Sequence[Column]]) -> list[float]:
    """R_{k*}(chosen column) of every turn, k* the posterior's most likely type."""
    intent = trajectory.initial_prompt
    observed = [(cols, turn.choice) for cols, turn in zip(columns, trajectory.turns)]
    k = int(np.argmax(user_model.posterior(intent, observed)))
    return [float(user_model.utilities(intent, cols)[k, choice]) for cols, choice in observed]


def needs_labels(trajectory: Trajectory, mode: str) -> bool:
    """Whether the recorded rewards cannot serve under ``mode``."""
    if not trajectory.turns:
        return False
    if mode == "sparse":
        return trajectory.turns[-1].reward is None
    return any(r is None for r in trajectory.rewards)


def trajectory_rewards(
    trajectory: Trajectory,
    mode: str = "sparse",
    user_model: UserModel | None = None,
    columns: ColumnLoader | None = None,
    relabel: bool = False,
) -> list[float]:
    """One reward per turn. ``sparse`` (the paper's main setting): 0 until the final turn,
    whose reward is the recorded one (or the label); ``dense``: every turn's reward.

    Recorded rewards are used unless ``relabel`` or one is missing; labelling needs a
    ``user_model`` and a ``columns`` loader.
    """
    if mode not in TRAINING_REWARDS:
        raise InvalidValueError(f"reward mode must be one of {TRAINING_REWARDS}, got {mode!r}")
    if relabel or needs_labels(trajectory, mode):
        if user_model is None or columns is None:
            raise InvalidValueError(
                f"session {trajectory.session_id} has no recorded {mode} reward (a human "
                "session?); pass --user-model DIR to label it with the user model's utility"
            )
        rewards = label_trajectory(trajectory, user_model, columns(trajectory))
    else:
        rewards = [float(r) if r is not None else 0.0 for r in trajectory.rewards]
    return training_rewards(rewards, mode)


def training_rewards(utilities: Sequence[float], mode: str) -> list[float]:
    """A session's turn rewards under ``mode`` from its turns' utilities (the chosen
    columns'; under ``sparse`` only the last one is read)."""
    u = [float(x) for x in utilities]
    if mode == "sparse":
        return [0.0] * (len(u) - 1) + [u[-1]] if u else []
    if mode == "shaped":
        return [b - a for a, b in zip([0.0, *u[:-1]], u)]
    return u


def load_rewarded(
    paths: Sequence[str | Path],
    mode: str = "sparse",
    user_model: UserModel | None = None,
    t2i: T2IModel | None = None,
    relabel: bool = False,
    progress: bool = False,
    sources: dict[str, list[str]] | None = None,
    labelled_by: str = "the --user-model",
) -> tuple[list[Trajectory], list[list[float]]]:
    """Read every trajectory file under ``paths`` and give each its turn rewards. With
    ``sources`` (a dict to fill), record which user model gave the rewards of which files
    (:func:`pasta_value.provenance.file_source`; rewards labelled here: ``labelled_by``)."""
    from tqdm.auto import tqdm

    from pasta_core.store import parquet_files, read_trajectories
    from pasta_value.provenance import file_source, recorded_mode

    trajectories: list[Trajectory] = []
    rewards: list[list[float]] = []
    files = parquet_files(paths)
    if not files:
        raise InvalidValueError(f"no trajectory files (*.parquet) under {', '.join(map(str, paths))}")
    bar = tqdm(desc="reading trajectories", unit=" sessions", disable=not progress)
    for file in files:
        if mode != "sparse" and not relabel and recorded_mode(file) == "sparse":
            raise InvalidValueError(
                f"{file} was simulated with sparse rewards (0 before the last turn); --reward {mode} needs every "
                "turn's: simulate with --reward dense, or pass --relabel with --user-model"
            )
        loader = column_loader(file.parent, t2i)
        recorded = file_source(file) if sources is not None else None
        for trajectory in read_trajectories(file):
            if not trajectory.turns:
                continue
            trajectories.append(trajectory)
            rewards.append(trajectory_rewards(trajectory, mode, user_model, loader, relabel))
            bar.update(1)
            source = labelled_by if relabel or needs_labels(trajectory, mode) else recorded
            if sources is not None and source is not None and str(file) not in sources.get(source, []):
                sources.setdefault(source, []).append(str(file))
    bar.close()
    return trajectories, rewards


def describe_rewards(rewards: Sequence[Sequence[float]]) -> dict[str, Any]:
    """Summary numbers of the final-turn rewards (for the training log)."""
    final = np.asarray([r[-1] for r in rewards if r], dtype=np.float64)
    if final.size == 0:
        return {"sessions": 0}
    return {"sessions": int(final.size), "final_reward_mean": float(final.mean()),
            "final_reward_std": float(final.std())}
