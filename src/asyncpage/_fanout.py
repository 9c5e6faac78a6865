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
(service, region), since AWS rate limits are per account, region and API. Sources start
in the order of ``sources`` as slots free up; one whose endpoint is full waits (and so do
the later sources of that endpoint), while later sources of other endpoints go ahead. A
running source keeps its slots until it ends. A factory is called when its source is
next in line. Sources with the same (service, region) share one
:class:`~asyncpage.BackoffGate` (set as ``it.gate`` unless you set one): when one of them
is throttled, all of them back off.

Orders. ``order="completed"`` yields pages as they arrive from any source.
``order="source"`` yields every page of the first source, then of the second, and so on,
exactly as a loop over the sources would (later sources are still fetched ahead, within
their buffer). ``order="round_robin"`` takes one page from each running source in turn.

Memory. Each source holds at most ``buffer`` pages the consumer has not taken, plus its
iterator's ``prefetch``: a slow consumer slows the producers, nothing queues without bound.

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

Errors. A failure is delivered in order, after every page of that source fetched before
it, so that its ``resume_token`` loses nothing. With ``on_error="continue"`` (the
default) it only marks the outcome. With ``on_error="raise"`` the first one is raised
from ``async for`` itself (the :class:`~asyncpage.PageFetchError`, never an
``ExceptionGroup``) and every other source is cancelled, as soon as you have received
the (at most ``buffer``) pages of that source fetched before the failure: at once if
its first page failed; with ``"source"``, pages of a later source wait for their turn,
and so does a failure behind them. The other outcomes then say where each source
stopped. Skips never raise. Leaving the ``async with`` in any way (end, ``break``, an exception,
cancellation) cancels every request in flight and leaves no task behind.

Resume tokens are exact to the item with :meth:`FanOut.items`: leaving in the middle of a
page gives a token for the rest of that page (botocore's own mid-page format). With
:meth:`FanOut.search` they count whole pages: a page counts as received once its first
value has been yielded.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Hashable,
    Iterable,
    Iterator,
    Mapping,
)
from dataclasses import dataclass, field, replace
from types import TracebackType
from typing import Any, Final, Generic, Literal, Self, cast, get_args

import anyio
import anyio.lowlevel
from anyio.abc import TaskGroup
from typing_extensions import TypeVar

from . import _tracing
from ._cursor import Cursor
from ._errors import (
    AsyncPageError,
    InvalidExpressionError,
    InvalidPaginationError,
    InvalidPaginationTypeError,
    PageFetchError,
)
from ._iterator import AsyncPageIterator, PageStatistics, compile_expression
from ._retry import BackoffGate, endpoint_missing, error_code
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
#: (service name, region name) of a source's client: what AWS rate-limits together.
Endpoint = tuple[str | None, str | None]
Order = Literal["completed", "source", "round_robin"]
OnError = Literal["continue", "raise"]
OutcomeStatus = Literal["ok", "skipped", "failed", "cancelled", "pending"]

#: Error codes that mean "this source cannot run in this account or region", not "it broke".
#: A frozenset: extend it with ``DEFAULT_SKIP_CODES | {"MyCode"}``.
DEFAULT_SKIP_CODES: Final[frozenset[str]] = frozenset(
    {
        "AccessDenied",
        "AccessDeniedException",
        "AuthFailure",
        "AuthorizationError",
        "InvalidClientTokenId",
        "OptInRequired",
        "SubscriptionRequiredException",
        "UnauthorizedOperation",
        "UnrecognizedClientException",
    }
)

# botocore's errors for an endpoint that does not exist: the service is not offered in
# that region (there is no DNS name to connect to) or botocore knows no endpoint for it.
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


