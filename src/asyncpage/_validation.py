"""Checks of a pagination's input, made when the pagination is made.

Bad input raises an :class:`~asyncpage.InvalidPaginationError` there, before any request:

* the client is an aiobotocore client (any botocore client, to read a paging model).
"""

from __future__ import annotations

import reprlib

from aiobotocore.client import AioBaseClient
from aiobotocore.session import ClientCreatorContext
from botocore.client import BaseClient

from ._errors import InvalidPaginationTypeError

__all__ = ["require_async_client", "require_client"]


def require_client(client: object) -> None:
    """Raise :class:`InvalidPaginationTypeError` unless ``client`` is a botocore client.

    Enough for reading its paging model; an aiobotocore client is one.
    """
    if not isinstance(client, BaseClient):
        raise InvalidPaginationTypeError(
            f"the client must be a botocore or aiobotocore client; {_what(client)}"
        )


def require_async_client(client: object) -> None:
    """Raise :class:`InvalidPaginationTypeError` unless ``client`` is an aiobotocore client."""
    if not isinstance(client, AioBaseClient):
        raise InvalidPaginationTypeError(
            "the client must be an aiobotocore client, from `async with "
            f"aiobotocore.session.get_session().create_client(...)`; {_what(client)}"
        )


def _what(client: object) -> str:
    if isinstance(client, ClientCreatorContext):
        return (
            "got the context manager session.create_client() returns: enter it, "
            "`async with session.create_client(...) as client:`"
        )
    if isinstance(client, BaseClient):
        return "got a synchronous botocore/boto3 client"
    return f"got {reprlib.repr(client)} ({type(client).__name__})"
