"""Typed pages: mypy, with the types-aiobotocore stubs, on code that pages through asyncpage.

Each case is a snippet checked by ``mypy --strict`` (the project's configuration) in a
subprocess; the test reads mypy's report: the types it reveals and the errors it finds.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytest.importorskip("types_aiobotocore_s3", reason="the stubs are in the test extra")

ROOT = Path(__file__).resolve().parent.parent

SNIPPET = """
from typing import reveal_type

from types_aiobotocore_s3 import S3Client

import asyncpage


async def typed(s3: S3Client, params: dict[str, object]) -> None:
    pages = asyncpage.paginate(s3.get_paginator("list_objects_v2"), Bucket="b", Prefix="p/")
    reveal_type(pages)  # line 10
    async with pages.with_options(prefetch=2, retry=None) as it:
        async for page in it:
            reveal_type(page)  # line 13
            reveal_type(page["KeyCount"])  # line 14
            for obj in page.get("Contents", []):
                reveal_type(obj["Key"])  # line 16
    asyncpage.paginate(s3.get_paginator("list_objects_v2"), Bucket="b", Prefx="p/")  # line 17
    asyncpage.paginate(s3.get_paginator("list_objects_v2"), Bucket=3)  # line 18
    asyncpage.paginate(s3.get_paginator("list_objects_v2"), Bucket="b", prefetch=2)  # line 19
    reveal_type(asyncpage.paginate(s3, "list_objects_v2", **params))  # line 20
    async with asyncpage.fan_out({"logs": pages}) as merged:
        async for tagged in merged:
            reveal_type(tagged)  # line 23
            reveal_type(tagged.value["Name"])  # line 24
"""


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> dict[int, list[str]]:
    """mypy's report on the snippet: its messages by line number."""
    folder = tmp_path_factory.mktemp("typing")
    snippet = folder / "snippet.py"
    snippet.write_text(textwrap.dedent(SNIPPET).lstrip("\n"))
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--hide-error-context",
            "--cache-dir",
            str(folder / "cache"),
            str(snippet),
        ],
        cwd=ROOT,  # the project's [tool.mypy] configuration
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode in (0, 1), run.stderr  # 1: errors found, as some cases expect
    by_line: dict[int, list[str]] = {}
    for line in run.stdout.splitlines():
        found = re.match(r".*snippet\.py:(\d+): (.*)", line)
        if found:
            by_line.setdefault(int(found[1]), []).append(found[2])
    return by_line


def revealed(report: dict[int, list[str]], line: int) -> str:
    notes = [m for m in report.get(line, []) if m.startswith("note: Revealed type is")]
    assert len(notes) == 1, report.get(line)
    return notes[0].removeprefix("note: Revealed type is ")


def errors(report: dict[int, list[str]], line: int) -> list[str]:
    return [m for m in report.get(line, []) if m.startswith("error:")]


def test_pages_come_out_as_the_stubs_typeddict(report: dict[int, list[str]]) -> None:
    assert re.fullmatch(
        r'"asyncpage\._iterator\.AsyncPageIterator\[TypedDict\(.*\)\]"', revealed(report, 10)
    )
    page = revealed(report, 13)
    assert page.startswith('"TypedDict(')
    for field in ("'KeyCount': int", "'IsTruncated': bool", "'Contents'?: list[TypedDict("):
        assert field in page
    assert revealed(report, 14) == '"int"'
    assert revealed(report, 16) == '"str"'


def test_a_misspelt_parameter_is_an_error(report: dict[int, list[str]]) -> None:
    assert errors(report, 17) == [
        'error: No overload variant of "paginate" matches argument types '
        '"ListObjectsV2Paginator", "str", "str"  [call-overload]'
    ]
    # And so is a parameter of the wrong type; a correct call has none.
    assert errors(report, 18) != []
    assert all(not errors(report, line) for line in (10, 11, 12, 13, 14, 15, 16))


def test_asyncpage_options_are_not_operation_parameters(report: dict[int, list[str]]) -> None:
    assert errors(report, 19) != []  # prefetch= belongs to with_options()
    # Any mapping of parameters passes to (client, operation): no option shares their keywords.
    assert errors(report, 20) == []
    assert revealed(report, 20) == '"asyncpage._iterator.AsyncPageIterator[dict[str, Any]]"'


def test_a_fan_out_tags_typed_pages_with_typed_labels(report: dict[int, list[str]]) -> None:
    tagged = revealed(report, 23)
    assert tagged.startswith('"asyncpage._fanout.Tagged[str, TypedDict(')
    assert revealed(report, 24) == '"str"'
    assert errors(report, 21) == errors(report, 22) == []
