"""The belief view: the agent's posterior over user types, with example images per type.

After each click the posterior P(type | clicks so far) is updated from the user model: its
prior times each click's likelihood (``choice_probabilities`` of the columns shown),
which is what ``posterior(intent, observed)`` computes for a model of independent clicks
(any other model is asked for its ``posterior`` over every turn). The example images of a
type are the ones it scores highest among all images this person has been shown, which
says in pictures what that type of person likes.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import attrs
import numpy as np

from pasta_core.plugins import Plugins
from pasta_core.types import Column
from pasta_users import AggregatingUserModel, softmax
from pasta_web.live import build_component

EXAMPLES_PER_TYPE = 3

#: An image's place: (1-based turn, 1-based column, 1-based image).
ImageId = tuple[int, int, int]
#: ("shown", turn, columns) or ("clicked", turn, 0-based column).
Event = tuple[str, int, Any]


@attrs.frozen
class Belief:
    """P(type | clicks so far) and each type's favourite images among those seen."""

    clicks: int
    posterior: tuple[float, ...]
    examples: tuple[tuple[ImageId, ...], ...]


def reuses_scores(user_model: Any) -> bool:
    """Whether ``user_model``'s choice probabilities are its aggregated image scores, as
    :class:`~pasta_users.AggregatingUserModel` computes them (no override on the
    way): then a click's likelihood is made from the scores of the slate's images, which
    the belief view has already made for the examples, instead of scoring them again."""
    names = ("choice_probabilities", "utilities", "_utilities", "aggregate", "choices_from_scores")
    return all(getattr(type(user_model), name, None) is getattr(AggregatingUserModel, name) for name in names)


def build_user_model(plugins: Plugins, name: str, options: dict[str, Any]) -> Any:
    """A registered user model, or one loaded from a checkpoint folder (its ``config.json``
    names the plugin) or a Hub repo (``hf://owner/name``, downloaded into the Hugging Face
    cache); raises :class:`~pasta_core.errors.PluginError` when it cannot be built."""
    from pasta_checkpoints.resolve import resolve_model

    return build_component(plugins, "user-model", resolve_model(name, "user-model", plugins), options,
                           load=True)


class BeliefState:
    """What the belief view keeps of one session between updates.

    Per shown turn: its image scores (for the examples) and how many images each column
    has; per answered turn: the log-likelihood of its click under each type. The images
    of a turn are kept only until its click has been scored (for a user model whose
    posterior is the product of its clicks' likelihoods; otherwise every shown turn's
    columns are kept and the model's own ``posterior`` is asked), and not at all when the
    click's likelihood comes from the scores already made (:func:`reuses_scores`)."""

    def __init__(self) -> None:
        self.scores: dict[int, np.ndarray] = {}  # turn -> (K, images of the turn)
        self.layout: dict[int, tuple[int, ...]] = {}  # turn -> images per column
        self.columns: dict[int, list[Column]] = {}  # turns whose images are still needed
        self.choices: dict[int, np.ndarray] = {}  # turn -> P(column | type), made from its scores
        self.log_likelihoods: list[np.ndarray] = []  # one (K,) per click, in turn order
        self.clicks: list[int] = []  # the clicks (0-based columns), in turn order


class BeliefTracker:
    """Computes beliefs with one user model shared by every session, one update at a time
    (under one lock: the model is never called concurrently).

    A session's belief is updated as it goes (:meth:`update`): each slate's images are
    scored once for the examples, and each click adds its likelihood. For a user model
    whose posterior is Bayes' rule over independent clicks (every
    :class:`~pasta_users.AggregatingUserModel`), the posterior is the prior times
    the clicks' likelihoods, so no earlier turn is scored again and only the images of the
    turn on show are kept; any other model gets ``posterior(intent, observed)`` over every
    turn, as before."""

    def __init__(self, user_model: Any, examples: int = EXAMPLES_PER_TYPE) -> None:
        self.user_model = user_model
        self.examples = examples
        self.incremental = getattr(type(user_model), "posterior", None) is AggregatingUserModel.posterior
        self.reuses_scores = self.incremental and reuses_scores(user_model)
        self._lock = threading.Lock()

    def update(self, state: BeliefState, intent: str, events: Sequence[Event]) -> Belief:
        """Apply ``events`` in order and return the belief after them. An event is
        ``("shown", turn, columns)`` (a slate on show) or ``("clicked", turn, column)``
        (its 0-based answer; the turn must have been shown)."""
        with self._lock:
            for kind, turn, value in events:
                if kind == "shown":
                    self._shown(state, intent, turn, value)
                else:
                    self._clicked(state, intent, turn, value)
            return self._belief(state, intent)

    def _shown(self, state: BeliefState, intent: str, turn: int, columns: Sequence[Column]) -> None:
        images = [image for column in columns for image in column.images]
        model = self.user_model
        scores = model.scores(intent, images)
        state.scores[turn] = np.asarray(scores, dtype=float).reshape(model.num_types, -1)
        state.layout[turn] = tuple(len(column.images) for column in columns)
        if self.reuses_scores:  # the click's likelihood from these scores: the images are not needed again
            state.choices[turn] = np.asarray(model.choices_from_scores(scores, state.layout[turn]))
        else:
            state.columns[turn] = list(columns)

    def _clicked(self, state: BeliefState, intent: str, turn: int, choice: int) -> None:
        state.clicks.append(choice)
        if self.incremental:
            probabilities = state.choices.pop(turn, None)
            if probabilities is None:
                probabilities = np.asarray(self.user_model.choice_probabilities(intent, state.columns.pop(turn)))
            state.log_likelihoods.append(np.log(np.maximum(probabilities[:, choice], 1e-300)))

    def _belief(self, state: BeliefState, intent: str) -> Belief:
        if self.incremental:
            # The same sum, in the same order, as AggregatingUserModel.posterior.
            log_post = np.log(np.maximum(self.user_model.prior, 1e-300))
            for log_likelihood in state.log_likelihoods:
                log_post = log_post + log_likelihood
            posterior = softmax(log_post)
        else:
            observed = [(state.columns[t], c) for t, c in enumerate(state.clicks, start=1)]
            posterior = np.asarray(self.user_model.posterior(intent, observed), dtype=float)
        turns = sorted(state.scores)
        ids: list[ImageId] = [
            (t, c, m) for t in turns for c, size in enumerate(state.layout[t], start=1) for m in range(1, size + 1)
        ]
        if turns:
            scores = np.concatenate([state.scores[t] for t in turns], axis=1)
        else:
            scores = np.zeros((len(posterior), 0))
        examples = tuple(
            tuple(ids[i] for i in np.argsort(-scores[k], kind="stable")[: self.examples])
            for k in range(len(posterior))
        )
        return Belief(len(state.clicks), tuple(float(p) for p in posterior), examples)
