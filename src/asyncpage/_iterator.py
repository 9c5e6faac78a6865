"""AsyncPageIterator: botocore-exact pages, read-ahead, page-level retry, a resume cursor.

One iteration is a :class:`~asyncpage._walk.Walk` over cursors. Inside ``async with`` a
producer task (in a task group the iterator owns) runs the walk up to ``prefetch`` pages
ahead of the consumer through a bounded memory object stream; outside ``async with``
there is no owner for background work, so pages are fetched when asked for.
"""

from __future__ import annotations

import logging
import random
import reprlib
import time
from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

import anyio
import jmespath
from aiobotocore.context import start_as_current_context
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream
from botocore.useragent import register_feature_id
from botocore.utils import merge_dicts, set_value_from_jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from . import _retry
from ._cursor import Cursor
from ._errors import (
    AsyncPageError,
    InvalidExpressionError,
    InvalidExpressionTypeError,
    InvalidPaginationConfigError,
    InvalidPaginationConfigTypeError,
    InvalidPaginationTypeError,
    PageFetchError,
)
from ._model import PagingModel, positive_int
from ._retry import BackoffGate, Retry, classify, retry_after
from ._validation import (
    check_expression,
    check_page_size,
    check_token_values,
    require_async_client,
)
from ._walk import Step, Walk

__all__ = ["AsyncPageIterator", "PageStatistics", "paginate"]

log = logging.getLogger("asyncpage")

_PAGINATION_KEYS = frozenset({"MaxItems", "PageSize", "StartingToken"})
_DEFAULT_RETRY = Retry()


@dataclass(frozen=True, slots=True)
class PageStatistics:
    """What one iterator has done so far (a snapshot; counts across all its iterations)."""

    pages: int = 0
    """Pages delivered to the consumer."""
    items: int = 0
    """Items under the primary result key in the delivered pages (after MaxItems)."""
    requests: int = 0
    """Page requests sent (retries and read-ahead included)."""
    retries: int = 0
    """Page requests asyncpage repeated after an error."""
    throttles: int = 0
    """Errors classified as throttling."""
    seconds_waited: float = 0.0
    """Time spent in asyncpage backoff (and at a shared backoff gate)."""
    prefetched: int = 0
    """Pages fetched ahead of the consumer by the read-ahead task."""

    def __add__(self, other: PageStatistics) -> PageStatistics:
        return PageStatistics(
            pages=self.pages + other.pages,
            items=self.items + other.items,
            requests=self.requests + other.requests,
            retries=self.retries + other.retries,
            throttles=self.throttles + other.throttles,
            seconds_waited=self.seconds_waited + other.seconds_waited,
            prefetched=self.prefetched + other.prefetched,
        )


class _Counters:
    __slots__ = (
        "items",
        "pages",
        "prefetched",
        "requests",
        "retries",
        "seconds_waited",
        "throttles",
    )

    def __init__(self) -> None:
        self.pages = self.items = self.requests = self.retries = self.throttles = 0
        self.prefetched = 0
        self.seconds_waited = 0.0


def paginate(
    client: Any,
    operation_name: str,
    /,
    *,
    prefetch: int = 1,
    retry: Retry | None = _DEFAULT_RETRY,
    **params: Any,
) -> AsyncPageIterator:
    """Paginate ``client``'s ``operation_name`` with botocore's semantics.

    ``params`` are the operation's parameters, ``PaginationConfig`` included (MaxItems,
    PageSize, StartingToken), exactly as for ``client.get_paginator(name).paginate()``.
    ``prefetch`` pages are read ahead while you work on the current one (inside
    ``async with``); ``retry`` is the page-level :class:`Retry` policy, ``None`` for none.

    Every argument is checked here, before any request: bad input raises a subclass of
    :class:`~asyncpage.InvalidPaginationError` (also a ``ValueError``; for an argument of
    the wrong type, also a ``TypeError``). That covers the client, the operation name,
    ``PaginationConfig`` (MaxItems, PageSize within the limit parameter's modelled range,
    a StartingToken whose values have the types the operation takes), ``prefetch`` and
    ``retry``::

        async with asyncpage.paginate(s3, "list_objects_v2", Bucket="b") as pages:
            async for page in pages:
                ...
    """
    return AsyncPageIterator(client, operation_name, params, prefetch=prefetch, retry=retry)


