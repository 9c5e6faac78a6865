"""botocore's paging loop, as a state machine over cursors.

:class:`Walk` makes one pass over a listing. Each :meth:`Walk.next_page` fetches the page at
the current cursor (through ``fetch``, which owns retrying), applies botocore's rules
(starting truncation, MaxItems truncation, ``more_results``, empty tokens mean "done",
non-aggregate keys from the first page) and moves the cursor only once the page is in
hand. A failed fetch leaves the cursor where it was.

Two departures from botocore, both so that a token resumes *exactly* where it was taken
(each is a row of the README's table):

* A cursor's ``skip`` is carried across pages until it is used up. botocore trims it from
  the first page only, so a mid-page token resumed with a smaller ``PageSize`` repeats
  the items between the end of that (shorter) page and the skip.
* A ``StartingToken`` on a page boundary (``skip == 0``) resumes as its raw service token
  would: the page is left as the service sent it. botocore empties the secondary result
  keys (``CommonPrefixes``, ``DeleteMarkers``...) of the first page after any
  ``StartingToken``, although on a boundary nothing of that page was delivered before.
  A page the skip reaches into is trimmed exactly as botocore trims the first page.
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

    def after_taking(self, taken: int) -> Cursor | None:
        """The position once ``taken`` of this page's items are delivered.

        Inside the page it is the page's own position skipping what was taken: exactly
        the token botocore writes when MaxItems cuts a page. After its last item it is
        :attr:`after`.
        """
        if taken < self.item_count:
            return Cursor(self.at.tokens, self.at.skip + taken)
        return self.after

    @property
    def exhausted(self) -> bool:
        """True for the final page of the whole listing (not a MaxItems cut)."""
        return self.last and self.after is None


class Walk:
    """One pass over a listing, from ``start``."""

    def __init__(
        self,
        model: PagingModel,
        params: dict[str, Any],
        *,
        start: Cursor,
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
        self._total = 0
        self._seen = _SeenTokens()
        self._pending_error: TokenCycleError | None = None
        #: The non-aggregate keys recorded from the first page (botocore's
        #: ``non_aggregate_part``).
        self.non_aggregate_part: dict[str, Any] = {}

    def request_params(self, cursor: Cursor) -> dict[str, Any]:
        """The operation's keyword arguments for the page at ``cursor``.

        Input tokens come from the cursor: set when it holds a value, removed when it holds
        ``None``. The start cursor of a listing without ``StartingToken`` holds the caller's
        own token parameters (``ContinuationToken=...``), so those are sent as given.
        """
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

        first, self._first = self._first, False
        if first:
            self._record_non_aggregate(page)
        trimmed = self._trim(page, cursor.skip, first) if cursor.skip else 0
        left = cursor.skip - trimmed  # a skip longer than this page goes on to the next
        at = cursor if not left else Cursor(cursor.tokens, trimmed)  # items start at at.skip

        value = model.primary_value(page)
        count = len(value) if isinstance(value, (list, str)) else 0
        if self._max_items is not None and self._total + count > self._max_items:
            keep = self._max_items - self._total
            assert value is not None  # count > 0
            set_value_from_jmespath(page, model.primary_result_key.expression, value[:keep])
            self._total = self._max_items
            self.cursor = None
            # Re-request this same page next time, skipping what was delivered.
            return Step(page, at, Cursor(cursor.tokens, trimmed + keep), keep, True)

        self._total += count
        next_tokens = self._next_tokens(page)
        if next_tokens is None or all(token is None for token in next_tokens.values()):
            self.cursor = None
            return Step(page, at, None, count, True)
        after = Cursor(tuple(next_tokens.items()), left)
        if self._max_items is not None and self._total == self._max_items:
            self.cursor = None
            return Step(page, at, after, count, True)

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
        return Step(page, at, after, count, False)

    def _trim(self, page: dict[str, Any], skip: int, first: bool) -> int:
        """Drop the first ``skip`` items of ``page`` as botocore trims the first page after a
        mid-page ``StartingToken`` (secondary result keys emptied, numbers kept); return how
        many items were dropped (fewer than ``skip`` when the page is shorter)."""
        keys = self.model.result_keys
        if not keys:
            return 0
        primary = keys[0]
        data = primary.search(page)
        if data is None and not first:
            return 0  # nothing to skip on this page, and nothing of it was delivered
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
        return min(skip, len(data)) if isinstance(data, (list, str)) else 0

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
