"""Named, independent random streams: the one place seeds are derived.

Every random draw of an episode comes from a seed named by its *purpose*. A seed is the
first output of ``numpy.random.SeedSequence(entropy=root, spawn_key=key)`` (31 bits, so
every backend and provider API accepts it), where ``key`` is a fixed-length tuple led by
the purpose's code. Two purposes never share a key, and no key is a prefix of another,
so no two streams can be the same stream (unlike deriving seeds from lists of different
lengths, which a padded hash can make equal).

Run level (:func:`run_seed`, root = the run's seed, keyed by episode (or rater) ``i`` and
an optional index ``j``):

- ``user-type``: the simulated person's latent type;
- ``prompt``: the initial prompt drawn for the episode;
- ``episode``: the episode's own seed, the root of its turn streams;
- ``rater``: a single-turn rater's own draws (which prompt and pair, the label);
- ``request``: the generator's seed of a rater's ``j``-th single-turn request;
- ``world``: the ``i``-th world a world sampler draws (its population and utilities);
- ``prompt-split``: which initial prompts are held out from all training data;
- ``dataset``: the root of a benchmark's ``i``-th data set (training sessions, held-out
  sessions, pairs, simulated trajectories, evaluation episodes);
- ``replay``: the root of the turn streams of a recorded session replayed to another
  agent (a distillation teacher), keyed by a number derived from the session id.

Turn level (:class:`EpisodeStreams`, root = the episode seed, turn ``t`` is 1-based):

- ``generator``: the candidate generator's request seed;
- ``selector``: the selector's seed;
- ``image``: one seed per image, by column ``c`` and image ``m`` (0-based);
- ``choice``: the person's (simulated) choice of a column;
- ``rating``: the person's other answers (satisfaction scores, better/same/worse).

Streams of the same purpose from the same root differ by turn, column, image or episode;
the pixels a person sees therefore share no randomness with how a simulated person picks.
"""

from __future__ import annotations

import numpy as np

#: Purpose -> code; codes are never reused (a retired purpose keeps its number).
RUN_PURPOSES: dict[str, int] = {"user-type": 1, "prompt": 2, "episode": 3, "rater": 4, "request": 5,
                                "world": 6, "prompt-split": 7, "dataset": 8, "replay": 9}
TURN_PURPOSES: dict[str, int] = {"generator": 11, "selector": 12, "image": 13, "choice": 14, "rating": 15}
_MASK = 0xFFFFFFFF


def _seed(root: int, key: tuple[int, ...]) -> int:
    entropy = int(root) & ((1 << 128) - 1)  # a negative root is folded into the unsigned range
    words = tuple(int(k) & _MASK for k in key)
    return int(np.random.SeedSequence(entropy, spawn_key=words).generate_state(1)[0] >> 1)


def run_seed(root: int, purpose: str, episode: int, index: int = 0) -> int:
    """The seed of a run-level ``purpose`` for episode ``episode`` of a run seeded ``root``."""
    return _seed(root, (RUN_PURPOSES[purpose], episode, index, 0, 0))


def child_seeds(seed: int, count: int) -> list[int]:
    """``count`` independent seeds spawned from one stream's seed (a component that needs
    several draws from the seed it was handed, such as one per candidate image)."""
    children = np.random.SeedSequence(int(seed) & ((1 << 128) - 1)).spawn(count)
    return [int(child.generate_state(1)[0] >> 1) for child in children]


def turn_seed(root: int, purpose: str, turn: int, column: int = 0, image: int = 0) -> int:
    """The seed of a turn-level ``purpose`` in the episode seeded ``root``."""
    if purpose != "image" and (column or image):
        raise ValueError(f"only image streams are indexed by column and image, not {purpose!r}")
    return _seed(root, (TURN_PURPOSES[purpose], turn, column, image, 1))


class EpisodeStreams:
    """The turn-level streams of one episode (see the module docstring)."""

    def __init__(self, seed: int) -> None:
        self.seed = int(seed)

    def generator(self, turn: int) -> int:
        return turn_seed(self.seed, "generator", turn)

    def selector(self, turn: int) -> int:
        return turn_seed(self.seed, "selector", turn)

    def choice(self, turn: int) -> int:
        return turn_seed(self.seed, "choice", turn)

    def rating(self, turn: int) -> int:
        return turn_seed(self.seed, "rating", turn)

    def images(self, turn: int, columns: int, images: int) -> list[list[int]]:
        """One seed per image of a turn, so every image can be re-rendered on its own."""
        return [[turn_seed(self.seed, "image", turn, c, m) for m in range(images)] for c in range(columns)]
