"""Every code block of README.md and docs/ runs as written, by the rule in ``tests/_docs.py``.

``python`` blocks are complete programs: each runs here, alone, as ``__main__``, against the
demo endpoint it starts (a seeded moto server in this process: about 1-3 s a block).
``python file=NAME`` blocks are files run by another tool; each has a test of its own,
named in :data:`FILE_TESTS`. Other blocks (shell, output, data) are not Python.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import re
from pathlib import Path

import pytest

from _docs import NOT_RUN, ROOT, Block, all_blocks, blocks, docs_file
from asyncpage._inventory import DEFAULT_LISTINGS
from asyncpage.cli import main as cli_main
from asyncpage.testing import FaultProxy

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


# -- docs/permissions.md: what the inventory asks AWS for ---------------------------------------

PERMISSIONS = ROOT / "docs" / "permissions.md"


def documented_actions() -> dict[tuple[str, str], str]:
    """(service, operation) -> IAM action, from the page's table of default listings."""
    text = PERMISSIONS.read_text().split("## The default listings", 1)[1].split("\n## ", 1)[0]
    rows = [line.strip("|").split("|") for line in text.splitlines() if line.startswith("| ")]
    cells = [[cell.strip().strip("`") for cell in row] for row in rows[2:]]  # after the header
    return {(service, operation): action for service, operation, action, _ in cells}


def test_the_permissions_page_covers_every_default_listing_and_its_policy() -> None:
    actions = documented_actions()
    assert set(actions) == {(x.service, x.operation) for x in DEFAULT_LISTINGS}
    (policy,) = [block for block in blocks(PERMISSIONS) if block.language == "json"]
    (statement,) = json.loads(policy.source)["Statement"]
    assert statement["Action"] == sorted({*actions.values(), "ec2:DescribeRegions"})


def test_the_inventory_asks_for_what_the_permissions_page_says(
    fault_proxy: FaultProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["inventory", "--endpoint-url", fault_proxy.endpoint_url, "--regions", "us-east-1"]
    assert cli_main([*argv, "-o", str(tmp_path / "inventory.jsonl")]) == 0
    capsys.readouterr()
    allowed = {*documented_actions().values(), "ec2:DescribeRegions"}
    services = {action.partition(":")[0] for action in allowed}
    events = fault_proxy.events
    assert {event.service for event in events} == services
    # The JSON and query protocols name the operation (the REST ones, S3 and Lambda, do not):
    # each is its IAM action.
    asked = {f"{e.service}:{e.operation}" for e in events if e.operation is not None}
    assert asked <= allowed
    # Region discovery, even with --regions given: once per regional service.
    regional = {x.service for x in DEFAULT_LISTINGS if x.scope == "regional"}
    discovery = [e for e in events if e.operation == "DescribeRegions"]
    assert len(discovery) == len(regional)


def test_the_inventory_works_without_describe_regions(
    fault_proxy: FaultProxy, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fault_proxy.fail_next(
        10, "error", code="UnauthorizedOperation", status=403, only_operation="DescribeRegions"
    )
    argv = ["inventory", "--endpoint-url", fault_proxy.endpoint_url, "--regions", "us-east-1"]
    assert cli_main([*argv, "--services", "dynamodb,sqs", "-o", str(tmp_path / "x.jsonl")]) == 0
    err = capsys.readouterr().err
    assert [e.action for e in fault_proxy.events if e.operation == "DescribeRegions"] == [
        "error",
        "error",
    ]
    assert "us-east-1" in err and "failed" not in err


# -- docs/design.md: the flow names every module ----------------------------------------------

DESIGN = ROOT / "docs" / "design.md"


def test_the_design_page_names_every_module_and_only_real_ones() -> None:
    (flow,) = [block for block in blocks(DESIGN) if block.language == "text"]
    # Modules are named in parentheses: (_walk), (cli, _inventory), (testing/, _demo).
    module = r"(?<=[(\s])(_[a-z][a-z0-9]*|cli|cluster|fastapi|speedups|testing/)(?=[,)])"
    named = set(re.findall(module, flow.source))
    package = ROOT / "src" / "asyncpage"
    modules = {path.stem for path in package.glob("*.py")} - {"__init__", "__main__"}
    modules |= {f"{path.name}/" for path in package.iterdir() if (path / "__init__.py").exists()}
    assert named == modules


# -- docs/api/: the API reference, generated from the docstrings -------------------------------


def test_the_api_reference_documents_every_public_name_and_renders_its_markup(
    tmp_path: Path,
) -> None:
    spec = importlib.util.spec_from_file_location("build_api", ROOT / "docs" / "build_api.py")
    assert spec is not None and spec.loader is not None
    build_api = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_api)
    written = build_api.build(tmp_path)  # a warning from pdoc fails the test too
    assert tmp_path / "index.html" in written
    for name in (
        "asyncpage",
        "asyncpage.testing",
        "asyncpage.fastapi",
        "asyncpage.cli",
        "asyncpage.cluster",
    ):
        module = importlib.import_module(name)
        page = (tmp_path / f"{name.replace('.', '/')}.html").read_text()
        for public in module.__all__:
            section = re.search(rf'<section id="{re.escape(public)}">(.*?)</section>', page, re.S)
            assert section is not None, f"{name}.{public} is not in the reference"
            value = getattr(module, public)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert 'class="docstring"' in section[1], f"{name}.{public} has no docstring"
        docstrings = "\n".join(re.findall(r'<div class="docstring">(.*?)</div>', page, re.S))
        # reST markup that pdoc did not turn into HTML shows as text.
        markup = r":(?:class|func|meth|data|mod|exc|attr):`|``|```|\w::</p>"
        leftovers = re.findall(markup, docstrings)
        assert leftovers == [], name
