"""``pasta distill train``: fine-tune a causal LM on the pairs with transformers' Trainer.

Two codecs (:mod:`pasta_distill.local` reads both):

- ``compact`` (``--model embedded``, the offline default): a small GPT-2 built from a
  config and trained from scratch on the template vocabulary's tokens
  (:mod:`pasta_distill.codec`), the whole model trained;
- ``chat`` (``--model FOLDER``, a transformers causal LM with a chat template): the pairs'
  system and user messages through the chat template, the loss on the answer's tokens
  only; LoRA adapters (peft) for models over ``LORA_ABOVE`` parameters unless ``--full``,
  merged into the weights when saved.

Checkpoints (safetensors weights, the Trainer's optimizer and scheduler state) go to
``OUT/checkpoints`` every ``save_every`` steps; a rerun resumes from the last one; the
final model (``model.safetensors``, ``config.json``, the tokenizer and ``distill.json``)
goes to ``OUT``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs

from pasta_core.atomic import write_json
from pasta_core.errors import InvalidValueError, require
from pasta_distill.codec import Codec
from pasta_distill.export import request_of
from pasta_distill.local import INFO_FILE
from pasta_distill.pairs import Pair
from pasta_distill.prompt import SYSTEM_INSTRUCTION, slate_answer, user_text

log = logging.getLogger(__name__)

#: Models with more parameters than this get LoRA adapters unless told otherwise.
LORA_ABOVE = 50_000_000


@attrs.frozen
class TrainConfig:
    """The settings of one ``pasta distill train`` run."""

    steps: int = 2000
    batch_size: int = 32
    lr: float = 3e-3
    save_every: int = 500
    seed: int = 0
    width: int = 96
    layers: int = 2
    heads: int = 4
    lora: bool | None = None  # None: by model size
    lora_rank: int = 8
    device: str = "cpu"

    def __attrs_post_init__(self) -> None:
        for name in ("steps", "batch_size", "save_every", "width", "layers", "heads", "lora_rank"):
            if getattr(self, name) < 1:
                raise InvalidValueError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise InvalidValueError(f"--lr must be positive, got {self.lr}")


class Examples:
    """Token-id examples as a torch dataset: ``input_ids`` and ``labels`` (next-token
    labels for the chat codec; the slate's item ids for the compact one)."""

    def __init__(self, rows: list[dict[str, list[int]]]) -> None:
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: int) -> dict[str, list[int]]:
        return self.rows[index]


def _padded(rows: list[list[int]], value: int, left: bool = False) -> Any:
    import torch

    width = max(len(r) for r in rows)
    out = torch.full((len(rows), width), value, dtype=torch.long)
    for i, r in enumerate(rows):
        if r:
            if left:
                out[i, width - len(r):] = torch.tensor(r)
            else:
                out[i, :len(r)] = torch.tensor(r)
    return out


