"""asyncpage: the asyncio pagination framework for AWS.

botocore-exact paging for aiobotocore clients, with bounded read-ahead, page-level backoff
that never loses or repeats an item, a resume token readable after every page, and fan-out
across operations, regions and scan segments::

    import asyncpage

    async with asyncpage.paginate(s3, "list_objects_v2", Bucket="logs") as pages:
        async for page in pages:
            ...
"""

# Each name is imported from its module when it is first read (PEP 562), so that
# ``import asyncpage`` (and the ``asyncpage`` command, before it knows what it will run)
# costs no aiobotocore import: the command starts its worker processes' server first (see
# asyncpage/__main__.py). Type checkers read the imports below.

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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
    from ._regions import ClientPool, regions_for
    from ._retry import BackoffGate, Retry, classify, set_testing
    from ._s3 import KeyRange, ListingPlan, ObjectListing, parallel_list_objects
    from ._scan import parallel_scan

__version__ = "0.1.0.dev0"

#: The module that defines each public name (tests/test_public_api.py checks it against
#: the imports above).
_HOMES: dict[str, str] = {
    name: module
    for module, names in {
        "._cursor": ["Cursor"],
        "._errors": [
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
        ],
        "._fanout": ["DEFAULT_SKIP_CODES", "FanOut", "Outcome", "Tagged", "fan_out"],
        "._iterator": ["AsyncPageIterator", "PageStatistics", "PaginatorLike", "paginate"],
        "._model": ["PagingModel", "paginated_operations"],
        "._regions": ["ClientPool", "regions_for"],
        "._retry": ["BackoffGate", "Retry", "classify", "set_testing"],
        "._s3": ["KeyRange", "ListingPlan", "ObjectListing", "parallel_list_objects"],
        "._scan": ["parallel_scan"],
    }.items()
    for name in names
}

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


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home, __name__), name)
    globals()[name] = value  # read once: the next lookup is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
