"""The exceptions asyncpage raises itself.

Every exception is an :class:`AsyncPageError`; bad input is also a :class:`ValueError`,
so ``except ValueError`` keeps working for code written against botocore::

    AsyncPageError
    ├── InvalidPaginationError (also ValueError)   raised before any request is sent
    │   ├── OperationNotPaginatedError               unknown or non-paginated operation
    │   ├── InvalidPaginationConfigError             PaginationConfig, MaxItems, PageSize
    │   ├── InvalidStartingTokenError                a StartingToken that is not a token
    │   └── InvalidExpressionError                   a JMESPath expression that does not compile
    ├── TokenCycleError                              the service sent a token it sent before
    ├── PageFetchError                               a page could not be fetched; carries
    │                                                ``resume_token`` of that page and the
    │                                                error from AWS as ``__cause__``/``error``
    └── CursorError (also ValueError)                asyncpage.fastapi's sealed cursors
        ├── CursorTamperedError
        ├── CursorMismatchError
        └── CursorExpiredError

Every failure to fetch a page, retryable or not, is a :class:`PageFetchError`; the error
from botocore (``ClientError``, ``EndpointConnectionError``...) is its ``error`` and its
``__cause__``, so ``except PageFetchError as e: e.error.response["Error"]["Code"]`` reads
the AWS error code.
"""

from __future__ import annotations

__all__ = [
    "AsyncPageError",
    "InvalidExpressionError",
    "InvalidPaginationConfigError",
    "InvalidPaginationError",
    "InvalidStartingTokenError",
    "OperationNotPaginatedError",
    "PageFetchError",
    "TokenCycleError",
]


class AsyncPageError(Exception):
    """Base class of every exception asyncpage raises itself."""


class InvalidPaginationError(AsyncPageError, ValueError):
    """The arguments cannot describe a pagination; nothing was sent."""


class OperationNotPaginatedError(InvalidPaginationError):
    """The operation is unknown to the client, or botocore has no paginator for it."""

    def __init__(self, message: str, *, operation_name: str, paginated: tuple[str, ...]) -> None:
        super().__init__(message)
        self.operation_name = operation_name
        #: The operations of this client that *are* paginated, sorted.
        self.paginated = paginated


class InvalidPaginationConfigError(InvalidPaginationError):
    """``PaginationConfig`` is not a mapping, or MaxItems/PageSize is not a positive integer."""


class InvalidStartingTokenError(InvalidPaginationError):
    """``StartingToken`` is not a token that botocore or asyncpage produced for this operation."""


class InvalidExpressionError(InvalidPaginationError):
    """A JMESPath expression given to ``search()`` does not compile."""


class TokenCycleError(AsyncPageError):
    """The service returned a pagination token it had already returned in this listing.

    Following it would loop forever. ``resume_token`` points at the page after the last
    delivered one.
    """

    def __init__(self, message: str, *, resume_token: str | None) -> None:
        super().__init__(message)
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
