"""Tiny, randomly initialised diffusers pipelines built from configs (no download).

They exercise exactly the loading and rendering code that real weights go through, in a
fraction of a second on a CPU: plugin authors, the test suite and benchmarks use them.

    from pasta_diffusers.tiny import save_tiny_pipeline
    save_tiny_pipeline("sdxl", "/tmp/tiny-sdxl")      # then --t2i-option model=/tmp/tiny-sdxl

The CLIP tokenizers are built offline from the BPE vocabulary that open_clip ships, which
gives the same token ids as the real CLIP tokenizer.
"""

from __future__ import annotations

import gzip
import importlib.util
from pathlib import Path
from typing import Any

from pasta_core.errors import MissingDependencyError, require

_VOCAB_SIZE = 49408
_TEXT = dict(
    bos_token_id=0, eos_token_id=2, hidden_size=32, intermediate_size=37, layer_norm_eps=1e-05,
    num_attention_heads=4, num_hidden_layers=2, pad_token_id=1, vocab_size=_VOCAB_SIZE,
    projection_dim=32,
)


def _bpe_file() -> Path:
    spec = importlib.util.find_spec("open_clip")
    if spec is None or spec.origin is None:
        raise MissingDependencyError("open_clip_torch", "clip")
    path = Path(spec.origin).parent / "bpe_simple_vocab_16e6.txt.gz"
    if not path.is_file():
        raise MissingDependencyError("open_clip_torch (its BPE vocabulary file)", "clip")
    return path


def _byte_symbols() -> list[str]:
    """The 256 printable stand-ins CLIP's byte-level BPE uses for raw bytes."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    symbols, extra = [], 0
    for byte in range(256):
        if byte in printable:
            symbols.append(chr(byte))
        else:
            symbols.append(chr(256 + extra))
            extra += 1
    # CLIP orders the vocabulary by the printable bytes first, then the remapped ones.
    return [chr(b) for b in printable] + [s for b, s in zip(range(256), symbols) if b not in printable]


def clip_tokenizer(pad_token: str = "<|endoftext|>") -> Any:
    """A transformers ``CLIPTokenizer`` equal to CLIP's, built without the hub."""
    transformers = require("transformers", "sdxl")
    lines = gzip.open(_bpe_file()).read().decode("utf-8").split("\n")
    merges = [tuple(line.split()) for line in lines[1 : 49152 - 256 - 2 + 1]]
    symbols = _byte_symbols()
    tokens = symbols + [s + "</w>" for s in symbols] + ["".join(m) for m in merges]
    tokens += ["<|startoftext|>", "<|endoftext|>"]
    vocab = {token: index for index, token in enumerate(tokens)}
    return transformers.CLIPTokenizer(
        vocab=vocab, merges=merges, pad_token=pad_token, model_max_length=77
    )


def _text_encoders(torch: Any, with_second: bool) -> dict[str, Any]:
    transformers = require("transformers", "sdxl")
    config = transformers.CLIPTextConfig(**_TEXT)
    parts: dict[str, Any] = {"text_encoder": transformers.CLIPTextModel(config), "tokenizer": clip_tokenizer()}
    if with_second:
        parts["text_encoder_2"] = transformers.CLIPTextModelWithProjection(config)
        parts["tokenizer_2"] = clip_tokenizer(pad_token="!")
    return parts


def _vae(diffusers: Any) -> Any:
    return diffusers.AutoencoderKL(
        # Four blocks: a latent 8x smaller than the image, as in the real SD/SDXL VAEs.
        block_out_channels=[8, 8, 16, 16], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=4, norm_num_groups=8, sample_size=64, layers_per_block=1,
    )


def _unet(diffusers: Any, sdxl: bool) -> Any:
    common = dict(
        block_out_channels=(32, 64), layers_per_block=2, sample_size=8, in_channels=4,
        out_channels=4, down_block_types=("DownBlock2D", "CrossAttnDownBlock2D"),
        up_block_types=("CrossAttnUpBlock2D", "UpBlock2D"), cross_attention_dim=32,
        norm_num_groups=8,
    )
    if sdxl:
        common.update(
            attention_head_dim=(2, 4), use_linear_projection=True, addition_embed_type="text_time",
            addition_time_embed_dim=8, transformer_layers_per_block=(1, 2),
            projection_class_embeddings_input_dim=6 * 8 + 32, cross_attention_dim=64,
        )
    return diffusers.UNet2DConditionModel(**common)


def build_tiny_pipeline(kind: str = "sdxl", seed: int = 0) -> Any:
    """A tiny random ``StableDiffusionXLPipeline`` (``sdxl``) or ``StableDiffusionPipeline`` (``sd``)."""
    torch = require("torch", "sdxl")
    diffusers = require("diffusers", "sdxl")
    if kind not in ("sdxl", "sd"):
        raise ValueError(f"kind must be 'sdxl' or 'sd', got {kind!r}")
    sdxl = kind == "sdxl"
    torch.manual_seed(seed)
    unet = _unet(diffusers, sdxl)
    vae = _vae(diffusers)
    parts = _text_encoders(torch, with_second=sdxl)
    scheduler = diffusers.EulerDiscreteScheduler(
        beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", steps_offset=1,
        timestep_spacing="leading",
    )
    if sdxl:
        return diffusers.StableDiffusionXLPipeline(unet=unet, vae=vae, scheduler=scheduler, **parts)
    return diffusers.StableDiffusionPipeline(
        unet=unet, vae=vae, scheduler=scheduler, safety_checker=None, feature_extractor=None,
        requires_safety_checker=False, **parts,
    )


def save_tiny_pipeline(kind: str, folder: str | Path, seed: int = 0) -> Path:
    """Build a tiny pipeline and save it (safetensors) to ``folder``; returns the folder."""
    folder = Path(folder)
    build_tiny_pipeline(kind, seed).save_pretrained(str(folder), safe_serialization=True)
    return folder
