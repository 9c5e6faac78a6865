"""Build the API reference, a static site generated from the docstrings, into docs/api/.

    python docs/build_api.py              # then open docs/api/index.html
    python docs/build_api.py -o DIR       # anywhere else

It documents the public modules (``asyncpage``, ``asyncpage.testing`` and its plugin,
``asyncpage.fastapi``, ``asyncpage.cli``) with pdoc, which the ``test`` extra installs.
Docstrings are Google style (``Args:``, ``Raises:``) with reST markup (``:class:`X```,
double backquotes, ``::`` before a literal block); pdoc reads the first two and this
script turns the ``::`` of literal blocks into the colon it stands for.
``tests/test_docs.py`` builds it too, so a docstring that does not render fails the tests.
"""

from __future__ import annotations

import argparse
import textwrap
from pathlib import Path

import pdoc
import pdoc.docstrings
import pdoc.render

MODULES = (
    "asyncpage",
    "asyncpage.testing",
    "asyncpage.testing.plugin",
    "asyncpage.fastapi",
    "asyncpage.cli",
    "asyncpage.cluster",
)
OUTPUT = Path(__file__).resolve().parent / "api"

_convert = pdoc.docstrings.convert


def _literal_blocks(docstring: str) -> str:
    """reST literal blocks as fenced Markdown code blocks.

    ``text::`` before an indented block is ``text:`` and the block; ``text ::`` and a line
    of only ``::`` show no colon. The block is fenced, not left indented, because pdoc reads
    a line such as ``Example:`` followed by indented lines as a Google section and would
    dedent the code into prose.
    """
    lines = docstring.split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        line = lines[i]
        i += 1
        if not line.endswith("::") or i >= len(lines) or lines[i].strip():
            out.append(line)
            continue
        indent = line[: len(line) - len(line.lstrip())]
        text = line[:-2]
        out.append(text.rstrip() if not text.strip() or text.endswith(" ") else text + ":")
        block: list[str] = []
        while i < len(lines) and (
            not lines[i].strip() or len(lines[i]) - len(lines[i].lstrip()) > len(indent)
        ):
            block.append(lines[i])
            i += 1
        while block and not block[-1].strip():
            block.pop()
            i -= 1
        code = textwrap.dedent("\n".join(block)).strip("\n").split("\n")
        out += ["", f"{indent}```", *(indent + c if c else c for c in code), f"{indent}```"]
    return "\n".join(out)


def _convert_rest_literals(docstring: str, docformat: str, source_file: Path | None) -> str:
    return _convert(_literal_blocks(docstring), docformat, source_file)


def build(output: Path = OUTPUT) -> list[Path]:
    """Write the site into ``output``; returns the HTML files written."""
    pdoc.docstrings.convert = _convert_rest_literals  # type: ignore[assignment]
    try:
        pdoc.render.configure(docformat="google", show_source=True)
        pdoc.pdoc(*MODULES, output_directory=output)
    finally:
        pdoc.docstrings.convert = _convert
    return sorted(output.rglob("*.html"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.partition("\n")[0])
    parser.add_argument("-o", "--output", type=Path, default=OUTPUT, help="default: docs/api")
    written = build(parser.parse_args().output)
    print(f"wrote {len(written)} pages; open {parser.parse_args().output / 'index.html'}")


if __name__ == "__main__":
    main()
