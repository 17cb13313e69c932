"""Griffe extension for the docs site: render the reST bits of neuralmi's docstrings as Markdown.

The docstrings are Google style with doctests and ``.. math::`` formulas written for reading in the
source. mkdocstrings renders Markdown, where a bare ``>>>`` line becomes a block quote and a
formula's underscores become emphasis. This extension rewrites each docstring before it is parsed:

- a run of doctest lines (``>>>``/``...`` and their output, up to a blank line) becomes a
  ``pycon`` code block;
- a ``.. math::`` directive (one line, or followed by indented lines) becomes a ``tex`` code
  block, shown as written (no math renderer: the site loads nothing from the network);
- a reST simple table (its rules are runs of ``=``) becomes a ``text`` code block, as written;
- the roles ``:func:`x```, ``:class:`x```, ``:math:`x``` and friends become code spans.

The source docstrings stay as they are; only the site sees the rewrite.
"""

from __future__ import annotations

import re
from typing import Any

from griffe import Extension

__all__ = ["ReSTBlocks", "rewrite"]

_ROLE = re.compile(r":(?:func|class|meth|data|attr|mod|obj|exc|math):`~?([^`]+)`")
_RULE = re.compile(r"^\s*=+(\s+=+)+\s*$")


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip())


def _fence(lines: list[str], indent: int, language: str) -> list[str]:
    pad = " " * indent
    return ["", f"{pad}```{language}", *lines, f"{pad}```", ""]


def _doctest(lines: list[str], i: int) -> tuple[list[str], int]:
    """The doctest run starting at line i (a ``>>>`` line), fenced; the index after it."""
    indent = _indent(lines[i])
    j = i
    while j < len(lines) and lines[j].strip() and _indent(lines[j]) >= indent:
        j += 1
    return _fence(lines[i:j], indent, "pycon"), j


def _math(lines: list[str], i: int) -> tuple[list[str], int]:
    """The ``.. math::`` directive at line i with its indented continuation, fenced; the index after it."""
    indent = _indent(lines[i])
    first = lines[i].strip()[len(".. math::") :].strip()
    body = [first] if first else []
    j = i + 1
    while j < len(lines) and lines[j].strip() and _indent(lines[j]) > indent:
        body.append(lines[j].strip())
        j += 1
    return _fence([" " * indent + line for line in body], indent, "tex"), j


def _table(lines: list[str], i: int) -> tuple[list[str], int]:
    """The reST simple table whose top rule is line i (three rules: top, under the header, bottom), fenced."""
    j, rules = i, 0
    while j < len(lines) and rules < 3:
        rules += bool(_RULE.match(lines[j]))
        j += 1
    indent = _indent(lines[i])
    return _fence(lines[i:j], indent, "text"), j


def rewrite(text: str) -> str:
    """Rewrite one docstring's reST doctests, math blocks and roles as Markdown.

    >>> rewrite("See :func:`~neuralmi.bounds.nwj`.")
    'See `neuralmi.bounds.nwj`.'
    >>> rewrite(".. math:: a_b").split()
    ['```tex', 'a_b', '```']
    """
    lines = text.splitlines()
    out: list[str] = []
    i = 0
    while i < len(lines):
        stripped = lines[i].strip()
        if stripped.startswith(">>>"):
            block, i = _doctest(lines, i)
        elif stripped.startswith(".. math::"):
            block, i = _math(lines, i)
        elif _RULE.match(lines[i]):
            block, i = _table(lines, i)
        else:
            block, i = [_ROLE.sub(r"`\1`", lines[i])], i + 1
        out.extend(block)
    return "\n".join(out)


class ReSTBlocks(Extension):
    """Apply :func:`rewrite` to every docstring griffe loads."""

    def on_instance(self, *, obj: Any, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rewrite(obj.docstring.value)