def collate_answers(pad_id: int) -> Any:
    """The chat codec's batches: padded on the right, padded positions without loss or attention."""
    def collate_batch(batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        ids = _padded([b["input_ids"] for b in batch], pad_id)
        return {"input_ids": ids, "labels": _padded([b["labels"] for b in batch], -100),
                "attention_mask": _padded([[1] * len(b["input_ids"]) for b in batch], 0)}
    return collate_batch


def collate_slates(pad_id: int) -> Any:
    """The compact codec's batches: histories padded on the left (their last positions line up,
    where the slate is scored), positions counted from each history's first token."""
    def collate_batch(batch: list[dict[str, list[int]]]) -> dict[str, Any]:
        mask = _padded([[1] * len(b["input_ids"]) for b in batch], 0, left=True)
        return {"input_ids": _padded([b["input_ids"] for b in batch], pad_id, left=True), "attention_mask": mask,
                "position_ids": (mask.cumsum(1) - 1).clamp(min=0), "labels": _padded([b["labels"] for b in batch], -100),
                "logits_to_keep": 1}
    return collate_batch


def slate_loss(outputs: Any, labels: Any, num_items_in_batch: Any = None) -> Any:
    """Mean negative log-probability of the teacher's slate items at the last position."""
    import torch

    logp = torch.log_softmax(outputs.logits[:, -1].float(), dim=-1)
    valid = labels >= 0
    picked = logp.gather(1, labels.clamp(min=0))
    return -(picked * valid).sum() / valid.sum().clamp(min=1)


def codec_items(pairs: Sequence[Pair]) -> list[tuple[Any, str]]:
    """Every prompt of the pairs (targets and those shown) with what it expanded, once."""
    from pasta_distill.codec import slate_items

    seen: dict[tuple[Any, str], None] = {}
    for pair in pairs:
        for candidate in pair.slate:
            seen[(candidate, pair.history.last_prompt)] = None
        for candidate, base in slate_items(pair.history):
            seen[(candidate, base)] = None
    return list(seen)


def codec_words(pairs: Sequence[Pair]) -> list[str]:
    return list(dict.fromkeys(t for p in pairs for t in (p.history.initial_prompt, *(c.text for c in p.slate))))


def compact_examples(pairs: Sequence[Pair], codec: Codec, max_positions: int) -> tuple[Examples, int]:
    """(examples, pairs dropped: longer than the model's positions, or no item with a token)."""
    rows = []
    for pair in pairs:
        prompt = codec.to_ids(codec.history(pair.history, pair.word_limit))
        targets = codec.targets(pair.slate, pair.history)
        if targets and len(prompt) <= max_positions:
            rows.append({"input_ids": prompt, "labels": targets})
    return Examples(rows), len(pairs) - len(rows)


def chat_examples(pairs: Sequence[Pair], tokenizer: Any) -> Examples:
    from pasta_distill.local import chat_prompt_ids

    rows = []
    for pair in pairs:
        prompt = chat_prompt_ids(tokenizer, SYSTEM_INSTRUCTION, user_text(request_of(pair)))
        answer = [*tokenizer(slate_answer(pair.slate), add_special_tokens=False)["input_ids"], tokenizer.eos_token_id]
        rows.append({"input_ids": prompt + answer, "labels": [-100] * len(prompt) + answer})
    return Examples(rows)


def last_checkpoint(folder: Path) -> str | None:
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(folder)) if folder.is_dir() else None


