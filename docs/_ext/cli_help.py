"""MkDocs hook for the docs site: paste live output of the ``neuralmi`` command into a page.

- ``<!-- neuralmi-help: estimate -->`` becomes a code block holding ``neuralmi estimate --help``
  (``<!-- neuralmi-help -->`` alone: the top-level help);
- ``<!-- neuralmi-output: bounds -->`` becomes a code block holding what ``neuralmi bounds`` prints
  (for quick commands only: it runs at build time).

Both are read from ``src/neuralmi/cli.py`` at build time, so the CLI page never drifts from the code.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import re
import sys
from pathlib import Path
from typing import Any

__all__ = ["help_text", "on_page_markdown", "output_text"]

_HELP = re.compile(r"^<!-- neuralmi-help(?::\s*(\S+))?\s*-->$", re.M)
_OUTPUT = re.compile(r"^<!-- neuralmi-output:\s*(.+?)\s*-->$", re.M)
_SRC = Path(__file__).resolve().parents[2] / "src"
_COLUMNS = "100"


def _cli() -> Any:
    if str(_SRC) not in sys.path:
        sys.path.insert(0, str(_SRC))
    import neuralmi.cli

    return neuralmi.cli


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def help_text(command: str | None) -> str:
    """The ``--help`` text of ``neuralmi [command]``, wrapped at 100 columns."""
    os.environ["COLUMNS"] = _COLUMNS
    parser = _cli()._parser()
    if command is None:
        return parser.format_help()
    commands = _subcommands(parser)
    if command not in commands:
        raise ValueError(f"neuralmi has no command {command!r}; it has {sorted(commands)}")
    return commands[command].format_help()


def output_text(arguments: str) -> str:
    """What ``neuralmi ARGUMENTS`` prints on stdout; a non-zero exit code fails the build."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = _cli().main(arguments.split())
    if code != 0:
        raise RuntimeError(f"neuralmi {arguments} exited with {code}")
    return out.getvalue()


def on_page_markdown(markdown: str, **kwargs: Any) -> str:
    """Replace each marker with its text in a ``text`` code block."""
    markdown = _HELP.sub(lambda m: f"```text\n{help_text(m.group(1)).rstrip()}\n```", markdown)
    return _OUTPUT.sub(lambda m: f"```text\n$ neuralmi {m.group(1)}\n{output_text(m.group(1)).rstrip()}\n```", markdown)
