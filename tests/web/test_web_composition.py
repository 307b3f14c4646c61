"""How the web app is put together: the plugin set it was started with is the only one it
uses, shared components are called as the concurrency contract of
:mod:`pasta_core.protocols` says, and the session folder is read through its owner only."""

from __future__ import annotations

import ast
import sqlite3
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from pasta_core.config import EpisodeConfig
from pasta_core.errors import PastaError, PluginError
from pasta_core.folder import SessionFolder
from pasta_core.plugins import Plugins, plugin_module
from pasta_web.belief import build_user_model
from pasta_web.service import NotFoundError, WebSessions
from pasta_web.settings import Arm, ServerSettings

OWNER = "c" * 64
WEB = Path(__file__).resolve().parents[2] / "plugins" / "pasta_web"


class Overlap:
    """Counts how many threads are inside the guarded calls at once."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active = 0
        self.most = 0
        self.calls = 0

    def __enter__(self) -> None:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.most = max(self.most, self.active)
        time.sleep(0.002)  # widen the window in which a second caller would overlap

    def __exit__(self, *exc: object) -> None:
        with self.lock:
            self.active -= 1


class CountingT2I:
    """The procedural renderer, recording overlapping calls."""

    def __init__(self, overlap: Overlap) -> None:
        from pasta_procedural import ProceduralT2I

        self.inner = ProceduralT2I()
        self.overlap = overlap

    def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Any]:
        with self.overlap:
            return self.inner.render(prompts, seeds)


class CountingUserModel:
    """A user model from the same plugin set, recording overlapping calls."""

    def __init__(self, inner: Any, overlap: Overlap) -> None:
        self.inner = inner
        self.overlap = overlap

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def posterior(self, intent: str, observed: Any) -> Any:
        with self.overlap:
            return self.inner.posterior(intent, observed)

    def scores(self, intent: str, images: Any) -> Any:
        with self.overlap:
            return self.inner.scores(intent, images)


def private_plugins(t2i: list[Overlap], model: Overlap) -> Plugins:
    """The installed plugins plus components registered only here (the process-wide set
    cannot build them). Each T2I model built appends its counter to ``t2i``."""

    def counting_t2i() -> CountingT2I:
        t2i.append(Overlap())
        return CountingT2I(t2i[-1])

    def user_model(*, plugins: Plugins) -> CountingUserModel:
        return CountingUserModel(plugins.create("user-model", "simple"), model)

    def t2i_models(register: Any) -> None:
        register("counting-t2i", counting_t2i, "test only")

    def user_models(register: Any) -> None:
        register("counting-user-model", user_model, "test only")

    module = plugin_module(
        "counting_for_tests", pasta_register_t2i_models=t2i_models, pasta_register_user_models=user_models
    )
    return Plugins(extra=[module])


def wait_until(predicate: Any, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.01)


def test_shared_components_are_never_called_at_once_and_only_the_given_plugins_are_used(tmp_path, monkeypatch):
    """Several sessions render, prefetch, restore lost images and update beliefs at once:
    the shared T2I model and the belief view's user model never see two calls overlap, and
    every component comes from the plugin set the service was given."""
    import pasta_core.plugins

    def no_global(*args: Any, **kwargs: Any) -> Plugins:
        raise AssertionError("get_plugins() called after start-up")

    monkeypatch.setattr(pasta_core.plugins, "get_plugins", no_global)
    monkeypatch.setattr("pasta_core.session.get_plugins", no_global, raising=False)
    t2i: list[Overlap] = []
    model = Overlap()
    settings = ServerSettings(
        db=tmp_path / "db.sqlite3", arms=(Arm("a", t2i="counting-t2i"),),
        config=EpisodeConfig(turns=3), user_model="counting-user-model", workers=4, max_sessions_per_visitor=10,
    )
    web = WebSessions(settings, private_plugins(t2i, model))
    try:
        rows = [web.create(OWNER, f"a quiet harbour {i}") for i in range(4)]

        def ready(row_id: str, turn: int) -> bool:
            live = web.state(OWNER, row_id).get("live")
            if live is None:
                return True
            assert live["status"] != "error", live
            return live["status"] == "ready" and live["turn"] == turn and (live["belief"] or {}).get("clicks") == turn - 1

        for turn in (1, 2):
            wait_until(lambda turn=turn: all(ready(r.id, turn) for r in rows))
            for i, row in enumerate(rows):
                web.choose(OWNER, row.id, turn, i % 4)
        wait_until(lambda: all(ready(r.id, 3) for r in rows))
        # Lose some saved images, then ask for them from several threads at once.
        lost = [web.image(OWNER, row.id, 1, 2, 3) for row in rows]
        for path in lost:
            path.unlink()
        threads = [threading.Thread(target=web.image, args=(OWNER, row.id, 1, 2, 3)) for row in rows]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert all(path.is_file() for path in lost)
    finally:
        web.close()
    assert len(t2i) == 1 and t2i[0].calls > 0 and model.calls > 0  # one T2I model, shared by the arm's sessions
    assert t2i[0].most == 1, "the shared T2I model was called from two threads at once"
    assert model.most == 1, f"the user model was called {model.most} times at once"


def test_a_resumed_session_uses_only_the_given_plugins(tmp_path, monkeypatch):
    """A server restarted on the same database resumes from the folder with its own set."""
    import pasta_core.plugins

    t2i: list[Overlap] = []
    model = Overlap()
    settings = ServerSettings(db=tmp_path / "db.sqlite3", arms=(Arm(t2i="counting-t2i"),),
                              user_model="counting-user-model")
    web = WebSessions(settings, private_plugins(t2i, model), background=False)
    row = web.create(OWNER, "a red boat")
    web.choose(OWNER, row.id, 1, 2)
    web.close()
    monkeypatch.setattr(pasta_core.plugins, "get_plugins", lambda *a, **k: pytest.fail("get_plugins() called"))
    monkeypatch.setattr("pasta_core.session.get_plugins", lambda *a, **k: pytest.fail("get_plugins() called"),
                        raising=False)
    again = WebSessions(settings, private_plugins(t2i, model), background=False)
    live = again.state(OWNER, row.id)["live"]
    assert live["status"] == "ready" and live["turn"] == 2 and live["belief"]["clicks"] == 1
    again.close()


def test_image_paths_come_from_the_session_folder(settings, plugins):
    """A recorded reference that leaves the session folder is 'not found', never served."""
    web = WebSessions(settings, plugins, background=False)
    row = web.create(OWNER, "a lighthouse")
    web.choose(OWNER, row.id, 1, 0)
    folder = SessionFolder(web.store.session(row.id).folder)
    turn = web.store.turns(row.id)[0]
    assert web.image(OWNER, row.id, 1, 1, 1) == folder.inside(turn.image_refs[0][0])
    with sqlite3.connect(settings.db) as db:  # a tampered record
        db.execute("UPDATE turns SET image_refs = ? WHERE session_id = ?", ('[["../../secret.png"]]', row.id))
    with pytest.raises(NotFoundError):
        web.image(OWNER, row.id, 1, 1, 1)
    web.close()


def test_user_model_errors_are_pasta_errors(plugins, tmp_path):
    """A bad name, folder or option for the belief view's user model is a PluginError."""
    with pytest.raises(PluginError):
        build_user_model(plugins, "no-such-model", {})
    with pytest.raises(PluginError):
        build_user_model(plugins, str(tmp_path), {})  # a folder without config.json
    with pytest.raises(PluginError, match="colour"):
        build_user_model(plugins, "simple", {"colour": "red"})


