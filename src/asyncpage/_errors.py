"""The exceptions asyncpage raises itself.

Every exception is an :class:`AsyncPageError`. Bad input is an
:class:`InvalidPaginationError`, raised before any request is sent; it is also a
``ValueError``, so ``except ValueError`` keeps working for code written against botocore.
Each kind of bad input has a variant for an argument of the wrong *type*, which is also a
``TypeError`` (and an :class:`InvalidPaginationTypeError`)::

    AsyncPageError
    ├── InvalidPaginationError (also ValueError)     bad input; raised before any request
    │   ├── InvalidPaginationTypeError (also TypeError)  an argument of the wrong type
    │   ├── OperationNotPaginatedError                unknown or non-paginated operation
    │   │   └── OperationNotPaginatedTypeError         the name is not a str
    │   ├── InvalidPaginationConfigError              PaginationConfig, MaxItems, PageSize,
    │   │   │                                          prefetch
    │   │   └── InvalidPaginationConfigTypeError
    │   ├── InvalidStartingTokenError                 a StartingToken that is not a token
    │   │   │                                          for this operation
    │   │   └── InvalidStartingTokenTypeError          not a str
    │   └── InvalidExpressionError                    a JMESPath expression that does not
    │       │                                          compile, or calls a function wrongly
    │       └── InvalidExpressionTypeError             not a str
    ├── TokenCycleError                               the service sent a token it sent before
    ├── PageFetchError                                a page could not be fetched; carries
    │                                                 ``resume_token`` of that page and the
    │                                                 error from AWS as ``__cause__``/``error``
    └── CursorError (also ValueError)                 asyncpage.fastapi's sealed cursors
        ├── CursorTamperedError
        ├── CursorMismatchError
        └── CursorExpiredError

Every ``*TypeError`` above is also its ``InvalidPaginationTypeError`` (drawn once, at the
top): ``except InvalidPaginationConfigError`` catches both variants of that kind,
``except TypeError`` only wrong types.

Where botocore raises an error of its own for the same thing, asyncpage's is also botocore's,
so ``except`` clauses written for botocore's paginator keep catching it:
:class:`InvalidPaginationConfigError`, :class:`InvalidStartingTokenError` and
:class:`TokenCycleError` are ``botocore.exceptions.PaginationError`` (botocore raises it for
a ``PageSize`` without a limit key and for a repeated token, and ``ValueError`` for a bad
starting token); :class:`OperationNotPaginatedError` is
``botocore.exceptions.OperationNotPageableError``. Their message is asyncpage's own, as it
is (botocore's would start "Error during pagination:"); ``kwargs`` holds the fields
botocore's carries.

Every failure to fetch a page, retryable or not, is a :class:`PageFetchError`; the error
from botocore (``ClientError``, ``EndpointConnectionError``...) is its ``error`` and its
``__cause__``, so ``except PageFetchError as e: e.error.response["Error"]["Code"]`` reads
the AWS error code.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import OperationNotPageableError, PaginationError

from ._public import publish

# Subclassing botocore's errors: without botocore-stubs they are ``Any`` (mypy: [misc]); with
# the stubs (in the test extra) they are classes and the ignore is unused. Both check clean.

__all__ = [
    "AsyncPageError",
    "InvalidExpressionError",
    "InvalidExpressionTypeError",
    "InvalidPaginationConfigError",
    "InvalidPaginationConfigTypeError",
    "InvalidPaginationError",
    "InvalidPaginationTypeError",
    "InvalidStartingTokenError",
    "InvalidStartingTokenTypeError",
    "OperationNotPaginatedError",
    "OperationNotPaginatedTypeError",
    "PageFetchError",
    "TokenCycleError",
]


class AsyncPageError(Exception):
    """Base class of every exception asyncpage raises itself."""

    def __init__(self, *args: object) -> None:
        # Exception's own __init__, never botocore's (BotoCoreError formats its message from
        # keyword arguments): the errors that are also botocore's keep asyncpage's message.
        Exception.__init__(self, *args)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from its arguments and attributes without calling __init__: several
        # errors take keyword-only arguments, and the ones that are also botocore's would
        # otherwise inherit botocore's __reduce__, which calls cls(**kwargs).
        return (_rebuild, (type(self), self.args), self.__dict__)


def _rebuild(cls: type[AsyncPageError], args: tuple[Any, ...]) -> AsyncPageError:
    return cls.__new__(cls, *args)


class InvalidPaginationError(AsyncPageError, ValueError):
    """The arguments cannot describe a pagination; nothing was sent."""


class InvalidPaginationTypeError(InvalidPaginationError, TypeError):
    """An argument has the wrong type (also a ``TypeError``); nothing was sent."""


class OperationNotPaginatedError(InvalidPaginationError, OperationNotPageableError):  # type: ignore[misc, unused-ignore]
    """The operation is unknown to the client, or botocore has no paginator for it.

    Also botocore's ``OperationNotPageableError``, which ``client.get_paginator()`` raises.
    """

    def __init__(self, message: str, *, operation_name: str, paginated: tuple[str, ...]) -> None:
        super().__init__(message)
        self.kwargs = {"operation_name": operation_name}
        self.operation_name = operation_name
        #: The operations of this client that *are* paginated, sorted.
        self.paginated = paginated


class OperationNotPaginatedTypeError(OperationNotPaginatedError, InvalidPaginationTypeError):
    """The operation name is not a str."""


class InvalidPaginationConfigError(InvalidPaginationError, PaginationError):  # type: ignore[misc, unused-ignore]
    """``PaginationConfig`` is not a mapping, or MaxItems/PageSize/prefetch is out of range.

    Also botocore's ``PaginationError``, which its paginator raises for a ``PageSize`` the
    operation has no parameter for.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.kwargs = {"message": message}