@dataclass(frozen=True, slots=True, kw_only=True)
class Outcome:
    """How one source of a fan-out ended (or how far it has got, while ``"pending"``)."""

    status: OutcomeStatus
    pages: int = 0
    """Pages of this source you received."""
    items: int = 0
    """Items under the primary result key in those pages."""
    error: BaseException | None = None
    """Why it failed or was skipped: usually a :class:`~asyncpage.PageFetchError`."""
    resume_token: str | None = None
    """Where to continue: ``PaginationConfig={"StartingToken": resume_token}``."""
    reason: str | None = None
    """For ``"skipped"``: the error code (or botocore error name) that caused the skip."""
    statistics: PageStatistics = field(default_factory=PageStatistics)
    """The source iterator's own statistics (requests, retries, throttles...)."""
    seconds: float = 0.0
    """Wall time from the source's start to its end (or to now, while it runs)."""


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


@dataclass(slots=True)
class _End:
    status: Literal["ok", "skipped", "failed"]
    error: BaseException | None = None
    resume_token: str | None = None
    reason: str | None = None


class _Source:
    """One source's state: its iterator once made, its buffer, and what you have received."""

    def __init__(self, label: Label, spec: Source[Any], buffer: int) -> None:
        self.label = label
        self.spec = spec
        self.iterator: AsyncPageIterator[Any] | None = None
        self.endpoint: Endpoint = (None, None)
        self.position: str | None = None  # token of the first page you have not received
        if isinstance(spec, AsyncPageIterator):
            self.adopt(spec)
        self.entries: deque[_Page | _End] = deque()
        self.space = anyio.Semaphore(buffer)
        self.pages = 0
        self.items = 0
        self.started: float | None = None
        self.ended: float | None = None
        self.outcome: Outcome | None = None
        # The page merged.items() is in the middle of, and how many of its items it gave.
        self.open_page: _Page | None = None
        self.open_taken = 0

    def adopt(self, iterator: AsyncPageIterator[Any]) -> None:
        self.iterator = iterator
        self.position = iterator.resume_token
        meta = getattr(iterator.client, "meta", None)
        self.endpoint = (
            getattr(getattr(meta, "service_model", None), "service_name", None),
            getattr(meta, "region_name", None),
        )

    def statistics(self) -> PageStatistics:
        return _NO_STATISTICS if self.iterator is None else self.iterator.statistics()

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

    def __init__(self, owner: FanOut[L, Any]) -> None:
        self._owner = owner

    def __getitem__(self, label: L) -> Outcome:
        return self._owner._outcome(self._owner._by_label[label])

    def __iter__(self) -> Iterator[L]:
        return iter(self._owner._by_label)

    def __len__(self) -> int:
        return len(self._owner._by_label)

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
        self._order: Order = order
        self._on_error: OnError = on_error
        self._by_label: dict[L, _Source] = {
            label: _Source(label, spec, buffer) for label, spec in sources.items()
        }
        self._sources = list(self._by_label.values())
        self._last_taken: _Page | None = None
        self._finished = 0
        self._arrivals: deque[_Source] = deque()  # "completed": one entry per buffered page
        self._rotation: deque[_Source] = deque()  # "round_robin": running sources, next first
        self._current = 0  # "source": index of the source being delivered
        self._failure: BaseException | None = None
        self._wakeup = anyio.Event()
        self._gates: dict[Endpoint, BackoffGate] = {}
        self._running = 0
        self._busy: Counter[Endpoint] = Counter()
        self._freed = 0  # how many sources have ended, to notice one ending mid-pass
        self._slot_freed = anyio.Event()
        self._scope: anyio.CancelScope | None = None
        self._task_group: TaskGroup | None = None
        self._state: Literal["new", "open", "closed"] = "new"

    # -- what it knows ----------------------------------------------------------------

    @property
    def outcomes(self) -> Mapping[L, Outcome]:
        """Every source's :class:`Outcome`, in the order of ``sources``; a live view."""
        return _Outcomes(self)

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

    async def _supervise(self) -> None:
        """Start sources as slots free up, in order, until every source has started."""
        assert self._scope is not None
        with self._scope:
            async with anyio.create_task_group() as workers:
                waiting = deque(self._sources)
                while waiting:
                    freed = self._freed
                    await self._start_some(waiting, workers)
                    if waiting and freed == self._freed:  # no slot freed during the pass
                        self._slot_freed = anyio.Event()
                        await self._slot_freed.wait()

    async def _start_some(self, waiting: deque[_Source], workers: TaskGroup) -> None:
        """One pass over the waiting sources, in order: start each one that may start.

        A source whose endpoint is full waits, and so does every later source of that
        endpoint (first come, first served); later sources of other endpoints go ahead.
        At most ``concurrency`` sources are looked at beyond those started, so factories
        are called shortly before their source can start, not all at once.
        """
        parked: list[_Source] = []
        full: set[Endpoint] = set()
        while waiting and self._running < self._concurrency and len(parked) < self._concurrency:
            source = waiting.popleft()
            if source.iterator is None and not await self._make(source):
                continue  # the factory failed: already settled
            endpoint = source.endpoint
            if endpoint in full or (
                self._per_endpoint is not None and self._busy[endpoint] >= self._per_endpoint
            ):
                full.add(endpoint)
                parked.append(source)
                continue
            self._start(source, workers)
        waiting.extendleft(reversed(parked))

    async def _make(self, source: _Source) -> bool:
        """Call the source's factory; False (and the source settled as failed) if it fails."""
        try:
            factory = cast(SourceFactory[Any] | AsyncSourceFactory[Any], source.spec)
            made: object = factory()
            if isinstance(made, Awaitable):
                made = await made
            if not isinstance(made, AsyncPageIterator):
                raise TypeError(
                    f"the factory of source {source.label!r} returned {made!r}, "
                    "not an AsyncPageIterator"
                )
        except Exception as exc:
            source.started = source.ended = time.monotonic()
            self._end(source, _End("failed", exc))
            return False
        source.adopt(made)
        return True

    def _start(self, source: _Source, workers: TaskGroup) -> None:
        iterator = source.iterator
        assert iterator is not None
        if iterator.gate is None:
            iterator.gate = self._gates.setdefault(source.endpoint, BackoffGate())
        self._running += 1
        self._busy[source.endpoint] += 1
        source.started = time.monotonic()
        if self._order == "round_robin":
            self._rotation.append(source)
        workers.start_soon(self._run, source)
        self._wake()

    async def _run(self, source: _Source) -> None:
        try:
            with _tracing.source(source.label) as traced:
                end = await self._drain(source)
                traced.settle(end.status, end.error, end.reason)
        finally:
            source.ended = time.monotonic()
            self._running -= 1
            self._busy[source.endpoint] -= 1
            self._freed += 1
            self._slot_freed.set()
        self._end(source, end)

    async def _drain(self, source: _Source) -> _End:
        """Move the source's pages into its buffer; how it ended (cancellation propagates)."""
        iterator = source.iterator
        assert iterator is not None
        delivered = 0
        try:
            async with iterator:
                steps = iterator.steps()
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
            return self._judge(exc, iterator, delivered)
        return _End("ok")

    def _judge(self, exc: Exception, iterator: AsyncPageIterator[Any], delivered: int) -> _End:
        resume_token = getattr(exc, "resume_token", iterator.resume_token)
        if delivered:
            # "Not here" is a verdict about a source that never ran. One that delivered
            # pages and then met AccessDenied is a partial listing: a failure to resume.
            return _End("failed", exc, resume_token)
        cause = exc.error if isinstance(exc, PageFetchError) else exc
        code = error_code(cause)
        if code is not None and code in self._skip_codes:
            return _End("skipped", exc, resume_token, code)
        if endpoint_missing(cause):
            return _End("skipped", exc, resume_token, type(cause).__name__)
        return _End("failed", exc, resume_token)

    # -- the buffer between sources and consumer --------------------------------------

    def _push(self, source: _Source, page: _Page) -> None:
        source.entries.append(page)
        if self._order == "completed":
            self._arrivals.append(source)
        self._wake()

    def _end(self, source: _Source, end: _End) -> None:
        if source.outcome is not None:
            return  # settled "ok" when you took its last page
        if source.entries:
            source.entries.append(end)  # settled once the pages before it are taken
        else:
            self._settle(source, end)

    def _settle(self, source: _Source, end: _End) -> None:
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
        if source in self._rotation:
            self._rotation.remove(source)
        if end.status == "failed" and self._on_error == "raise" and self._failure is None:
            self._failure = end.error
            self._cancel()
        self._wake()

    def _take(self, source: _Source) -> dict[str, Any]:
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
            self._settle(source, _End("ok"))
        elif source.entries:
            end = source.entries[0]
            if isinstance(end, _End):
                source.entries.popleft()
                self._settle(source, end)
        return entry.step.page

    def _wake(self) -> None:
        self._wakeup.set()

    def _pick(self) -> _Source | None:
        """The source whose page is next in ``order``, or None if it is not here yet."""
        if self._order == "completed":
            return self._arrivals.popleft() if self._arrivals else None
        if self._order == "source":
            sources = self._sources
            while self._current < len(sources) and sources[self._current].outcome is not None:
                self._current += 1
            if self._current == len(sources):
                return None
            source = sources[self._current]
            return source if source.entries else None
        if not self._rotation:
            return None
        source = self._rotation[0]
        if not source.entries:
            return None
        self._rotation.rotate(-1)
        return source

    # -- consuming --------------------------------------------------------------------

    def _check_open(self) -> None:
        if self._state == "new":
            raise AsyncPageError(
                "a fan-out runs its sources in background tasks, which need an owner: "
                "use `async with fan_out(...) as merged: async for page in merged: ...`"
            )
        if self._state == "closed":
            raise AsyncPageError("this FanOut is closed; call fan_out() again to start over")

    def __aiter__(self) -> Self:
        self._check_open()
        return self

    async def __anext__(self) -> Tagged[L, P]:
        self._check_open()
        await anyio.lowlevel.checkpoint()
        while True:
            if self._failure is not None:
                raise self._failure
            source = self._pick()
            if source is not None:
                # The label is a key of ``sources``; the page is what the stubs say it is.
                return Tagged(cast(L, source.label), cast(P, self._take(source)))
            if self._finished == len(self._sources):
                raise StopAsyncIteration
            self._wakeup = anyio.Event()
            await self._wakeup.wait()

    def items(self) -> AsyncIterator[Tagged[L, Any]]:
        """Every item under each source's primary result key, tagged with its source.

        Raises:
            InvalidExpressionError: a source's operation has no result key (when its first
                page arrives).
        """
        return _Flat(self, None)

    def search(self, expression: str) -> AsyncIterator[Tagged[L, Any]]:
        """A JMESPath ``expression`` applied to every page, flattened as botocore's ``search()``.

        Raises:
            InvalidExpressionError: the expression does not compile (nothing is sent).
        """
        return _Flat(self, compile_expression(expression).search)


