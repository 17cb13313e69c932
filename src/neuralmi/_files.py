"""Writing outputs whole (private, a leaf): a file or folder is the old one or the whole new one, never a part.

Each output is first written in full under a unique hidden name beside its target (``staged``),
with the user's umask, flushed and fsynced, then renamed into place (``commit``) with Ctrl-C held
back until every output of the commit is in place. A folder replaces an older one by an atomic
exchange where the system has one (Linux ``renameat2``), so a concurrent reader sees the old folder
or the new one, never a mix of their files.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import secrets
import shutil
import signal
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from neuralmi.errors import NeuralMIError

__all__ = [
    "Staged",
    "atomic_write",
    "check_output",
    "commit",
    "deferred_interrupt",
    "discard",
    "read_folder",
    "stage_file",
    "stage_folder",
]


@dataclass(frozen=True)
class Staged:
    """An output written in full at ``temp``, waiting to be renamed to ``target``."""

    temp: Path
    target: Path
    replace: bool


def _sibling(target: Path, tag: str) -> Path:
    """A fresh hidden name in ``target``'s folder: ``.NAME.<random>.<tag>`` (NAME cut to 200 characters, so it fits)."""
    return target.parent / f".{target.name[:200]}.{secrets.token_hex(6)}.{tag}"


def _followed(target: str | os.PathLike[str]) -> Path:
    """The path itself, or where it points if it is a symbolic link: an output replaces the target, never the link."""
    return Path(os.path.realpath(target)) if os.path.islink(target) else Path(target)


def _write_new(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Create ``path`` (which must not exist) with mode 0o666 less the umask, call ``write(f)``, flush and fsync."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    with os.fdopen(fd, "wb") as f:
        write(f)
        f.flush()
        os.fsync(f.fileno())


def stage_file(target: str | os.PathLike[str], write: Callable[[BinaryIO], object], *, replace: bool = True) -> Staged:
    """Write a file in full under a temporary name beside ``target``; :func:`commit` moves it into place."""
    target = _followed(target)
    temp = _sibling(target, "tmp")
    try:
        _write_new(temp, write)
    except BaseException:
        temp.unlink(missing_ok=True)
        raise
    return Staged(temp, target, replace)


def stage_folder(target: str | os.PathLike[str], files: Mapping[str, bytes], *, replace: bool = False) -> Staged:
    """Write a folder of files in full under a temporary name beside ``target``; :func:`commit` moves it into place."""
    target = _followed(target)
    temp = _sibling(target, "tmp")
    os.mkdir(temp, 0o777)  # the umask applies, as to any folder the user makes
    try:
        for name, data in files.items():
            _write_new(temp / name, lambda f, data=data: f.write(data))  # type: ignore[misc]
        _sync_directory(temp)
    except BaseException:
        shutil.rmtree(temp, ignore_errors=True)
        raise
    return Staged(temp, target, replace)


def discard(staged: Iterable[Staged]) -> None:
    """Remove what is left of staged outputs that were not committed."""
    for s in staged:
        if s.temp.is_dir() and not s.temp.is_symlink():
            shutil.rmtree(s.temp, ignore_errors=True)
        else:
            s.temp.unlink(missing_ok=True)


def commit(staged: Sequence[Staged]) -> None:
    """Rename each staged output into place, in order, with Ctrl-C held back until the last one is in place."""
    try:
        with deferred_interrupt():
            for s in staged:
                if s.temp.is_dir():
                    _commit_folder(s)
                else:
                    if not s.replace and os.path.lexists(s.target):
                        raise FileExistsError(f"{s.target} already exists")
                    os.replace(s.temp, s.target)
                _sync_directory(s.target.parent)
    finally:
        discard(staged)


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> None:
    """Call ``write(f)`` on a temporary file in ``path``'s folder, fsync it and rename it into place (mode: the umask's).

    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.bin"
    >>> atomic_write(target, lambda f: f.write(b"ok"))
    >>> target.read_bytes()
    b'ok'
    """
    commit([stage_file(path, write)])


def _commit_folder(s: Staged) -> None:
    """Rename a staged folder to its target; an existing target (``replace`` only) is exchanged for it, then removed."""
    for _ in range(100):
        try:
            os.rename(s.temp, s.target)  # the target is absent (or an empty folder, on POSIX)
            return
        except OSError:
            if not os.path.lexists(s.target):
                if not s.target.parent.is_dir():
                    raise
                continue  # removed meanwhile by another writer: try again
            if not s.replace:
                raise FileExistsError(f"{s.target} already exists") from None
        swapped = _exchange(s.temp, s.target)
        if swapped is None:
            continue  # the target vanished meanwhile
        if swapped:  # the old folder now lies at the temporary name
            shutil.rmtree(s.temp, ignore_errors=True)
            return
        old = _sibling(s.target, "old")
        try:
            os.rename(s.target, old)
        except FileNotFoundError:
            continue
        try:
            os.rename(s.temp, s.target)
        except OSError:  # another writer's folder took the place: it is whole, so the old one can go; try again
            continue
        finally:
            shutil.rmtree(old, ignore_errors=True)
        return
    raise OSError(errno.EBUSY, f"{s.target}: other writers kept replacing it; the new folder was not moved into place")


def _exchange(a: Path, b: Path) -> bool | None:
    """Swap two paths atomically (Linux ``renameat2(RENAME_EXCHANGE)``): True if done, False if unsupported, None if one vanished."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_cwd, rename_exchange = -100, 2
    if renameat2(at_cwd, os.fsencode(a), at_cwd, os.fsencode(b), rename_exchange) == 0:
        return True
    code = ctypes.get_errno()
    if code == errno.ENOENT:
        return None
    if code in (errno.ENOSYS, errno.EINVAL, errno.EPERM, errno.ENOTSUP):
        return False
    raise OSError(code, os.strerror(code), str(b))


@contextlib.contextmanager
def deferred_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (SIGINT) inside the block and raise ``KeyboardInterrupt`` after it: the block runs whole.

    Only the main thread receives signals; elsewhere the block runs as it is. A SIGINT the caller
    ignores (nohup, a background job) stays ignored.
    """
    if threading.current_thread() is not threading.main_thread() or signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous if previous is not None else signal.SIG_DFL)
    if caught:
        raise KeyboardInterrupt


