"""The ``value-slate`` selector: the slate judged as a whole, one value model per user type.

The ``value`` selector ranks candidates one by one (q(h, P) = mean of f(h, p), the
paper's rule). While the agent is unsure of the person's type that rule offers the four
best compromises; a slate judged as a whole can instead offer each likely type its own best
column and let the choice decide. This selector does that with learned parts only:

- ``type_models``: K value models, f_k(h, p) trained by IQL on the sessions of user type k
  (the type sampled in simulation, the user model's most likely type for people);
- ``user_model``: the posterior over the K types from the turns seen so far (the columns
  the person was shown, re-rendered from the seeds in the history, and their choices);
- the slate (at most one candidate per category) of highest

      q(h, S) = sum_k P(k | h) * sum_{p in S} P(p chosen | k, S) * f_k(h, p),
      P(p chosen | k, S) = softmax over S of f_k(h, .) / temperature

  (``temperature`` 0: each type takes its best column), found by enumerating the slates
  (3,125 for 5 categories of 5 candidates; a greedy search above ``max_slates``).
"""

from __future__ import annotations

import itertools
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from pasta_core.errors import InvalidValueError
from pasta_core.types import Candidate, Column, History

#: Above this many slates the search is greedy (category by category) instead of exhaustive.
MAX_SLATES = 50_000


#: P(column chosen | type, slate) from the slate's values: (K, S, L) -> (K, S, L), rows sum to 1.
ChoiceRule = Callable[[np.ndarray], np.ndarray]


def slate_values(values: np.ndarray, posterior: np.ndarray, slates: np.ndarray, temperature: float,
                 choice: ChoiceRule | None = None) -> np.ndarray:
    """q(h, S) of each slate: ``values`` (K, n), ``posterior`` (K,), ``slates`` (S, L)
    indices. The chosen column is drawn by ``choice`` when given, else by a softmax of the
    values at ``temperature`` (0: each type takes its best column)."""
    v = values[:, slates]  # (K, S, L)
    if choice is not None:
        chosen = (choice(v) * v).sum(axis=2)
    elif temperature > 0:
        z = v / temperature
        p = np.exp(z - z.max(axis=2, keepdims=True))
        chosen = (p * v).sum(axis=2) / p.sum(axis=2)
    else:
        chosen = v.max(axis=2)
    return posterior @ chosen


