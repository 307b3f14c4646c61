"""The LLM candidate generator: ask, parse, ask again, retry, then error or fall back."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable
from typing import Any

import attrs

from pasta_core.errors import BackendError, InvalidValueError
from pasta_core.protocols import CandidateGenerator, FallbackCandidates, GenerationRequest
from pasta_core.types import Candidate
from pasta_llm.images import EncodedImages, ImageOptions, history_image_parts
from pasta_llm.parsing import parse_answer
from pasta_llm.prompt import Prompt, build_prompt
from pasta_llm.retry import RetryPolicy


def brief(exc: BaseException, limit: int = 200) -> str:
    """An error's text on one line, cut at ``limit`` characters (an SDK may put a whole HTML
    page in its message)."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


class GeneratorFallbackWarning(UserWarning):
    """An LLM generator answered with its fallback generator for a turn."""


@attrs.frozen
class Fallback:
    """The generator that answers a turn the provider could not, and its name for messages."""

    name: str
    generator: CandidateGenerator


class LLMGenerator:
    """A ``CandidateGenerator`` over one provider request per turn (more only on failures).

    ``ask(prompt)`` sends one request and returns the answer (JSON text or decoded JSON);
    ``is_transient(exc)`` says whether an exception from it is worth retrying.
    ``max_repairs`` bounds how often an unusable answer is asked again. ``fallback`` (built
    by :func:`pasta_llm.options.fallback_from_option` from the plugin set the generator is
    created from) answers a turn the provider could not; without one that turn raises
    :class:`~pasta_core.errors.BackendError`.

    What happened is counted: ``requests`` (provider requests sent), ``fallbacks`` and
    ``fallback_turns`` (the turns the fallback answered, in order), ``last_repairs``.
    Counters are updated under a lock, so concurrent ``generate`` calls (prefetch) are safe.

    ``prefetch`` (default False) tells a :class:`~pasta_core.session.Session` whether it may
    ask for the next turn's candidates for every possible click ahead of time: that hides
    the provider's latency but costs one request per column instead of one per turn.
    ``images`` says which earlier images go with the prompt (:mod:`pasta_llm.images`);
    ``history_images`` and ``history_image_side`` tell the engine which to keep, how large.
    """

    def __init__(
        self,
        name: str,
        ask: Callable[[Prompt], Any],
        is_transient: Callable[[BaseException], bool],
        retry: RetryPolicy | None = None,
        max_repairs: int = 2,
        fallback: Fallback | None = None,
        prefetch: bool = False,
        images: ImageOptions | None = None,
    ) -> None:
        if fallback is not None and not isinstance(fallback, Fallback):
            raise InvalidValueError(
                f"fallback must be a pasta_llm.Fallback or None (see fallback_from_option); "
                f"got {fallback!r}"
            )
        self.name = name
        self.prefetch = bool(prefetch)
        self.ask = ask
        self.is_transient = is_transient
        self.retry = retry or RetryPolicy()
        self.max_repairs = int(max_repairs)
        self.fallback = fallback
        self.images = images or ImageOptions()
        self.history_images = self.images.mode
        self.history_image_side = self.images.max_side
        self._encoded = EncodedImages(self.images.max_side)
        self.requests = 0
        self.fallbacks = 0
        self.fallback_turns: list[int] = []
        self.last_repairs: tuple[str, ...] = ()
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never shows keys: they live in the provider client only
        fallback = self.fallback.name if self.fallback else "none"
        return f"<{type(self).__name__} {self.name} fallback={fallback}>"

    def _send(self, prompt: Prompt) -> Any:
        def once() -> Any:
            with self._lock:
                self.requests += 1
            return self.ask(prompt)

        return self.retry.call(once, self.is_transient, self.name)

    def _generate(self, request: GenerationRequest) -> list[Candidate]:
        problems: tuple[str, ...] = ()
        images = history_image_parts(request, self.images, self._encoded)
        for _ in range(self.max_repairs + 1):
            parsed = parse_answer(self._send(build_prompt(request, problems, images)), request)
            if parsed.complete:
                self.last_repairs = parsed.repairs
                return list(parsed.candidates)
            problems = parsed.problems
        raise BackendError(
            f"{self.name} gave no usable answer after {self.max_repairs + 1} tries: "
            + "; ".join(problems[:4])
        )

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        """Candidates for one turn (see :class:`~pasta_core.protocols.CandidateGenerator`)."""
        try:
            return self._generate(request)
        except BackendError as exc:
            return self._fall_back(request, exc)
        except Exception as exc:
            if self.is_transient(exc):
                error = BackendError(
                    f"{self.name} failed after {self.retry.max_retries} retries: "
                    f"{type(exc).__name__}: {brief(exc)}"
                )
            else:
                error = BackendError(f"{self.name} request failed: {type(exc).__name__}: {brief(exc)}")
            error.__cause__ = exc
            return self._fall_back(request, error)

    def _fall_back(self, request: GenerationRequest, error: BackendError) -> list[Candidate]:
        if self.fallback is None:
            raise BackendError(
                f"{error} (to continue with the offline template generator instead, "
                f"set the generator option fallback=template)"
            ) from error.__cause__
        with self._lock:
            self.fallbacks += 1
            self.fallback_turns.append(request.turn)
        warnings.warn(
            f"{self.name} generator failed on turn {request.turn} ({error}); "
            f"using the {self.fallback.name} generator for this turn",
            GeneratorFallbackWarning,
            stacklevel=2,
        )
        return FallbackCandidates(self.fallback.generator.generate(request), self.fallback.name)
