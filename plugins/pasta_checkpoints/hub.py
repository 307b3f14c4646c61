"""Checkpoint folders shared the Hugging Face way: ``save_pretrained`` / ``from_pretrained``
/ ``push_to_hub`` on the model classes (:class:`HubMixin`), over the folder format they
already have (``config.json`` + safetensors).

``from_pretrained`` takes a local folder or a Hub repo id (``user/name``, fetched with
:func:`huggingface_hub.snapshot_download` into the Hub cache); ``push_to_hub`` saves the
model into a temporary folder, adds a model card when there is none, and uploads it with
:class:`huggingface_hub.HfApi` (``endpoint`` for a private Hub, ``token`` or the saved
login). huggingface-hub is the ``hub`` extra, imported only by these two.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any, TypeVar

from pasta_core.errors import InvalidValueError, require

Model = TypeVar("Model", bound="HubMixin")
#: The model card's file name.
CARD = "README.md"
#: What a training folder holds that is not the model (resume states, caches, logs).
NOT_SHARED = ("train-state/*", "trainer_state*", "embeddings/*", "tensorboard/*", "mlruns/*", "mlflow.db",
              "wandb/*")


class HubMixin:
    """``save_pretrained`` / ``from_pretrained`` / ``push_to_hub`` for a class that
    implements ``_save_folder(folder)`` and the class method ``_from_folder(folder, **kw)``."""

    #: Written into the model card's metadata (the Hub's tags).
    hub_tags: tuple[str, ...] = ("pasta-t2i",)

    def _save_folder(self, folder: Path) -> None:
        raise NotImplementedError

    @classmethod
    def _from_folder(cls: type[Model], folder: Path, **kwargs: Any) -> Model:
        raise NotImplementedError

    def save_pretrained(self, save_directory: str | os.PathLike[str]) -> Path:
        """Save the model as a checkpoint folder (created if missing); returns it."""
        folder = Path(save_directory)
        folder.mkdir(parents=True, exist_ok=True)
        self._save_folder(folder)
        return folder

    @classmethod
    def from_pretrained(cls: type[Model], pretrained: str | os.PathLike[str], *, revision: str | None = None,
                        endpoint: str | None = None, token: str | bool | None = None,
                        cache_dir: str | os.PathLike[str] | None = None, local_files_only: bool = False,
                        **kwargs: Any) -> Model:
        """The model in the folder ``pretrained``, or in the Hub repo of that id (downloaded
        once into the Hub cache); ``kwargs`` go to the loader (``device``, ...)."""
        folder = resolve_pretrained(pretrained, revision=revision, endpoint=endpoint, token=token,
                                    cache_dir=cache_dir, local_files_only=local_files_only)
        return cls._from_folder(folder, **kwargs)

    def push_to_hub(self, repo_id: str, *, endpoint: str | None = None, token: str | bool | None = None,
                    private: bool | None = None, revision: str | None = None,
                    commit_message: str = "Upload a PASTA checkpoint") -> str:
        """Save the model and upload the folder to the Hub repo ``repo_id`` (created if
        missing); returns the commit's URL."""
        with tempfile.TemporaryDirectory(prefix="pasta-push-") as tmp:
            folder = self.save_pretrained(tmp)
            return push_folder(folder, repo_id, endpoint=endpoint, token=token, private=private, revision=revision,
                               commit_message=commit_message, tags=self.hub_tags)


def model_card(repo_id: str, tags: tuple[str, ...]) -> str:
    """A minimal model card: the Hub's metadata and how to load the checkpoint."""
    lines = ["---", "library_name: pasta-t2i", "tags:", *(f"- {tag}" for tag in tags), "---", "",
             f"# {repo_id}", "", "A PASTA checkpoint (config.json + safetensors). Load it with `from_pretrained`:",
             "", "```python", f'model = ModelClass.from_pretrained("{repo_id}")', "```", ""]
    return "\n".join(lines)


def push_folder(folder: str | os.PathLike[str], repo_id: str, *, endpoint: str | None = None,
                token: str | bool | None = None, private: bool | None = None, revision: str | None = None,
                commit_message: str = "Upload a PASTA checkpoint", tags: tuple[str, ...] = ("pasta-t2i",)) -> str:
    """Upload the checkpoint folder ``folder`` (with a model card if it has none) to the
    model repo ``repo_id`` of the Hub at ``endpoint``; returns the commit's URL."""
    hub = require("huggingface_hub", "hub", "huggingface-hub")
    folder = Path(folder)
    if not (folder / "config.json").is_file():
        raise InvalidValueError(f"{folder} is not a checkpoint folder (no config.json)")
    if not (folder / CARD).exists():
        (folder / CARD).write_text(model_card(repo_id, tags), encoding="utf-8")
    api = hub.HfApi(endpoint=endpoint, token=token, library_name="pasta-t2i")
    api.create_repo(repo_id, private=private, exist_ok=True, repo_type="model")
    info = api.upload_folder(repo_id=repo_id, folder_path=str(folder), repo_type="model", revision=revision,
                             commit_message=commit_message, ignore_patterns=list(NOT_SHARED))
    return str(getattr(info, "commit_url", info))


def resolve_pretrained(pretrained: str | os.PathLike[str], *, revision: str | None = None,
                       endpoint: str | None = None, token: str | bool | None = None,
                       cache_dir: str | os.PathLike[str] | None = None, local_files_only: bool = False) -> Path:
    """The local folder of ``pretrained``: itself when it is a folder, else the snapshot
    of the Hub repo of that id."""
    path = Path(pretrained)
    if path.is_dir():
        return path
    name = str(pretrained)
    if path.exists() or name.count("/") != 1 or name.startswith((".", "/")):
        raise InvalidValueError(f"{name} is neither a checkpoint folder nor a Hub repo id (user/name)")
    hub = require("huggingface_hub", "hub", "huggingface-hub")
    return Path(hub.snapshot_download(name, revision=revision, endpoint=endpoint, token=token,
                                      cache_dir=cache_dir, local_files_only=local_files_only,
                                      library_name="pasta-t2i"))


def push_command(what: str) -> Any:
    """A ``push FOLDER REPO_ID`` click command for checkpoints of ``what`` (added to the
    ``value`` and ``user-model`` groups): :func:`push_folder` with the options."""
    import click

    @click.command("push")
    @click.argument("folder", type=click.Path(exists=True, file_okay=False))
    @click.argument("repo_id")
    @click.option("--endpoint", default=None, help="Hub URL [HF_ENDPOINT, else https://huggingface.co].")
    @click.option("--private", is_flag=True, default=None, help="Create the repo private.")
    @click.option("--message", default="Upload a PASTA checkpoint", show_default=True, help="Commit message.")
    def push(folder: str, repo_id: str, endpoint: str | None, private: bool | None, message: str) -> None:
        from pasta_core.errors import PastaError

        try:
            url = push_folder(folder, repo_id, endpoint=endpoint, private=private, commit_message=message,
                              tags=("pasta-t2i", what))
        except PastaError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"pushed {folder} to {repo_id}: {url}")

    push.help = (f"Upload a {what} checkpoint FOLDER to the Hugging Face Hub repo REPO_ID (created if missing; "
                 "training states and caches stay behind). Log in first (hf auth login) or set HF_TOKEN.")
    return push
