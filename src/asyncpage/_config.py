"""``PaginationConfig`` and an iterator's own options, checked before any request."""

from __future__ import annotations

import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._cursor import Cursor
from ._errors import (
    InvalidPaginationConfigError,
    InvalidPaginationConfigTypeError,
    InvalidPaginationTypeError,
)
from ._model import PagingModel, positive_int
from ._retry import Retry
from ._validation import check_page_size, check_token_values

__all__ = ["Pagination", "check_options", "parse_pagination"]


@dataclass(frozen=True, slots=True)
class Pagination:
    """What ``PaginationConfig`` asks for, checked: MaxItems, PageSize and the start."""

    max_items: int | None
    page_size: int | str | None
    start: Cursor


_PAGINATION_KEYS = frozenset({"MaxItems", "PageSize", "StartingToken"})


def parse_pagination(client: Any, model: PagingModel, params: dict[str, Any]) -> Pagination:
    """Take ``PaginationConfig`` out of ``params`` and check it against the operation.

    Raises:
        InvalidPaginationError: (a subclass) anything wrong, before any request.
    """
    config = params.pop("PaginationConfig", {})
    if not isinstance(config, Mapping):
        raise InvalidPaginationConfigTypeError(
            f"PaginationConfig must be a dict with MaxItems, PageSize and/or StartingToken, "
            f"not {reprlib.repr(config)}"
        )
    # In the caller's order: keys of mixed types do not sort.
    unknown = [k for k in config if not (isinstance(k, str) and k in _PAGINATION_KEYS)]
    if unknown:
        raise InvalidPaginationConfigError(
            f"PaginationConfig has unknown keys {reprlib.repr(unknown)}; valid keys are "
            f"{sorted(_PAGINATION_KEYS)}"
        )
    max_items = config.get("MaxItems")
    page_size = config.get("PageSize")
    size = None if page_size is None else model.page_size_param(page_size)
    if size is not None:
        check_page_size(client, model, size)
    token = config.get("StartingToken")
    # Without a StartingToken the listing starts where the caller's own token parameters
    # say (``ContinuationToken=raw``), as botocore leaves them alone: the start cursor
    # holds them, so a resume token taken before the first page keeps that position.
    start = (
        Cursor(tuple((name, params.get(name)) for name in model.input_tokens))
        if token is None
        else Cursor.decode(token, model.input_tokens)
    )
    check_token_values(client, model, params, start)
    return Pagination(
        max_items=None if max_items is None else positive_int("MaxItems", max_items),
        page_size=size,
        start=start,
    )


def check_options(prefetch: object, retry: object) -> None:
    """``prefetch`` is an int >= 0 and ``retry`` a :class:`~asyncpage.Retry` or ``None``."""
    if isinstance(prefetch, bool) or not isinstance(prefetch, int):
        raise InvalidPaginationConfigTypeError(
            f"prefetch must be an int >= 0, not {reprlib.repr(prefetch)}"
        )
    if prefetch < 0:
        raise InvalidPaginationConfigError(f"prefetch must be an int >= 0, not {prefetch}")
    if retry is not None and not isinstance(retry, Retry):
        raise InvalidPaginationTypeError(
            f"retry must be an asyncpage.Retry or None, not {reprlib.repr(retry)}"
        )
