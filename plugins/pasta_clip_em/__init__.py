"""The ``clip-em`` user model: CLIP-style scores with K latent user types, trained by
mini-batch EM (the paper's user model), plus its dataset readers
(:mod:`pasta_clip_em.datasets`), trainer, evaluation, scorer and CLI.

Python::

    from pasta_core import get_plugins
    user_model = get_plugins().load("user-model", "runs/um")  # or create("user-model", "clip-em", types=8)
    user_model.scores("a white cat", images)          # (K, N)

Command line: ``pasta user-model train|eval|show`` and ``pasta score``.
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl


def _factory(*, plugins: Any, **options: Any) -> Any:
    from pasta_clip_em.usermodel import create_user_model

    return create_user_model(plugins=plugins, **options)


@hookimpl
def pasta_register_user_models(register: Any) -> None:
    register(
        "clip-em",
        _factory,
        "CLIP-style scores with K latent user types (path=CHECKPOINT_DIR, or a fresh model)",
    )


@hookimpl
def pasta_register_commands(cli: Any) -> None:
    from pasta_clip_em.cli import score_command, user_model_group

    cli.add_command(user_model_group)
    cli.add_command(score_command)
