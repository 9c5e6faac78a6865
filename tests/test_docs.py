"""Every code block of README.md and docs/ runs as written, by the rule in ``tests/_docs.py``.

``python`` blocks are complete programs: each runs here, alone, as ``__main__``, against the
demo endpoint it starts (a seeded moto server in this process: about 1-3 s a block).
``python file=NAME`` blocks are files run by another tool; each has a test of its own,
named in :data:`FILE_TESTS`. Other blocks (shell, output, data) are not Python.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from _docs import NOT_RUN, ROOT, Block, all_blocks, docs_file

BLOCKS = all_blocks()
PROGRAMS = [block for block in BLOCKS if block.is_program]

#: (page, file) -> the test that runs that file as the page says.
FILE_TESTS = {
    ("README.md", "tests/test_listing.py"): (
        "test_plugin_example",
        "test_the_readme_pytest_example_passes_in_a_project_of_its_own",
    ),
    ("docs/fastapi.md", "app.py"): ("test_fastapi", "test_the_code_in_the_docs_serves_the_bucket"),
}


def test_every_block_says_what_it_is() -> None:
    unknown = [
        f"{block.where}: ```{block.language} {block.attributes or ''}"
        for block in BLOCKS
        if not (block.is_program or block.file or block.language in NOT_RUN)
    ]
    assert unknown == [], "see tests/_docs.py for what a fence's info string may say"
    assert len(PROGRAMS) >= 3  # the README's, at least: a parser that finds none fails here


@pytest.mark.parametrize("block", PROGRAMS, ids=str)
def test_the_program_runs_as_written(
    block: Block,
    aws_credentials: None,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    # botocore's own setting, for clients that name no endpoint: a block that forgets the
    # demo endpoint is refused at once instead of looking for AWS.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    program = compile(block.source, block.where, "exec")
    exec(program, {"__name__": "__main__", "__file__": str(tmp_path / "program.py")})
    assert capsys.readouterr().out.strip(), f"{block.where} printed nothing"


def test_every_file_block_has_a_test_that_runs_it() -> None:
    files = {(str(block.page.relative_to(ROOT)), block.file) for block in BLOCKS if block.file}
    assert files == set(FILE_TESTS)
    for (page, name), (module, test) in FILE_TESTS.items():
        compile(docs_file(ROOT / page, name), f"{page}: {name}", "exec")  # whole, in order
        assert callable(getattr(importlib.import_module(module), test)), (module, test)