def read_folder(folder: str | os.PathLike[str], names: Sequence[str]) -> dict[str, bytes]:
    """The named files of a folder, read through one handle on it, so a folder exchanged meanwhile is never mixed in."""
    folder = Path(folder)
    if os.open not in os.supports_dir_fd:
        return {name: (folder / name).read_bytes() for name in names}
    fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        out = {}
        for name in names:
            with open(name, "rb", opener=lambda p, flags: os.open(p, flags, dir_fd=fd)) as f:
                out[name] = f.read()
        return out
    finally:
        os.close(fd)


def check_output(path: str | os.PathLike[str], *, folder: bool, what: str) -> None:
    """Raise ``NeuralMIError`` unless ``path`` can be written: its parent is a folder that takes new entries, and it is no
    entry of the other kind (a folder where a file goes, or the reverse). Whether it may be overwritten is the caller's."""
    path = _followed(path)
    parent = path.parent
    if not parent.exists():
        raise NeuralMIError(f"{what} {path}: the folder {parent} does not exist")
    if not parent.is_dir():
        raise NeuralMIError(f"{what} {path}: {parent} is a file, not a folder")
    if path.exists() and not (path.is_dir() or path.is_file()):
        raise NeuralMIError(f"{what} {path} is not a regular file (a device, pipe or socket); give another path")
    if path.exists() and path.is_dir() != folder:
        kind = "a folder" if path.is_dir() else "a file"
        raise NeuralMIError(f"{what} {path} is {kind}; give the path of a {'folder' if folder else 'file'}")
    probe = _sibling(path, "probe")
    try:
        os.mkdir(probe)
        os.rmdir(probe)
    except OSError as err:
        raise NeuralMIError(f"{what} {path}: cannot write in {parent} ({err.strerror or err})") from None


def _sync_directory(directory: Path) -> None:
    """Flush a folder's entries (a rename) to disk, so the new name survives a power cut (POSIX only)."""
    if os.name != "posix":
        return
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
