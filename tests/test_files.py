"""Writing outputs whole: staged under a temporary name, the umask's modes, Ctrl-C held back while moving into place."""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from neuralmi import _files
from neuralmi._files import atomic_write, check_output, commit, deferred_interrupt, read_folder, stage_file, stage_folder
from neuralmi.errors import NeuralMIError


@pytest.fixture
def umask() -> Iterator[None]:
    before = os.umask(0o022)
    os.umask(before)
    yield
    os.umask(before)


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_files_and_folders_get_the_umask_modes(tmp_path: Path, umask: None, mask: int) -> None:
    """Not 0600 (``mkstemp``) or 0700 (``mkdtemp``): a colleague in the group reads what the umask lets them."""
    os.umask(mask)
    atomic_write(tmp_path / "a.bin", lambda f: f.write(b"a"))
    commit([stage_folder(tmp_path / "d", {"x": b"1", "y": b"2"})])
    assert (tmp_path / "a.bin").stat().st_mode & 0o777 == 0o666 & ~mask
    assert (tmp_path / "d").stat().st_mode & 0o777 == 0o777 & ~mask
    assert {(p.name, p.stat().st_mode & 0o777) for p in (tmp_path / "d").iterdir()} == {
        ("x", 0o666 & ~mask),
        ("y", 0o666 & ~mask),
    }


@pytest.mark.parametrize("at", [1, 2])
def test_ctrl_c_while_writing_a_folder_leaves_none_of_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, at: int) -> None:
    real, calls = _files._write_new, []

    def interrupted(path: Path, write: object) -> None:
        calls.append(path)
        if len(calls) == at:
            raise KeyboardInterrupt
        real(path, write)  # type: ignore[arg-type]

    monkeypatch.setattr(_files, "_write_new", interrupted)
    with pytest.raises(KeyboardInterrupt):
        commit([stage_folder(tmp_path / "d", {"x": b"1", "y": b"2"})])
    assert list(tmp_path.iterdir()) == []


def test_ctrl_c_during_the_move_is_held_back_until_every_output_is_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    staged = [stage_folder(tmp_path / "d", {"x": b"1"}), stage_file(tmp_path / "p.png", lambda f: f.write(b"png"))]
    real = _files._commit_folder

    def signalled(s: _files.Staged) -> None:
        os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl-C, after the first output and before the second
        real(s)

    monkeypatch.setattr(_files, "_commit_folder", signalled)
    before = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        commit(staged)
    assert (tmp_path / "d" / "x").read_bytes() == b"1" and (tmp_path / "p.png").read_bytes() == b"png"
    assert leftovers(tmp_path) == [] and signal.getsignal(signal.SIGINT) is before


def test_deferred_interrupt_runs_the_block_whole() -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), deferred_interrupt():
        os.kill(os.getpid(), signal.SIGINT)
        done.append("rest of the block")
    assert done == ["rest of the block"]


def test_a_replaced_folder_is_never_mixed_for_a_concurrent_reader(tmp_path: Path) -> None:
    """Two writers replace one folder of two files (each version writes one token into both); readers must see pairs."""
    target, stop, seen, errors = tmp_path / "d", threading.Event(), [], []
    commit([stage_folder(target, {"a": b"0", "b": b"0"})])

    def write(token: bytes) -> None:
        for _ in range(40):
            commit([stage_folder(target, {"a": token, "b": token}, replace=True)])

    def read() -> None:
        while not stop.is_set():
            try:
                pair = read_folder(target, ["a", "b"])
            except FileNotFoundError:  # the old folder was removed under the handle: read again
                continue
            except Exception as err:
                errors.append(err)
                return
            seen.append(pair["a"] == pair["b"])

    writers = [threading.Thread(target=write, args=(t,)) for t in (b"1", b"2")]
    reader = threading.Thread(target=read)
    for t in [reader, *writers]:
        t.start()
    for t in writers:
        t.join()
    stop.set()
    reader.join()
    assert errors == [] and len(seen) > 0 and all(seen), (errors, seen.count(False), len(seen))
    assert leftovers(tmp_path) == [] and read_folder(target, ["a", "b"])["a"] in (b"1", b"2")


def test_a_folder_is_not_replaced_without_replace(tmp_path: Path) -> None:
    commit([stage_folder(tmp_path / "d", {"x": b"old"})])
    with pytest.raises(FileExistsError):
        commit([stage_folder(tmp_path / "d", {"x": b"new"})])
    assert (tmp_path / "d" / "x").read_bytes() == b"old" and leftovers(tmp_path) == []


@pytest.mark.parametrize(
    ("make", "folder", "message"),
    [
        (lambda d: d / "missing" / "out.png", False, "the folder .*missing does not exist"),
        (lambda d: d / "file.txt" / "out.png", False, "file.txt is a file, not a folder"),
        (lambda d: d, False, "is a folder; give the path of a file"),
        (lambda d: d / "file.txt", True, "is a file; give the path of a folder"),
    ],
)
def test_check_output_names_the_problem(tmp_path: Path, make: object, folder: bool, message: str) -> None:
    (tmp_path / "file.txt").write_text("x")
    with pytest.raises(NeuralMIError, match=message):
        check_output(make(tmp_path), folder=folder, what="--out")  # type: ignore[operator]


def test_check_output_tries_to_write_in_the_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def read_only(path: object, mode: int = 0o777) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(_files.os, "mkdir", read_only)
    with pytest.raises(NeuralMIError, match=r"--out .*: cannot write in .* \(Permission denied\)"):
        check_output(tmp_path / "out.png", folder=False, what="--out")


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="root writes in read-only folders")
def test_check_output_refuses_a_read_only_folder(tmp_path: Path) -> None:
    (tmp_path / "ro").mkdir(mode=0o555)
    with pytest.raises(NeuralMIError, match="cannot write in"):
        check_output(tmp_path / "ro" / "m", folder=True, what="--save")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="makes a named pipe")
def test_a_device_or_pipe_is_never_replaced(tmp_path: Path) -> None:
    """``--plot /dev/null --force`` run as root would otherwise swap the device for a regular file."""
    os.mkfifo(tmp_path / "pipe.png")
    with pytest.raises(NeuralMIError, match=r"pipe\.png is not a regular file"):
        check_output(tmp_path / "pipe.png", folder=False, what="--plot")


@pytest.mark.skipif(os.name != "posix", reason="symbolic links")
def test_an_output_through_a_symbolic_link_replaces_what_it_points_to(tmp_path: Path) -> None:
    commit([stage_folder(tmp_path / "real", {"x": b"old"})])
    (tmp_path / "link").symlink_to("real")
    commit([stage_folder(tmp_path / "link", {"x": b"new"}, replace=True)])
    (tmp_path / "plot-link.png").symlink_to("plot.png")
    atomic_write(tmp_path / "plot-link.png", lambda f: f.write(b"png"))
    assert (tmp_path / "plot-link.png").is_symlink() and (tmp_path / "plot.png").read_bytes() == b"png"
    assert (tmp_path / "link").is_symlink() and (tmp_path / "real" / "x").read_bytes() == b"new"
    assert leftovers(tmp_path) == []


def test_a_long_name_still_has_room_for_its_temporary_name(tmp_path: Path) -> None:
    target = tmp_path / ("m" * 240)  # the longest names a filesystem takes are 255 bytes
    check_output(target, folder=True, what="--save")
    commit([stage_folder(target, {"x": b"1"})])
    assert (target / "x").read_bytes() == b"1"