class AsyncPageIterator:
    """Pages of one paginated AWS operation; see :func:`asyncpage.paginate`.

    ``async for page in it`` starts from the beginning (or ``StartingToken``) every time.
    ``resume_token`` is readable after every page. ``async with it`` owns the read-ahead
    task; leaving it (normally, by ``break``, an exception or cancellation) cancels any
    request in flight.
    """

    def __init__(
        self,
        client: Any,
        operation_name: str,
        params: Mapping[str, Any],
        *,
        prefetch: int = 1,
        retry: Retry | None = _DEFAULT_RETRY,
    ) -> None:
        require_async_client(client)
        self._model = PagingModel.for_client(client, operation_name)
        self._client = client
        self._method = getattr(client, operation_name)
        params = dict(params)
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
        self._max_items = None if max_items is None else positive_int("MaxItems", max_items)
        page_size = config.get("PageSize")
        self._page_size = None if page_size is None else self._model.page_size_param(page_size)
        if self._page_size is not None:
            check_page_size(client, self._model, self._page_size)
        token = config.get("StartingToken")
        self._starting_token: str | None = token
        self._start = (
            Cursor.start(self._model.input_tokens)
            if token is None
            else Cursor.decode(token, self._model.input_tokens)
        )
        check_token_values(client, self._model, params, self._start)
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
        self._params = params
        self._prefetch = prefetch
        self._retry = retry
        self.gate: BackoffGate | None = None
        self._rng = random.Random()
        self._counters = _Counters()
        self._position: Cursor | None = self._start
        self._walk: Walk | None = None
        self._last_step: Step | None = None
        self._finished = False
        self._stream: _PageStream | None = None
        self._stack: AsyncExitStack | None = None
        self._task_group: TaskGroup | None = None

    # -- what it is -------------------------------------------------------------------

    @property
    def model(self) -> PagingModel:
        """The operation's paging model (tokens, result keys, limit key)."""
        return self._model

    @property
    def client(self) -> Any:
        return self._client

    @property
    def result_keys(self) -> list[Any]:
        """The compiled result-key expressions, as botocore's ``result_keys``."""
        return list(self._model.result_keys)

    @property
    def resume_token(self) -> str | None:
        """The botocore ``NextToken`` of the first page not yet delivered.

        ``None`` before the first page when there is no ``StartingToken``, and once the
        listing is complete. Pass it as ``PaginationConfig={"StartingToken": ...}`` to
        asyncpage or to a boto3/aiobotocore paginator to continue exactly here.
        """
        return None if self._position is None else self._position.encode()

    @property
    def finished(self) -> bool:
        """True once the current iteration delivered its last page (end of listing or MaxItems).

        After MaxItems, ``resume_token`` still points at the rest of the listing.
        """
        return self._finished

    @property
    def non_aggregate_part(self) -> dict[str, Any]:
        """The ``non_aggregate_keys`` of the first page, as botocore's property of that name."""
        return {} if self._walk is None else self._walk.non_aggregate_part

    def statistics(self) -> PageStatistics:
        c = self._counters
        return PageStatistics(
            pages=c.pages,
            items=c.items,
            requests=c.requests,
            retries=c.retries,
            throttles=c.throttles,
            seconds_waited=c.seconds_waited,
            prefetched=c.prefetched,
        )

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._stack is not None:
            raise AsyncPageError("this AsyncPageIterator is already entered")
        stack = AsyncExitStack()
        self._task_group = await stack.enter_async_context(anyio.create_task_group())
        self._stack = stack
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        stack, self._stack = self._stack, None
        task_group, self._task_group = self._task_group, None
        self._close_stream()
        if task_group is not None:
            task_group.cancel_scope.cancel()
        if stack is None:
            return None
        if exc is not None and not isinstance(exc, anyio.get_cancelled_exc_class()):
            # The read-ahead task never raises, so the body's own exception is the only
            # one: let the task group wind down cleanly and re-raise that exception as it
            # is, instead of wrapped in an ExceptionGroup the caller did not ask for.
            await stack.__aexit__(None, None, None)
            return None
        return await stack.__aexit__(exc_type, exc, tb)

    async def aclose(self) -> None:
        """Stop the current iteration and cancel any request in flight for it."""
        self._close_stream()
        await anyio.lowlevel.checkpoint()

    def _close_stream(self) -> None:
        if self._stream is not None:
            self._stream.close()
            self._stream = None

    # -- iteration --------------------------------------------------------------------

    def __aiter__(self) -> _PageStream:
        self._close_stream()
        walk = Walk(
            self._model,
            self._params,
            start=self._start,
            from_token=self._starting_token is not None,
            page_size=self._page_size,
            max_items=self._max_items,
            fetch=self._fetch,
        )
        self._walk = walk
        self._position = self._start
        self._finished = False
        task_group = self._task_group
        ahead = self._prefetch if task_group is not None else 0
        self._stream = _PageStream(self, walk, task_group, ahead)
        return self._stream

    def _delivered(self, step: Step) -> None:
        self._last_step = step
        self._position = step.after
        self._finished = step.last
        self._counters.pages += 1
        self._counters.items += step.item_count

    def items(self) -> _FlatMap:
        """The items under the primary result key, page after page (e.g. S3 ``Contents``).

        ``resume_token`` follows the items: after each one it points at the next item, in
        the middle of a page if need be (botocore's ``boto_truncate_amount``), so a
        checkpoint taken between two items resumes exactly between them.
        """
        model = self._model
        if not model.result_keys:
            raise InvalidExpressionError(f"{model.py_name} has no result key to take items from")
        return _FlatMap(self, model.items_of, track=True)

    def search(self, expression: str) -> _FlatMap:
        """Apply a JMESPath ``expression`` to every page, as botocore's ``search()``.

        A list result is yielded element by element, anything else as it is (``None``
        included). The expression is compiled and checked here: one that does not compile,
        calls a function JMESPath does not have or with the wrong arguments, or nests too
        deeply raises :class:`~asyncpage.InvalidExpressionError` before any request.
        ``resume_token`` moves page by page here (an expression's results need not map to
        items); use :meth:`items` to checkpoint between items.
        """
        return _FlatMap(self, compile_expression(expression).search)

    async def build_full_result(self) -> dict[str, Any]:
        """All pages merged into one response, exactly as botocore's ``build_full_result()``.

        Reads ahead with ``prefetch`` even outside ``async with``: the call owns the task.
        """
        complete: dict[str, Any] = {}
        async with AsyncExitStack() as stack:
            if self._task_group is None:
                await stack.enter_async_context(self)
            async for page in self:
                _merge_page(complete, page, self._model)
        merge_dicts(complete, self.non_aggregate_part)
        token = self.resume_token
        if token is not None:
            complete["NextToken"] = token
        return complete

    # -- fetching ---------------------------------------------------------------------

    async def _fetch(self, params: dict[str, Any], cursor: Cursor) -> dict[str, Any]:
        """One page request, retried per the policy; the cursor never moves on failure."""
        counters = self._counters
        policy = self._retry
        attempt = 0
        started = time.monotonic()
        while True:
            attempt += 1
            if self.gate is not None:
                counters.seconds_waited += await self.gate.wait()
            counters.requests += 1
            try:
                response: dict[str, Any] = await _paginator_call(self._method, params)
            except Exception as exc:
                kind = classify(exc)
                if kind == "throttling":
                    counters.throttles += 1
                if kind is None or policy is None or attempt >= policy.attempts:
                    raise self._give_up(exc, cursor, attempt, kind) from exc
                delay = policy.wait(attempt, self._rng, retry_after(exc))
                if time.monotonic() - started + delay > policy.timeout:
                    raise self._give_up(exc, cursor, attempt, kind) from exc
                if kind == "throttling" and self.gate is not None:
                    self.gate.close_for(delay)
                log.debug(
                    "%s.%s: %s error %s, retry %d of %d in %.3fs",
                    self._model.service_name,
                    self._model.py_name,
                    kind,
                    type(exc).__name__,
                    attempt,
                    policy.attempts - 1,
                    delay,
                )
                counters.retries += 1
                if not _retry.is_testing():
                    await anyio.sleep(delay)
                    counters.seconds_waited += delay
                continue
            return response

    def _give_up(
        self, exc: Exception, cursor: Cursor, attempts: int, kind: str | None
    ) -> PageFetchError:
        why = "not retryable" if kind is None else f"{kind}, gave up after {attempts} requests"
        if kind is not None and self._retry is None:
            why = f"{kind}, retry=None"
        return PageFetchError(
            f"{self._model.service_name}.{self._model.py_name} page failed ({why}): {exc}",
            error=exc,
            resume_token=cursor.encode(),
            attempts=attempts,
        )


