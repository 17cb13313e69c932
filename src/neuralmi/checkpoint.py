"""Training checkpoints for :func:`neuralmi.estimate_mi`: atomic writes, weights-only loads, refusal of mismatches.

A checkpoint is one ``torch.save`` file of plain containers (dicts, lists, tensors, numbers,
strings); it is written through a temporary file and renamed into place, and read back with
``torch.load(..., weights_only=True)``, so nothing is ever unpickled. A SHA-256 digest of its contents
(every tensor's bytes, shape and dtype, and every other value) is stored in it and checked on loading.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from neuralmi._files import atomic_write, check_output
from neuralmi._version import __version__
from neuralmi.errors import NeuralMIError

__all__ = [
    "FORMAT_VERSION",
    "check_checkpoint_path",
    "check_matches",
    "contents_digest",
    "fingerprint",
    "load_checkpoint",
    "save_checkpoint",
]

FORMAT_VERSION = 3  # 2: the plateau factor lr_scale joined the state; 3: the contents digest ("checksum")
"""The checkpoint layout this neuralmi writes; it reads this one and version 2 (which has no checksum)."""
_READABLE = (2, FORMAT_VERSION)


def fingerprint(*tensors: Tensor) -> str:
    """SHA-256 of the tensors' shapes, dtypes and bytes: the identity of the data a run trains on."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(f"{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    """Add a value of a checkpoint (tensors, containers, numbers, strings) to a running hash, kinds and order included."""
    if isinstance(value, Tensor):
        digest.update(f"T{tuple(value.shape)}{value.dtype}".encode())
        digest.update(value.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy())  # the buffer, not a copy
    elif isinstance(value, dict):
        digest.update(f"D{len(value)}".encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, (list, tuple)):
        digest.update(f"L{len(value)}".encode())
        for item in value:
            _feed(digest, item)
    else:
        digest.update(f"V{type(value).__name__}:{value!r};".encode())


def contents_digest(payload: dict[str, Any]) -> str:
    """SHA-256 of a checkpoint's contents, its ``checksum`` entry left out: what loading checks the file against."""
    digest = hashlib.sha256()
    _feed(digest, {k: v for k, v in payload.items() if k != "checksum"})
    return digest.hexdigest()


def check_checkpoint_path(path: str | os.PathLike[str]) -> None:
    """Raise ``NeuralMIError`` unless a checkpoint can be written at ``path``: its folder exists and takes new files."""
    check_output(path, folder=False, what="checkpoint")


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` with its format and library versions and its contents digest to ``path``, atomically."""
    meta = {"format_version": FORMAT_VERSION, "neuralmi_version": __version__, "torch_version": str(torch.__version__)}
    full = {**payload, **meta}
    full["checksum"] = contents_digest(full)
    atomic_write(path, lambda f: torch.save(full, f))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; refuse other files, other format versions and altered contents."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types on foreign or truncated files
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise NeuralMIError(f"{path}: not a readable neuralmi checkpoint ({type(err).__name__}: {first[:200]})") from None
    version = payload.get("format_version") if isinstance(payload, dict) else None
    if version not in _READABLE:
        raise NeuralMIError(
            f"{path}: checkpoint format version {version!r}, this neuralmi reads version {FORMAT_VERSION}; "
            "delete the file or choose another checkpoint path to start afresh"
        )
    if version == FORMAT_VERSION and payload.get("checksum") != contents_digest(payload):
        raise NeuralMIError(
            f"{path}: checksum mismatch, the checkpoint's contents changed after it was written (a damaged or edited file); "
            "delete it or choose another checkpoint path to start afresh"
        )
    return payload


def check_matches(path: str | os.PathLike[str], what: str, saved: dict[str, Any], current: dict[str, Any]) -> None:
    """Raise a ``NeuralMIError`` naming every entry that differs between the checkpoint's ``saved`` and ``current``."""
    keys = dict.fromkeys([*current, *saved])
    differ = [f"{k}: checkpoint {saved.get(k)!r}, now {current.get(k)!r}" for k in keys if saved.get(k) != current.get(k)]
    if differ:
        raise NeuralMIError(
            f"{path}: cannot resume, the {what} differs from the checkpoint's ({'; '.join(differ)}); "
            "run with the same data and settings, or delete the file or choose another checkpoint path"
        )
