"""The plugin author's test kit: fakes, Hypothesis strategies and conformance checks.

Import what you need; nothing here is autouse. The pytest plugin
(``pasta_core.testing.pytest_plugin``, registered automatically under the ``pytest11``
entry point) offers the fixtures ``pasta_plugins`` and ``pasta_fakes``.
"""

from pasta_core.testing.conformance import (
    check_aggregator,
    check_encoder,
    check_generator,
    check_selector,
    check_t2i,
    check_trainable_encoder,
    check_user_model,
)
from pasta_core.testing.fakes import FakeGenerator, FakeSelector, FakeT2I, FakeUserModel

__all__ = [
    "FakeGenerator",
    "FakeSelector",
    "FakeT2I",
    "FakeUserModel",
    "check_aggregator",
    "check_encoder",
    "check_generator",
    "check_selector",
    "check_t2i",
    "check_trainable_encoder",
    "check_user_model",
]
