"""Trained models from the Hugging Face Hub: ``--value-model`` / ``--user-model`` (and the
checkpoint arguments of the user-model commands) take a registered name, a checkpoint
folder, or a Hub repo: ``hf://owner/name[@revision]``, or a plain ``owner/name`` that is
neither an existing path nor a registered name.

A repo is fetched with :func:`huggingface_hub.snapshot_download` into the user's Hugging
Face cache (``HF_HOME`` / ``HF_HUB_CACHE``), from ``HF_ENDPOINT`` when it is set, and works
offline from that cache (``HF_HUB_OFFLINE=1``); the command then loads the downloaded
folder as it loads any checkpoint folder. huggingface-hub is the ``hub`` extra, imported
only when a repo is named. Every failure (no extra, no such repo, no network and no cached
copy) is one :class:`~pasta_core.errors.PluginError` line naming the repo and what to do.
"""

from __future__ import annotations

import os
import re
from collections.abc import Container
from typing import Any, NamedTuple

from pasta_core.errors import PluginError

#: The prefix that always means a Hub repo.
PREFIX = "hf://"
#: A Hub model repo id: owner/name (letters, digits, '-', '_', '.').
_REPO_ID = re.compile(r"[A-Za-z0-9][\w.-]*/[\w.-]*[A-Za-z0-9_]")


class HubRef(NamedTuple):
    """A Hub model repo and, optionally, a revision (branch, tag or commit)."""

    repo_id: str
    revision: str | None
    text: str

    def __str__(self) -> str:
        return self.text


def hub_ref(value: str, registered: Container[str] = ()) -> HubRef | None:
    """The Hub repo ``value`` names, or None when it names a registered component or a
    path (or cannot be a repo id). ``hf://`` always names a repo and a malformed one raises
    :class:`PluginError`."""
    explicit = value.startswith(PREFIX)
    if not explicit and (value in registered or os.path.exists(value)):
        return None
    repo_id, at, revision = value.removeprefix(PREFIX).partition("@")
    if _REPO_ID.fullmatch(repo_id) and (revision or not at):
        return HubRef(repo_id, revision or None, value)
    if explicit:
        raise PluginError(f"{value}: a Hub model is written hf://owner/name or hf://owner/name@revision")
    return None


def download(ref: HubRef, what: str = "model") -> str:
    """The local folder of the Hub repo ``ref`` (downloaded into the Hugging Face cache, or
    found there when offline)."""
    try:
        import huggingface_hub
    except ImportError:
        raise PluginError(f"{ref}: loading a {what} from the Hugging Face Hub needs huggingface-hub; "
                          "install it with: pip install 'pasta-t2i[hub]'") from None
    from huggingface_hub import errors

    endpoint = os.environ.get("HF_ENDPOINT") or None
    try:
        return str(huggingface_hub.snapshot_download(ref.repo_id, revision=ref.revision, endpoint=endpoint,
                                                     library_name="pasta-t2i"))
    except errors.RepositoryNotFoundError:
        where = endpoint or huggingface_hub.constants.ENDPOINT
        raise PluginError(f"{ref}: no {what} repo {ref.repo_id} on the Hugging Face Hub ({where}), or it is private; "
                          "check the name, or log in (hf auth login, or HF_TOKEN)" + _not_a_folder(ref)) from None
    except errors.RevisionNotFoundError:
        raise PluginError(f"{ref}: the Hub repo {ref.repo_id} has no revision {ref.revision!r}; "
                          "give a branch, tag or commit it has") from None
    except errors.LocalEntryNotFoundError:
        raise PluginError(f"{ref}: the Hub repo {ref.repo_id} is not in the Hugging Face cache and the Hub cannot be "
                          "reached (offline, HF_HUB_OFFLINE=1, or no network); download it once online"
                          + _not_a_folder(ref)) from None
    except Exception as exc:  # noqa: BLE001 - the network's errors (httpx, OSError, the Hub's): one line
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise PluginError(f"{ref}: downloading the Hub repo {ref.repo_id} failed ({reason}); "
                          "check the network and HF_ENDPOINT, or use a local folder") from None


def _not_a_folder(ref: HubRef) -> str:
    """For a plain ``owner/name``: it was not a folder either (a typo in a path reads so)."""
    return "" if ref.text.startswith(PREFIX) else f" ({ref.text} is not a folder or a registered name either)"


def resolve_model(value: str, kind: str, plugins: Any) -> str:
    """``value`` (a ``--user-model`` / ``--value-model``) as ``plugins.load`` takes it: itself
    for a registered name of ``kind`` or a path, the downloaded folder for a Hub repo."""
    ref = hub_ref(value, plugins.registry(kind))
    return value if ref is None else download(ref, kind)


def pinned(value: str, kind: str, plugins: Any) -> str:
    """``value`` to record in a session: a Hub repo without a revision gets the commit it
    was downloaded at (``hf://owner/name@SHA``: the snapshot folder's name), so a resumed
    session loads the very model it started with; anything else is returned as it is."""
    ref = hub_ref(value, plugins.registry(kind))
    if ref is None or ref.revision:
        return value
    return f"{PREFIX}{ref.repo_id}@{os.path.basename(os.path.normpath(download(ref, kind)))}"


def resolve_checkpoint(value: str, what: str = "checkpoint") -> str:
    """A checkpoint argument (a folder, or a Hub repo) as a local folder."""
    ref = hub_ref(value)
    return value if ref is None else download(ref, what)
