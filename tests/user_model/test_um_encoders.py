"""The openclip and embedded encoders follow the Encoder contract."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from pasta_core import get_plugins
from pasta_core.errors import InvalidValueError
from pasta_core.protocols import Encoder
from pasta_core.testing import check_encoder


def create_encoder(name, **options):
    return get_plugins().create("encoder", name, **options)


def test_openclip_loads_a_local_folder_and_keeps_output_unnormalized(tiny_openclip):
    encoder = create_encoder("openclip", model=f"local-dir:{tiny_openclip}")
    check_encoder(encoder)
    assert encoder.dim == 32
    norms = np.linalg.norm(encoder.encode_text(["a cat", "a dog", "a red house"]), axis=1)
    assert not np.allclose(norms, 1.0, atol=1e-3), "output normalization must be removed"


def test_openclip_identity_changes_with_weights(tiny_openclip, tmp_path):
    import shutil

    copy = tmp_path / "other"
    shutil.copytree(tiny_openclip, copy)
    a = create_encoder("openclip", model=f"local-dir:{tiny_openclip}")
    b = create_encoder("openclip", model=f"local-dir:{copy}")
    assert a.identity != b.identity


def test_openclip_refuses_to_download():
    with pytest.raises(InvalidValueError, match="weights=FILE"):
        create_encoder("openclip", model="ViT-B-32")
    with pytest.raises(InvalidValueError, match="no open_clip folder"):
        create_encoder("openclip", model="local-dir:/nonexistent/folder")


def test_embedded_encoder_contract_and_sensitivity(embedded_encoder):
    check_encoder(embedded_encoder)
    assert isinstance(embedded_encoder, Encoder)
    red, blue = Image.new("RGB", (64, 64), (220, 20, 20)), Image.new("RGB", (64, 64), (20, 20, 220))
    e = embedded_encoder.encode_images([red, blue, red])
    assert np.allclose(e[0], e[2]) and not np.allclose(e[0], e[1], atol=1e-2)
    t = embedded_encoder.encode_text(["a cat", "a cat", "an airplane"])
    assert np.allclose(t[0], t[1], atol=1e-5) and not np.allclose(t[0], t[2], atol=1e-2)


def test_embedded_default_dimension_is_minilm():
    encoder = create_encoder("embedded")
    assert encoder.dim == 384 and "minilm" in encoder.identity
    assert encoder.encode_text(["x"]).shape == (1, 384)
