"""The bench's human-like data: made in worker processes, it equals the serial result."""

from __future__ import annotations

import numpy as np
import pytest

from pasta_core.config import EpisodeConfig


@pytest.mark.slow
def test_sessions_collected_in_two_processes_equal_the_serial_ones():
    from pasta_core.plugins import get_plugins
    from pasta_planted.bench_data import collect_sessions
    from pasta_planted.world import PlantedWorld
    from pasta_procedural import ProceduralT2I

    plugins = get_plugins()
    world, t2i = PlantedWorld(plugins=plugins), ProceduralT2I(size=64)
    options = {"dim": 16, "seed": 3}
    config = EpisodeConfig(turns=2, slate_size=4, images_per_prompt=2)
    serial = collect_sessions(world, 12, 5, plugins.create("encoder", "embedded", **options), t2i, config, "x",
                              progress=False, batch_size=4, plugins=plugins)
    parallel = collect_sessions(world, 12, 5, plugins.create("encoder", "embedded", **options), t2i, config, "x",
                                progress=False, batch_size=4, workers=2, encoder_spec=("embedded", options),
                                plugins=plugins)
    assert serial.count == parallel.count == 12 * 2 * 4 * 2
    assert np.array_equal(serial.image_embeddings, parallel.image_embeddings)
    assert serial.types == parallel.types
    assert [t.turns for t in serial.trajectories] == [t.turns for t in parallel.trajectories]
    for a, b in zip(serial.grids, parallel.grids):
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
    # every image of a session is its own row, in order
    assert np.array_equal(np.concatenate([g.ravel() for gs in parallel.grids for g in gs]), np.arange(parallel.count))
