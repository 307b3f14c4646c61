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


@pytest.mark.slow
def test_a_worker_that_cannot_set_up_stops_the_collection_with_its_one_line():
    """A PASTA error in a worker's set-up (here an unknown encoder) is raised by its batches
    to the caller as that error, not a broken process pool."""
    from pasta_core.errors import PastaError
    from pasta_core.plugins import get_plugins
    from pasta_planted.bench_data import collect_sessions
    from pasta_planted.world import PlantedWorld
    from pasta_procedural import ProceduralT2I

    plugins = get_plugins()
    world = PlantedWorld(plugins=plugins)
    encoder = plugins.create("encoder", "embedded", dim=16, seed=3)
    with pytest.raises(PastaError, match="nosuch"):
        collect_sessions(world, 12, 5, encoder, ProceduralT2I(size=32), EpisodeConfig(turns=1), "x", progress=False,
                         batch_size=4, workers=2, encoder_spec=("nosuch", {}), plugins=plugins)
