"""The ``distilled`` generator: the slate straight from one model call, checked like every
LLM answer, the teacher's pipeline answering a turn the model could not.

Backends (option ``backend``): ``local`` (default: a folder from ``pasta distill train``,
``model=FOLDER``) or the name of any LLM generator plugin whose generator is a
:class:`pasta_llm.LLMGenerator` (``gemini``, ``openai``, ``anthropic``, ...), built with
``model=ID`` (a fine-tuned model id) and the other options passed through; only its
provider request (``ask``) is used, with this module's prompt and checks. ``images``
(none, chosen, all; default none, as the exported pairs hold text only) sends earlier
turns' images with the prompt, as the LLM generators do. ``fallback=teacher`` builds the
teacher's pipeline; an option ``teacher_X=V`` goes to the teacher's selector as ``X=V``
(e.g. ``teacher_images=4 teacher_size=64`` for the ``user-model-slate`` planner, so the
fallback plans as the teacher did).
"""

from __future__ import annotations

import warnings
from typing import Any

import attrs

from pasta_core.errors import BackendError, InvalidValueError
from pasta_core.protocols import CandidateGenerator, FallbackCandidates, GenerationRequest, Selector
from pasta_core.streams import child_seeds
from pasta_core.types import Candidate
from pasta_distill.parsing import parse_slate
from pasta_distill.prompt import SlateRequest, slate_prompt
from pasta_llm import (
    Fallback,
    GeneratorFallbackWarning,
    LLMGenerator,
    history_image_parts,
    image_options,
    option_bool,
    option_float,
    option_int,
)


@attrs.define
class TeacherPipeline:
    """The teacher's generator and selector as one generator that answers with a slate."""

    generator: CandidateGenerator
    selector: Selector
    slate_size: int
    turns: int = 0

    def generate(self, request: GenerationRequest) -> list[Candidate]:
        """The teacher's slate for ``request`` (its selector seeded from the request's seed)."""
        self.turns += 1
        candidates = self.generator.generate(request)
        return list(self.selector.select(request.history, candidates, self.slate_size,
                                         child_seeds(request.seed, 1)[0]))


class DistilledGenerator(LLMGenerator):
    """Asks the distilled model for the slate of ``slate_size`` prompts, at most one per
    category, and answers with exactly those candidates (the ``distilled`` selector shows
    them as they are). Unlike other generators it returns one candidate for each of L
    categories, not ``per_category`` for each: it is meant for that selector. Answers are parsed and repaired (:func:`parse_slate`), asked again
    with their problems up to ``max_repairs`` times, and then answered by the fallback
    (the teacher's pipeline) or refused with a :class:`BackendError`."""

    def __init__(self, name: str, ask: Any, is_transient: Any, slate_size: int, **options: Any) -> None:
        super().__init__(name, ask, is_transient, **options)
        if slate_size < 1:
            raise InvalidValueError(f"option slate_size must be at least 1, got {slate_size}")
        self.slate_size = slate_size

    def _generate(self, request: GenerationRequest) -> list[Candidate]:
        wanted = SlateRequest.of(request, self.slate_size)
        problems: tuple[str, ...] = ()
        images = history_image_parts(request, self.images)
        for attempt in range(self.max_repairs + 1):
            parsed = parse_slate(self._send(slate_prompt(wanted, problems, attempt, images)), wanted)
            if parsed.complete:
                self.last_repairs = parsed.repairs
                return list(parsed.candidates)
            problems = parsed.problems
        raise BackendError(f"{self.name} gave no usable slate after {self.max_repairs + 1} tries: "
                           + "; ".join(problems[:4]))

    def _fall_back(self, request: GenerationRequest, error: BackendError) -> list[Candidate]:
        if self.fallback is None:
            raise BackendError(f"{error} (to answer such turns with the teacher's pipeline, set the generator "
                               f"options fallback=teacher teacher_model=DIR)") from error.__cause__
        with self._lock:
            self.fallbacks += 1
            self.fallback_turns.append(request.turn)
        warnings.warn(f"{self.name} failed on turn {request.turn} ({error}); the {self.fallback.name} "
                      f"answered this turn", GeneratorFallbackWarning, stacklevel=2)
        return FallbackCandidates(self.fallback.generator.generate(request), self.fallback.name)


