"""The ``embedded`` value model (the default): a small network over text embeddings.

A history is described by embeddings of its texts, each distinct text embedded once:

- the initial prompt (the intent) and the last chosen prompt (where the images are now);
- the preference direction: the mean over turns of e(chosen) - mean e(slate), i.e. what
  the person picked over what they were shown (the signal of their user type);
- the mean embedding of the critiques (zeros if none), and the turn number (one-hot).

Embedding texts one by one rather than the whole Figure-12 rendering keeps every part
inside MiniLM's 256-token window (a 5-turn rendering is far longer) and lets the
cache serve every repeated prompt. The network: a history tower z(h), a candidate tower
y(p), Q = MLP([z, y, z * y]) and V = linear(z). With ``edit`` the candidate tower also
reads e(p) - e(last chosen prompt): what the expansion changes, which a bag of words of
the whole prompt dilutes among the words every candidate of a turn shares.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from pasta_core.atomic import write_atomically
from pasta_core.errors import InvalidValueError, require
from pasta_core.types import Candidate, History
from pasta_value.embedding import TextEmbedder
from pasta_value.torch_model import (
    CONFIG_FILE,
    PairOutputs,
    TorchValueModel,
    read_config,
    write_config,
)

PLUGIN = "embedded"
WEIGHTS = "model.safetensors"


@attrs.frozen
class EmbeddedSettings:
    """What defines an embedded value model (saved in its ``config.json``)."""

    encoder: str = "minilm"
    dim: int | None = None
    width: int = 256
    max_turns: int = 8
    seed: int = 0
    edit: bool = False


def history_features(histories: Sequence[History], embedder: TextEmbedder, max_turns: int) -> np.ndarray:
    """(N, 4 * dim + max_turns + 1) features of histories (see the module docstring)."""
    texts: list[str] = []
    for h in histories:
        texts.append(h.initial_prompt)
        for turn in h.turns:
            texts.extend(c.text for c in turn.slate)
            texts.extend([turn.critique] if turn.critique else [])
    unique = list(dict.fromkeys(texts))
    table = dict(zip(unique, embedder.embed(unique))) if unique else {}
    d = embedder.dim
    out = np.zeros((len(histories), 4 * d + max_turns + 1), dtype=np.float32)
    for i, h in enumerate(histories):
        out[i, :d] = table[h.initial_prompt]
        out[i, d : 2 * d] = table[h.last_prompt]
        if h.turns:
            pref = [table[t.chosen.text] - np.mean([table[c.text] for c in t.slate], axis=0) for t in h.turns]
            out[i, 2 * d : 3 * d] = np.mean(pref, axis=0)
        if h.critiques:
            out[i, 3 * d : 4 * d] = np.mean([table[c] for c in h.critiques], axis=0)
        out[i, 4 * d + min(len(h.turns), max_turns)] = 1.0
    return out


def build_network(history_dim: int, text_dim: int, width: int, edit: bool = False) -> Any:
    """The value network: history and candidate towers, a Q head and a V head (``edit``:
    the candidate tower reads the candidate's embedding minus the last chosen prompt's,
    columns ``text_dim:2 * text_dim`` of the history features, too)."""
    torch = require("torch", "train")
    nn = torch.nn

    class EmbeddedValueNet(nn.Module):  # type: ignore[name-defined]
        def __init__(self) -> None:
            super().__init__()
            self.history = nn.Sequential(nn.Linear(history_dim, width), nn.GELU(), nn.Linear(width, width), nn.GELU())
            self.candidate = nn.Sequential(nn.Linear(text_dim * (2 if edit else 1), width), nn.GELU())
            self.q_head = nn.Sequential(nn.Linear(3 * width, width), nn.GELU(), nn.Linear(width, 1))
            self.v_head = nn.Linear(width, 1)

        def forward(self, h: Any, c: Any, h_index: Any = None) -> tuple[Any, Any]:
            """Q and V of pairs. With ``h_index``, ``h`` holds each distinct history once
            and pair i reads row ``h_index[i]``: the history tower runs once per history."""
            z, last = self.history(h), h[:, text_dim : 2 * text_dim]
            v = self.v_head(z).squeeze(-1)
            if h_index is not None:
                z, v, last = z[h_index], v[h_index], last[h_index]
            y = self.candidate(torch.cat([c, c - last], dim=-1) if edit else c)
            q = self.q_head(torch.cat([z, y, z * y], dim=-1)).squeeze(-1)
            return q, v

        def value(self, h: Any) -> Any:
            return self.v_head(self.history(h)).squeeze(-1)

    return EmbeddedValueNet()


@attrs.frozen
class Prepared:
    histories: Any  # (Nh, Dh) tensor
    candidates: Any  # (Nc, d) tensor


class EmbeddedValueModel(TorchValueModel):
    """f(h, p) and V(h) from a small network over cached text embeddings."""

    plugin = PLUGIN
    supports_token_level = False

    def __init__(self, settings: EmbeddedSettings = EmbeddedSettings(), device: str = "cpu") -> None:
        torch = require("torch", "train")
        self.settings = settings
        self.device = device
        self.embedder = TextEmbedder(settings.encoder, settings.dim, device=device)
        torch.manual_seed(settings.seed)
        history_dim = 4 * self.embedder.dim + settings.max_turns + 1
        self.module = build_network(history_dim, self.embedder.dim, settings.width, settings.edit).to(device)

    def input_key(self) -> Any:
        """Models with the same text encoder and turn count prepare the same inputs."""
        return (PLUGIN, self.settings.encoder, self.embedder.dim, self.settings.max_turns, self.device)

    def prepare(self, histories: Sequence[History], candidates: Sequence[Candidate]) -> Prepared:
        import torch

        h = history_features(histories, self.embedder, self.settings.max_turns)
        c = self.embedder.embed([x.text for x in candidates]) if candidates else np.zeros((0, self.embedder.dim), np.float32)
        return Prepared(torch.from_numpy(h).to(self.device), torch.from_numpy(c).to(self.device))

    def pair_outputs(self, module: Any, prepared: Prepared, history_index: Any, candidate_index: Any,
                     token_level: bool = False) -> PairOutputs:
        if token_level:
            raise InvalidValueError("the embedded value model has no tokens; use causal-lm for token-level IQL")
        import torch

        # A slate's pairs share their history (4 per turn in training, 25 per history when
        # scoring candidates): run the history tower once per distinct history.
        distinct, inverse = torch.unique(torch.as_tensor(history_index), return_inverse=True)
        q, v = module(prepared.histories[distinct], prepared.candidates[candidate_index], inverse)
        return PairOutputs(q=q, v=v)

    def history_values(self, module: Any, prepared: Prepared, history_index: Any) -> Any:
        return module.value(prepared.histories[history_index])

    def save(self, folder: str | os.PathLike[str], extra: dict[str, Any] | None = None) -> Path:
        from safetensors.torch import save_model

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomically(folder / WEIGHTS, lambda tmp: save_model(self.module, str(tmp)))
        write_config(folder, {"plugin": PLUGIN, **attrs.asdict(self.settings), **(extra or {})})
        return folder

    @classmethod
    def load(cls, folder: str | os.PathLike[str], device: str = "cpu") -> EmbeddedValueModel:
        """The model saved in ``folder``; its config and weights are checked first (types,
        tensor names and shapes, all finite), and a bad file is named in the error."""
        from pasta_checkpoints import CheckpointError, check_fields, load_safetensors

        config = read_config(folder)
        config_file = Path(folder) / CONFIG_FILE
        if config["plugin"] != PLUGIN:
            raise InvalidValueError(f"{folder} holds a {config['plugin']!r} value model, not {PLUGIN!r}")
        check_fields(config_file, config, SETTINGS_FIELDS)
        fields = {f.name for f in attrs.fields(EmbeddedSettings)}
        try:
            model = cls(EmbeddedSettings(**{k: v for k, v in config.items() if k in fields}), device=device)
        except InvalidValueError as exc:
            raise CheckpointError(f"{config_file}: {exc}") from None
        weights = Path(folder) / WEIGHTS
        if not weights.is_file():
            raise InvalidValueError(f"{folder} has no {WEIGHTS}; was training stopped before the first save?")
        expected = {name: tuple(t.shape) for name, t in model.module.state_dict().items()}
        model.module.load_state_dict(load_safetensors(weights, expected=expected, config=config_file, device=device))
        model.module.eval()
        return model


#: The kinds of the settings in ``config.json`` (:func:`pasta_checkpoints.check_fields`).
SETTINGS_FIELDS = {"encoder": "str", "dim": "int>0?", "width": "int>0", "max_turns": "int>0", "seed": "int",
                   "edit": "bool"}


def create_embedded(path: str | None = None, device: str = "cpu", **options: Any) -> EmbeddedValueModel:
    """Factory: load ``path`` (a checkpoint folder), or build a fresh model from options
    (encoder=minilm|hash|words, dim=N for hash and words, width=256, max_turns=8, seed=0,
    edit=false)."""
    if path:
        if options:
            raise InvalidValueError(f"options {sorted(options)} cannot change a saved embedded model")
        return EmbeddedValueModel.load(path, device=device)
    known = {f.name for f in attrs.fields(EmbeddedSettings)}
    unknown = set(options) - known
    if unknown:
        raise InvalidValueError(f"unknown embedded value-model options {sorted(unknown)}; known: {sorted(known)}")
    ints = {k: int(v) for k, v in options.items() if k in {"dim", "width", "max_turns", "seed"} and v not in (None, "")}
    if "edit" in options:
        from pasta_llm import option_bool

        ints["edit"] = option_bool("edit", options["edit"])
    settings = EmbeddedSettings(**{**options, **ints})
    return EmbeddedValueModel(settings, device=device)

