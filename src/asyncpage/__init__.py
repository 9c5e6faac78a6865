"""asyncpage: the asyncio pagination framework for AWS.

botocore-exact paging for aiobotocore clients, with bounded read-ahead, page-level backoff
that never loses or repeats an item, a resume token readable after every page, and fan-out
across operations, regions and scan segments::

    import asyncpage

    async with asyncpage.paginate(s3, "list_objects_v2", Bucket="logs") as pages:
        async for page in pages:
            ...
"""

from ._cursor import Cursor
from ._errors import (
    AsyncPageError,
    InvalidExpressionError,
    InvalidExpressionTypeError,
    InvalidPaginationConfigError,
    InvalidPaginationConfigTypeError,
    InvalidPaginationError,
    InvalidPaginationTypeError,
    InvalidStartingTokenError,
    InvalidStartingTokenTypeError,
    OperationNotPaginatedError,
    OperationNotPaginatedTypeError,
    PageFetchError,
    TokenCycleError,
)
from ._fanout import DEFAULT_SKIP_CODES, FanOut, Outcome, Tagged, fan_out
from ._iterator import AsyncPageIterator, PageStatistics, PaginatorLike, paginate
from ._model import PagingModel, paginated_operations
from ._public import publish
from ._regions import ClientPool, regions_for
from ._retry import BackoffGate, Retry, classify, set_testing
from ._s3 import KeyRange, ListingPlan, ObjectListing, parallel_list_objects
from ._scan import parallel_scan

__version__ = "0.1.0.dev0"

__all__ = [
    "AsyncPageError",
    "AsyncPageIterator",
    "BackoffGate",
    "ClientPool",
    "Cursor",
    "DEFAULT_SKIP_CODES",
    "FanOut",
    "InvalidExpressionError",
    "InvalidExpressionTypeError",
    "InvalidPaginationConfigError",
    "InvalidPaginationConfigTypeError",
    "InvalidPaginationError",
    "InvalidPaginationTypeError",
    "InvalidStartingTokenError",
    "InvalidStartingTokenTypeError",
    "KeyRange",
    "ListingPlan",
    "ObjectListing",
    "OperationNotPaginatedError",
    "OperationNotPaginatedTypeError",
    "Outcome",
    "PageFetchError",
    "PageStatistics",
    "PaginatorLike",
    "PagingModel",
    "Retry",
    "Tagged",
    "TokenCycleError",
    "__version__",
    "classify",
    "fan_out",
    "paginate",
    "paginated_operations",
    "parallel_list_objects",
    "parallel_scan",
    "regions_for",
    "set_testing",
]


publish(__name__, __all__, globals())
del publish