def compile_expression(expression: str) -> ParsedResult:
    """Compile a JMESPath ``expression``, or raise :class:`InvalidExpressionError`.

    Beyond jmespath's own syntax check, it refuses what jmespath would refuse only while
    searching the first page: unknown functions, wrong arguments, too deep a nesting.
    """
    if not isinstance(expression, str):
        raise InvalidExpressionTypeError(
            f"a JMESPath expression must be a str, not {reprlib.repr(expression)}"
        )
    try:
        parsed = jmespath.compile(expression)
    except RecursionError:
        raise InvalidExpressionError(
            f"JMESPath expression {reprlib.repr(expression)} nests too deeply to compile"
        ) from None
    except (JMESPathError, TypeError, ValueError) as exc:
        raise InvalidExpressionError(
            f"invalid JMESPath expression {reprlib.repr(expression)}: {exc}"
        ) from exc
    except Warning as exc:  # jmespath's deprecated-syntax warning, under -W error
        raise InvalidExpressionError(
            f"JMESPath expression {reprlib.repr(expression)} was refused with a warning "
            f"turned into an error: {exc}"
        ) from exc
    check_expression(parsed)
    return parsed


async def _paginator_call(method: Callable[..., Any], params: dict[str, Any]) -> Any:
    """Call the operation as botocore's paginator does: tagged ``PAGINATOR`` in the User-Agent."""
    async with start_as_current_context():
        register_feature_id("PAGINATOR")
        return await method(**params)


