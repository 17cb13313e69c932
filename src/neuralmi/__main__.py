"""``python -m neuralmi`` and the ``neuralmi`` command: the command line, with Ctrl-C held off while torch loads."""

import signal
import sys
from collections.abc import Callable, Sequence

__all__ = ["run"]


def _import_main() -> Callable[[Sequence[str] | None], int]:
    """Import the command line with SIGINT deferred, then raise KeyboardInterrupt if one came.

    A KeyboardInterrupt raised inside torch's C++ initialisation can abort the process (pybind11
    "terminate called", exit -6), so during the import the signal is only recorded.
    """
    caught: list[int] = []
    previous = signal.getsignal(signal.SIGINT)
    if previous is signal.SIG_IGN:  # ignored by the caller (nohup, a background job): leave it so
        previous = None
    else:
        try:
            signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
        except ValueError:  # not the main thread: signals cannot be handled here anyway
            previous = None
    try:
        from neuralmi.cli import main
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
    return main


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line; exit code 130 with one line for a Ctrl-C during start-up, as from ``cli.main``."""
    try:
        main = _import_main()
    except KeyboardInterrupt:
        print("neuralmi: interrupted", file=sys.stderr)
        return 130
    return main(argv)


if __name__ == "__main__":
    sys.exit(run())
