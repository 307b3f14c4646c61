"""The user-model-slate selector: the slate planned with the learned user model itself."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from pasta_core.errors import InvalidValueError
from pasta_core.testing.conformance import check_selector
from pasta_core.types import Candidate, History
from pasta_value.planner import UserModelSlateSelector


class Renderer:
    """Each image is a 2x2 picture whose red value is the prompt's number (the text's
    last word; another word gives the sum of its characters), so a fake user model can
    read the candidate back."""

    def __init__(self):
        self.images = 0

    def render(self, prompts, seeds):
        from PIL import Image

        self.images += len(prompts)
        return [Image.new("RGB", (2, 2), (_number(p) % 101, 0, 0)) for p in prompts]


def _number(prompt):
    word = (prompt.split() or ["0"])[-1]
    return int(word) if word.isdigit() else sum(map(ord, word))


class TasteModel:
    """Two types: type 0 likes high numbers, type 1 low ones; the choice is a softmax of
    the utilities at temperature ``tau`` (any leading shape)."""

    num_types = 2

    def __init__(self, prior=(0.5, 0.5), tau=0.05):
        self.prior = np.asarray(prior, dtype=np.float64)
        self.tau = tau

    def utilities(self, intent, columns):
        red = np.array([np.mean([im.getpixel((0, 0))[0] for im in c.images]) / 100 for c in columns])
        return np.stack([red, 1 - red])

    def choice_from_utilities(self, utilities):
        z = np.asarray(utilities) / self.tau
        p = np.exp(z - z.max(axis=-1, keepdims=True))
        return p / p.sum(axis=-1, keepdims=True)

    def choice_probabilities(self, intent, columns):
        return self.choice_from_utilities(self.utilities(intent, columns))


def _candidates():
    numbers = [[5, 50, 95], [10, 60, 90], [20, 45, 80], [30, 55, 70]]
    return [Candidate(f"item {n}", f"c{i}") for i, group in enumerate(numbers) for n in group]


def _best_by_search(model, candidates, size, posterior):
    """Exhaustive search over every valid slate of the expected utility of the chosen column."""
    u = model.utilities("", [_column(c) for c in candidates])
    best, best_value = None, -np.inf
    for combo in itertools.combinations(range(len(candidates)), size):
        if len({candidates[i].category for i in combo}) < size:
            continue
        v = u[:, list(combo)]
        value = float(posterior @ (model.choice_from_utilities(v) * v).sum(axis=1))
        if value > best_value:
            best, best_value = set(combo), value
    return best


def _column(candidate):
    from pasta_core.types import Column

    return Column(candidate, Renderer().render([candidate.text], [0]), (0,))


def test_planner_picks_the_best_slate_under_the_model():
    """With an even prior it offers each type its own favourites (a hedge); sure of one type
    it offers that type's best; both match an exhaustive search over slates."""
    candidates = _candidates()
    for prior in ((0.5, 0.5), (1.0, 0.0), (0.0, 1.0)):
        model = TasteModel(prior)
        selector = UserModelSlateSelector(model, Renderer(), images=1)
        slate = selector.select(History("numbers"), candidates, 2, seed=3)
        picked = {candidates.index(c) for c in slate}
        assert picked == _best_by_search(model, candidates, 2, np.asarray(prior))
    hedged = UserModelSlateSelector(TasteModel(), Renderer(), images=1).select(History("numbers"), candidates, 2, 3)
    numbers = sorted(int(c.text.split()[-1]) for c in hedged)
    assert numbers[0] <= 10 and numbers[1] >= 90  # one column for each type


def test_planner_renders_each_candidate_images_times():
    t2i = Renderer()
    selector = UserModelSlateSelector(TasteModel(), t2i, images=3)
    selector.select(History("numbers"), _candidates(), 4, seed=1)
    assert t2i.images == 3 * len(_candidates())


