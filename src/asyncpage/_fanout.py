"""fan_out: many paginations at once, merged into one stream of tagged pages.

:func:`fan_out` takes ``{label: source}``, where a source is an
:class:`~asyncpage.AsyncPageIterator` or a zero-argument callable returning one (called
only when the source may start, so a thousand sources cost nothing while they wait). It
must be entered: its sources run as tasks in a task group the :class:`FanOut` owns::

    async with asyncpage.fan_out({"use1": a, "euw1": b}, concurrency=8) as merged:
        async for tagged in merged:             # Tagged(source="use1", value=page)
            ...
    merged.outcomes["euw1"].status              # "ok", "skipped", "failed", "cancelled"

A plain ``async for`` over a FanOut that was not entered raises :class:`AsyncPageError`:
background tasks need an owner, and only ``async with`` gives them one.

Starting. At most ``concurrency`` sources run at once, and at most ``per_endpoint`` per
(account, service, region), since AWS rate limits are per account, region and API (the
account is the one :func:`~asyncpage._admission.record_account` recorded for the client,
as :class:`~asyncpage.ClientPool` does). Sources start
in the order of ``sources`` as slots free up; one whose endpoint is full waits (and so do
the later sources of that endpoint), while later sources of other endpoints go ahead. A
running source keeps its slots until it ends. A factory is called when its source is
next in line. Sources with the same (account, service, region) share one
:class:`~asyncpage.BackoffGate` (set as ``it.gate`` unless you set one): when one of them
is throttled, all of them back off.

Orders. ``order="completed"`` yields pages as they arrive from any source.
``order="source"`` yields every page of the first source, then of the second, and so on,
exactly as a loop over the sources would (later sources are still fetched ahead, within
their buffer). ``order="round_robin"`` takes one page from each running source in turn.

Memory. Each source holds at most ``buffer`` pages the consumer has not taken, the one it
is fetching included: a slow consumer slows the producers, nothing queues without bound. The
source's task is its read-ahead, so a source iterator's own ``prefetch`` does not apply
here (it fetches each page when its task asks for it).

Outcomes. ``merged.outcomes[label]`` is an :class:`Outcome`, final once you have received
every page of that source (all of them after a complete iteration):

* ``"ok"``: the listing is complete (``resume_token`` is set only if ``MaxItems`` cut it);
* ``"skipped"``: the source's first page met an error that means it cannot run here (its
  code is in ``skip_codes``, e.g. ``AccessDenied`` or ``OptInRequired``, or the service
  has no endpoint in the region); ``reason`` says which. The same error after some pages
  were delivered is ``"failed"``: a partial listing is never reported as skipped;
* ``"failed"``: any other error; ``error`` is the :class:`~asyncpage.PageFetchError`
  (or other exception) and ``resume_token`` the token of the page that was not fetched;
* ``"cancelled"``: you left before receiving all of its pages; ``resume_token`` is the
  token of the first page you did not receive (``None``: from the beginning);
* ``"pending"``: not finished yet.

Errors. Errors from AWS, botocore or asyncpage are data: they end their source with an
outcome. Anything else raised by a source's factory or iterator (a ``TypeError`` in your
factory, say) is a bug, not an outcome: it is raised from ``async for`` as it is, and every
source is cancelled. A failure is delivered in order, after every page of that source
fetched before it, so that its ``resume_token`` loses nothing. With ``on_error="continue"``
(the default) it only marks the outcome. With ``on_error="raise"`` the first one is raised
from ``async for`` itself (the :class:`~asyncpage.PageFetchError`, never an
``ExceptionGroup``) and every other source is cancelled, as soon as you have received the
(at most ``buffer``) pages of that source fetched before the failure: at once if its first
page failed; with ``"source"``, pages of a later source wait for their turn, and so does a
failure behind them. The other outcomes then say where each source stopped. Skips never
raise. Leaving the ``async with`` in any way (end, ``break``, an exception, cancellation)
cancels every request in flight and leaves no task behind.

Resume tokens are exact to the item with :meth:`FanOut.items`: leaving in the middle of a
page gives a token for the rest of that page (botocore's own mid-page format). With
:meth:`FanOut.search` they count whole pages: a page counts as received once its first
value has been yielded.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, replace
from types import TracebackType
from typing import Any, Final, Generic, Literal, Self, cast, get_args

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from typing_extensions import TypeVar

from . import _merge, _tracing
from ._admission import NO_ENDPOINT, Admission, Endpoint, endpoint_of
from ._cursor import Cursor
from ._errors import (
    AsyncPageError,
    InvalidExpressionError,
    InvalidPaginationError,
    InvalidPaginationTypeError,
)
from ._iterator import AsyncPageIterator, PageStatistics, compile_expression
from ._model import PagingModel
from ._outcome import (
    DEFAULT_SKIP_CODES,
    OK,
    Ending,
    Outcome,
    OutcomeStatus,
    is_service_error,
    judge,
)
from ._retry import BackoffGate
from ._walk import Step

__all__ = [
    "DEFAULT_SKIP_CODES",
    "AsyncSourceFactory",
    "FanOut",
    "Label",
    "Order",
    "Outcome",
    "OutcomeStatus",
    "Source",
    "SourceFactory",
    "Tagged",
    "fan_out",
]

T = TypeVar("T")
L = TypeVar("L", bound=Hashable)
#: The sources' page type (a types-aiobotocore TypedDict, or dict[str, Any]).
P = TypeVar("P", default=dict[str, Any])

Label = Hashable
"""What names a source in ``sources``: a region name, a tuple, a segment number..."""
SourceFactory = Callable[[], AsyncPageIterator[P]]
"""A zero-argument callable returning the source's iterator, called when it may start."""
AsyncSourceFactory = Callable[[], Awaitable[AsyncPageIterator[P]]]
"""The same, as a coroutine function (to open a client lazily, for example)."""
Source = AsyncPageIterator[P] | SourceFactory[P] | AsyncSourceFactory[P]
Order = Literal["completed", "source", "round_robin"]
OnError = Literal["continue", "raise"]