class _Flat(Generic[L]):
    """Items or search results of a fan-out, one page after another, each tagged."""

    def __init__(self, owner: FanOut[L, Any], select: Callable[[Any], Any] | None) -> None:
        self._owner = owner
        self._select = select
        self._label: L | None = None
        self._buffer: list[Any] = []
        self._index = 0

    def __aiter__(self) -> Self:
        self._owner._check_open()
        return self

    async def __anext__(self) -> Tagged[L, Any]:
        while self._index >= len(self._buffer):
            tagged = await self._owner.__anext__()
            self._label = tagged.source
            self._buffer = self._values(tagged)
            self._index = 0
            if self._select is None:
                source = self._owner._by_label[tagged.source]
                source.open_page, source.open_taken = self._owner._last_taken, 0
        value = self._buffer[self._index]
        self._index += 1
        label = cast(L, self._label)  # set with the first page
        if self._select is None:
            self._owner._by_label[label].open_taken = self._index
        return Tagged(label, value)

    def _values(self, tagged: Tagged[L, Any]) -> list[Any]:
        if self._select is not None:
            result = self._select(tagged.value)
            return result if isinstance(result, list) else [result]
        iterator = self._owner._by_label[tagged.source].iterator
        assert iterator is not None
        model = iterator.model
        if not model.result_keys:
            raise InvalidExpressionError(
                f"source {tagged.source!r}: {model.py_name} has no result key to take items from"
            )
        return model.items_of(tagged.value)

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
