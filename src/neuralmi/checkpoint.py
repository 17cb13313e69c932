"""Training checkpoints for :func:`neuralmi.estimate_mi`: atomic writes, weights-only loads, refusal of mismatches.

A checkpoint is one ``torch.save`` file of plain containers (dicts, lists, tensors, numbers,
strings); it is written through a temporary file and renamed into place, and read back with
``torch.load(..., weights_only=True)``, so nothing is ever unpickled.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from neuralmi._files import atomic_write
from neuralmi._version import __version__
from neuralmi.errors import NeuralMIError

__all__ = ["FORMAT_VERSION", "check_matches", "fingerprint", "load_checkpoint", "save_checkpoint"]

FORMAT_VERSION = 2  # 2: the learning-rate schedule's plateau factor (lr_scale) joined the state
"""The checkpoint layout this neuralmi writes and reads; other versions are refused."""


def fingerprint(*tensors: Tensor) -> str:
    """SHA-256 of the tensors' shapes, dtypes and bytes: the identity of the data a run trains on."""
    digest = hashlib.sha256()
    for t in tensors:
        digest.update(f"{tuple(t.shape)}{t.dtype}".encode())
        digest.update(t.detach().cpu().contiguous().flatten().view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()


def save_checkpoint(path: str | os.PathLike[str], payload: dict[str, Any]) -> None:
    """Write ``payload`` with its format and library versions to ``path``, atomically."""
    meta = {"format_version": FORMAT_VERSION, "neuralmi_version": __version__, "torch_version": str(torch.__version__)}
    atomic_write(path, lambda f: torch.save({**payload, **meta}, f))


def load_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a checkpoint with ``weights_only=True``; refuse other files and other format versions."""
    try:
        payload = torch.load(Path(path), map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load raises many types on foreign or truncated files
        first = str(err).strip().splitlines()[0] if str(err).strip() else ""
        raise NeuralMIError(f"{path}: not a readable neuralmi checkpoint ({type(err).__name__}: {first[:200]})") from None
    version = payload.get("format_version") if isinstance(payload, dict) else None
    if version != FORMAT_VERSION:
        raise NeuralMIError(
            f"{path}: checkpoint format version {version!r}, this neuralmi reads version {FORMAT_VERSION}; "
            "delete the file or choose another checkpoint path to start afresh"
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