def test_planner_renders_one_thread_at_a_time_when_prefetch_threads_call_it():
    """A session's prefetch threads call select at once; the renderer (shared with the
    posterior, which re-renders the shown turn) must never be entered by two of them."""
    import threading
    import time

    from pasta_core.types import Turn

    class OneAtATime(Renderer):
        def __init__(self):
            super().__init__()
            self.inside, self.overlaps, self.lock = 0, 0, threading.Lock()

        def render(self, prompts, seeds):
            with self.lock:
                self.inside += 1
                self.overlaps += self.inside > 1
            time.sleep(0.01)
            with self.lock:
                self.inside -= 1
            return super().render(prompts, seeds)

    t2i, candidates = OneAtATime(), _candidates()
    selector = UserModelSlateSelector(TasteModel(), t2i, images=1)
    shown = [candidates[0], candidates[3]]
    histories = [History("numbers").append(Turn(shown, shown, choice, seeds=((1,), (2,)))) for choice in (0, 1)]
    slates: list = []
    threads = [threading.Thread(target=lambda h=h: slates.append(selector.select(h, candidates, 2, 3)))
               for h in histories for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(slates) == 4 and t2i.overlaps == 0


def test_planner_follows_the_selector_contract():
    check_selector(UserModelSlateSelector(TasteModel(), Renderer(), images=1), max_examples=20)


def test_planner_refuses_a_model_without_a_choice_model_and_bad_images():
    class Plain:
        num_types = 1
        prior = np.ones(1)

        def utilities(self, intent, columns):
            return np.zeros((1, len(columns)))

        def choice_probabilities(self, intent, columns):
            return np.full((1, len(columns)), 1 / len(columns))

    with pytest.raises(InvalidValueError, match="choice_from_utilities"):
        UserModelSlateSelector(Plain(), Renderer())
    with pytest.raises(InvalidValueError, match="images"):
        UserModelSlateSelector(TasteModel(), Renderer(), images=0)


def test_plugin_runs_a_session_with_a_clip_em_checkpoint(tmp_path):
    """`create("selector", "user-model-slate", user_model=DIR)` plans with a clip-em model,
    whose choice model on utilities matches its choice model on columns."""
    from pasta_clip_em.checkpoint import save_checkpoint
    from pasta_core.config import EpisodeConfig
    from pasta_core.engine import Agent, run_episodes
    from pasta_core.plugins import get_plugins
    from pasta_users import SimulatedUser

    plugins = get_plugins()
    user_model = plugins.create("user-model", "clip-em", types=2, dim=16, seed=1)
    save_checkpoint(tmp_path / "um", user_model.model, user_model.prior)
    selector = plugins.create("selector", "user-model-slate", user_model=str(tmp_path / "um"), size=32, images="2")
    t2i = plugins.create("t2i", "procedural", size=32)
    columns = [_column(c) for c in _candidates()[:4]]
    columns = [c.__class__(c.candidate, t2i.render([c.candidate.text] * 2, [1, 2]), (1, 2)) for c in columns]
    u = selector.user_model.utilities("a fox", columns)
    assert np.allclose(selector.user_model.choice_from_utilities(u),
                       selector.user_model.choice_probabilities("a fox", columns))
    agent = Agent(plugins.create("generator", "template"), selector, t2i)
    (trajectory,) = run_episodes(agent, [SimulatedUser(user_model, 1)], ["a red fox in the snow"],
                                 EpisodeConfig(turns=3), seeds=[5])
    assert len(trajectory.turns) == 3
    assert all(len({c.category for c in t.slate}) == len(t.slate) == 4 for t in trajectory.turns)
    with pytest.raises(InvalidValueError, match="user_model=DIR"):
        plugins.create("selector", "user-model-slate")
    with pytest.raises(InvalidValueError, match="whole number"):
        plugins.create("selector", "user-model-slate", user_model=str(tmp_path / "um"), images="many")