def _merge_page(complete: dict[str, Any], page: dict[str, Any], model: PagingModel) -> None:
    # botocore's PageIterator.build_full_result, one page at a time.
    for expression in model.result_keys:
        value = expression.search(page)
        if value is None:
            continue
        existing = expression.search(complete)
        if existing is None:
            set_value_from_jmespath(complete, expression.expression, value)
        elif isinstance(value, list):
            existing.extend(value)
        elif isinstance(value, (int, float, str)):
            set_value_from_jmespath(complete, expression.expression, existing + value)


class _PageStream:
    """One iteration over an :class:`AsyncPageIterator`: an async iterator of pages."""

    def __init__(
        self, owner: AsyncPageIterator, walk: Walk, task_group: TaskGroup | None, ahead: int
    ) -> None:
        self._owner = owner
        self._walk = walk
        self._closed = False
        self._receive: MemoryObjectReceiveStream[Step | BaseException] | None = None
        self._scope: anyio.CancelScope | None = None
        if task_group is not None and ahead > 0:
            send, receive = anyio.create_memory_object_stream[Step | BaseException](ahead - 1)
            self._receive = receive
            self._scope = anyio.CancelScope()
            task_group.start_soon(self._produce, send, self._scope)

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        if self._closed:
            raise StopAsyncIteration
        if self._receive is None:
            step = await self._walk.next_page()
            if step is None:
                raise StopAsyncIteration
        else:
            try:
                received = await self._receive.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                raise StopAsyncIteration from None
            if isinstance(received, BaseException):
                raise received
            step = received
        self._owner._delivered(step)
        return step.page

    async def _produce(
        self, send: MemoryObjectSendStream[Step | BaseException], scope: anyio.CancelScope
    ) -> None:
        counters = self._owner._counters
        with scope, send:
            try:
                first = True
                while True:
                    step = await self._walk.next_page()
                    if step is None:
                        return
                    if not first:
                        counters.prefetched += 1
                    first = False
                    await send.send(step)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return
            except Exception as exc:
                # Errors are delivered in order, after every page fetched before them.
                try:
                    await send.send(exc)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    return

    def close(self) -> None:
        self._closed = True
        if self._scope is not None:
            self._scope.cancel()
        if self._receive is not None:
            self._receive.close()

    async def aclose(self) -> None:
        self.close()
        await anyio.lowlevel.checkpoint()


class _FlatMap:
    """Items or search results, flattened page by page (a class, not an async generator,
    so that leaving a loop early needs no generator finalization)."""

    def __init__(
        self,
        owner: AsyncPageIterator,
        select: Callable[[Any], Any],
        *,
        track: bool = False,
    ) -> None:
        self._owner = owner
        self._select = select
        self._track = track
        self._step: Step | None = None
        self._pages: _PageStream | None = None
        self._buffer: list[Any] = []
        self._index = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        while self._index >= len(self._buffer):
            if self._pages is None:
                self._pages = self._owner.__aiter__()
            page = await self._pages.__anext__()
            self._step = self._owner._last_step
            result = self._select(page)
            self._buffer = result if isinstance(result, list) else [result]
            self._index = 0
        item = self._buffer[self._index]
        self._index += 1
        step = self._step
        if self._track and step is not None and self._index < len(self._buffer):
            # Mid-page: the rest of this page is the page's own position, skipping what
            # was yielded; exactly the token botocore writes when MaxItems cuts a page.
            owner = self._owner
            owner._position = Cursor(step.at.tokens, step.at.skip + self._index)
            owner._finished = False
        elif self._track and step is not None:
            self._owner._position = step.after
            self._owner._finished = step.last
        return item

    async def aclose(self) -> None:
        if self._pages is not None:
            await self._pages.aclose()
