"""Faster response parsing, with botocore's results, through botocore's parser factory.

:func:`install` makes every client created from an aiobotocore session afterwards parse
responses faster, through the session's response parser factory:

* a timestamp parser at C speed for ISO 8601 (:func:`parse_timestamp`; botocore's own
  parser for every other form), set with the factory's supported
  ``set_parser_defaults(timestamp_parser=...)``;
* with ``fast_path=True`` (the default), a factory whose parsers walk the hottest listing
  responses (S3 ``ListObjectsV2``/``ListObjectVersions``/``ListObjects``, DynamoDB
  ``Scan``/``Query``, EC2 ``Describe*``, query-protocol ``List*``/``Describe*``) with plans
  compiled from botocore's model, and hand any response holding an element they do not
  know to botocore's parser (see :data:`FAST_OUTPUTS`); and S3's check for an error inside
  a 200 response without a second parse of every listing page (botocore builds an element
  tree of each body only to look at its root; see ``S3ErrorCheck`` in ``_fastparse``).

::

    session = aiobotocore.session.get_session()
    asyncpage.speedups.install(session)
    async with session.create_client("s3") as s3:
        ...

Parsed results equal botocore's: the same keys, values and types, datetimes of the same
instant with the same kind of tzinfo, and the same exception for malformed input.
"""

from __future__ import annotations

from typing import Any

import botocore.handlers
from aiobotocore.session import AioSession

from ._fastparse import FAST_OUTPUTS, FastParserFactory, S3ErrorCheck, statistics
from ._timestamps import parse_timestamp

__all__ = ["FAST_OUTPUTS", "install", "installed", "parse_timestamp", "statistics"]

_FACTORY = "response_parser_factory"
_S3_BEFORE_PARSE = "before-parse.s3.*"
# botocore's handler of S3 errors inside 200 responses, found by its public registration.
_S3_200_ERROR = "_handle_200_error"


def install(session: Any, *, fast_path: bool = True) -> None:
    """Make clients created from ``session`` from now on parse responses faster.

    Clients created before the call keep their parsers. Calling it again is harmless;
    ``fast_path=False`` on a session that has the fast path keeps it. Defaults set on the
    session's factory before (``set_parser_defaults``) are kept, but for the timestamp
    parser.

    Args:
        session: an ``aiobotocore.session.AioSession``; with ``fast_path=False`` a botocore
            ``Session`` works too.
        fast_path: also parse the hottest listing responses with compiled plans.

    Raises:
        TypeError: ``fast_path`` on a session that is not aiobotocore's (its parsers are
            coroutines).
    """
    factory = session.get_component(_FACTORY)
    if fast_path and not isinstance(factory, FastParserFactory):
        if not isinstance(session, AioSession):
            raise TypeError(f"the fast path needs an aiobotocore AioSession, not {session!r}")
        fast = FastParserFactory()
        # botocore keeps set_parser_defaults' values here and offers no getter.
        fast.set_parser_defaults(**factory._defaults)  # noqa: SLF001
        session.register_component(_FACTORY, fast)
        factory = fast
        _check_s3_errors_cheaply(session)
    factory.set_parser_defaults(timestamp_parser=parse_timestamp)


def _check_s3_errors_cheaply(session: Any) -> None:
    """Put :class:`S3ErrorCheck` in place of botocore's handler on ``session``.

    The handler is found in botocore's public ``BUILTIN_HANDLERS`` table; a botocore
    without it keeps its own handling.
    """
    for event, handler, *_ in botocore.handlers.BUILTIN_HANDLERS:
        if event == _S3_BEFORE_PARSE and getattr(handler, "__name__", None) == _S3_200_ERROR:
            session.unregister(_S3_BEFORE_PARSE, handler)
            session.register(_S3_BEFORE_PARSE, S3ErrorCheck(handler))
            return


def installed(session: Any) -> str | None:
    """What :func:`install` gave ``session``: ``"fast_path"``, ``"timestamps"`` or None."""
    factory = session.get_component(_FACTORY)
    if isinstance(factory, FastParserFactory):
        return "fast_path"
    if factory._defaults.get("timestamp_parser") is parse_timestamp:  # noqa: SLF001 - as above
        return "timestamps"
    return None
