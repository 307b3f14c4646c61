"""The planted world: K* user types whose utilities and choices are known exactly.

Type k judges an image I shown for the initial prompt p0 by

    u_k(p0, I) = taste_k . z(I) - fidelity_k * mean_j (z_j(I) - zbar_j(p0))^2

where z(I) are visual attributes *measured on the image* (brightness, saturation, warmth,
texture, contrast, sky; :mod:`pasta_planted.features`) and zbar(p0) is the mean of z over a
few renders of the initial prompt itself (what the intent looks like). A column's
utility is the aggregate of its images' utilities (``max`` by default: a column is judged
by its best image); the type chooses column c with probability softmax(R_k / T)_c.

Tastes are unit directions (times ``taste_scale``) spread apart by farthest-point
sampling, so the K* types really disagree; everything is drawn from ``[world] seed``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from pasta_core.types import Column
from pasta_planted.config import PlantedConfig, load_config
from pasta_planted.features import ATTRIBUTES, measured_attributes
from pasta_users import softmax

if TYPE_CHECKING:
    from pasta_core.plugins import Plugins


def spread_directions(k: int, d: int, rng: np.random.Generator, pool: int = 64) -> np.ndarray:
    """k unit vectors in d dimensions, spread apart (greedy farthest-point sampling)."""
    candidates = rng.normal(size=(pool * k, d))
    candidates /= np.linalg.norm(candidates, axis=1, keepdims=True)
    chosen = [0]
    nearest = np.linalg.norm(candidates - candidates[0], axis=1)
    for _ in range(k - 1):
        index = int(np.argmax(nearest))
        chosen.append(index)
        nearest = np.minimum(nearest, np.linalg.norm(candidates - candidates[index], axis=1))
    return candidates[chosen]


class PlantedWorld:
    """The ground truth: tastes, fidelity weights, prior and the choice rule.

    ``plugins``: the plugin set whose ``[utility] aggregator`` the world uses (default: a
    set of the built-in aggregators alone)."""

    def __init__(self, config: PlantedConfig | None = None, plugins: Plugins | None = None) -> None:
        self.config = config or load_config()
        self.plugins = plugins
        world, utility = self.config.world, self.config.utility
        rng = np.random.default_rng(world.seed)
        self.columns = np.array([ATTRIBUTES.index(a) for a in utility.attributes])
        directions = spread_directions(world.types, len(self.columns), rng)
        if utility.attribute_weights:
            directions = directions * np.asarray(utility.attribute_weights)
            directions /= np.linalg.norm(directions, axis=1, keepdims=True)
        self.tastes = directions * utility.taste_scale
        low, high = utility.fidelity
        self.fidelity = rng.uniform(low, high, size=world.types)
        if isinstance(world.prior, str):
            self.prior = np.full(world.types, 1.0 / world.types)
        else:
            weights = np.asarray(world.prior, dtype=np.float64)
            self.prior = weights / weights.sum()
        self._references: OrderedDict[str, np.ndarray] = OrderedDict()

    @classmethod
    def from_file(cls, path: Any = None, plugins: Plugins | None = None) -> PlantedWorld:
        """The world of a TOML file (``None``: the packaged example world)."""
        return cls(load_config(path), plugins)

    @property
    def num_types(self) -> int:
        return len(self.tastes)

    @property
    def temperature(self) -> float:
        return self.config.world.choice_temperature

    @cached_property
    def aggregator(self) -> Any:
        plugins = self.plugins
        if plugins is None:
            import pasta_aggregators
            from pasta_core.plugins import Plugins

            plugins = Plugins(entry_points=None, extra=[pasta_aggregators])
        return plugins.create("aggregator", self.config.utility.aggregator)

    @cached_property
    def renderer(self) -> Any:
        from pasta_procedural import ProceduralT2I

        return ProceduralT2I(size=self.config.utility.image_size)

    # ----- utilities ---------------------------------------------------------------------
    def reference(self, intent: str) -> np.ndarray:
        """zbar(p0): mean measured attributes of renders of the intent (cached)."""
        cached = self._references.get(intent)
        if cached is not None:
            self._references.move_to_end(intent)
            return cached
        n = self.config.utility.reference_images
        images = self.renderer.render([intent] * n, list(range(10_007, 10_007 + n)))
        value = measured_attributes(images)[:, self.columns].mean(axis=0)
        self._references[intent] = value
        if len(self._references) > 20_000:
            self._references.popitem(last=False)
        return value

    def attribute_utilities(self, intent: str, attributes: np.ndarray) -> np.ndarray:
        """u_k for images given by their standardized attributes (N, 6): (K, N)."""
        z = np.asarray(attributes, dtype=np.float64)[:, self.columns]
        distance = ((z - self.reference(intent)) ** 2).mean(axis=1)
        return self.tastes @ z.T - self.fidelity[:, None] * distance[None, :]

    def image_utilities(self, intent: str, images: Sequence[Any]) -> np.ndarray:
        """u_k(intent, image) for every type and image: (K, N)."""
        return self.attribute_utilities(intent, measured_attributes(images))

    def column_utilities(self, image_utilities: np.ndarray, sizes: Sequence[int]) -> np.ndarray:
        """Aggregate (K, sum(sizes)) image utilities into (K, len(sizes)) column utilities."""
        bounds = np.cumsum([0, *sizes])
        return np.stack(
            [np.asarray(self.aggregator(image_utilities[:, a:b])) for a, b in zip(bounds[:-1], bounds[1:])],
            axis=1,
        )

    def utilities(self, intent: str, columns: Sequence[Column]) -> np.ndarray:
        """R_k(column) for every type: (K, L)."""
        images = [image for column in columns for image in column.images]
        return self.column_utilities(self.image_utilities(intent, images), [len(c.images) for c in columns])

    # ----- choices -----------------------------------------------------------------------
    def choice_probabilities(self, utilities: np.ndarray) -> np.ndarray:
        """P(column | type) = softmax(R / T) along the last axis."""
        return softmax(np.asarray(utilities, dtype=np.float64) / self.temperature)

    def bayes_choice(self, utilities: np.ndarray, posterior: np.ndarray | None = None) -> int:
        """The Bayes-optimal prediction of the chosen column: argmax of the choice
        probabilities mixed over ``posterior`` (a one-hot type gives the argmax utility).
        ``utilities`` is (K, L)."""
        weights = self.prior if posterior is None else np.asarray(posterior, dtype=np.float64)
        return int(np.argmax(weights @ self.choice_probabilities(utilities)))

    def bayes_accuracy(self, utilities: np.ndarray, posterior: np.ndarray) -> float:
        """P(the Bayes-optimal prediction is right) under ``posterior``."""
        probs = posterior @ self.choice_probabilities(utilities)
        return float(probs.max())

    def sample_type(self, seed: int) -> int:
        """A type drawn from the prior."""
        return int(np.random.default_rng(seed).choice(self.num_types, p=self.prior))

    def describe(self) -> dict[str, Any]:
        """The planted parameters, for reports."""
        return {
            "types": self.num_types,
            "prior": [round(float(p), 4) for p in self.prior],
            "choice_temperature": self.temperature,
            "attributes": list(self.config.utility.attributes),
            "tastes": np.round(self.tastes, 4).tolist(),
            "fidelity": np.round(self.fidelity, 4).tolist(),
            # only when set, so the manifests of data made before the key existed still match
            **({"attribute_weights": list(self.config.utility.attribute_weights)}
               if self.config.utility.attribute_weights else {}),
        }
