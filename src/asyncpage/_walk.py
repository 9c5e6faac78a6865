"""botocore's paging loop, as a state machine over cursors.

:class:`Walk` makes one pass over a listing. Each :meth:`Walk.next_page` fetches the page at
the current cursor (through ``fetch``, which owns retrying), applies botocore's rules
(starting truncation, MaxItems truncation, ``more_results``, empty tokens mean "done",
non-aggregate keys from the first page) and moves the cursor only once the page is in
hand. A failed fetch leaves the cursor where it was.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any, NamedTuple

from botocore.utils import set_value_from_jmespath

from ._cursor import Cursor, token_key
from ._errors import TokenCycleError
from ._model import PagingModel

__all__ = ["Fetch", "Step", "Walk"]

#: ``fetch(request_params, cursor)`` returns the parsed response of one page request.
Fetch = Callable[[dict[str, Any], Cursor], Awaitable[dict[str, Any]]]


class Step(NamedTuple):
    """A page, as the walk delivers it."""

    page: dict[str, Any]
    #: The position this page was fetched from: its primary items start at ``at.skip``.
    at: Cursor
    #: Where the next page starts; ``None`` when the listing is complete.
    after: Cursor | None
    #: Items under the primary result key (after MaxItems).
    item_count: int
    #: True for the walk's final page (end of listing, or MaxItems reached).
    last: bool


class Walk:
    """One pass over a listing, from ``start``."""

    def __init__(
        self,
        model: PagingModel,
        params: dict[str, Any],
        *,
        start: Cursor,
        from_token: bool,
        page_size: int | str | None,
        max_items: int | None,
        fetch: Fetch,
    ) -> None:
        self.model = model
        self._params = params
        self._page_size = page_size
        self._max_items = max_items
        self._fetch = fetch
        self.cursor: Cursor | None = start
        self._first = True
        self._from_token = from_token
        self._total = 0
        self._seen = _SeenTokens()
        self._pending_error: TokenCycleError | None = None
        #: The non-aggregate keys recorded from the first page (botocore's
        #: ``non_aggregate_part``).
        self.non_aggregate_part: dict[str, Any] = {}

    def request_params(self, cursor: Cursor) -> dict[str, Any]:
        """The operation's keyword arguments for the page at ``cursor``."""
        params = dict(self._params)
        for name, value in cursor.tokens:
            if value is not None and value != "None":
                params[name] = value
            else:
                params.pop(name, None)
        if self._page_size is not None and self.model.limit_key is not None:
            params[self.model.limit_key] = self._page_size
        return params

    async def next_page(self) -> Step | None:
        """Fetch and return the next page, or ``None`` when the listing is complete."""
        if self._pending_error is not None:
            error, self._pending_error = self._pending_error, None
            self.cursor = None
            raise error
        cursor = self.cursor
        if cursor is None:
            return None
        model = self.model
        if self._first:
            self._seen.add(token_key(cursor.token_dict))
        page = await self._fetch(self.request_params(cursor), cursor)

        starting_truncation = 0
        if self._first:
            self._first = False
            if self._from_token:
                starting_truncation = cursor.skip
                self._trim_first_page(page, starting_truncation)
            self._record_non_aggregate(page)

        items = model.items_of(page)
        count = len(items)
        if self._max_items is not None and self._total + count > self._max_items:
            keep = self._max_items - self._total
            if model.result_keys:
                set_value_from_jmespath(page, model.primary_result_key.expression, items[:keep])
            self._total = self._max_items
            self.cursor = None
            # Re-request this same page next time, skipping what was delivered.
            return Step(page, cursor, Cursor(cursor.tokens, keep + starting_truncation), keep, True)

        self._total += count
        next_tokens = self._next_tokens(page)
        if next_tokens is None or all(value is None for value in next_tokens.values()):
            self.cursor = None
            return Step(page, cursor, None, count, True)
        after = Cursor(tuple(next_tokens.items()))
        if self._max_items is not None and self._total == self._max_items:
            self.cursor = None
            return Step(page, cursor, after, count, True)

        key = token_key(next_tokens)
        if key in self._seen:
            # botocore also delivers this page first and raises on the next request.
            self._pending_error = TokenCycleError(
                f"{model.service_name}.{model.py_name} returned a pagination token it had "
                "already returned in this listing; following it would loop forever",
                resume_token=after.encode(),
            )
        self._seen.add(key)
        self.cursor = after
        return Step(page, cursor, after, count, False)

    def _trim_first_page(self, page: dict[str, Any], skip: int) -> None:
        # Exactly botocore's PageIterator._handle_first_request.
        keys = self.model.result_keys
        if not keys:
            return
        primary = keys[0]
        data = primary.search(page)
        trimmed = data[skip:] if isinstance(data, (list, str)) else None
        set_value_from_jmespath(page, primary.expression, trimmed)
        for key in keys[1:]:
            sample = key.search(page)
            empty: Any
            if isinstance(sample, list):
                empty = []
            elif isinstance(sample, str):
                empty = ""
            elif isinstance(sample, (int, float)):
                empty = sample
            else:
                empty = None
            set_value_from_jmespath(page, key.expression, empty)

    def _record_non_aggregate(self, page: dict[str, Any]) -> None:
        part: dict[str, Any] = {}
        for expression in self.model.non_aggregate_keys:
            set_value_from_jmespath(part, expression.expression, expression.search(page))
        self.non_aggregate_part = part

    def _next_tokens(self, page: dict[str, Any]) -> dict[str, Any] | None:
        model = self.model
        if model.more_results is not None and not model.more_results.search(page):
            return None
        tokens: dict[str, Any] = {}
        for output, name in zip(model.output_tokens, model.input_tokens, strict=False):
            value = output.search(page)
            tokens[name] = value if value else None
        return tokens


class _SeenTokens:
    """Tokens seen in this listing, in bounded memory.

    The last ``window`` tokens are remembered exactly, so any cycle of up to that many pages
    is caught before a page is fetched twice. Longer cycles are caught by Brent's method:
    one anchor token, moved at every power of two, is met again within two laps.
    """

    def __init__(self, window: int = 256) -> None:
        self._recent: deque[bytes] = deque(maxlen=window)
        self._members: set[bytes] = set()
        self._anchor: bytes | None = None
        self._power = 1
        self._steps = 0

    def __contains__(self, key: bytes) -> bool:
        return key in self._members or key == self._anchor

    def add(self, key: bytes) -> None:
        if len(self._recent) == self._recent.maxlen:
            self._members.discard(self._recent[0])
        self._recent.append(key)
        self._members.add(key)
        self._steps += 1
        if self._steps == self._power:
            self._anchor, self._power, self._steps = key, self._power * 2, 0
