"""Parse one response with botocore's parser and with asyncpage's, and compare strictly.

"Identical" here is stricter than ``==``: the same type at every level, dict keys in the
same order, datetimes with the same repr (wall clock and tzinfo) and the same instant,
or the same exception type and message.
"""

from __future__ import annotations

import copy
import datetime
import re
from collections.abc import Coroutine
from typing import Any
from xml.etree import ElementTree

from aiobotocore.parsers import AioResponseParserFactory

from asyncpage._fastparse import FastParserFactory
from asyncpage.speedups import parse_timestamp

__all__ = ["PARSERS", "assert_identical", "assert_same_outcomes", "outcomes", "parse_now"]


def _factory(cls: type, **defaults: Any) -> Any:
    factory = cls()
    factory.set_parser_defaults(**defaults)
    return factory


#: botocore's parser first: every other outcome is compared with it.
PARSERS: dict[str, Any] = {
    "botocore": AioResponseParserFactory(),
    "timestamps": _factory(AioResponseParserFactory, timestamp_parser=parse_timestamp),
    "fast_path": _factory(FastParserFactory, timestamp_parser=parse_timestamp),
    "fast_path_botocore_timestamps": FastParserFactory(),
}


def parse_now(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a parser's ``parse`` coroutine, which never waits, outside any event loop."""
    try:
        coroutine.send(None)
    except StopIteration as stop:
        return stop.value
    coroutine.close()
    raise AssertionError("the parser waited")


def _outcome(factory: Any, protocol: str, response: dict[str, Any], shape: Any) -> Any:
    parser = factory.create_parser(protocol)
    try:
        return "parsed", parse_now(parser.parse(copy.deepcopy(response), shape))
    except Exception as error:  # the exception is the outcome being compared
        # Messages that show raw elements show their addresses, which differ run to run.
        return "raised", (type(error), re.sub(r" at 0x[0-9a-f]+", " at 0x?", str(error)))


def outcomes(protocol: str, response: dict[str, Any], shape: Any) -> dict[str, Any]:
    """Each parser's outcome for the same response bytes: ("parsed", x) or ("raised", e)."""
    return {name: _outcome(f, protocol, response, shape) for name, f in PARSERS.items()}


def assert_same_outcomes(protocol: str, response: dict[str, Any], shape: Any) -> Any:
    """Every parser's outcome is botocore's; returns botocore's."""
    found = outcomes(protocol, response, shape)
    expected = found.pop("botocore")
    for name, outcome in found.items():
        assert outcome[0] == expected[0], (name, outcome, expected)
        if outcome[0] == "raised":
            assert outcome == expected, name
        else:
            assert_identical(outcome[1], expected[1], name)
    return expected


def assert_identical(ours: Any, theirs: Any, path: str = "") -> None:
    assert type(ours) is type(theirs), (path, ours, theirs)
    if isinstance(theirs, dict):
        assert list(ours) == list(theirs), (path, list(ours), list(theirs))
        for key in theirs:
            assert_identical(ours[key], theirs[key], f"{path}.{key}")
    elif isinstance(theirs, list):
        assert len(ours) == len(theirs), (path, ours, theirs)
        for index, (mine, expected) in enumerate(zip(ours, theirs, strict=True)):
            assert_identical(mine, expected, f"{path}[{index}]")
    elif isinstance(theirs, datetime.datetime):
        assert repr(ours) == repr(theirs), path
        assert type(ours.tzinfo) is type(theirs.tzinfo), path
        if theirs.tzinfo is None or abs(theirs.utcoffset() or datetime.timedelta()).days < 1:
            assert ours == theirs, path
    elif isinstance(theirs, ElementTree.Element):
        # botocore returns raw elements for a scalar repeated where the model has no list.
        assert ElementTree.tostring(ours) == ElementTree.tostring(theirs), path
    else:
        assert ours == theirs, (path, ours, theirs)