def fit(model: Any, examples: Examples, collator: Any, out: Path, config: TrainConfig, resume: bool,
        progress: bool, loss: Any = None) -> dict[str, Any]:
    """Train ``model`` on ``examples`` with transformers' Trainer; returns its figures."""
    transformers = require("transformers", "distill")
    require("accelerate", "distill")
    checkpoints = out / "checkpoints"
    args = transformers.TrainingArguments(
        output_dir=str(checkpoints), max_steps=config.steps, per_device_train_batch_size=config.batch_size,
        learning_rate=config.lr, weight_decay=0.01, warmup_steps=min(100, config.steps // 10),
        lr_scheduler_type="cosine", logging_steps=max(1, config.steps // 20), save_steps=config.save_every,
        save_total_limit=2, report_to="none", seed=config.seed, use_cpu=config.device == "cpu",
        disable_tqdm=not progress, remove_unused_columns=False, dataloader_num_workers=0,
    )
    trainer = transformers.Trainer(model=model, args=args, train_dataset=examples, data_collator=collator,
                                   compute_loss_func=loss)
    callbacks = transformers.trainer_callback
    trainer.remove_callback(callbacks.ProgressCallback if progress else callbacks.PrinterCallback)
    trainer.add_callback(_log_lines(callbacks, progress))
    start = last_checkpoint(checkpoints) if resume else None
    started = time.perf_counter()
    result = trainer.train(resume_from_checkpoint=start)
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    return {"steps": trainer.state.global_step, "resumed_from": start, "seconds": round(time.perf_counter() - started, 2),
            "final_loss": losses[-1] if losses else None, "train_loss": result.training_loss}


def _log_lines(callbacks: Any, progress: bool) -> Any:
    """The Trainer's callback that logs its loss records through :mod:`logging` (the global
    --log-level) instead of printing them, with its progress bar when ``progress``."""
    base = callbacks.ProgressCallback if progress else callbacks.TrainerCallback

    class LogLines(base):  # type: ignore[misc, valid-type]
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kwargs: Any) -> None:
            if state.is_world_process_zero and logs:
                log.info("distill step %d: %s", state.global_step,
                         ", ".join(f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in logs.items()))

    return LogLines()


def model_size(folder: Path) -> int:
    """Bytes of the saved weights."""
    return sum(f.stat().st_size for f in folder.glob("*.safetensors"))


def _finish(model: Any, out: Path, info: dict[str, Any]) -> dict[str, Any]:
    model.save_pretrained(str(out))
    info["parameters"] = int(sum(p.numel() for p in model.parameters()))
    info["weights_bytes"] = model_size(out)
    write_json(out / INFO_FILE, info)
    return info


def train_compact(pairs: Sequence[Pair], out: str | os.PathLike[str], config: TrainConfig, resume: bool = True,
                  progress: bool = True) -> dict[str, Any]:
    """Train the compact model from scratch on ``pairs``; returns ``distill.json``'s content."""
    torch = require("torch", "distill")
    transformers = require("transformers", "distill")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    resuming = resume and last_checkpoint(folder / "checkpoints") is not None
    codec = Codec.load(folder) if resuming else Codec.build(codec_items(pairs), codec_words(pairs))
    if not resuming:
        codec.save(folder)
    ids = codec.ids
    model_config = transformers.GPT2Config(
        vocab_size=len(codec.tokens), n_positions=256, n_embd=config.width, n_layer=config.layers,
        n_head=config.heads, bos_token_id=ids["<bos>"], eos_token_id=ids["<eos>"], pad_token_id=ids["<pad>"])
    torch.manual_seed(config.seed)
    model = transformers.GPT2LMHeadModel(model_config)
    examples, dropped = compact_examples(pairs, codec, model_config.n_positions)
    if not len(examples):
        raise InvalidValueError("no pair fits the model (every history is too long)")
    figures = fit(model, examples, collate_slates(ids["<pad>"]), folder, config, resume, progress, slate_loss)
    return _finish(model, folder, {"codec": "compact", "edits": len(codec.edits),
                                   "vocabulary": len(codec.tokens), "pairs": len(pairs),
                                   "dropped_too_long": dropped, "config": attrs.asdict(config), "training": figures})


def train_chat(pairs: Sequence[Pair], base: str, out: str | os.PathLike[str], config: TrainConfig,
               resume: bool = True, progress: bool = True) -> dict[str, Any]:
    """Fine-tune the chat model in folder ``base`` on ``pairs`` (LoRA by size unless
    ``config.lora`` says); returns ``distill.json``'s content."""
    torch = require("torch", "distill")
    transformers = require("transformers", "distill")
    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    source = Path(base).expanduser()
    if not (source / "config.json").is_file():
        raise InvalidValueError(f"--model {base}: not a transformers model folder (no config.json), nor 'embedded'")
    tokenizer = transformers.AutoTokenizer.from_pretrained(str(source), local_files_only=True)
    if not getattr(tokenizer, "chat_template", None):
        raise InvalidValueError(f"--model {base}: the tokenizer has no chat template (use a chat/instruct model)")
    torch.manual_seed(config.seed)
    model = transformers.AutoModelForCausalLM.from_pretrained(str(source), local_files_only=True, dtype=torch.float32)
    size = sum(p.numel() for p in model.parameters())
    lora = config.lora if config.lora is not None else size > LORA_ABOVE
    if lora:
        peft = require("peft", "distill")
        model = peft.get_peft_model(model, peft.LoraConfig(r=config.lora_rank, lora_alpha=2 * config.lora_rank,
                                                           lora_dropout=0.0, target_modules="all-linear",
                                                           task_type="CAUSAL_LM"))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    figures = fit(model, chat_examples(pairs, tokenizer), collate_answers(pad), folder, config, resume, progress)
    if lora:
        model = model.merge_and_unload()
    tokenizer.save_pretrained(str(folder))
    return _finish(model, folder, {"codec": "chat", "base_model": str(source), "lora": bool(lora),
                                   "base_parameters": int(size), "pairs": len(pairs),
                                   "config": attrs.asdict(config), "training": figures})