_ORDERS: Final = get_args(Order)
_ON_ERROR: Final = get_args(OnError)
_NO_STATISTICS: Final = PageStatistics()


@dataclass(frozen=True, slots=True)
class Tagged(Generic[L, T]):
    """A value (a page, an item, a search result) and the label of the source it came from.

    Generic in both: ``Tagged[str, ListObjectsV2OutputTypeDef]`` is a page of a fan-out
    labelled by ``str``.
    """

    source: L
    """The source's label, as a key of ``sources``."""
    value: T

    @property
    def page(self) -> T:
        """``value``, under the name that reads well when the value is a page."""
        return self.value


def fan_out(
    sources: Mapping[L, Source[P]],
    *,
    concurrency: int = 8,
    per_endpoint: int | None = 4,
    order: Order = "completed",
    on_error: OnError = "continue",
    skip_codes: Iterable[str] = DEFAULT_SKIP_CODES,
    buffer: int = 1,
) -> FanOut[L, P]:
    """Run many paginations concurrently and merge their pages; see the module docs.

    Args:
        sources: ``{label: iterator or factory}``; a factory is called when the source
            may start. Labels tag everything the fan-out yields.
        concurrency: sources running at once, in all.
        per_endpoint: sources running at once per (service, region); ``None``: no limit.
        order: ``"completed"``, ``"source"`` or ``"round_robin"``.
        on_error: ``"continue"`` records failures in :attr:`FanOut.outcomes`; ``"raise"``
            raises the first one and cancels the other sources.
        skip_codes: error codes that mark a source ``"skipped"`` instead of ``"failed"``.
        buffer: pages each source may hold that you have not taken yet (at least 1).

    Raises:
        InvalidPaginationError: (a ``ValueError``) bad options; nothing was started.

    Example::

        sources = {region: lambda c=c: asyncpage.paginate(c, "list_tables")
                   for region, c in clients.items()}
        async with asyncpage.fan_out(sources) as merged:
            async for tagged in merged.items():
                print(tagged.source, tagged.value)
    """
    return FanOut(
        sources,
        concurrency=concurrency,
        per_endpoint=per_endpoint,
        order=order,
        on_error=on_error,
        skip_codes=skip_codes,
        buffer=buffer,
    )


