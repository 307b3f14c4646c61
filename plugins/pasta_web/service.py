"""The web app's sessions without HTTP: create, show, click, evaluate, finish, resume.

Every public method takes the visitor's ``owner`` key (a hash of their cookie token)
and acts only on that visitor's sessions; anyone else's session is "not found". Answers
go to SQLite before anything else happens, so a killed server loses nothing answered:
a session is rebuilt from its folder and its rows on the next visit
(:meth:`WebSessions.state`), and a click the folder missed is replayed.

The session folders (images, grids, ``session.json``, ``trajectory.parquet``) are
:class:`~pasta_core.session.Session`'s, read and written through it and
:class:`~pasta_core.folder.SessionFolder` only; SQLite (:mod:`pasta_web.db`) holds the web
app's own records.

Limits that hold without cookies: a client address (IPv6: its /64) may play
``max_live_per_address`` sessions at once and start ``new_sessions_per_address`` an hour
(:class:`LimitError`, HTTP 429); the whole server plays at most ``max_live_sessions`` at
once and turns new sessions away while ``max_queued_renders`` slates wait to be rendered
(:class:`BusyError`, HTTP 503). Both carry a ``retry_after`` in seconds. A session being
played has at most one slate in the render queue (its next one), so the queue is bounded
by the sessions in memory.

Memory: a session in memory holds the slate on show (its images, and their PNG bytes for
the page); the belief view keeps scores, not images, of the turns already answered.
Sessions leave memory when their picking phase ends, when left alone for
:data:`IDLE_SECONDS` (sooner, :data:`PRESSURE_IDLE_SECONDS`, when the server is full), and
the memory they used is handed back to the operating system (:mod:`pasta_web.memory`);
once no session is left in memory, the T2I models' caches are emptied too.
"""

from __future__ import annotations

import hmac
import logging
import random
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import attrs

from pasta_core.errors import InvalidValueError, PastaError, SessionError
from pasta_core.folder import SessionFolder, image_refs
from pasta_core.plugins import Plugins
from pasta_core.session import Session
from pasta_core.types import Column, Turn
from pasta_web.belief import Belief, BeliefState, BeliefTracker, Event, build_user_model
from pasta_web.db import SessionRow, TurnRow, WebStore
from pasta_web.flow import (
    TurnEvaluation,
    check_column,
    check_critique_text,
    check_prompt,
    check_score,
    evaluation_gaps,
)
from pasta_web.live import AgentPool, Changes, SlateBuffer
from pasta_web.memory import release_free_memory
from pasta_web.settings import Arm, ServerSettings

log = logging.getLogger("pasta_web")
SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
#: A session nobody has looked at for this long leaves memory (it resumes from disk).
IDLE_SECONDS = 20 * 60
#: When the server is full, sessions left alone this long leave memory to make room.
PRESSURE_IDLE_SECONDS = 2 * 60
#: How often idle sessions are looked for and freed memory is handed back.
HOUSEKEEPING_SECONDS = 10.0
#: While slates wait to be rendered, the belief view waits up to this long for them.
BELIEF_DEFER_SECONDS = 1.0
#: The window of the per-address limit on new sessions.
NEW_SESSION_WINDOW = 3600.0
#: What a rater's page says when the images (or the candidates) could not be made; the
#: provider's error and its hint go to the server's log only (they may reveal the arm).
RENDER_FAILED = "The pictures could not be made just now. Please press “Try again” in a moment."


class NotFoundError(PastaError, LookupError):
    """No such session for this visitor (or no such image)."""


class ConflictError(PastaError):
    """The request does not fit the session's current step (e.g. a turn already answered)."""


class LimitError(PastaError):
    """A per-visitor or per-address limit was reached (HTTP 429); ``retry_after`` seconds."""

    def __init__(self, message: str, retry_after: int = 60) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)


class BusyError(PastaError):
    """The server is full (HTTP 503): too many sessions or slates waiting to be rendered."""

    def __init__(self, message: str, retry_after: int = 10) -> None:
        super().__init__(message)
        self.retry_after = int(retry_after)


