"""Faster response parsing, with botocore's results, through botocore's parser factory.

:func:`install` makes every client created from an aiobotocore session afterwards parse
responses faster: a timestamp parser at C speed for ISO 8601
(:func:`parse_timestamp`, botocore's own parser for every other form), set through the
factory's supported ``set_parser_defaults(timestamp_parser=...)``::

    session = aiobotocore.session.get_session()
    asyncpage.speedups.install(session)
    async with session.create_client("s3") as s3:
        ...

Parsed results equal botocore's: the same keys, values and types, datetimes of the same
instant with the same kind of tzinfo, and the same exception for malformed input.
"""

from __future__ import annotations

from typing import Any

from ._timestamps import parse_timestamp

__all__ = ["install", "parse_timestamp"]


def install(session: Any) -> None:
    """Make clients created from ``session`` from now on parse responses faster.

    Clients created before the call keep their parsers. Calling it twice is harmless.

    Args:
        session: an ``aiobotocore.session.AioSession`` (a botocore ``Session`` works too).
    """
    factory = session.get_component("response_parser_factory")
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)