@dataclass(slots=True)
class _Page:
    step: Step
    after: str | None  # the token of the page after it (None: the listing is complete)

    @property
    def items(self) -> int:
        return self.step.item_count


class _Source:
    """One source: its iterator once made, its buffer, and what you have received.

    Written by the FanOut that owns it (and by nobody else).
    """

    __slots__ = (
        "ended",
        "endpoint",
        "entries",
        "final",
        "items",
        "iterator",
        "label",
        "model",
        "open_page",
        "open_taken",
        "outcome",
        "pages",
        "position",
        "space",
        "spec",
        "started",
    )

    def __init__(self, label: Label, spec: Source[Any], buffer: int) -> None:
        self.label = label
        self.spec: Source[Any] | None = spec  # dropped once the iterator is made
        self.iterator: AsyncPageIterator[Any] | None = None  # dropped once its run is over
        self.model: PagingModel | None = None
        self.final: PageStatistics | None = None  # the iterator's, once dropped
        self.endpoint: Endpoint = NO_ENDPOINT
        self.position: str | None = None  # token of the first page you have not received
        if isinstance(spec, AsyncPageIterator):
            self.adopt(spec)
        self.entries: deque[_Page | Ending] = deque()
        self.space = anyio.Semaphore(buffer)
        self.pages = 0
        self.items = 0
        self.started: float | None = None
        self.ended: float | None = None
        self.outcome: Outcome | None = None
        # The page merged.items() is in the middle of, and how many of its items it gave.
        self.open_page: _Page | None = None
        self.open_taken = 0

    @property
    def has_page(self) -> bool:
        return bool(self.entries)

    @property
    def settled(self) -> bool:
        return self.outcome is not None

    def adopt(self, iterator: AsyncPageIterator[Any]) -> None:
        self.iterator = iterator
        self.model = iterator.model
        self.spec = None
        self.position = iterator.resume_token
        self.endpoint = endpoint_of(iterator.client)

    def release(self) -> None:
        """The run is over: keep the iterator's statistics, let the iterator go (a fan-out
        of thousands of sources holds only the ones running)."""
        if self.iterator is not None:
            self.final = self.iterator.statistics()
            self.iterator = None

    def statistics(self) -> PageStatistics:
        if self.iterator is not None:
            return self.iterator.statistics()
        return self.final if self.final is not None else _NO_STATISTICS

    def seconds(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended if self.ended is not None else time.monotonic()) - self.started

    def snapshot(self, status: OutcomeStatus) -> Outcome:
        return Outcome(
            status=status,
            pages=self.pages,
            items=self.items,
            resume_token=self.position,
            statistics=self.statistics(),
            seconds=self.seconds(),
        )


class _Outcomes(Mapping[L, Outcome]):
    """A live, read-only view: each lookup describes the source as it is now."""

    def __init__(self, sources: Mapping[L, _Source], describe: Callable[[_Source], Outcome]):
        self._sources = sources
        self._describe = describe

    def __getitem__(self, label: L) -> Outcome:
        return self._describe(self._sources[label])

    def __iter__(self) -> Iterator[L]:
        return iter(self._sources)

    def __len__(self) -> int:
        return len(self._sources)

    def __repr__(self) -> str:
        return f"<outcomes {dict(self)!r}>"