#: The option naming a teacher selector's trained model (``teacher_model`` goes to it).
_MODEL_OPTION = {"value": "model", "user-model-slate": "user_model"}
_MODEL_NAME = {"value": "value model", "user-model-slate": "user model"}


def teacher_fallback(value: Any, teacher_generator: str, teacher_selector: str, teacher_model: str | None,
                     slate_size: int, plugins: Any, selector_options: dict[str, Any] | None = None) -> Fallback | None:
    """The ``fallback`` option: ``teacher`` (the teacher's generator and selector, the
    selector reading ``teacher_model``: the value model of ``value``, the user model of
    ``user-model-slate``, and ``selector_options``) or ``none``."""
    name = "none" if value in (None, "", False) else str(value).strip().lower()
    if name == "none":
        if selector_options:
            raise InvalidValueError(f"teacher options {sorted('teacher_' + k for k in selector_options)} "
                                    f"need fallback=teacher")
        return None
    if name != "teacher":
        raise InvalidValueError(f"fallback must be teacher or none; got {value!r}")
    key = _MODEL_OPTION.get(teacher_selector, "model")
    options = {**(selector_options or {}), **({key: teacher_model} if teacher_model else {})}
    if teacher_selector in _MODEL_OPTION and not teacher_model:
        raise InvalidValueError(f"fallback=teacher with the {teacher_selector} selector needs teacher_model=DIR "
                                f"(the {_MODEL_NAME[teacher_selector]} the distilled model was trained from)")
    pipeline = TeacherPipeline(plugins.create("generator", teacher_generator),
                               plugins.create("selector", teacher_selector, **options), slate_size)
    return Fallback("teacher", pipeline)


def _never_transient(exc: BaseException) -> bool:
    return False


def _backend_ask(backend: str, model: str, device: str, max_new_tokens: Any, temperature: Any, plugins: Any,
                 options: dict[str, Any]) -> tuple[Any, Any]:
    if backend == "local":
        if options:
            raise InvalidValueError(f"the local distilled model takes no options {sorted(options)}")
        from pasta_distill.local import load_local

        return load_local(model, device, option_int("max_new_tokens", max_new_tokens, 1),
                          option_float("temperature", temperature, 0.0, 10.0)), _never_transient
    hosted = plugins.create("generator", backend, model=model, **options)
    if not isinstance(hosted, LLMGenerator):
        raise InvalidValueError(f"backend {backend!r} is not an LLM generator (pasta_llm.LLMGenerator)")
    return hosted.ask, hosted.is_transient


def create_generator(model: str | None = None, backend: str = "local", slate_size: Any = 4, device: str = "cpu",
                     max_new_tokens: Any = 512, temperature: Any = 1.0, max_repairs: Any = 2, fallback: Any = "none",
                     teacher_generator: str = "template", teacher_selector: str = "value",
                     teacher_model: str | None = None, prefetch: Any = None, images: Any = "none",
                     image_max_side: Any = 512, *, plugins: Any,
                     **backend_options: Any) -> DistilledGenerator:
    """Factory of the ``distilled`` generator (options: see the module docstring)."""
    if not model:
        raise InvalidValueError("the distilled generator needs model=FOLDER (from `pasta distill train`) "
                                "or, with backend=gemini/openai, model=ID of a fine-tuned model")
    size = option_int("slate_size", slate_size, 1)
    teacher_options = {k.removeprefix("teacher_"): v for k, v in backend_options.items() if k.startswith("teacher_")}
    backend_options = {k: v for k, v in backend_options.items() if not k.startswith("teacher_")}
    backend = str(backend).strip().lower()
    if backend != "local" and temperature != 1.0:
        backend_options["temperature"] = temperature
    ask, is_transient = _backend_ask(backend, str(model), str(device), max_new_tokens, temperature, plugins,
                                     backend_options)
    answer_instead = teacher_fallback(fallback, teacher_generator, teacher_selector, teacher_model, size, plugins,
                                      teacher_options)
    local = backend == "local"
    return DistilledGenerator(
        "distilled" if local else f"distilled ({backend})", ask, is_transient, size,
        max_repairs=option_int("max_repairs", max_repairs), fallback=answer_instead,
        prefetch=option_bool("prefetch", local if prefetch is None else prefetch),
        images=image_options(images, image_max_side),
    )
