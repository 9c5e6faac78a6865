"""AsyncPageIterator: botocore-exact pages, read-ahead, page-level retry, a resume cursor.

One iteration is a :class:`~asyncpage._walk.Walk` over cursors, fetched through the
iterator's :class:`~asyncpage._retry.PageFetcher` and read ahead by a
:class:`~asyncpage._readahead.StepReader` (in the task group of ``async with``, or in a
task tied to the loop's iteration object in a plain ``async for``). Pages, ``items()``,
``search()`` and fan_out all consume the same steps; the iterator's position is written in
one place, :class:`_Progress`.

:func:`paginate` takes a client and an operation name, or a paginator from
``client.get_paginator(name)``; typed with :class:`PaginatorLike`, the second form gives
pages of the types-aiobotocore stubs' TypedDicts. asyncpage's own options live apart
from the operation's parameters, in :meth:`AsyncPageIterator.with_options`.
"""

from __future__ import annotations

import copy
import enum
import logging
import reprlib
import warnings
import weakref
from collections.abc import AsyncIterable, AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Final, Generic, Literal, ParamSpec, Protocol, Self, cast, overload

import anyio
import jmespath
from aiobotocore.context import start_as_current_context
from anyio.abc import TaskGroup
from botocore.paginate import Paginator
from botocore.useragent import register_feature_id
from botocore.utils import merge_dicts, set_value_from_jmespath
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult
from typing_extensions import TypeVar

from . import _tracing
from ._config import check_options, parse_pagination
from ._cursor import Cursor
from ._errors import (
    AsyncPageError,
    InvalidExpressionError,
    InvalidExpressionTypeError,
    InvalidPaginationTypeError,
)
from ._model import PagingModel
from ._readahead import StepReader
from ._retry import BackoffGate, PageFetcher, Retry
from ._validation import check_expression, require_async_client
from ._walk import Step, Walk

__all__ = ["AsyncPageIterator", "PageStatistics", "PageT", "PaginatorLike", "paginate"]

log = logging.getLogger("asyncpage")

_DEFAULT_RETRY = Retry()
#: asyncpage's options, once keyword arguments of paginate(); see _split_options().
_OPTIONS = ("prefetch", "retry")

PageT = TypeVar("PageT", covariant=True, default=dict[str, Any])
"""The type of an iterator's pages: a types-aiobotocore TypedDict, or ``dict[str, Any]``."""
_PageT_co = TypeVar("_PageT_co", covariant=True)
_P = ParamSpec("_P")


class PaginatorLike(Protocol[_P, _PageT_co]):
    """What :func:`paginate` takes instead of ``(client, operation_name)``.

    ``client.get_paginator(name)`` of an aiobotocore client, typed by the types-aiobotocore
    stubs: ``_P`` is its ``paginate()`` signature (the operation's parameters) and
    ``_PageT_co`` the TypedDict of its pages. asyncpage only reads which client and
    operation the paginator belongs to; it pages with its own loop.
    """

    def paginate(self, *args: _P.args, **kwargs: _P.kwargs) -> AsyncIterable[_PageT_co]: ...


class _Keep(enum.Enum):
    KEEP = enum.auto()


#: "Leave this option as it is", for :meth:`AsyncPageIterator.with_options`.
_KEEP: Final = _Keep.KEEP


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


class _Progress:
    """Where the current iteration stands and what was delivered: the iterator's position.

    Its one writer is :meth:`deliver`/:meth:`take`; the position is built when read, not
    for every item.
    """

    __slots__ = ("items", "pages", "prefetched", "start", "step", "taken")

    def __init__(self, start: Cursor) -> None:
        self.start = start
        self.step: Step | None = None
        self.taken = 0  # items of ``step`` delivered
        self.pages = self.items = self.prefetched = 0

    def restart(self) -> None:
        self.step, self.taken = None, 0

    def deliver(self, step: Step, *, whole: bool) -> None:
        """``step`` is handed out: as a whole page, or (``whole=False``) item by item."""
        self.step = step
        self.taken = step.item_count if whole else 0
        self.pages += 1
        self.items += step.item_count

    def take(self, count: int) -> None:
        """``count`` items of the current step are handed out, in all."""
        self.taken = count

    def count_prefetch(self) -> None:
        self.prefetched += 1

    @property
    def cursor(self) -> Cursor | None:
        step = self.step
        return self.start if step is None else step.after_taking(self.taken)

    @property
    def finished(self) -> bool:
        step = self.step
        return step is not None and step.last and self.taken >= step.item_count