def joint_slate(values: np.ndarray, posterior: np.ndarray, categories: Sequence[str], slate_size: int,
                temperature: float = 0.0, max_slates: int = MAX_SLATES, choice: ChoiceRule | None = None) -> list[int]:
    """Indices of the slate of highest :func:`slate_values`, at most one per category."""
    values = np.asarray(values, dtype=np.float64)
    posterior = np.asarray(posterior, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(categories) or posterior.shape != (values.shape[0],):
        raise InvalidValueError(f"values {values.shape}, posterior {posterior.shape} and "
                                f"{len(categories)} categories do not match")
    groups: dict[str, list[int]] = {}
    for i, category in enumerate(categories):
        groups.setdefault(category, []).append(i)
    size = min(slate_size, len(groups))
    combos = list(itertools.combinations(groups, size))
    count = sum(int(np.prod([len(groups[c]) for c in combo])) for combo in combos)
    if count > max_slates:
        return _greedy(values, posterior, groups, size, temperature, choice)
    best: np.ndarray | None = None
    best_value = -np.inf
    for combo in combos:
        slates = np.array(list(itertools.product(*(groups[c] for c in combo))))
        q = slate_values(values, posterior, slates, temperature, choice)
        j = int(np.argmax(q))
        if q[j] > best_value:
            best, best_value = slates[j], float(q[j])
    assert best is not None
    return _best_first(values, posterior, [int(i) for i in best])


def _greedy(values: np.ndarray, posterior: np.ndarray, groups: dict[str, list[int]], size: int,
            temperature: float, choice: ChoiceRule | None = None) -> list[int]:
    """Add the candidate (of an unused category) that raises q(h, S) most, ``size`` times."""
    picked: list[int] = []
    for _ in range(size):
        used = {c for c, members in groups.items() if set(members) & set(picked)}
        options = [i for c, members in groups.items() if c not in used for i in members]
        slates = np.array([picked + [i] for i in options])
        picked.append(options[int(np.argmax(slate_values(values, posterior, slates, temperature, choice)))])
    return _best_first(values, posterior, picked)


def _best_first(values: np.ndarray, posterior: np.ndarray, picked: list[int]) -> list[int]:
    """The slate's candidates ordered by posterior-expected value (columns left to right)."""
    expected = posterior @ values[:, picked]
    return [picked[j] for j in np.argsort(-expected, kind="stable")]


class TypePosterior:
    """P(type | history) from a user model, each history built on its parent's posterior
    (one new turn re-rendered per call); an LRU memo of ``capacity`` histories."""

    def __init__(self, user_model: Any, t2i: Any, capacity: int = 20_000) -> None:
        self.user_model, self.t2i, self.capacity = user_model, t2i, capacity
        self._memo: OrderedDict[History, np.ndarray] = OrderedDict()
        # Sessions call this from their prefetch threads: the memo, the shared T2I model
        # and the user model are used by one thread at a time.
        self._lock = threading.Lock()

    def __call__(self, history: History) -> np.ndarray:
        with self._lock:
            log_post = self._log_posterior(history)
        post = np.exp(log_post - log_post.max())
        return post / post.sum()

    def _log_posterior(self, history: History) -> np.ndarray:
        if not history.turns:
            return np.log(np.maximum(np.asarray(self.user_model.prior, dtype=np.float64), 1e-300))
        if history in self._memo:
            self._memo.move_to_end(history)
            return self._memo[history]
        parent = attrs.evolve(history, turns=tuple(history.turns[:-1]))
        log_post = self._log_posterior(parent)
        turn = history.turns[-1]
        if len(turn.seeds) == len(turn.slate) and all(turn.seeds):  # else the images are unknown
            columns = [Column(c, self.t2i.render([c.text] * len(s), list(s)), tuple(s))
                       for c, s in zip(turn.slate, turn.seeds)]
            probs = self.user_model.choice_probabilities(history.initial_prompt, columns)
            log_post = log_post + np.log(np.maximum(probs[:, turn.choice], 1e-300))
        self._memo[history] = log_post
        if len(self._memo) > self.capacity:
            self._memo.popitem(last=False)
        return log_post


class SlateValueSelector:
    """Selects the slate of highest q(h, S) (see the module docstring)."""

    def __init__(self, type_models: Sequence[Any], user_model: Any, t2i: Any, temperature: float = 0.0) -> None:
        if temperature < 0:
            raise InvalidValueError(f"temperature must be >= 0, got {temperature}")
        if len(type_models) != user_model.num_types:
            raise InvalidValueError(f"{len(type_models)} value models for a user model of "
                                    f"{user_model.num_types} types: one per type is needed")
        self.type_models = list(type_models)
        self.posterior = TypePosterior(user_model, t2i)
        self.temperature = float(temperature)

    def type_values(self, histories: Sequence[History], candidates: Sequence[Sequence[Candidate]]) -> list[np.ndarray]:
        """f_k(h, p) of every candidate of every history: one (K, n_i) array per history;
        one batched call per type model, the inputs prepared once when the models share
        their encoder."""
        from pasta_value.torch_model import q_values_of_models

        pairs_h = [h for h, cs in zip(histories, candidates) for _ in cs]
        pairs_c = [c for cs in candidates for c in cs]
        q = q_values_of_models(self.type_models, pairs_h, pairs_c).astype(np.float64)
        bounds = np.cumsum([0] + [len(cs) for cs in candidates])
        return [q[:, a:b] for a, b in zip(bounds[:-1], bounds[1:])]

    def select(self, history: History, candidates: Sequence[Candidate], slate_size: int, seed: int) -> list[Candidate]:
        return self.select_many([history], [candidates], slate_size, [seed])[0]

    def select_many(self, histories: Sequence[History], candidates: Sequence[Sequence[Candidate]], slate_size: int,
                    seeds: Sequence[int]) -> list[list[Candidate]]:
        """The slates of many episodes, their candidates scored in one batched call per type."""
        if any(not cs for cs in candidates):
            raise InvalidValueError("the value-slate selector got no candidates")
        slates = []
        for history, cs, values in zip(histories, candidates, self.type_values(histories, candidates)):
            picked = joint_slate(values, self.posterior(history), [c.category for c in cs], slate_size,
                                 self.temperature)
            slates.append([cs[i] for i in picked])
        return slates


def type_model_folders(models: str | Path) -> list[Path]:
    """The ``type-0``, ``type-1``, ... checkpoint folders under ``models``, in type order."""
    root = Path(models)
    folders = sorted((p for p in root.glob("type-*") if p.is_dir() and p.name[5:].isdigit()),
                     key=lambda p: int(p.name[5:]))
    if not folders or [int(p.name[5:]) for p in folders] != list(range(len(folders))):
        raise InvalidValueError(f"{root} needs value-model folders type-0 .. type-(K-1), one per user type")
    return folders


def create_slate_selector(models: str | None = None, user_model: str | None = None, t2i: str = "procedural",
                          temperature: float | str = 0.0, device: str = "cpu", *, plugins: Any,
                          **t2i_options: Any) -> SlateValueSelector:
    """Factory: ``models=DIR`` (folders ``type-K`` of value-model checkpoints),
    ``user_model=DIR`` (a clip-em checkpoint with as many types), ``t2i`` (the renderer
    the sessions use, to re-render the shown images from their seeds; extra options go
    to it, e.g. ``size=64``), ``temperature`` (0: each type takes its best column)."""
    if not models or not user_model:
        raise InvalidValueError("the value-slate selector needs models=DIR (type-0 .. type-(K-1) value models) "
                                "and user_model=DIR (a clip-em checkpoint)")
    type_models = [plugins.load("value-model", folder, device=device) for folder in type_model_folders(models)]
    return SlateValueSelector(type_models, plugins.create("user-model", "clip-em", path=user_model, device=device),
                              plugins.create("t2i", t2i, **t2i_options), float(temperature))