class FanOut(Generic[L, P]):
    """Pages of many sources, merged; made by :func:`fan_out`. Enter it before iterating.

    Generic in the sources' labels and pages: ``async for`` yields ``Tagged[L, P]``.
    """

    def __init__(
        self,
        sources: Mapping[L, Source[P]],
        *,
        concurrency: int = 8,
        per_endpoint: int | None = 4,
        order: Order = "completed",
        on_error: OnError = "continue",
        skip_codes: Iterable[str] = DEFAULT_SKIP_CODES,
        buffer: int = 1,
    ) -> None:
        if not isinstance(sources, Mapping):
            raise InvalidPaginationTypeError(
                f"sources must be a mapping of label to iterator or factory, not {sources!r}"
            )
        _check_count("concurrency", concurrency)
        if per_endpoint is not None:
            _check_count("per_endpoint", per_endpoint)
        _check_count("buffer", buffer)
        _check_choice("order", order, _ORDERS)
        _check_choice("on_error", on_error, _ON_ERROR)
        self._skip_codes = _error_codes(skip_codes)
        seen: set[int] = set()
        for label, spec in sources.items():
            if isinstance(spec, AsyncPageIterator):
                if id(spec) in seen:
                    raise InvalidPaginationError(
                        f"source {label!r}: the same AsyncPageIterator is given twice; "
                        "each source needs its own"
                    )
                seen.add(id(spec))
            elif not callable(spec):
                raise InvalidPaginationTypeError(
                    f"source {label!r} must be an AsyncPageIterator or a callable returning "
                    f"one, not {spec!r}"
                )
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._on_error: OnError = on_error
        self._by_label: dict[L, _Source] = {
            label: _Source(label, spec, buffer) for label, spec in sources.items()
        }
        self._sources = list(self._by_label.values())
        self._merge: _merge.Merge[_Source] = (
            _merge.Completed()
            if order == "completed"
            else _merge.BySource(self._sources)
            if order == "source"
            else _merge.RoundRobin()
        )
        self._last_taken: _Page | None = None
        self._finished = 0
        self._failure: BaseException | None = None
        self._wakeup = anyio.Event()
        self._gates: dict[Endpoint, BackoffGate] = {}
        self._admission: Admission | None = None
        self._scope: anyio.CancelScope | None = None
        self._task_group: TaskGroup | None = None
        self._state: Literal["new", "open", "closed"] = "new"

    # -- what it knows ----------------------------------------------------------------

    @property
    def outcomes(self) -> Mapping[L, Outcome]:
        """Every source's :class:`Outcome`, in the order of ``sources``; a live view."""
        return _Outcomes(self._by_label, self._outcome)

    def statistics(self) -> PageStatistics:
        """The sum of every source iterator's :class:`~asyncpage.PageStatistics`."""
        total = PageStatistics()
        for source in self._sources:
            total = total + source.statistics()
        return total

    def _outcome(self, source: _Source) -> Outcome:
        outcome = source.outcome
        if outcome is None:
            outcome = source.snapshot("cancelled" if self._state == "closed" else "pending")
        page = source.open_page
        if page is None or source.open_taken >= page.items:
            return outcome
        # merged.items() stopped inside this page: the rest of it is still to come, and the
        # token says so to the item (botocore's own mid-page token format).
        left = page.items - source.open_taken
        status = outcome.status
        if status == "ok":
            status = "cancelled" if self._state == "closed" else "pending"
        return replace(
            outcome,
            status=status,
            items=outcome.items - left,
            resume_token=_encode(page.step.after_taking(source.open_taken)),
        )

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> Self:
        if self._state != "new":
            raise AsyncPageError("a FanOut can be entered only once; call fan_out() again")
        self._admission = Admission(self._concurrency, self._per_endpoint)
        self._scope = anyio.CancelScope()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        self._task_group = task_group
        self._state = "open"
        task_group.start_soon(self._supervise)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        task_group, self._task_group = self._task_group, None
        self._cancel()
        try:
            if task_group is not None:
                # Our tasks never raise: the body's own exception, if any, is the only one.
                # Re-raise it as it is, not wrapped in an ExceptionGroup.
                if exc is not None and isinstance(exc, anyio.get_cancelled_exc_class()):
                    await task_group.__aexit__(exc_type, exc, tb)
                else:
                    await task_group.__aexit__(None, None, None)
        finally:
            self._state = "closed"
            for source in self._sources:
                if source.ended is None and source.started is not None:
                    source.ended = time.monotonic()

    # -- running the sources ----------------------------------------------------------

    def _cancel(self) -> None:
        if self._scope is not None:
            self._scope.cancel()

    def _raise_in_consumer(self, error: BaseException) -> None:
        """Stop everything; ``async for`` raises ``error`` (the first one) as it is."""
        if self._failure is None:
            self._failure = error
        self._cancel()
        self._wake()

    async def _supervise(self) -> None:
        """Start sources as slots free up, in order, until every source has started."""
        assert self._scope is not None
        assert self._admission is not None
        admission = self._admission
        with self._scope:
            async with anyio.create_task_group() as workers:
                waiting = deque(self._sources)
                while waiting:
                    ended = admission.ended
                    await self._start_some(waiting, workers)
                    if waiting:
                        await admission.wait_for_room(ended)

    async def _start_some(self, waiting: deque[_Source], workers: TaskGroup) -> None:
        """One pass over the waiting sources, in order: start each one that may start.

        A source whose endpoint is full waits, and so does every later source of that
        endpoint (first come, first served); later sources of other endpoints go ahead.
        At most ``concurrency`` sources are looked at beyond those started, so factories
        are called shortly before their source can start, not all at once.
        """
        admission = self._admission
        assert admission is not None
        parked: list[_Source] = []
        full: set[Endpoint] = set()
        while waiting and admission.has_room and len(parked) < self._concurrency:
            source = waiting.popleft()
            if source.model is None and not await self._make(source):
                continue  # the factory failed: already settled
            endpoint = source.endpoint
            if endpoint in full or not admission.has_room_at(endpoint):
                full.add(endpoint)
                parked.append(source)
                continue
            admission.start(source, endpoint)
            self._start(source, workers)
        waiting.extendleft(reversed(parked))

    async def _make(self, source: _Source) -> bool:
        """Call the source's factory; False (and the source settled) if it fails."""
        factory = cast(SourceFactory | AsyncSourceFactory, source.spec)
        try:
            made: object = factory()
            if isinstance(made, Awaitable):
                made = await made
        except Exception as exc:
            source.started = source.ended = time.monotonic()
            if not is_service_error(exc):
                self._raise_in_consumer(exc)
                return False
            self._end(source, Ending("failed", exc))
            return False
        if not isinstance(made, AsyncPageIterator):
            self._raise_in_consumer(
                TypeError(
                    f"the factory of source {source.label!r} returned {made!r}, "
                    "not an AsyncPageIterator"
                )
            )
            return False
        source.adopt(made)
        return True

    def _start(self, source: _Source, workers: TaskGroup) -> None:
        iterator = source.iterator
        assert iterator is not None
        if iterator.gate is None:
            iterator.gate = self._gates.setdefault(source.endpoint, BackoffGate())
        source.started = time.monotonic()
        self._merge.started(source)
        workers.start_soon(self._run, source)
        self._wake()

    async def _run(self, source: _Source) -> None:
        admission = self._admission
        assert admission is not None
        try:
            # The source's span (when traced) is its listing's, ended with its verdict.
            with _tracing.source(source.label) as traced:
                end = await self._drain(source, traced)
                if end is not None:
                    traced.settle(end.status, end.error, end.reason)
        finally:
            source.ended = time.monotonic()
            source.release()
            admission.end(source, source.endpoint)
        if end is not None:
            self._end(source, end)

    async def _drain(self, source: _Source, traced: _tracing.SourceTrace) -> Ending | None:
        """Move the source's pages into its buffer; how it ended (cancellation propagates).

        ``None``: it met a bug, which the consumer will raise.
        """
        iterator = source.iterator
        assert iterator is not None
        delivered = 0
        try:
            # This task is the source's read-ahead (its buffer is the bound): the iterator
            # fetches on demand, with no task or stream of its own.
            steps = iterator.steps(prefetch=0)
            while True:
                # Room first, then the page: a fetched page is never held waiting.
                await source.space.acquire()
                try:
                    step = await anext(steps)
                except StopAsyncIteration:
                    source.space.release()
                    break
                self._push(source, _Page(step, _encode(step.after)))
                delivered += 1
        except Exception as exc:
            if not is_service_error(exc):
                # A bug: raised in the consumer, and the source's span ends failed.
                traced.settle("failed", exc)
                self._raise_in_consumer(exc)
                return None
            return judge(
                exc,
                delivered=delivered,
                skip_codes=self._skip_codes,
                resume_token=iterator.resume_token,
            )
        return OK

    # -- the buffer between sources and consumer --------------------------------------

    def _push(self, source: _Source, page: _Page) -> None:
        source.entries.append(page)
        self._merge.arrived(source)
        self._wake()

    def _end(self, source: _Source, end: Ending) -> None:
        if source.outcome is not None:
            return  # settled "ok" when you took its last page
        if source.entries:
            source.entries.append(end)  # settled once the pages before it are taken
        else:
            self._settle(source, end)

    def _settle(self, source: _Source, end: Ending) -> None:
        """Record the outcome of a source whose every page the consumer has taken."""
        resume_token = end.resume_token if end.status != "ok" else source.position
        source.outcome = Outcome(
            status=end.status,
            pages=source.pages,
            items=source.items,
            error=end.error,
            resume_token=resume_token,
            reason=end.reason,
            statistics=source.statistics(),
            seconds=source.seconds(),
        )
        self._finished += 1
        self._merge.settled(source)
        if end.status == "failed" and self._on_error == "raise" and end.error is not None:
            self._raise_in_consumer(end.error)
        self._wake()

    def _take(self, source: _Source) -> _Page:
        entry = source.entries.popleft()
        assert isinstance(entry, _Page)
        self._last_taken = entry
        source.space.release()
        source.pages += 1
        source.items += entry.items
        source.position = entry.after
        if entry.step.last:
            # Every page is received: the source is done, whether or not its task has
            # noticed the end yet (you may leave right now, and must not be told to start
            # this source again).
            self._settle(source, OK)
        elif source.entries:
            end = source.entries[0]
            if isinstance(end, Ending):
                source.entries.popleft()
                self._settle(source, end)
        return entry

    def _wake(self) -> None:
        self._wakeup.set()

    # -- consuming --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state == "new":
            raise AsyncPageError(
                "a fan-out runs its sources in background tasks, which need an owner: "
                "use `async with fan_out(...) as merged: async for page in merged: ...`"
            )
        if self._state == "closed":
            raise AsyncPageError("this FanOut is closed; call fan_out() again to start over")

    async def _next(self) -> tuple[_Source, _Page]:
        """The next page in order, with its source; StopAsyncIteration after the last."""
        self._check_open()
        await anyio.lowlevel.checkpoint()
        while True:
            if self._failure is not None:
                raise self._failure
            source = self._merge.pick()
            if source is not None:
                return source, self._take(source)
            if self._finished == len(self._sources):
                raise StopAsyncIteration
            self._wakeup = anyio.Event()
            await self._wakeup.wait()

    def __aiter__(self) -> Self:
        self._check_open()
        return self

    async def __anext__(self) -> Tagged[L, P]:
        source, page = await self._next()
        # The label is a key of ``sources``; the page is what the stubs say it is.
        return Tagged(cast(L, source.label), cast(P, page.step.page))

    def items(self) -> AsyncIterator[Tagged[L, Any]]:
        """Every item under each source's primary result key, tagged with its source.

        Raises:
            InvalidExpressionError: a source's operation has no result key (when its first
                page arrives).
        """
        self._check_open()
        return _Flat(self._next, None)

    def item_values(self) -> AsyncIterator[Any]:
        """The items of :meth:`items` without their tags: the same items in the same order,
        the outcomes' tokens as exact, with no :class:`Tagged` made per item (for a
        consumer that does not need the source, over many small items).
        """
        self._check_open()
        return _Flat(self._next, None, tag=False)

    def search(self, expression: str) -> AsyncIterator[Tagged[L, Any]]:
        """A JMESPath ``expression`` applied to every page, flattened as botocore's ``search()``.

        Raises:
            InvalidExpressionError: the expression does not compile (nothing is sent).
        """
        select = compile_expression(expression).search
        self._check_open()
        return _Flat(self._next, select)


