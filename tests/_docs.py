"""The fenced code blocks of README.md and docs/, and what each one is.

A fence's info string says what its block is, and so how the tests run it:

``python``
    A complete program. ``tests/test_docs.py`` runs each one on its own, as ``__main__``
    in a fresh namespace, from an empty directory, with warnings as errors; it must finish
    and print something. It runs against the demo endpoint it starts itself
    (``asyncpage.testing.DemoEndpoint``): no AWS account, no network.
``python file=NAME``
    (Part of) a file that the page says to save as NAME and run with another tool (an app
    for uvicorn, a test file for pytest). The blocks of one page with the same NAME are
    joined in order. Each such file is run as the page says by a test of its own, named in
    ``tests/test_docs.py``'s ``FILE_TESTS``.
``sh``, ``text``, ``json``
    Shell commands, output, a layout or data: not run here. The commands that matter are
    run by tests of their own (the README's two commands by CI, the plugin example's
    install by ``tests/test_plugin_example.py``).

Any other info string, a bare fence included, fails ``tests/test_docs.py``, so that no
Python block can slip out of the rule by being spelled ``py`` or ``python3``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOT_RUN = frozenset({"sh", "text", "json"})
_FENCE = re.compile(r"^(?P<indent>[ ]*)(?P<ticks>`{3,})(?P<info>[^`]*)$")


def pages() -> list[Path]:
    """README.md and every Markdown page under docs/."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]


@dataclass(frozen=True)
class Block:
    """One fenced block: where it is, its info string split up, and its text."""

    page: Path
    line: int  # of the opening fence, counted from 1
    language: str
    attributes: dict[str, str] = field(hash=False)
    source: str = field(repr=False)

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(ROOT)}:{self.line}"

    @property
    def is_program(self) -> bool:
        return self.language == "python" and not self.attributes

    @property
    def file(self) -> str | None:
        return self.attributes.get("file") if self.language == "python" else None

    def __str__(self) -> str:
        return self.where


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page``, in order; an indented fence's text is dedented."""
    found: list[Block] = []
    lines = page.read_text().splitlines()
    opened: tuple[int, str, str, str] | None = None  # line, indent, ticks, info
    body: list[str] = []
    for number, line in enumerate(lines, start=1):
        fence = _FENCE.match(line)
        if opened is None:
            if fence is not None:
                opened = (number, fence["indent"], fence["ticks"], fence["info"].strip())
                body = []
            continue
        start, indent, ticks, info = opened
        if fence is not None and fence["ticks"] == ticks and not fence["info"].strip():
            language, *words = info.split() or [""]
            attributes = dict(word.partition("=")[::2] for word in words)
            source = "\n".join(text.removeprefix(indent) for text in body) + "\n"
            found.append(Block(page, start, language, attributes, source))
            opened = None
        else:
            body.append(line)
    if opened is not None:
        raise AssertionError(f"{page.relative_to(ROOT)}:{opened[0]}: a fence never closed")
    return found


def all_blocks() -> list[Block]:
    return [block for page in pages() for block in blocks(page)]


def docs_file(page: Path, name: str) -> str:
    """The file ``name`` that ``page`` builds from its ``python file=NAME`` blocks."""
    parts = [block.source for block in blocks(page) if block.file == name]
    assert parts, f"{page.relative_to(ROOT)} has no block of {name}"
    return "\n\n".join(parts)