# -- the code itself -------------------------------------------------------------------------


def web_modules() -> dict[str, ast.Module]:
    return {path.stem: ast.parse(path.read_text(encoding="utf-8")) for path in sorted(WEB.glob("*.py"))}


def imported_names(tree: ast.Module) -> list[tuple[str, str]]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names += [(node.module or "", alias.name) for alias in node.names]
        elif isinstance(node, ast.Import):
            names += [(alias.name, "") for alias in node.names]
    return names


def test_the_web_app_reads_the_session_folder_only_through_its_owner():
    """No module of the web app knows the folder's file names or reads its Parquet."""
    for name, tree in web_modules().items():
        for _module, imported in imported_names(tree):
            assert imported not in ("SESSION_FILE", "TRAJECTORY_FILE", "save_png", "read_trajectories"), (
                f"pasta_web.{name} imports {imported}: the session folder is Session's and SessionFolder's"
            )


def test_no_private_names_cross_modules_and_no_cli_helpers_in_the_server():
    """Private names stay in their module; only the CLI module imports click or CLI
    helpers; get_plugins() is called only at start-up (create_app and `pasta serve`)."""
    for name, tree in web_modules().items():
        for module, imported in imported_names(tree):
            assert not imported.startswith("_") or imported == "__future__", f"pasta_web.{name} imports {imported}"
            if name != "cli":
                assert not module.startswith(("click", "pasta_cli")), f"pasta_web.{name} imports {module}"
        calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)
                 and getattr(node.func, "id", getattr(node.func, "attr", None)) == "get_plugins"]
        assert not calls or name in ("app", "cli"), f"pasta_web.{name} calls get_plugins()"


def test_server_errors_are_pasta_errors():
    """The errors the service raises on purpose are PASTA errors (mapped to HTTP codes)."""
    from pasta_web.service import ConflictError, LimitError

    assert all(issubclass(e, PastaError) for e in (NotFoundError, ConflictError, LimitError))


def test_slates_hold_the_shared_model_in_the_order_they_asked():
    """A slate renders from its first image to its last before the next slate starts, and
    waiting slates go in the order they asked (so the first of several clicks at once is
    not kept waiting by the others' images)."""
    from pasta_web.live import ProgressT2I, SlateLock

    order: list[str] = []

    class Recording:
        def render(self, prompts: Sequence[str], seeds: Sequence[int]) -> list[Any]:
            time.sleep(0.05 * len(prompts))
            order.extend(prompts)
            return [None] * len(prompts)

    lock, inner = SlateLock(), Recording()
    slates = [[f"{name}{i}" for i in range(4)] for name in "abcd"]
    threads = []
    for slate in slates:  # each asks while the first still holds the model
        threads.append(threading.Thread(target=ProgressT2I(inner, lock, 1).render, args=(slate, [0] * 4)))
        threads[-1].start()
        time.sleep(0.04)
    for thread in threads:
        thread.join()
    assert order == [prompt for slate in slates for prompt in slate]
