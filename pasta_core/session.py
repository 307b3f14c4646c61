"""The library API: one personalized session driven turn by turn.

    from pasta_core.session import Session

    session = Session.create(out="runs")          # embedded defaults
    columns = session.start("a white cat")        # turn 1: L columns of M images
    while not session.done:
        columns = session.choose(0, critique="brighter") or []

With a folder (:class:`~pasta_core.folder.SessionFolder`), ``session.json`` and each
answered turn's row are on disk before :meth:`Session.choose` returns; a slate's pictures
follow from one background writer (:meth:`Session.resume` re-renders any a crash lost).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import attrs

from pasta_core.config import EpisodeConfig
from pasta_core.engine import Agent, Proposal, answer_turn, propose, record_turn, render_slates
from pasta_core.errors import InvalidValueError, PastaError, SessionError
from pasta_core.folder import FileJob, SessionFolder, finish, image_refs
from pasta_core.plugins import Plugins, get_plugins
from pasta_core.protocols import Answer, User
from pasta_core.shown import shown_images_for
from pasta_core.streams import EpisodeStreams
from pasta_core.types import Candidate, Column, History, Trajectory

__all__ = ["ComponentSpec", "Session", "play"]
#: Slates whose files may wait for the writer before a new slate waits for the oldest
#: (bounds memory when turns come faster than the disk takes them).
MAX_PENDING_SLATES = 3
#: The components an agent is built from, by their kind's name.
ROLES = ("generator", "selector", "t2i")


@attrs.frozen
class ComponentSpec:
    """A registered component by name, with the options given to its factory."""

    name: str
    options: dict[str, Any] = attrs.field(factory=dict)


def _build_agent(plugins: Plugins, components: dict[str, ComponentSpec]) -> Agent:
    return Agent(**{role: plugins.create(role, components[role].name, **components[role].options) for role in ROLES})


class Session:
    """One episode with a person (or any caller) answering each turn."""

    def __init__(
        self,
        agent: Agent,
        config: EpisodeConfig | None = None,
        seed: int = 0,
        folder: str | os.PathLike[str] | None = None,
        session_id: str | None = None,
        components: dict[str, ComponentSpec] | None = None,
        user_type: int | None = None,
        prefetch: bool = True,
        grids: bool = True,
        encode: Callable[[Any], bytes] | None = None,
    ) -> None:
        self.agent = agent
        self.prefetch = prefetch
        self.grids = grids  # whether each slate's labelled grid picture is saved
        self.config = config or EpisodeConfig()
        self.seed = int(seed)
        self.streams = EpisodeStreams(self.seed)
        self.session_id = session_id or uuid.uuid4().hex[:12]
        self.folder = Path(folder) if folder is not None else None
        # encode: a picture's PNG bytes for its file (SessionFolder's default: Pillow's)
        self.store = SessionFolder(self.folder, encode) if self.folder is not None else None
        self.components = components or {}
        self.user_type = user_type
        #: Who answers (recorded in session.json so a resume continues with the same
        #: person): e.g. {"kind": "sim", "model": "simple", "options": {}}; None if unknown.
        self.user: dict[str, Any] | None = None
        self._history: History | None = None
        self._candidates: list[Candidate] = []
        self._columns: list[Column] = []
        self._fallback: str | None = None  # the generator that wrote the candidates on show, if a fallback
        # The images shown so far that the generator reads (None when it reads none).
        self._shown = shown_images_for(agent.generator, self.store)
        self._workers: ThreadPoolExecutor | None = None  # prefetch branches
        self._writer: ThreadPoolExecutor | None = None  # one thread: slate files, in order
        self._writes: dict[int, list[FileJob]] = {}  # turn -> [grid, image 1, image 2, ...]
        self._branches: dict[int, Future[Proposal]] = {}
        self._next: Future[Proposal] | None = None

    # -- construction -------------------------------------------------------------------

    @classmethod
    def create(
        cls,
        generator: str = "template",
        t2i: str = "procedural",
        selector: str = "random",
        *,
        generator_options: dict[str, Any] | None = None,
        t2i_options: dict[str, Any] | None = None,
        selector_options: dict[str, Any] | None = None,
        config: EpisodeConfig | None = None,
        seed: int = 0,
        out: str | os.PathLike[str] | None = None,
        plugins: Plugins | None = None,
        session_id: str | None = None,
        encode: Callable[[Any], bytes] | None = None,
    ) -> Session:
        """A session with registered components; with ``out`` it is persisted under
        ``out/<session id>/`` (``encode``: a picture's PNG bytes, as for the constructor)."""
        components = {
            "generator": ComponentSpec(generator, dict(generator_options or {})),
            "selector": ComponentSpec(selector, dict(selector_options or {})),
            "t2i": ComponentSpec(t2i, dict(t2i_options or {})),
        }
        agent = _build_agent(plugins or get_plugins(), components)
        session_id = session_id or uuid.uuid4().hex[:12]
        folder = Path(out) / session_id if out is not None else None
        return cls(agent, config, seed, folder, session_id, components, encode=encode)

    @classmethod
    def resume(
        cls,
        folder: str | os.PathLike[str],
        plugins: Plugins | None = None,
        agent: Agent | None = None,
        restore_images: bool = True,
        grids: bool = True,
        encode: Callable[[Any], bytes] | None = None,
    ) -> Session:
        """Reload an interrupted session from its folder and prepare its next turn.

        ``agent``: components already built (default: built from the names recorded in the
        folder). ``restore_images``: first make again the images and grids a crash lost
        (:meth:`restore_images`); the web app restores on demand and passes False."""
        store = SessionFolder(folder)
        state = store.read_state()  # its shape is checked there; the config's values here
        components = {k: ComponentSpec(v["name"], dict(v.get("options", {})))
                      for k, v in state["components"].items()}
        unknown = sorted(set(state["config"]) - set(attrs.fields_dict(EpisodeConfig)))
        if unknown:
            raise SessionError(f"{store.state_file}: config has unknown keys {unknown}; restore it or start a new session")
        try:
            config = EpisodeConfig(**state["config"])
        except (InvalidValueError, TypeError) as exc:
            raise SessionError(f"{store.state_file}: config: {exc}; restore it or start a new session") from None
        seed, session_id, prompt = state["seed"], state["session_id"], state["initial_prompt"]
        user_type, user = state.get("user_type"), state.get("user")
        history = store.read_history(prompt, config, session_id, user_type)
        missing = [role for role in ROLES if role not in components]
        if agent is None and missing:
            raise SessionError(f"{store.state_file} names no {' or '.join(missing)} in 'components'; "
                               "restore it or start a new session")
        if agent is None:
            try:
                agent = _build_agent(plugins or get_plugins(), components)
            except PastaError as exc:
                raise SessionError(f"{store.state_file}: components: {exc}") from exc
        session = cls(agent, config, seed, folder, session_id, components, user_type, grids=grids, encode=encode)
        session.user = user
        session._history = history
        if session._shown is not None:
            for number, turn in enumerate(history.turns, start=1):
                session._shown.refer(number, turn.choice, turn.image_refs)
        if restore_images:
            session.restore_images()
        if not session.done:
            session._prepare()
        return session

    # -- the turn-by-turn API -------------------------------------------------------------

    def start(self, prompt: str) -> list[Column]:
        """Begin with the person's initial prompt; returns the first slate's columns."""
        if self._history is not None:
            raise SessionError("this session has already started; use choose() or a new session")
        self._history = History(prompt)
        self._save_state()
        return self._prepare()

    @property
    def started(self) -> bool:
        return self._history is not None

    @property
    def history(self) -> History:
        if self._history is None:
            raise SessionError("the session has not started: call start(prompt) first")
        return self._history

    @property
    def turn(self) -> int:
        """The 1-based number of the turn being shown (turns + 1 once done)."""
        return len(self.history.turns) + 1

    @property
    def done(self) -> bool:
        return self._history is not None and len(self._history.turns) >= self.config.turns

    @property
    def columns(self) -> list[Column]:
        """The columns of the slate now on show."""
        return list(self._columns)

    @property
    def candidates(self) -> list[Candidate]:
        """All candidates of the turn now on show (the slate is picked from these)."""
        return list(self._candidates)

    @property
    def fallback(self) -> str | None:
        """The fallback generator that wrote the candidates now on show, if one did
        (recorded as :attr:`~pasta_core.types.Turn.fallback`); None otherwise."""
        return self._fallback

    def choose(
        self,
        column: int,
        critique: str | None = None,
        utilities: tuple[float, ...] | None = None,
    ) -> list[Column] | None:
        """Record the chosen column (0-based) and return the next slate, or None when done."""
        if self.done:
            raise SessionError("the session is finished; start a new one")
        if not self._columns:
            raise SessionError("no slate on show: call start(prompt) first")
        if isinstance(column, bool) or not isinstance(column, int) or not 0 <= column < len(self._columns):
            raise InvalidValueError(f"column must be 0..{len(self._columns) - 1}, got {column!r}")
        self.record(Answer(column, critique, utilities))
        return None if self.done else self._prepare()

    def record(self, answer: Answer) -> None:
        """Store the answer to the slate on show as a finished turn.

        The trajectory row is on disk when this returns; the slate's image files may still
        be in the background writer (:meth:`wait_for_files`). A background write that failed
        is raised here (before anything is recorded) or by :meth:`close`."""
        self._raise_write_errors()
        number = self.turn
        refs = image_refs(number, self._columns) if self.folder is not None else ()
        record = record_turn(self.history, self._candidates, self._columns, answer, self.config, refs,
                             fallback=self._fallback)
        self._history = self.history.append(record)
        if self._shown is not None:
            self._shown.answered(number, answer.choice)
        self._columns, self._candidates = [], []
        if self.store is not None:  # the row is on disk before the click returns; the images may follow
            self.store.write_trajectory(self.trajectory)
        # A critique changes the generator's input, so the prefetched branch is stale then.
        self._next = self._branches.pop(answer.choice, None) if answer.critique is None else None
        for branch in self._branches.values():
            branch.cancel()
        self._branches = {}

    def close(self) -> None:
        """Finish pending writes and stop the background workers; raises a write that failed."""
        try:
            self.wait_for_files()
            self._raise_write_errors()
        finally:
            for pool in (self._writer, self._workers):
                if pool is not None:
                    pool.shutdown(wait=True, cancel_futures=True)
            self._writer = self._workers = None
            self._writes = {}

    def wait_for_files(self, turn: int | None = None) -> bool:
        """Wait until the files of ``turn`` (default: every slate so far) are written, writing
        the ones not started yet in this thread; False if one failed (the next :meth:`record`
        or :meth:`close` raises why). Safe from another thread (a server serving an image)."""
        written = True
        for t, jobs in sorted(dict(self._writes).items()):
            if turn is None or t == turn:
                written = finish(jobs) and written
        return written

    @property
    def trajectory(self) -> Trajectory:
        return Trajectory(
            session_id=self.session_id,
            initial_prompt=self.history.initial_prompt,
            turns=self.history.turns,
            user_type=self.user_type,
            metadata={"components": self._component_dict(), "seed": self.seed},
        )

    # -- internals ------------------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        if self._workers is None:
            self._workers = ThreadPoolExecutor(max_workers=2, thread_name_prefix="pasta-session")
        return self._workers

    def _write_queue(self) -> ThreadPoolExecutor:
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pasta-writer")
        return self._writer

    def _prepare(self) -> list[Column]:
        proposal = self._next.result() if self._next is not None else None
        self._next = None
        proposal = proposal or propose(self.agent, self.history, self.config, self.streams, self._shown)
        seeds = self.streams.images(self.turn, len(proposal.slate), self.config.images_per_prompt)
        (columns,) = render_slates(self.agent.t2i, [proposal.slate], [seeds])
        self._candidates, self._columns = list(proposal.candidates), columns
        self._fallback = proposal.fallback
        if self._shown is not None:
            self._shown.show(self.turn, columns)
        if self.folder is not None:
            self._queue_slate(self.turn, columns)
        # A generator with a ``prefetch`` attribute set to False (paid LLM APIs by default)
        # is asked once per turn only, not once per possible click.
        if self.prefetch and self.turn < self.config.turns and getattr(self.agent.generator, "prefetch", True):
            self._start_branches()
        return list(columns)

    def _start_branches(self) -> None:
        """Prepare the next turn for every possible click, on worker threads (the concurrency
        contract in :mod:`pasta_core.protocols`); generators and selectors must not read
        rewards, ratings or image paths from the history (unknown before the click)."""
        for choice in range(len(self._columns)):
            hypothetical = record_turn(self.history, self._candidates, self._columns, Answer(choice), self.config,
                                       reward=False)
            history = self.history.append(hypothetical)
            self._branches[choice] = self._executor().submit(propose, self.agent, history, self.config, self.streams,
                                                             self._shown)

    def _component_dict(self) -> dict[str, Any]:
        return {k: {"name": v.name, "options": v.options} for k, v in self.components.items()}

    def _save_state(self) -> None:
        if self.store is not None:
            self.store.write_state({"session_id": self.session_id, "initial_prompt": self.history.initial_prompt,
                                    "seed": self.seed, "config": attrs.asdict(self.config),
                                    "components": self._component_dict(), "user_type": self.user_type,
                                    "user": self.user})

    def grid_path(self, turn: int | None = None) -> Path | None:
        """Where the labelled grid picture of a turn is (or will be) saved (None without a
        folder, or with ``grids=False``)."""
        if self.store is None or not self.grids:
            return None
        return self.store.grid_path(turn or self.turn)

    def saved_grid(self) -> Path | None:
        """The grid picture of the slate on show, once it is on disk (waits for it only:
        the writer does a slate's grid before its images)."""
        pending = self._writes.get(self.turn)
        if pending is not None and self.grids:
            finish(pending[:1])
        return self.grid_path()

    def restore_images(self) -> int:
        """Make again the answered turns' images (from their prompts and seeds, one T2I call
        a turn) and grids missing from the folder; returns the number of images made."""
        if self.store is None:
            return 0
        made = 0
        for number, turn in enumerate(self.history.turns, start=1):
            made += self.store.restore_images(turn, self.agent.t2i)
            grid = self.grid_path(number)
            if grid is not None and turn.image_refs and not grid.is_file():
                self.store.write_grid(number, self.store.saved_columns(turn), self._title(number))
        return made

    def _queue_slate(self, turn: int, columns: list[Column]) -> None:
        """Hand the slate's grid (unless ``grids`` is off), then its images, to the
        background writer."""
        while len(self._writes) >= MAX_PENDING_SLATES:  # the disk is behind: wait for the oldest
            finish(self._writes[min(self._writes)])
            self._raise_write_errors()
        store = self.store
        assert store is not None
        title = self._title(turn)
        jobs = [FileJob(partial(store.write_grid, turn, columns, title))] if self.grids else []
        for column, refs in zip(columns, image_refs(turn, columns)):
            for image, ref in zip(column.images, refs):
                jobs.append(FileJob(partial(store.write_image, image, ref)))
        queue = self._write_queue()
        for job in jobs:
            queue.submit(job.run)
        self._writes[turn] = jobs

    def _title(self, turn: int) -> str:
        return f"Turn {turn} of {self.config.turns}: {self.history.initial_prompt}"

    def _raise_write_errors(self) -> None:
        """Forget finished background writes; raise the error of one that failed."""
        for t, jobs in sorted(dict(self._writes).items()):
            if not all(job.done() for job in jobs):
                continue
            del self._writes[t]
            for error in filter(None, (job.error for job in jobs)):
                raise SessionError(
                    f"could not save the files of turn {t} in {self.folder}: {error} (the answers are "
                    "saved; Session.resume re-renders missing images)"
                ) from error


def play(session: Session, user: User, prompt: str | None = None, progress: bool = False) -> Trajectory:
    """Run ``session`` to the end with ``user`` answering every turn (a resumed session
    continues where it stopped); the answers come through the engine's
    :func:`~pasta_core.engine.answer_turn`, from the session's named streams."""
    if not session.started:
        if prompt is None:
            raise InvalidValueError("a new session needs an initial prompt")
        session.start(prompt)
    from tqdm.auto import tqdm

    with tqdm(total=session.config.turns, initial=session.turn - 1, desc="turns", unit="turn",
              disable=not progress) as bar:
        while not session.done:
            session.record(answer_turn(user, session.history, session.columns, session.streams))
            if not session.done:
                session._prepare()
            bar.update(1)
    session.close()
    return session.trajectory
