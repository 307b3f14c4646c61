"""Distillation: the agent (generator + value selector) in one model that proposes the
slate directly, one model call per turn (the paper's section 6.3).

- ``pasta distill data``: the teacher's slate for every history of simulated and recorded
  sessions, as OpenAI chat and Gemini / Vertex AI tuning JSONL and a Parquet
  (:mod:`pasta_distill.collect`, :mod:`pasta_distill.export`);
- ``pasta distill train``: a causal LM fine-tuned on them with transformers' Trainer
  (:mod:`pasta_distill.train`);
- generator ``distilled`` (``model=FOLDER``, or ``backend=gemini|openai model=ID``) and
  selector ``distilled`` (the slate as it is): ``pasta run --generator distilled
  --generator-option model=runs/distilled --selector distilled``.

Details: docs/distillation.md.
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl


def _generator(*, plugins: Any, **options: Any) -> Any:
    from pasta_distill.generator import create_generator

    return create_generator(plugins=plugins, **options)


def _selector(**options: Any) -> Any:
    from pasta_distill.selector import create_selector

    return create_selector(**options)


@hookimpl
def pasta_register_generators(register: Any) -> None:
    register("distilled", _generator, "the slate from one distilled model call (model=FOLDER or backend=gemini|openai "
                                      "model=ID; fallback=teacher teacher_model=DIR); use with --selector distilled")


@hookimpl
def pasta_register_selectors(register: Any) -> None:
    register("distilled", _selector, "the slate a distilled generator proposed, as it is")


@hookimpl
def pasta_register_commands(cli: Any) -> None:
    from pasta_distill.commands import distill_group

    cli.add_command(distill_group)
