"""``python -m neuralmi`` and the ``neuralmi`` command: the command line, with Ctrl-C held off while torch loads."""

import sys
from collections.abc import Callable, Sequence

__all__ = ["run"]


def _import_main() -> Callable[[Sequence[str] | None], int]:
    """Import the command line with SIGINT deferred (:func:`neuralmi._files.deferred_interrupt`), then raise it.

    A KeyboardInterrupt raised inside torch's C++ initialisation can abort the process (pybind11
    "terminate called", exit -6), so during the import the signal is only recorded.
    """
    from neuralmi._files import deferred_interrupt

    with deferred_interrupt():
        from neuralmi.cli import main
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
