"""Tiny, randomly initialised diffusers pipelines built from configs (no download).

They exercise exactly the loading and rendering code that real weights go through, in a
fraction of a second on a CPU: plugin authors, the test suite and benchmarks use them.

    from pasta_diffusers.tiny import save_tiny_pipeline
    save_tiny_pipeline("sdxl", "/tmp/tiny-sdxl")      # then --t2i-option model=/tmp/tiny-sdxl

Kinds: ``sdxl``, ``sd`` (UNet pipelines) and ``sd3`` (a transformer pipeline: Stable
Diffusion 3 with its two CLIP text encoders and no T5, which SD3 allows).
:func:`save_tiny_lora` writes a random LoRA adapter for one of them (needs peft).

The CLIP tokenizers are built offline from the BPE vocabulary that open_clip ships, which
gives the same token ids as the real CLIP tokenizer.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
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


def _vae(diffusers: Any, **extra: Any) -> Any:
    return diffusers.AutoencoderKL(
        # Four blocks: a latent 8x smaller than the image, as in the real SD/SDXL VAEs.
        block_out_channels=[8, 8, 16, 16], in_channels=3, out_channels=3,
        down_block_types=["DownEncoderBlock2D"] * 4, up_block_types=["UpDecoderBlock2D"] * 4,
        latent_channels=4, norm_num_groups=8, sample_size=64, layers_per_block=1, **extra,
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


KINDS = ("sdxl", "sd", "sd3")


def _sd3(diffusers: Any) -> Any:
    transformers = require("transformers", "sdxl")
    config = transformers.CLIPTextConfig(**_TEXT)
    transformer = diffusers.SD3Transformer2DModel(
        sample_size=8, patch_size=2, in_channels=4, out_channels=4, num_layers=2, attention_head_dim=8,
        num_attention_heads=4, joint_attention_dim=64, caption_projection_dim=32, pooled_projection_dim=64,
        pos_embed_max_size=16,
    )
    vae = _vae(diffusers, shift_factor=0.0609, scaling_factor=1.5035, use_quant_conv=False, use_post_quant_conv=False)
    return diffusers.StableDiffusion3Pipeline(
        transformer=transformer, vae=vae, scheduler=diffusers.FlowMatchEulerDiscreteScheduler(shift=3.0),
        text_encoder=transformers.CLIPTextModelWithProjection(config), tokenizer=clip_tokenizer(),
        text_encoder_2=transformers.CLIPTextModelWithProjection(config), tokenizer_2=clip_tokenizer(pad_token="!"),
        text_encoder_3=None, tokenizer_3=None,
    )


def build_tiny_pipeline(kind: str = "sdxl", seed: int = 0) -> Any:
    """A tiny random ``StableDiffusionXLPipeline`` (``sdxl``), ``StableDiffusionPipeline``
    (``sd``) or ``StableDiffusion3Pipeline`` (``sd3``)."""
    torch = require("torch", "sdxl")
    diffusers = require("diffusers", "sdxl")
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    torch.manual_seed(seed)
    if kind == "sd3":
        return _sd3(diffusers)
    sdxl = kind == "sdxl"
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


def _record_absent_parts(pipeline: Any, folder: Path) -> None:
    """``save_pretrained`` leaves absent optional parts (SD3 without T5) out of
    ``model_index.json``; ``from_pretrained`` wants them listed as absent."""
    index_path = folder / "model_index.json"
    index = json.loads(index_path.read_text())
    for name, part in pipeline.components.items():
        if part is None:
            index.setdefault(name, [None, None])
    index_path.write_text(json.dumps(index, indent=2, sort_keys=True))


def save_tiny_pipeline(kind: str, folder: str | Path, seed: int = 0) -> Path:
    """Build a tiny pipeline and save it (safetensors) to ``folder``; returns the folder."""
    folder = Path(folder)
    pipeline = build_tiny_pipeline(kind, seed)
    pipeline.save_pretrained(str(folder), safe_serialization=True)
    _record_absent_parts(pipeline, folder)
    return folder


def save_tiny_lora(pipeline_folder: str | Path, out: str | Path, rank: int = 4, seed: int = 0,
                   scale: float = 0.5) -> Path:
    """A random LoRA adapter (rank ``rank``, on the attention projections of the denoiser)
    for the tiny pipeline in ``pipeline_folder``, saved as
    ``out/pytorch_lora_weights.safetensors``; returns that file. Its ``B`` matrices are
    random too (a freshly initialised LoRA has ``B = 0`` and changes nothing)."""
    torch = require("torch", "sdxl")
    diffusers = require("diffusers", "sdxl")
    peft = require("peft", "sdxl")
    from peft.utils import get_peft_model_state_dict

    from pasta_diffusers.pipeline import absent_parts

    pipeline = diffusers.AutoPipelineForText2Image.from_pretrained(str(pipeline_folder), **absent_parts(str(pipeline_folder)))
    name = "transformer" if getattr(pipeline, "transformer", None) is not None else "unet"
    denoiser = getattr(pipeline, name)
    config = peft.LoraConfig(r=rank, lora_alpha=rank, init_lora_weights="gaussian",
                             target_modules=["to_q", "to_k", "to_v", "to_out.0"])
    denoiser.add_adapter(config)
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for key, param in denoiser.named_parameters():
            if "lora_B" in key:
                param.copy_(torch.randn(param.shape, generator=generator) * scale)
    layers = get_peft_model_state_dict(denoiser)
    folder = Path(out)
    type(pipeline).save_lora_weights(str(folder), safe_serialization=True, **{f"{name}_lora_layers": layers})
    return folder / "pytorch_lora_weights.safetensors"