@overload
def paginate(
    paginator: PaginatorLike[_P, _PageT_co], /, *args: _P.args, **params: _P.kwargs
) -> AsyncPageIterator[_PageT_co]: ...
@overload
def paginate(client: Any, operation_name: str, /, **params: Any) -> AsyncPageIterator: ...
def paginate(target: Any, /, *args: Any, **params: Any) -> AsyncPageIterator[Any]:
    """Paginate an operation with botocore's semantics.

    Either ``paginate(client, "operation_name", **params)``, or
    ``paginate(client.get_paginator("operation_name"), **params)``: with the
    types-aiobotocore stubs installed, the second form checks ``params`` against the
    operation's input and types the pages as the stubs' TypedDicts.

    ``params`` are the operation's parameters, ``PaginationConfig`` included (MaxItems,
    PageSize, StartingToken), exactly as for ``client.get_paginator(name).paginate()``, and
    nothing else. asyncpage's own options are set apart from them with
    :meth:`AsyncPageIterator.with_options` (``prefetch`` pages read ahead, the page-level
    ``retry`` policy)::

        pages = asyncpage.paginate(s3.get_paginator("list_objects_v2"), Bucket="b")
        async with pages.with_options(prefetch=2) as pages:
            async for page in pages:
                ...

    Every argument is checked here, before any request: bad input raises a subclass of
    :class:`~asyncpage.InvalidPaginationError` (also a ``ValueError``; for an argument of
    the wrong type, also a ``TypeError``). That covers the client or paginator, the
    operation name and ``PaginationConfig`` (MaxItems, PageSize within the limit
    parameter's modelled range, a StartingToken whose values have the types the
    operation takes).

    ``prefetch=`` and ``retry=`` among ``params`` still work, with a
    ``DeprecationWarning``, when the operation has no parameter of that name.
    """
    if isinstance(target, Paginator):
        if args:
            raise InvalidPaginationTypeError(
                "a paginator takes the operation's parameters as keywords only, "
                f"not {reprlib.repr(args)}"
            )
        client, operation_name = _paginator_target(target)
    elif len(args) == 1:
        client, operation_name = target, args[0]
    else:
        raise InvalidPaginationTypeError(
            "paginate() takes a client and an operation name, "
            "paginate(client, 'list_objects_v2', **params), or a paginator, "
            "paginate(client.get_paginator('list_objects_v2'), **params); "
            f"got {1 + len(args)} positional arguments"
        )
    options = _split_options(client, operation_name, params)
    return AsyncPageIterator(client, operation_name, params, **options)


def _paginator_target(paginator: Paginator[Any]) -> tuple[Any, str]:
    """The client and operation name a botocore/aiobotocore paginator was made for."""
    # botocore's Paginator keeps the bound client method and the operation model: the
    # only record of which client and operation it pages (stable since botocore 1.0).
    method = getattr(paginator, "_method", None)
    client = getattr(method, "__self__", None)
    model = getattr(paginator, "_model", None)
    api_name = getattr(model, "name", None)
    mapping = getattr(getattr(client, "meta", None), "method_to_api_mapping", None)
    if not isinstance(mapping, Mapping) or api_name is None:
        raise InvalidPaginationTypeError(
            f"cannot tell which client and operation {reprlib.repr(paginator)} pages; "
            "pass paginate(client, 'operation_name', **params) instead"
        )
    for py_name, name in mapping.items():
        if name == api_name:
            return client, py_name
    return client, str(api_name)  # let PagingModel report the unknown operation


