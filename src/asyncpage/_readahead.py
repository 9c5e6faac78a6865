"""Read-ahead: one iteration's steps, fetched up to ``ahead`` pages before they are asked for.

A :class:`StepReader` runs a :class:`~asyncpage._walk.Walk` in a producer task that sends
each :class:`~asyncpage._walk.Step` (or the error that ended the walk) through a memory
object stream of ``ahead - 1`` slots: with the step the consumer holds and the one being
fetched, at most ``ahead + 1`` pages are alive.

Who owns the producer:

* Inside ``async with`` an iterator, its task group: leaving the block cancels it.
* In a plain ``async for`` nothing does, so the producer is a task of its own (an asyncio
  task, or a trio system task) whose life is tied to the reader: the producer holds no
  reference to it, and when the reader is freed, which CPython does the moment the loop
  that holds it ends (``break``, ``return``, an exception in the body), a finalizer
  cancels the producer (and the request in flight) and closes the stream. A reader that
  the loop's frame still holds through a reference cycle (rare: a traceback kept in a
  variable) is freed by the next garbage collection.
* Either way, a consumer cancelled while it waits for a page stops the producer at once
  and waits for it to finish before the cancellation goes on, so cancelling a loop
  (``anyio.fail_after``, a task group's cancellation, a client disconnect) leaves nothing
  running when the cancelled code returns.

A reader whose producer was stopped is still usable: it hands out the pages already
fetched, then fetches on demand from where the walk stands (a fetch that was interrupted
did not move the walk), so nothing is lost or repeated.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import weakref
from collections import deque
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
import sniffio
from anyio.abc import TaskGroup
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from ._errors import AsyncPageError
from ._walk import Step, Walk

__all__ = ["StepReader"]

Item = Step | BaseException

#: Producers running without a task group, held until they finish: asyncio keeps only weak
#: references to tasks, and a pending task that nobody holds can be destroyed mid-request.
_detached: set[asyncio.Task[None]] = set()


class _Channel:
    """What the producer and its reader share (the producer never sees the reader)."""

    __slots__ = ("done", "finished", "leftover", "receive", "scope", "soon")

    def __init__(self, receive: MemoryObjectReceiveStream[Item]) -> None:
        self.receive = receive
        self.scope = anyio.CancelScope()
        self.done = anyio.Event()
        #: The walk ended (its last step or its error was sent): no more to come.
        self.finished = False
        #: A step or error the producer had in hand when it was stopped.
        self.leftover: deque[Item] = deque()
        #: Runs a callable in the event loop's thread, from any thread (for the finalizer).
        self.soon = _call_soon_threadsafe()

    def stop(self) -> None:
        self.scope.cancel()
        self.receive.close()


class StepReader:
    """The steps of one walk, read up to ``ahead`` pages ahead (``ahead=0``: on demand)."""

    __slots__ = (
        "__weakref__",
        "_ahead",
        "_channel",
        "_closed",
        "_on_prefetch",
        "_pending",
        "_task_group",
        "_walk",
    )

    def __init__(
        self,
        walk: Walk,
        *,
        ahead: int,
        task_group: TaskGroup | None,
        on_prefetch: Callable[[], None],
    ) -> None:
        self._walk = walk
        self._ahead = ahead
        self._task_group = task_group
        self._on_prefetch = on_prefetch
        self._channel: _Channel | None = None
        self._pending: deque[Item] = deque()
        self._closed = False

    async def next(self) -> Step | None:
        """The next step, or ``None`` once the walk is complete (or the reader closed)."""
        while True:
            if self._closed:
                return None
            if self._pending:
                item = self._pending.popleft()
                if isinstance(item, BaseException):
                    raise item
                return item
            if self._channel is None and self._ahead > 0:
                self._channel = self._start()
            channel = self._channel
            if channel is None:
                return await self._walk.next_page()
            try:
                item = await channel.receive.receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError):
                if channel.finished:
                    return None
                # The producer was stopped (below): the step it had in hand, if any, then
                # on demand from where the walk stands.
                await channel.done.wait()
                channel.receive.close()
                self._pending.extend(channel.leftover)
                self._channel, self._ahead = None, 0
                continue
            except BaseException:
                # Cancelled (or interrupted) while waiting: the loop is being left, so stop
                # reading ahead now rather than whenever the reader is freed.
                channel.scope.cancel()
                with anyio.CancelScope(shield=True):
                    await channel.done.wait()
                raise
            if isinstance(item, BaseException):
                raise item
            return item

    def _start(self) -> _Channel:
        send, receive = anyio.create_memory_object_stream[Item](self._ahead - 1)
        channel = _Channel(receive)
        args = (self._walk, channel, send, self._on_prefetch)
        if self._task_group is not None:
            self._task_group.start_soon(_produce, *args)
        else:
            _spawn_detached(_produce, args)
        finalizer = weakref.finalize(self, _abandon, channel)
        finalizer.atexit = False
        return channel

    def close(self) -> None:
        """Stop reading ahead (cancelling the request in flight); ``next()`` gives ``None``."""
        self._closed = True
        if self._channel is not None:
            self._channel.stop()

    async def aclose(self) -> None:
        """:meth:`close`, then wait until the producer has finished."""
        self.close()
        if self._channel is not None:
            with anyio.CancelScope(shield=True):
                await self._channel.done.wait()
        else:
            await anyio.lowlevel.checkpoint()


async def _produce(
    walk: Walk,
    channel: _Channel,
    send: MemoryObjectSendStream[Item],
    on_prefetch: Callable[[], None],
) -> None:
    try:
        with channel.scope, send:
            item: Item | None = None
            try:
                first = True
                while True:
                    item = None
                    step = await walk.next_page()
                    if step is None:
                        channel.finished = True
                        return
                    if not first:
                        on_prefetch()
                    first = False
                    item = step
                    await send.send(step)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                if item is not None:
                    channel.leftover.append(item)
            except Exception as exc:
                # Errors are delivered in order, after every step fetched before them.
                channel.finished = True
                try:
                    await send.send(exc)
                except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                    channel.leftover.append(exc)
            except BaseException:
                if item is not None:  # cancelled while handing it over
                    channel.leftover.append(item)
                raise
    finally:
        channel.done.set()


def _abandon(channel: _Channel) -> None:
    """The reader is gone: stop its producer, from the event loop's thread."""
    try:
        channel.soon(channel.stop)
    except RuntimeError:  # the event loop is closed: the producer ended with it
        with contextlib.suppress(Exception):
            channel.receive.close()


def _spawn_detached(fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
    library = sniffio.current_async_library()
    if library == "asyncio":
        task = asyncio.get_running_loop().create_task(fn(*args))
        _detached.add(task)
        task.add_done_callback(_detached.discard)
    elif library == "trio":
        import trio

        trio.lowlevel.spawn_system_task(fn, *args, context=contextvars.copy_context())
    else:  # pragma: no cover - anyio supports only these two
        raise AsyncPageError(
            f"read-ahead outside `async with` is not supported on {library}; "
            "use `async with asyncpage.paginate(...) as pages:` or prefetch=0"
        )


def _call_soon_threadsafe() -> Callable[[Callable[[], None]], object]:
    library = sniffio.current_async_library()
    if library == "trio":
        import trio

        return trio.lowlevel.current_trio_token().run_sync_soon
    return asyncio.get_running_loop().call_soon_threadsafe
