"""The docs site's helpers and links (the build itself, ``mkdocs build --strict``, is ``make docs``, part of ``make test``)."""

from __future__ import annotations

import doctest
import importlib.util
import re
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _module(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"docs_ext_{name}", DOCS / "_ext" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def rst() -> ModuleType:
    pytest.importorskip("griffe")
    return _module("rst_blocks")


def test_rewrite_doctest_passes(rst: ModuleType) -> None:
    assert doctest.testmod(rst).failed == 0


def test_doctests_math_tables_and_roles_become_markdown(rst: ModuleType) -> None:
    text = "\n".join(
        [
            "Summary.",
            "",
            "    .. math::",
            "        I = a_{b}",
            "            + c",
            "",
            "    ===  ===",
            "    a    b",
            "    ===  ===",
            "    1    2",
            "    ===  ===",
            "",
            "See :class:`~neuralmi.MILoss` and :math:`x_1`.",
            ">>> [1, 2]",
            "[1, 2]",
        ]
    )
    out = rst.rewrite(text)
    blocks = re.findall(r"```(\w+)\n(.*?)```", out, flags=re.S)
    assert [lang for lang, _ in blocks] == ["tex", "text", "pycon"]
    assert blocks[0][1].split() == ["I", "=", "a_{b}", "+", "c"]
    assert blocks[1][1].count("===") == 6
    assert blocks[2][1].strip().splitlines() == [">>> [1, 2]", "[1, 2]"]
    assert "See `neuralmi.MILoss` and `x_1`." in out
    outside = re.sub(r"```.*?```", "", out, flags=re.S)
    assert ">>>" not in outside and ".. math::" not in outside and ":class:" not in outside


def test_cli_help_markers_name_real_commands() -> None:
    hook = _module("cli_help")
    assert "--discrete" in hook.help_text("estimate")
    assert "estimate" in hook.help_text(None)
    with pytest.raises(ValueError, match="no command"):
        hook.help_text("no-such-command")
    markers = re.findall(r"<!-- neuralmi-help: (\S+) -->", "".join(p.read_text() for p in DOCS.rglob("*.md")))
    assert markers
    for command in markers:
        assert hook.help_text(command).startswith("usage: ")


def test_readme_links_point_at_files() -> None:
    links = re.findall(r"\]\(([^)#]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text())
    local = [link for link in links if "://" not in link]
    assert local
    missing = [link for link in local if not (ROOT / link).exists()]
    assert not missing


def test_every_page_is_in_the_nav() -> None:
    nav = (ROOT / "mkdocs.yml").read_text()
    listed = set(re.findall(r"^\s*-\s*(?:[^:\n]+:\s*)?(\S+\.md)\s*$", nav, flags=re.M))
    pages = {str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md") if "_ext" not in p.parts}
    assert pages == listed