class InvalidPaginationConfigTypeError(InvalidPaginationConfigError, InvalidPaginationTypeError):
    """``PaginationConfig``, MaxItems, PageSize or prefetch has the wrong type."""


class InvalidStartingTokenError(InvalidPaginationError, PaginationError):  # type: ignore[misc, unused-ignore]
    """``StartingToken`` is not a token that botocore or asyncpage produced for this operation.

    Also botocore's ``PaginationError``, like the other ``PaginationConfig`` errors.
    """

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.kwargs = {"message": message}


class InvalidStartingTokenTypeError(InvalidStartingTokenError, InvalidPaginationTypeError):
    """``StartingToken`` is not a str."""


class InvalidExpressionError(InvalidPaginationError):
    """A JMESPath expression given to ``search()`` would fail: it does not compile, nests
    too deeply, or calls a function that does not exist or with the wrong arguments."""


class InvalidExpressionTypeError(InvalidExpressionError, InvalidPaginationTypeError):
    """The JMESPath expression is not a str."""


class TokenCycleError(AsyncPageError, PaginationError):  # type: ignore[misc, unused-ignore]
    """The service returned a pagination token it had already returned in this listing.

    Following it would loop forever. ``resume_token`` points at the page after the last
    delivered one. Also botocore's ``PaginationError``, which its paginator raises for a
    repeated token.
    """

    def __init__(self, message: str, *, resume_token: str | None) -> None:
        super().__init__(message)
        self.kwargs = {"message": message}
        self.resume_token = resume_token


class PageFetchError(AsyncPageError):
    """A page could not be fetched, after asyncpage's own retries (if any) gave up.

    ``resume_token`` is the token of the page that was *not* fetched: passing it as
    ``PaginationConfig={"StartingToken": ...}`` (to asyncpage or to a boto3 paginator)
    yields exactly the items not yet delivered. ``None`` means "from the beginning".
    ``error`` (also ``__cause__``) is the exception from botocore; ``attempts`` counts
    the page requests made.
    """

    def __init__(
        self, message: str, *, error: BaseException, resume_token: str | None, attempts: int
    ) -> None:
        super().__init__(message)
        self.error = error
        self.resume_token = resume_token
        self.attempts = attempts


# Named after the package wherever they are first imported from: the package's namespace
# loads its modules when a name is first read (see asyncpage/__init__.py), and the CLI
# imports this module without it.
publish("asyncpage", __all__, globals())