class _Flat(Generic[L]):
    """Items or search results of a fan-out, one page after another, each tagged.

    For items, the source's open page and how many of its items were given are kept on
    the source, so its outcome token is exact to the item.
    """

    __slots__ = ("_buffer", "_index", "_next", "_select", "_source", "_tag")

    def __init__(
        self,
        next_page: Callable[[], Awaitable[tuple[_Source, _Page]]],
        select: Callable[[Any], Any] | None,
        *,
        tag: bool = True,
    ) -> None:
        self._next = next_page
        self._select = select
        self._tag = tag
        self._source: _Source | None = None
        self._buffer: list[Any] = []
        self._index = 0

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:  # Tagged[L, Any], or the bare item untagged
        while self._index >= len(self._buffer):
            source, page = await self._next()
            self._source = source
            self._buffer = self._values(source, page)
            self._index = 0
            if self._select is None:
                source.open_page, source.open_taken = page, 0
        current = self._source
        assert current is not None
        value = self._buffer[self._index]
        self._index += 1
        if self._select is None:
            current.open_taken = self._index
        if not self._tag:
            return value
        return Tagged(cast(L, current.label), value)  # a key of ``sources``

    def _values(self, source: _Source, page: _Page) -> list[Any]:
        if self._select is not None:
            result = self._select(page.step.page)
            return result if isinstance(result, list) else [result]
        model = source.model
        assert model is not None
        if not model.result_keys:
            raise InvalidExpressionError(
                f"source {source.label!r}: {model.py_name} has no result key to take items from"
            )
        return model.items_of(page.step.page)

    async def aclose(self) -> None:
        await anyio.lowlevel.checkpoint()


def _encode(cursor: Cursor | None) -> str | None:
    return None if cursor is None else cursor.encode()


def _check_count(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidPaginationTypeError(f"{name} must be an int >= 1, not {value!r}")
    if value < 1:
        raise InvalidPaginationError(f"{name} must be an int >= 1, not {value!r}")


def _check_choice(name: str, value: object, choices: tuple[str, ...]) -> None:
    if not isinstance(value, str):
        raise InvalidPaginationTypeError(f"{name} must be one of {choices}, not {value!r}")
    if value not in choices:
        raise InvalidPaginationError(f"{name} must be one of {choices}, not {value!r}")


def _error_codes(skip_codes: object) -> frozenset[str]:
    what = f"skip_codes must be a collection of error codes (str), not {skip_codes!r}"
    if isinstance(skip_codes, str) or not isinstance(skip_codes, Iterable):
        raise InvalidPaginationTypeError(what)
    try:
        codes = frozenset(skip_codes)
    except TypeError:  # an unhashable member
        raise InvalidPaginationTypeError(what) from None
    if not all(isinstance(code, str) for code in codes):
        raise InvalidPaginationTypeError(what)
    return codes