def _split_options(client: Any, operation_name: Any, params: dict[str, Any]) -> dict[str, Any]:
    """Take asyncpage's options out of ``params`` where they were once given (deprecated).

    Only a name the operation does not take is an option: an AWS parameter of that name
    (none exists today) goes to AWS.
    """
    given = [name for name in _OPTIONS if name in params]
    if not given:
        return {}
    members: Any = ()
    try:
        api_name = client.meta.method_to_api_mapping[operation_name]
        shape = client.meta.service_model.operation_model(api_name).input_shape
        members = shape.members if shape is not None else ()
    except Exception:  # no such client or operation: AsyncPageIterator says which
        pass
    options = {name: params.pop(name) for name in given if name not in members}
    if options:
        names = ", ".join(f"{name}=" for name in options)
        warnings.warn(
            f"{names} among the operation's parameters is deprecated: AWS parameters and "
            f"asyncpage's options do not share one namespace; use "
            f"paginate(...).with_options({names}...)",
            DeprecationWarning,
            stacklevel=3,
        )
    return options


class AsyncPageIterator(Generic[PageT]):
    """Pages of one paginated AWS operation; see :func:`asyncpage.paginate`.

    ``async for page in it`` starts from the beginning (or ``StartingToken``) every time.
    ``resume_token`` is readable after every page. ``async with it`` owns the read-ahead
    task; leaving it (normally, by ``break``, an exception or cancellation) cancels any
    request in flight.

    Generic in its page type: ``AsyncPageIterator[ListObjectsV2OutputTypeDef]`` when made
    from a types-aiobotocore paginator, ``AsyncPageIterator`` (of ``dict[str, Any]``)
    otherwise. The pages are the same dicts either way; only their static type differs.
    """

    def __init__(
        self,
        client: Any,
        operation_name: str,
        params: Mapping[str, Any],
        *,
        prefetch: int = 1,
        retry: Retry | None = _DEFAULT_RETRY,
        call: Callable[..., Awaitable[Any]] | None = None,
    ) -> None:
        require_async_client(client)
        self._model = PagingModel.for_client(client, operation_name)
        self._client = client
        # ``call`` stands in for the client's method (parallel_list_objects cuts each page
        # at its key range's end there); it takes and returns what the method does.
        self._method = getattr(client, operation_name) if call is None else call
        params = dict(params)
        config = parse_pagination(client, self._model, params)
        self._max_items = config.max_items
        self._page_size = config.page_size
        self._start = config.start
        self._params = params
        self._setup(prefetch, retry, gate=None)

    def _setup(self, prefetch: int, retry: Retry | None, *, gate: BackoffGate | None) -> None:
        """Check the options and start with a clean slate: no iteration, no statistics."""
        check_options(prefetch, retry)
        self._prefetch = prefetch
        self._retry = retry
        self._fetcher = PageFetcher(
            partial(_paginator_call, self._method),
            retry,
            name=f"{self._model.service_name}.{self._model.py_name}",
        )
        self._fetcher.gate = gate
        self._progress = _Progress(self._start)
        self._walk: Walk | None = None
        self._current: weakref.ref[_StepStream] | None = None
        self._stack: AsyncExitStack | None = None
        self._task_group: TaskGroup | None = None

    def with_options(
        self,
        *,
        prefetch: int | Literal[_Keep.KEEP] = _KEEP,
        retry: Retry | Literal[_Keep.KEEP] | None = _KEEP,
    ) -> AsyncPageIterator[PageT]:
        """A new iterator over the same listing, with asyncpage's options changed.

        Args:
            prefetch: pages read ahead while you work on the current one (``0``: none).
            retry: the page-level :class:`~asyncpage.Retry` policy; ``None`` for none.

        Options not given keep their value (and so does :attr:`gate`). The new iterator
        starts afresh: its iteration and statistics are its own, and this one is left as
        it is. Bad options raise as :func:`paginate` does, before any request::

            pages = asyncpage.paginate(ddb, "scan", TableName="t").with_options(retry=None)
        """
        other: AsyncPageIterator[PageT] = copy.copy(self)
        other._setup(
            self._prefetch if prefetch is _KEEP else prefetch,
            self._retry if retry is _KEEP else retry,
            gate=self.gate,
        )
        return other

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
    def gate(self) -> BackoffGate | None:
        """The :class:`BackoffGate` this iterator waits at before each request, if any.

        fan_out gives every source of one (account, service, region) the same gate.
        """
        return self._fetcher.gate

    @gate.setter
    def gate(self, gate: BackoffGate | None) -> None:
        self._fetcher.gate = gate

    @property
    def resume_token(self) -> str | None:
        """The botocore ``NextToken`` of the first page (or item) not yet delivered.

        ``None`` before the first page when the listing starts at the beginning, and once
        it is complete. Pass it as ``PaginationConfig={"StartingToken": ...}`` to
        asyncpage or to a boto3/aiobotocore paginator to continue exactly here.
        """
        cursor = self._progress.cursor
        return None if cursor is None else cursor.encode()

    @property
    def finished(self) -> bool:
        """True once the current iteration delivered its last page (end of listing or MaxItems).

        After MaxItems, ``resume_token`` still points at the rest of the listing: to loop
        until everything is listed, test :attr:`exhausted`.
        """
        return self._progress.finished

    @property
    def exhausted(self) -> bool:
        """True once the listing itself is complete: nothing is left to resume."""
        return self._progress.finished and self._progress.cursor is None

    @property
    def non_aggregate_part(self) -> dict[str, Any]:
        """The ``non_aggregate_keys`` of the first page, as botocore's property of that name."""
        return {} if self._walk is None else self._walk.non_aggregate_part

    def statistics(self) -> PageStatistics:
        """What this iterator has done so far, across all its iterations."""
        progress, fetcher = self._progress, self._fetcher
        return PageStatistics(
            pages=progress.pages,
            items=progress.items,
            requests=fetcher.requests,
            retries=fetcher.retries,
            throttles=fetcher.throttles,
            seconds_waited=fetcher.seconds_waited,
            prefetched=progress.prefetched,
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
        """Stop the current iteration, cancel any request in flight for it, and wait for that."""
        current = self._current() if self._current is not None else None
        self._current = None
        if current is None:
            await anyio.lowlevel.checkpoint()
        else:
            await current.aclose()

    def _close_stream(self) -> None:
        current = self._current() if self._current is not None else None
        self._current = None
        if current is not None:
            current.close()

    # -- iteration --------------------------------------------------------------------

    def __aiter__(self) -> AsyncIterator[PageT]:
        """A new iteration from the beginning (or ``StartingToken``), reading ahead.

        Inside ``async with`` the read-ahead task belongs to the iterator's task group. In
        a plain ``async for`` it is tied to the loop: when the loop ends (``break``, an
        exception, cancellation) the request in flight is cancelled and nothing is left
        running; see :mod:`asyncpage._readahead` for exactly when.
        """
        # The pages are the dicts botocore parsed; PageT is what the stubs say they hold.
        return cast(AsyncIterator[PageT], _PageStream(self.steps(whole=True)))

    def steps(self, *, whole: bool = True, prefetch: int | None = None) -> _StepStream:
        """A new iteration, as :class:`~asyncpage._walk.Step` records (for fan_out and
        asyncpage's other consumers: pages with where they start and end).

        ``whole=False``: the consumer hands out items one by one and reports them with
        :meth:`_StepStream.take`, so that :attr:`resume_token` follows the items.
        ``prefetch`` overrides the iterator's own (fan_out reads ahead with its buffer and
        takes steps on demand: ``prefetch=0``).
        """
        self._close_stream()
        walk = Walk(
            self._model,
            self._params,
            start=self._start,
            page_size=self._page_size,
            max_items=self._max_items,
            fetch=self._fetcher,
        )
        self._walk = walk
        progress = self._progress
        progress.restart()
        reader = StepReader(
            walk,
            ahead=self._prefetch if prefetch is None else prefetch,
            task_group=self._task_group,
            on_prefetch=progress.count_prefetch,
        )
        trace = self._fetcher.trace = _tracing.listing(self._model, self._client)
        stream = _StepStream(reader, progress, whole=whole, trace=trace)
        if trace is not None:
            # A loop left by break frees its stream at once: the span ends then.
            weakref.finalize(stream, trace.end).atexit = False
        self._current = weakref.ref(stream)
        return stream

    def items(self) -> AsyncIterator[Any]:
        """The items under the primary result key, page after page (e.g. S3 ``Contents``).

        ``resume_token`` follows the items: after each one it points at the next item, in
        the middle of a page if need be (botocore's ``boto_truncate_amount``), so a
        checkpoint taken between two items resumes exactly between them.
        """
        model = self._model
        if not model.result_keys:
            raise InvalidExpressionError(f"{model.py_name} has no result key to take items from")
        return _FlatMap(partial(self.steps, whole=False), model.items_of, track=True)

    def search(self, expression: str) -> AsyncIterator[Any]:
        """Apply a JMESPath ``expression`` to every page, as botocore's ``search()``.

        A list result is yielded element by element, anything else as it is (``None``
        included). The expression is compiled and checked here: one that does not compile,
        calls a function JMESPath does not have or with the wrong arguments, or nests too
        deeply raises :class:`~asyncpage.InvalidExpressionError` before any request.
        ``resume_token`` moves page by page here (an expression's results need not map to
        items); use :meth:`items` to checkpoint between items.
        """
        return _FlatMap(partial(self.steps, whole=True), compile_expression(expression).search)

    async def build_full_result(self) -> dict[str, Any]:
        """All pages merged into one response, exactly as botocore's ``build_full_result()``.

        Reads ahead with ``prefetch`` even outside ``async with``: the call owns the task.
        """
        complete: dict[str, Any] = {}
        async with AsyncExitStack() as stack:
            if self._task_group is None:
                await stack.enter_async_context(self)
            async for step in self.steps():
                _merge_page(complete, step.page, self._model)
        merge_dicts(complete, self.non_aggregate_part)
        token = self.resume_token
        if token is not None:
            complete["NextToken"] = token
        return complete


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


class _StepStream:
    """One iteration's steps; hands each one to the iterator's progress as it goes out
    (and to the iteration's span, when it is traced)."""

    __slots__ = ("__weakref__", "_progress", "_reader", "_trace", "_whole")

    def __init__(
        self,
        reader: StepReader,
        progress: _Progress,
        *,
        whole: bool,
        trace: _tracing.Listing | None = None,
    ) -> None:
        self._reader = reader
        self._progress = progress
        self._whole = whole
        self._trace = trace

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Step:
        trace = self._trace
        try:
            step = await self._reader.next()
        except Exception as exc:
            if trace is not None:
                trace.end(exc)
            raise
        if step is None:
            if trace is not None:
                trace.end()
            raise StopAsyncIteration
        self._progress.deliver(step, whole=self._whole)
        if trace is not None:
            trace.page(step.item_count, last=step.last)
        return step

    def take(self, count: int) -> None:
        """``count`` items of the step last handed out are delivered (``whole=False``)."""
        self._progress.take(count)

    def close(self) -> None:
        self._reader.close()
        if self._trace is not None:
            self._trace.end()

    async def aclose(self) -> None:
        await self._reader.aclose()
        if self._trace is not None:
            self._trace.end()


class _PageStream:
    """One iteration over an :class:`AsyncPageIterator`: an async iterator of pages."""

    __slots__ = ("_steps",)

    def __init__(self, steps: _StepStream) -> None:
        self._steps = steps

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> dict[str, Any]:
        return (await self._steps.__anext__()).page

    async def aclose(self) -> None:
        await self._steps.aclose()


class _FlatMap:
    """Items or search results, flattened page by page (a class, not an async generator,
    so that leaving a loop early needs no generator finalization). Its iteration starts
    when it is first iterated, as a page loop's does."""

    __slots__ = ("_buffer", "_index", "_select", "_start", "_steps", "_track")

    def __init__(
        self,
        start: Callable[[], _StepStream],
        select: Callable[[Any], Any],
        *,
        track: bool = False,
    ) -> None:
        self._start = start
        self._steps: _StepStream | None = None
        self._select = select
        self._track = track
        self._buffer: list[Any] = []
        self._index = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        steps = self._steps
        if steps is None:
            steps = self._steps = self._start()
        while self._index >= len(self._buffer):
            step = await steps.__anext__()
            result = self._select(step.page)
            self._buffer = result if isinstance(result, list) else [result]
            self._index = 0
        item = self._buffer[self._index]
        self._index += 1
        if self._track:
            steps.take(self._index)
        return item

    async def aclose(self) -> None:
        if self._steps is not None:
            await self._steps.aclose()
