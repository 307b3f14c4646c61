"""Value models, the value selector and ``pasta value train`` (the paper's IQL agent).

- value models: ``embedded`` (default; a small network over cached MiniLM embeddings) and
  ``causal-lm`` (any transformers causal LM from a local folder, e.g. Gemma 2B: Q and V
  are two vocabulary logits at the last position);
- selector ``value`` (``model=DIR``): best f(h, p) per category, top L; ``temperature``
  samples;
- selector ``value-slate`` (``models=DIR user_model=DIR``): one value model per user type
  and the user model's posterior; the slate of highest expected value of the column the
  person will choose (:mod:`pasta_value.slate`);
- selector ``user-model-slate`` (``user_model=DIR``): the same slate rule planned with the
  learned user model's own utilities and choice model, no value model (:mod:`pasta_value.planner`);
- commands ``pasta value train --data PATH... --out DIR`` and ``pasta value push DIR REPO_ID``
  (checkpoints also load and save the Hugging Face way: ``EmbeddedValueModel.from_pretrained``).

Python::

    from pasta_core import get_plugins
    selector = get_plugins().create("selector", "value", model="runs/value")
    slate = selector.select(history, candidates, slate_size=4, seed=0)
"""

from __future__ import annotations

from typing import Any

from pasta_core import hookimpl


def _embedded(**options: Any) -> Any:
    from pasta_value.embedded import create_embedded

    return create_embedded(**options)


def _causal_lm(**options: Any) -> Any:
    from pasta_value.causal_lm import create_causal_lm

    return create_causal_lm(**options)


def _selector(*, plugins: Any, **options: Any) -> Any:
    from pasta_value.selector import create_value_selector

    return create_value_selector(plugins=plugins, **options)


def _planner(*, plugins: Any, **options: Any) -> Any:
    from pasta_value.planner import create_planner

    return create_planner(plugins=plugins, **options)


def _slate_selector(*, plugins: Any, **options: Any) -> Any:
    from pasta_value.slate import create_slate_selector

    return create_slate_selector(plugins=plugins, **options)


@hookimpl
def pasta_register_value_models(register: Any) -> None:
    register("embedded", _embedded, "small network over cached MiniLM text embeddings (path=CHECKPOINT or fresh)")
    register("causal-lm", _causal_lm, "a transformers causal LM from a local folder; Q, V = two logits (path=FOLDER)")


@hookimpl
def pasta_register_selectors(register: Any) -> None:
    register("value", _selector, "best value f(h, p) per category, top L (model=CHECKPOINT_DIR, temperature=0)")
    register("value-slate", _slate_selector,
             "slate judged as a whole: one value model per user type + a user-model posterior "
             "(models=DIR user_model=DIR t2i=procedural)")
    register("user-model-slate", _planner,
             "slate planned with the learned user model itself: candidates rendered, the chosen column's "
             "expected utility under the posterior (user_model=DIR images=4 t2i=procedural)")


@hookimpl
def pasta_register_commands(cli: Any) -> None:
    from pasta_value.cli import value_group

    cli.add_command(value_group)