def image_url(session_id: str, turn: int, column: int, image: int) -> str:
    return f"/api/sessions/{session_id}/images/{turn}/{column}/{image}"


class LiveSession:
    """A session in its interaction phase, held in memory while it is being played."""

    def __init__(
        self, row: SessionRow, agent: Any, t2i: Any, components: dict[str, Any], images_per_prompt: int,
        client: str | None = None,
    ) -> None:
        self.row = row
        self.agent = agent
        self.components = components
        self.client = client  # the address key it was started or resumed from
        self.changes = Changes()  # moves whenever what the page shows changes
        self.buffer = SlateBuffer(images_per_prompt, self.changes.bump)
        t2i.listener = self.buffer
        self.session: Session | None = None
        self.status = "rendering"  # rendering | ready | error | finished
        self.error: str | None = None
        self.belief: Belief | None = None
        self.beliefs = BeliefState()  # the belief view's running state (its thread only)
        self.touched = time.monotonic()
        self.lock = threading.RLock()


class WebSessions:
    """All sessions of one server, with components built from ``plugins`` (the set the
    server was started with). ``background=False`` runs rendering inline (tests)."""

    def __init__(self, settings: ServerSettings, plugins: Plugins, background: bool = True) -> None:
        self.settings = settings
        self.config = settings.config
        self.store = WebStore(settings.db)
        self.plugins = plugins
        self.pool = AgentPool(self.plugins)
        self._live: dict[str, LiveSession] = {}
        self._registry_lock = threading.Lock()
        self._jobs = ThreadPoolExecutor(settings.workers, thread_name_prefix="pasta-web") if background else None
        self._stop = threading.Event()  # set by close(): the service's threads end
        self._queued = 0  # render jobs submitted and not finished
        self._renders_done = threading.Condition(self._registry_lock)  # notified when _queued is 0
        # Beliefs are computed on their own thread, after the grid is ready: never on the
        # click's path, no render worker waits for the belief view's lock, and while slates
        # wait to be rendered the belief view waits (a little) for them.
        self._beliefs: deque[tuple[LiveSession, Sequence[Event]]] = deque()
        self._beliefs_posted = threading.Condition()
        self._belief_thread: threading.Thread | None = None
        self._created: dict[str, deque[float]] = {}  # address key -> times of its new sessions
        self._released = 0  # sessions that left memory since memory was last handed back
        self._random = random.SystemRandom()
        self._tracker: BeliefTracker | None = None
        self._tracker_lock = threading.Lock()
        self._housekeeper: threading.Thread | None = None
        if background:
            self._housekeeper = threading.Thread(target=self._housekeeping, name="pasta-web-housekeeping",
                                                 daemon=True)
            self._housekeeper.start()
            if settings.belief_enabled:
                self._belief_thread = threading.Thread(target=self._belief_loop, name="pasta-belief", daemon=True)
                self._belief_thread.start()

    # -- set-up -----------------------------------------------------------------------------

    def warm_up(self) -> None:
        """Build every arm's components and the user model now (errors show at start-up)."""
        self.pool.warm_up(self.settings.arms)
        self.tracker()

    def tracker(self) -> BeliefTracker | None:
        if not self.settings.belief_enabled:
            return None
        with self._tracker_lock:
            if self._tracker is None:
                assert self.settings.user_model is not None
                model = build_user_model(self.plugins, self.settings.user_model, self.settings.user_model_options)
                self._tracker = BeliefTracker(model)
            return self._tracker

    def close(self) -> None:
        if self._jobs is not None:
            self._jobs.shutdown(wait=True, cancel_futures=True)
        self._stop.set()
        with self._beliefs_posted:
            self._beliefs_posted.notify_all()
        for thread in (self._housekeeper, self._belief_thread):
            if thread is not None:
                thread.join()
        with self._registry_lock:
            lives, self._live = list(self._live.values()), {}
        for live in lives:
            if live.session is not None:
                live.session.close()
        self.store.close()

    def _housekeeping(self) -> None:
        while not self._stop.wait(HOUSEKEEPING_SECONDS):
            try:
                self.evict_idle()
                self.release_memory()
            except Exception:  # pragma: no cover - never let the housekeeper die
                log.exception("housekeeping failed")

    def release_memory(self) -> None:
        """Hand the memory of sessions that left since the last call back to the system;
        when no session is left in memory, the T2I models' caches go too
        (:meth:`AgentPool.release_caches`: they are made again by the next session)."""
        with self._registry_lock:
            released, self._released = self._released, 0
            idle = not self._live
        if not released:
            return
        if idle:
            self.pool.release_caches()
        release_free_memory()

    # -- limits -----------------------------------------------------------------------------

    def load(self) -> dict[str, int]:
        """Sessions in memory and slates waiting to be rendered (or being rendered)."""
        with self._registry_lock:
            return {"live": len(self._live), "queued_renders": self._queued}

    def _admit(self, client: str | None, new: bool) -> None:
        """Raise :class:`LimitError` or :class:`BusyError` if one more session may not be
        played now (from ``client``; ``new``: a new session, else one resumed). Called with
        the registry lock held."""
        cfg = self.settings
        if client is not None:
            if new:
                now = time.monotonic()
                times = self._created.get(client)
                while times and now - times[0] > NEW_SESSION_WINDOW:
                    times.popleft()
                if times and len(times) >= cfg.new_sessions_per_address:
                    wait = NEW_SESSION_WINDOW - (now - times[0])
                    raise LimitError("Many sessions were started from your network in the last hour; "
                                     f"please try again in {max(1, round(wait / 60))} minutes.", int(wait) + 1)
            mine = sum(1 for live in self._live.values() if live.client == client)
            if mine >= cfg.max_live_per_address and not self._make_room(client):
                raise LimitError("Too many sessions are open from your network at once; please finish "
                                 "one, or try again in a few minutes.", 60)
        if len(self._live) >= cfg.max_live_sessions and not self._make_room(None):
            raise BusyError("The server is full right now; please try again in a minute.", 30)
        if self._queued >= cfg.max_queued_renders:
            raise BusyError("The server is busy making pictures; please try again in a few seconds.", 5)

    def _make_room(self, client: str | None) -> bool:
        """Drop from memory the session (of ``client``, or anyone's) left alone longest, if
        it has been for :data:`PRESSURE_IDLE_SECONDS`. Called with the registry lock held."""
        now = time.monotonic()
        idle = [
            (live.touched, key) for key, live in self._live.items()
            if (client is None or live.client == client) and live.status in ("ready", "error")
            and now - live.touched > PRESSURE_IDLE_SECONDS
        ]
        if not idle:
            return False
        live = self._live.pop(min(idle)[1])
        self._released += 1
        threading.Thread(target=self._close_live, args=(live,), daemon=True).start()
        return True

    @staticmethod
    def _close_live(live: LiveSession) -> None:
        """Finish a session's pending writes and stop its threads (it left memory)."""
        if live.session is not None:
            try:
                live.session.close()
            except Exception as exc:  # noqa: BLE001 - logged; the folder is resumed on the next visit
                log.warning("session %s: %s", live.row.id, exc)

    # -- sessions ---------------------------------------------------------------------------

    def owned(self, owner: str, session_id: str) -> SessionRow:
        """The session if it belongs to ``owner``; otherwise not found (never "forbidden",
        which would confirm that the id exists)."""
        row = self.store.session(session_id) if SESSION_ID.match(session_id or "") else None
        if row is None or not hmac.compare_digest(row.owner, owner):
            raise NotFoundError("no such session")
        return row

    def list(self, owner: str) -> list[dict[str, Any]]:
        return [
            {"id": r.id, "prompt": r.initial_prompt, "phase": r.phase, "answered": len(self.store.answers(r.id)),
             "turns": r.config.get("turns", self.config.turns), "created": r.created}
            for r in self.store.sessions(owner)
        ]

    def create(self, owner: str, prompt: Any, client: str | None = None) -> SessionRow:
        """A new session for ``prompt`` with a randomly assigned arm; turn 1 starts rendering.

        ``client`` is the visitor's address key (:func:`pasta_web.security.client_key`)
        for the per-address limits; the global limits hold for every caller."""
        prompt = check_prompt(prompt)
        if self.store.count_sessions(owner) >= self.settings.max_sessions_per_visitor:
            raise LimitError("you have reached the number of sessions allowed; thank you!", 3600)
        self.evict_idle()
        with self._registry_lock:  # checked here, and again when the session is added
            self._admit(client, new=True)
        arm = self.assign_arm()
        session_id = secrets.token_hex(16)
        now = time.time()
        row = SessionRow(
            id=session_id, owner=owner, arm=arm.name, arm_spec=arm.spec(), seed=self._random.randrange(2**31),
            initial_prompt=prompt, folder=str((self.settings.session_root / session_id).resolve()),
            config=attrs.asdict(self.config), phase="interaction", overall=None, completion_code=None,
            created=now, updated=now,
        )
        live = self._new_live(row, client)
        with self._registry_lock:
            self._admit(client, new=True)
            self._live[session_id] = live
            if client is not None:
                self._created.setdefault(client, deque()).append(time.monotonic())
        try:
            self.store.add_session(row)
        except BaseException:
            with self._registry_lock:
                self._live.pop(session_id, None)
            raise
        log.info("session %s created (arm %s)", session_id, arm.name)
        self._submit(live, self._start, live)
        return row

    def evict_idle(self, idle: float | None = None) -> None:
        """Drop sessions left alone mid-way (default: for :data:`IDLE_SECONDS`) from memory;
        their next visit resumes them."""
        idle = IDLE_SECONDS if idle is None else idle
        now = time.monotonic()
        with self._registry_lock:
            stale = [k for k, v in self._live.items() if now - v.touched > idle and v.status in ("ready", "error")]
            lives = [self._live.pop(k) for k in stale]
            self._released += len(lives)
            for client in [c for c, times in self._created.items()
                           if not times or now - times[-1] > NEW_SESSION_WINDOW]:
                del self._created[client]
        for live in lives:
            self._close_live(live)

    def in_memory(self, session_id: str) -> bool:
        """Whether the session is held in memory now (being played)."""
        with self._registry_lock:
            return session_id in self._live

    def assign_arm(self) -> Arm:
        arms = self.settings.arms
        return self._random.choices(arms, weights=[a.weight for a in arms], k=1)[0]

    def _new_live(self, row: SessionRow, client: str | None) -> LiveSession:
        shared = self.pool.get(Arm.from_spec(row.arm_spec))
        agent, t2i = shared.agent(self.settings.render_batch)
        return LiveSession(row, agent, t2i, shared.components(), self.config.images_per_prompt, client)

    def _ensure_live(self, row: SessionRow, client: str | None = None) -> LiveSession:
        """The in-memory session, rebuilt from disk and the database if the server restarted
        (or the session had left memory): the limits apply to that as to a new session."""
        with self._registry_lock:
            live = self._live.get(row.id)
            if live is not None:
                live.touched = time.monotonic()
                return live
        live = self._new_live(row, client)
        with self._registry_lock:
            current = self._live.get(row.id)
            if current is not None:  # another request resumed it meanwhile
                current.touched = time.monotonic()
                return current
            self._admit(client, new=False)
            self._live[row.id] = live
        self._submit(live, self._resume, live)
        return live

    def _submit(self, live: LiveSession, job: Any, *args: Any) -> None:
        with self._registry_lock:
            self._queued += 1
        if self._jobs is None:
            self._guarded(live, job, *args)
        else:
            self._jobs.submit(self._guarded, live, job, *args)

    def _guarded(self, live: LiveSession, job: Any, *args: Any) -> None:
        try:
            job(*args)
        except PastaError as exc:
            # The operator sees the provider's error and its hint; the page, a neutral
            # message (the error may name the model or provider, i.e. the study arm).
            log.warning("session %s (arm %s): %s", live.row.id, live.row.arm, exc)
            self._fail(live, RENDER_FAILED)
        except Exception:
            log.exception("session %s (arm %s) failed", live.row.id, live.row.arm)
            self._fail(live, RENDER_FAILED)
        finally:
            with self._registry_lock:
                self._queued -= 1
                if self._queued == 0:
                    self._renders_done.notify_all()

    def _fail(self, live: LiveSession, message: str) -> None:
        with live.lock:
            live.status, live.error = "error", message
        live.changes.bump()

    # -- rendering jobs (run in the worker threads) -----------------------------------------

    def _start(self, live: LiveSession) -> None:
        row = live.row
        live.buffer.expect(1)
        session = Session(live.agent, self.config, row.seed, row.folder, row.id, live.components, **self._files(live))
        live.session = session
        session.prefetch = self._idle()
        columns = session.start(row.initial_prompt)
        self._shown(live, columns, [("shown", 1, columns)])

    def _resume(self, live: LiveSession) -> None:
        row = live.row
        folder = SessionFolder(row.folder)
        if not folder.exists():  # stopped before the first slate was shown
            self._start(live)
            return
        live.buffer.expect(folder.answered_turns() + 1)
        answered = self.store.turns(row.id)
        session = Session.resume(folder.path, plugins=self.plugins, agent=live.agent,
                                 restore_images=False,  # restored on demand, through the lock
                                 **self._files(live))
        live.session = session
        in_folder = len(session.history.turns)
        events: list[Event] = []
        if self.settings.belief_enabled:  # the answered turns, read back from the folder
            for t, turn in enumerate(session.history.turns, start=1):
                events += [("shown", t, self._saved_columns(row, turn)), ("clicked", t, turn.choice)]
        for missed in answered[in_folder:]:  # clicks stored in the database but not in the folder
            if self.settings.belief_enabled:
                events += [("shown", session.turn, session.columns), ("clicked", session.turn, missed.choice)]
            live.buffer.expect(session.turn + 1)
            if session.choose(missed.choice, missed.critique) is None:
                self._finish_interaction(live)
                return
        self._shown(live, session.columns, [*events, ("shown", session.turn, session.columns)])

    @staticmethod
    def _files(live: LiveSession) -> dict[str, Any]:
        """How a web session writes its folder: no grid pictures (the page shows the images
        themselves, and nothing of the web app reads a grid), and each image's file from
        the PNG bytes the page is served (encoded once)."""
        return {"grids": False, "encode": live.buffer.encode}

    def _idle(self) -> bool:
        """Whether no other slate waits to be rendered. A session prepares the next turn
        for each possible click (prefetch) only then: three of those four proposals are
        never used, and under load that work delays the slates people are waiting for.
        (The proposal is the same either way; only when it is made changes.)"""
        with self._registry_lock:
            return self._queued <= 1  # the job asking is one of them

    def _choose(self, live: LiveSession, turn: int, column: int, critique: str | None) -> None:
        assert live.session is not None
        live.session.prefetch = self._idle()
        columns = live.session.choose(column, critique)
        if columns is None:
            self._finish_interaction(live)
        else:
            self._shown(live, columns, [("clicked", turn, column), ("shown", turn + 1, columns)])

    def _finish_interaction(self, live: LiveSession) -> None:
        assert live.session is not None
        live.session.close()
        self.store.set_phase(live.row.id, "evaluation")
        with live.lock:
            live.status = "finished"
        live.changes.bump()
        with self._registry_lock:
            if self._live.pop(live.row.id, None) is not None:
                self._released += 1

    def _shown(self, live: LiveSession, columns: Sequence[Column], events: Sequence[Event]) -> None:
        """The slate ``columns`` is on show: the page may offer the click now; the belief
        view catches up with ``events`` on its own thread."""
        with live.lock:
            live.status, live.error = "ready", None
        live.changes.bump()
        if not self.settings.belief_enabled:
            return
        if self._belief_thread is None:
            self._update_belief(live, events)
        else:
            with self._beliefs_posted:
                self._beliefs.append((live, events))
                self._beliefs_posted.notify()

    def _belief_loop(self) -> None:
        """The belief view's thread: waits for work, gives queued renders up to
        :data:`BELIEF_DEFER_SECONDS` to finish first, then updates every belief posted
        meanwhile (in order). On close it finishes what was posted, without waiting."""
        while True:
            with self._beliefs_posted:
                self._beliefs_posted.wait_for(lambda: self._beliefs or self._stop.is_set())
                if not self._beliefs:
                    return
            if not self._stop.is_set():
                with self._renders_done:
                    self._renders_done.wait_for(lambda: self._queued == 0, timeout=BELIEF_DEFER_SECONDS)
            self._update_beliefs(self._take_beliefs())

    def _take_beliefs(self) -> deque[tuple[LiveSession, Sequence[Event]]]:
        with self._beliefs_posted:
            jobs, self._beliefs = self._beliefs, deque()
        return jobs

    def _update_beliefs(self, jobs: deque[tuple[LiveSession, Sequence[Event]]]) -> None:
        """Update every belief in ``jobs``, in order. (A function of its own: the belief
        thread's loop keeps no reference to the sessions, their images included, while
        it waits for the next batch.)"""
        while jobs:
            self._update_belief(*jobs.popleft())  # logs and reports its own errors

    def _update_belief(self, live: LiveSession, events: Sequence[Event]) -> None:
        tracker = self.tracker()
        if tracker is None:
            return
        try:
            belief = tracker.update(live.beliefs, live.row.initial_prompt, events)
            self.store.save_belief(live.row.id, belief.clicks, list(belief.posterior))
        except Exception:
            log.exception("session %s: the belief view failed", live.row.id)
            self._fail(live, RENDER_FAILED)
            return
        with live.lock:
            if live.belief is None or belief.clicks >= live.belief.clicks:
                live.belief = belief
        live.changes.bump()

    # -- the interaction phase --------------------------------------------------------------

    def choose(
        self, owner: str, session_id: str, turn: Any, column: Any, critique: Any = None, client: str | None = None
    ) -> None:
        """Record the click on ``column`` (0-based) of ``turn``; the next slate starts rendering.

        Repeating the same answer to a turn already answered is accepted (a double click or
        a retried request); a different one is a conflict.
        """
        row = self.owned(owner, session_id)
        critique = check_critique_text(critique)
        if isinstance(turn, bool) or not isinstance(turn, int):
            raise InvalidValueError("turn must be a number")
        answered = self.store.answers(session_id)
        if 1 <= turn <= len(answered):
            if answered[turn - 1][1:] == (column, critique):
                return
            raise ConflictError(f"turn {turn} was already answered")
        if row.phase != "interaction":
            raise ConflictError("the picking phase of this session is over")
        live = self._ensure_live(row, client)
        with live.lock:
            session = live.session
            if live.status != "ready" or session is None or turn != session.turn:
                raise ConflictError("the images of this turn are not ready yet")
            column = check_column(column, len(session.columns))
            self.store.add_turn(self._turn_row(session, turn, column, critique))
            live.status = "rendering" if turn < self.config.turns else "finished"
            if turn < self.config.turns:
                live.buffer.expect(turn + 1)
        live.changes.bump()
        if turn >= self.config.turns:
            self.store.set_phase(session_id, "evaluation")
        log.info("session %s: turn %d answered", session_id, turn)
        self._submit(live, self._choose, live, turn, column, critique)

    @staticmethod
    def _turn_row(session: Session, turn: int, column: int, critique: str | None) -> TurnRow:
        columns = session.columns
        return TurnRow(
            session_id=session.session_id,
            turn=turn,
            candidates=[{"text": c.text, "category": c.category} for c in session.candidates],
            slate=[{"text": c.candidate.text, "category": c.candidate.category} for c in columns],
            choice=column,
            critique=critique,
            seeds=[list(c.seeds) for c in columns],
            image_refs=image_refs(turn, columns),
            created=time.time(),
            fallback=session.fallback,
        )

    def retry(self, owner: str, session_id: str, client: str | None = None) -> None:
        """After a rendering error: rebuild the session from disk and try again."""
        row = self.owned(owner, session_id)
        with self._registry_lock:
            live = self._live.get(session_id)
            if live is not None and live.status != "error":
                return
            if self._live.pop(session_id, None) is not None:
                self._released += 1
        if live is not None:
            self._close_live(live)
        if row.phase == "interaction":
            self._ensure_live(row, client)

    # -- what the page shows ----------------------------------------------------------------

    def state(self, owner: str, session_id: str, client: str | None = None) -> dict[str, Any]:
        row = self.owned(owner, session_id)
        answered = self.store.answers(session_id)
        if row.phase == "interaction" and len(answered) >= self.config.turns:
            self.store.set_phase(session_id, "evaluation")  # the server stopped between two writes
            row = self.owned(owner, session_id)
        state: dict[str, Any] = {
            "id": row.id, "phase": row.phase, "prompt": row.initial_prompt, "turns": self.config.turns,
            "answered": [{"turn": t, "choice": choice, "critique": critique} for t, choice, critique in answered],
        }
        if row.phase == "interaction":
            state["live"] = self._live_state(self._ensure_live(row, client))
        else:
            state["review"] = [self._review(row.id, t) for t in self.store.turns(session_id)]
            state["evaluation"] = [e.as_dict() for e in self.store.evaluations(session_id)]
            state["overall"] = row.overall
            if row.phase == "done":
                state["completion_code"] = row.completion_code
        return state

    async def wait_for_change(self, owner: str, session_id: str, seen: int, timeout: float) -> None:
        """Wait (on the event loop, holding no thread) until the session being played shows
        something other than version ``seen``, or ``timeout`` seconds. Returns at once if
        the session is not in memory or not ``owner``'s: :meth:`state` then answers."""
        with self._registry_lock:
            live = self._live.get(session_id)
        if live is None or not hmac.compare_digest(live.row.owner, owner):
            return
        live.touched = time.monotonic()
        await live.changes.wait(seen, timeout)

    def _live_state(self, live: LiveSession) -> dict[str, Any]:
        version = live.changes.version  # read first: a change while this is built is not missed
        turn, prompts, total, have = live.buffer.snapshot()
        m = self.config.images_per_prompt
        slate = len(prompts) or self.config.slate_size
        sid = live.row.id
        with live.lock:
            status, error, belief = live.status, live.error, live.belief
        columns = [
            {
                "prompt": prompts[c] if c < len(prompts) else None,
                "images": [image_url(sid, turn, c + 1, i + 1) if (c, i) in have else None for i in range(m)],
            }
            for c in range(slate)
        ]
        return {
            "version": version, "status": status, "error": error, "turn": turn, "columns": columns,
            "progress": {"done": len(have), "total": total or slate * m},
            "belief": self._belief_json(sid, belief),
        }

    @staticmethod
    def _belief_json(session_id: str, belief: Belief | None) -> dict[str, Any] | None:
        if belief is None:
            return None
        return {
            "clicks": belief.clicks,
            "types": [
                {"type": k + 1, "probability": p, "examples": [image_url(session_id, *e) for e in examples]}
                for k, (p, examples) in enumerate(zip(belief.posterior, belief.examples))
            ],
        }

    @staticmethod
    def _review(session_id: str, turn: TurnRow) -> dict[str, Any]:
        return {
            "turn": turn.turn, "choice": turn.choice, "critique": turn.critique,
            "columns": [
                {"prompt": s["text"], "images": [image_url(session_id, turn.turn, c + 1, m + 1) for m in range(len(refs))]}
                for c, (s, refs) in enumerate(zip(turn.slate, turn.image_refs))
            ],
        }

    # -- images -----------------------------------------------------------------------------

    def encoded_image(self, owner: str, session_id: str, turn: int, column: int, image: int) -> bytes | None:
        """The PNG bytes of an image on show if they are encoded already, found in memory
        without the database (so the server's event loop may call this); None otherwise:
        :meth:`image` then answers (and checks the request) in full."""
        with self._registry_lock:
            live = self._live.get(session_id)
        if live is None or not hmac.compare_digest(live.row.owner, owner):
            return None
        return live.buffer.ready(turn, column - 1, image - 1)

    def image(self, owner: str, session_id: str, turn: int, column: int, image: int) -> bytes | Path:
        """PNG bytes of an image being shown, or the file of a saved one: the image the turn
        recorded at (turn, column, image), resolved by its session folder, which refuses a
        path leaving it. A file not written yet is written now (or made again from its seed:
        the same picture)."""
        row = self.owned(owner, session_id)
        cfg = self.config
        if not (1 <= turn <= cfg.turns and 1 <= column <= cfg.slate_size and 1 <= image <= cfg.images_per_prompt):
            raise NotFoundError("no such image")
        with self._registry_lock:
            live = self._live.get(session_id)
        if live is not None:
            data = live.buffer.get(turn, column - 1, image - 1)
            if data is not None:
                return data
        answered = self.store.turns(session_id)
        if turn > len(answered):
            raise NotFoundError("no such image")
        record = answered[turn - 1]
        if column > len(record.image_refs) or image > len(record.image_refs[column - 1]):
            raise NotFoundError("no such image")
        folder = SessionFolder(row.folder)
        try:
            path = folder.inside(record.image_refs[column - 1][image - 1])
        except SessionError:
            raise NotFoundError("no such image") from None
        session = live.session if live is not None else None
        if session is not None:
            session.wait_for_files(turn)  # its writer may not have got to this file yet
        folder.restore_images(record.as_turn(), self._renderer(row), only=[(column - 1, image - 1)])
        return path

    def _saved_columns(self, row: SessionRow, turn: Turn) -> Sequence[Column]:
        """An answered turn's columns read back from its folder (re-rendering any missing
        image from its seed: the same picture)."""
        folder = SessionFolder(row.folder)
        folder.restore_images(turn, self._renderer(row))
        return folder.saved_columns(turn)

    def _renderer(self, row: SessionRow) -> Any:
        """The session's arm's shared T2I model, called under the arm's lock."""
        return self.pool.get(Arm.from_spec(row.arm_spec)).renderer(self.settings.render_batch)

    # -- the evaluation phase ---------------------------------------------------------------

    def _evaluating(self, owner: str, session_id: str) -> SessionRow:
        row = self.owned(owner, session_id)
        if row.phase == "interaction" and len(self.store.turns(session_id)) >= self.config.turns:
            self.store.set_phase(session_id, "evaluation")
            row = self.owned(owner, session_id)
        if row.phase != "evaluation":
            raise ConflictError(
                "the evaluation opens after the last turn" if row.phase == "interaction"
                else "this session is finished; thank you!"
            )
        return row

    def evaluate(self, owner: str, session_id: str, turn: Any, answers: dict[str, Any]) -> dict[str, Any]:
        """Store (some of) the evaluation answers about ``turn`` at once; returns them all."""
        self._evaluating(owner, session_id)
        answered = self.store.turns(session_id)
        if isinstance(turn, bool) or not isinstance(turn, int) or not 1 <= turn <= len(answered):
            raise NotFoundError("no such turn")
        current = {e.turn: e for e in self.store.evaluations(session_id)}.get(turn, TurnEvaluation(turn))
        updated = current.update(answers, len(answered[turn - 1].slate))
        self.store.save_evaluation(session_id, updated)
        return updated.as_dict()

    def rate_overall(self, owner: str, session_id: str, score: Any) -> None:
        self._evaluating(owner, session_id)
        self.store.set_overall(session_id, check_score(score, "the overall score"))

    def finish(self, owner: str, session_id: str) -> str:
        """End the task once every question is answered; returns the completion code."""
        row = self.owned(owner, session_id)
        if row.phase == "done":
            assert row.completion_code is not None
            return row.completion_code
        row = self._evaluating(owner, session_id)
        answered = self.store.turns(session_id)
        gaps = evaluation_gaps(
            self.store.evaluations(session_id), len(answered), [len(t.slate) for t in answered], row.overall
        )
        if gaps:
            raise InvalidValueError("Please answer: " + "; ".join(gaps))
        code = secrets.token_hex(4).upper()
        self.store.set_phase(session_id, "done", code)
        log.info("session %s finished", session_id)
        return code
