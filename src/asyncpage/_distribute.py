"""The inventory beyond one process: shards of sources, tasks on workers, one coordinator.

``asyncpage inventory --workers N`` and ``--dask ADDRESS`` run the same code: a
:class:`Coordinator` in the main process, written against ``concurrent.futures``
executors (a ``ProcessPoolExecutor`` of N processes, :class:`ProcessWorkers`; or a Dask
client's executor, :class:`DaskWorkers`), sending :class:`~asyncpage._tasks.Task` s.

* **Shards by endpoint.** Every source of one (account, service, region) is in the same
  shard (:func:`plan_shards`), and at most one task per shard is in flight, so
  ``--per-endpoint`` and the backoff gate that sources of one endpoint share hold exactly
  as in one process. Shards are balanced by source count, a few per worker.
* **Limits split, never multiplied.** At most one task per worker slot runs (as many
  again wait in the executor's queue), and each gets ``max(1, concurrency // slots)`` sources
  at once.
* **Exactly once.** A task lists its shard from the tokens the coordinator committed last,
  for a second or so, and returns the rows and each source's next token. The coordinator
  commits a task's result, every page of it and every token, in one SQLite transaction
  (:meth:`~asyncpage._store.Store.commit_pages`), then writes its JSON lines, then sends
  the shard's next task from the new tokens. A task lost with its worker (SIGKILL, a lost
  machine) has committed nothing: it is sent again from the same tokens (a dead worker
  process is replaced first; Dask reschedules lost tasks by itself, and a task it gives up
  on comes back here). So no page is stored twice or skipped, and ``--resume`` after a crash
  of the coordinator itself continues from the store as with one process.

The coordinator feeds the same :class:`~asyncpage._inventory.SourceState` s to the
progress display and the summary as :class:`~asyncpage._inventory.Inventory` does. It
is the only writer of its per-source records.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import gc
import os
import queue
import signal
import threading
import time
import weakref
from collections import Counter, deque
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from typing import Any, Final, Protocol

import anyio
import anyio.to_thread
from jmespath.parser import ParsedResult

from . import _forkserver
from ._inventory import SourceKey, SourceState, Status, Target, record_head, settled_before
from ._iterator import PageStatistics
from ._retry import Retry
from ._store import SourceId, SourcePages, Store, StoredSource, encode_item
from ._tasks import (
    UNFINISHED,
    Connection,
    ListingSpec,
    Settings,
    SourceSpec,
    Task,
    TaskResult,
    run_task,
    warm,
)

__all__ = [
    "Coordinator",
    "DaskWorkers",
    "ProcessWorkers",
    "Workers",
    "plan_shards",
]

#: Shards per worker slot: enough to balance uneven shards, few enough to keep tasks full.
SHARDS_PER_SLOT: Final = 4
#: A shard whose task is lost this many times in a row fails (its sources keep their token).
MAX_LOSSES: Final = 3
#: A shard's next task goes to the process of its last one while that one has fewer tasks
#: than this (one running, one queued), else to the least busy (ProcessWorkers).
AFFINITY_DEPTH: Final = 2
_POLL_SECONDS: Final = 0.5


class Workers(Protocol):
    """Where tasks run: a ``concurrent.futures`` executor and what a lost task looks like."""

    @property
    def slots(self) -> int:
        """Tasks that run at once (worker processes, or Dask worker threads)."""
        ...

    def submit(self, task: Task) -> Future[TaskResult]: ...

    def lost(self, future: Future[TaskResult], error: BaseException) -> bool:
        """True if ``future`` failed because its worker went away (send the task again)."""
        ...

    def close(self, *, interrupted: bool) -> None: ...


def _start_worker(
    services: tuple[str, ...], profile: str | None, environ: dict[str, str], started: Any
) -> None:
    # Ctrl-C on a terminal reaches the whole process group: the coordinator handles it,
    # the workers' tasks are cancelled with it.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Perhaps forked from a server started with an earlier pool: the environment of this
    # pool's moment, as a spawned process would have it (multiprocessing sets the directory).
    os.environ.clear()
    os.environ.update(environ)
    warm(services, profile)
    # What it holds now (modules, models) is never garbage: out of every full collection.
    gc.freeze()
    started.put(os.getpid())


class ProcessWorkers:
    """``processes`` worker processes (a ``ProcessPoolExecutor`` of one each), replaced if one dies.

    On Linux they are forked from multiprocessing's forkserver, which has imported
    asyncpage (and aiobotocore) once; elsewhere they are spawned, each importing them
    (about 0.3 s of CPU; see benchmarks/README.md). Either way each starts with the
    environment of the moment the pool is made and the working directory of the moment
    it starts, as a user expects of the credentials in the environment. As it starts,
    each also loads the service models of ``services`` (with ``profile``'s data path),
    so that its first task does not.

    A shard's tasks go to the process that ran its last one while that process has fewer
    than :data:`AFFINITY_DEPTH` tasks (running or queued), else to the one with the fewest:
    a process keeps the clients of the endpoints it listed (5 ms of CPU each to make), so
    a shard that stays put does not make them again. One process that dies breaks only
    its own tasks.
    """

    def __init__(
        self, processes: int, *, services: Sequence[str] = (), profile: str | None = None
    ) -> None:
        self._processes = processes
        self._context = _forkserver.context()
        #: Each worker process puts its pid here once it has started (see wait_started).
        self._started = self._context.Queue()
        self._initargs = (tuple(services), profile, dict(os.environ), self._started)
        self._executors = [self._new() for _ in range(processes)]
        self._starting: threading.Thread | None = None
        #: The executor (and its index) each future in flight was sent to.
        self._sent_to: weakref.WeakKeyDictionary[
            Future[TaskResult], tuple[int, concurrent.futures.ProcessPoolExecutor]
        ] = weakref.WeakKeyDictionary()
        #: The executor each shard's last task went to.
        self._home: dict[int, int] = {}

    @property
    def slots(self) -> int:
        return self._processes

    def _new(self) -> concurrent.futures.ProcessPoolExecutor:
        return concurrent.futures.ProcessPoolExecutor(
            1, mp_context=self._context, initializer=_start_worker, initargs=self._initargs
        )

    def _renew(self, index: int, broken: concurrent.futures.ProcessPoolExecutor) -> None:
        """A new executor in place of ``broken``, once (every task on it fails the same way)."""
        if self._executors[index] is broken:
            broken.shutdown(wait=False, cancel_futures=True)
            self._executors[index] = self._new()

    def start(self) -> None:
        """Start every worker process now, from a thread, rather than on the first tasks.

        Starting them takes a few tenths of a second (the forkserver's or each spawned
        process's imports, then the service models): a run with other work to do first
        (regions, accounts, the demo's seeding) hides that behind it, and the caller
        does not wait for it (the first process's start blocks until the forkserver has
        imported asyncpage). Nothing is listed; a pool that is never used is closed as
        any other.
        """
        executors = list(self._executors)

        def start() -> None:
            # One submission per executor starts its process. An executor closed (or
            # broken) meanwhile refuses it: nothing to start then; one that cannot start
            # its process says so to the run's first submit.
            for executor in executors:
                with contextlib.suppress(Exception):
                    executor.submit(os.getpid)

        self._starting = threading.Thread(target=start, name="asyncpage-workers", daemon=True)
        self._starting.start()

    def wait_started(self, timeout: float | None = None) -> list[int]:
        """Block until every process of the pool has started (after :meth:`start`).

        Returns their pids. For a caller that wants the pool ready before it measures
        or lists anything (benchmarks/workers.py); a run does not need to wait.

        Raises:
            TimeoutError: not all of them started within ``timeout`` seconds.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        pids: list[int] = []
        while len(pids) < self._processes:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            try:
                pids.append(self._started.get(timeout=left))
            except queue.Empty:
                raise TimeoutError(
                    f"{len(pids)} of {self._processes} worker processes started in {timeout} s"
                ) from None
        return pids

    def _choose(self, shard: int) -> int:
        # Done is read from the futures themselves: a waiter wakes before a future's done
        # callbacks have run, so a count kept by callbacks would lag the coordinator.
        busy = [0] * self._processes
        for future, (index, _) in list(self._sent_to.items()):
            busy[index] += not future.done()
        home = self._home.get(shard)
        if home is None or busy[home] >= AFFINITY_DEPTH:
            home = min(range(self._processes), key=busy.__getitem__)
            self._home[shard] = home
        return home

    def submit(self, task: Task) -> Future[TaskResult]:
        """Send ``task`` to a process (see the class's docs); from one thread at a time."""
        index = self._choose(task.shard)
        executor = self._executors[index]
        try:
            future = executor.submit(run_task, task)
        except BrokenProcessPool:  # its process died since its last task came back
            self._renew(index, executor)
            executor = self._executors[index]
            future = executor.submit(run_task, task)
        self._sent_to[future] = (index, executor)
        return future

    def lost(self, future: Future[TaskResult], error: BaseException) -> bool:
        if not isinstance(error, BrokenProcessPool):
            return False
        sent = self._sent_to.get(future)
        if sent is not None:
            self._renew(*sent)
        return True

    def pids(self) -> list[int]:
        """The worker processes' ids now (for tests that kill one)."""
        return [
            pid
            for executor in self._executors
            for pid in (executor._processes or {})  # noqa: SLF001 - the stdlib's own map
        ]

    def close(self, *, interrupted: bool) -> None:
        if self._starting is not None:
            self._starting.join()
        for executor in self._executors:
            if interrupted:
                # Tasks are pure: nothing of theirs is lost by stopping them now.
                for process in list((executor._processes or {}).values()):  # noqa: SLF001
                    process.terminate()
            executor.shutdown(wait=not interrupted, cancel_futures=True)
        self._started.close()


class DaskWorkers:
    """The workers of a Dask cluster, through ``client.get_executor()``.

    Tasks are submitted impure (a new key each time), so a task sent again runs again.
    Dask reschedules a task whose worker died; one it gives up on (``KilledWorker``)
    is sent again by the coordinator.
    """

    def __init__(self, client: Any) -> None:
        self._client = client
        self._executor = client.get_executor(pure=False)
        self._slots = max(1, sum(client.nthreads().values()))

    @property
    def slots(self) -> int:
        return int(self._slots)

    def submit(self, task: Task) -> Future[TaskResult]:
        future: Future[TaskResult] = self._executor.submit(run_task, task)
        return future

    def lost(self, future: Future[TaskResult], error: BaseException) -> bool:
        from distributed import KilledWorker

        return isinstance(error, (KilledWorker, concurrent.futures.CancelledError))

    def close(self, *, interrupted: bool) -> None:
        self._executor.shutdown(wait=False)


def plan_shards(targets: Sequence[Target], shards: int) -> list[list[Target]]:
    """``targets`` cut into at most ``shards`` shards; one endpoint's sources stay together.

    An endpoint is (account, service, client region). Endpoints go, largest first, to the
    shard with the fewest sources so far; within a shard, sources keep their plan order.
    """
    by_endpoint: dict[tuple[str, str, str], list[int]] = {}
    for index, target in enumerate(targets):
        endpoint = (target.key.account, target.key.service, target.client_region)
        by_endpoint.setdefault(endpoint, []).append(index)
    count = max(1, min(shards, len(by_endpoint)))
    loads = [0] * count
    members: list[list[int]] = [[] for _ in range(count)]
    for group in sorted(by_endpoint.values(), key=len, reverse=True):
        lightest = loads.index(min(loads))
        members[lightest] += group
        loads[lightest] += len(group)
    return [[targets[i] for i in sorted(group)] for group in members if group]


@dataclass(slots=True)
class _Source:
    """Where one source stands, as the coordinator committed it."""

    target: Target
    spec: ListingSpec
    token: str | None
    items: int
    status: Status = "waiting"
    error: str | None = None
    statistics: PageStatistics = field(default_factory=PageStatistics)
    seconds: float = 0.0
    recorded: bool = False
    """Its end is in the store already (or needs no record)."""
    pages_before: int = 0
    """Pages an earlier attempt at the run stored (``--resume``)."""

    @property
    def open(self) -> bool:
        return self.status in ("waiting", "running")


class Coordinator:
    """Runs an inventory's targets as tasks on ``workers``; see the module docs.

    The arguments are :class:`~asyncpage._inventory.Inventory`'s, but for ``pool``
    (each worker makes its own clients, from ``connection``) and ``write``:
    ``write_lines`` gets each task's records as encoded JSON lines. ``task_seconds``
    and ``task_records`` bound one task. :meth:`run`, :meth:`states` and
    :attr:`elapsed` are :class:`~asyncpage._inventory.Inventory`'s.

    Raises:
        ValueError: a listing that workers cannot rebuild by name (see
            :meth:`~asyncpage._tasks.ListingSpec.of`).
    """

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        workers: Workers,
        connection: Connection,
        write_lines: Callable[[list[str]], None] | None = None,
        page_size: int | None = None,
        query: ParsedResult | None = None,
        retry: Retry | None = None,
        concurrency: int = 8,
        per_endpoint: int = 4,
        store: Store | None = None,
        stored: Mapping[SourceId, StoredSource] | None = None,
        unavailable: Mapping[str, str] | None = None,
        shards: int | None = None,
        task_seconds: float = 2.0,
        task_records: int = 20_000,
    ) -> None:
        self._workers = workers
        self._connection = connection
        self._write_lines = write_lines
        self._store = store
        slots = workers.slots
        self._settings = Settings(
            page_size=page_size,
            query=query.expression if query is not None else None,
            retry=retry,
            concurrency=max(1, concurrency // slots),
            per_endpoint=per_endpoint,
            seconds=task_seconds,
            records=task_records,
        )
        specs: dict[tuple[str, str], ListingSpec] = {}
        stored = dict(stored or {})
        unavailable = dict(unavailable or {})
        self._sources: dict[SourceKey, _Source] = {}
        for target in targets:
            listing = target.listing
            spec = specs.get((listing.name, repr(dict(listing.params))))
            if spec is None:
                spec = specs[listing.name, repr(dict(listing.params))] = ListingSpec.of(listing)
            before = stored.get(target.key.stored)
            source = _Source(
                target,
                spec,
                before.resume_token if before is not None else None,
                before.items if before is not None else 0,
                pages_before=before.pages if before is not None else 0,
            )
            settled = settled_before(target.key, stored, unavailable)
            if settled is not None:
                source.status, source.error = settled
                # A finished source's end is in the store already; a skipped account's is
                # stored by _record_ends.
                source.recorded = target.key.account not in unavailable
            self._sources[target.key] = source
        count = shards if shards is not None else slots * SHARDS_PER_SLOT
        self._shards = [
            [target.key for target in shard] for shard in plan_shards(list(targets), count)
        ]
        self._prefixes: dict[SourceKey, str] = {}
        self._started: float | None = None
        self._finished: float | None = None
        #: Tasks committed, tasks sent again after their worker was lost, and the CPU
        #: seconds the committed tasks spent in their workers.
        self.tasks = 0
        self.resent = 0
        self.worker_cpu = 0.0

    @property
    def keys(self) -> list[SourceKey]:
        return list(self._sources)

    @property
    def shards(self) -> list[list[SourceKey]]:
        """The shards, as lists of source keys."""
        return [list(shard) for shard in self._shards]

    @property
    def elapsed(self) -> float:
        if self._started is None:
            return 0.0
        end = self._finished if self._finished is not None else time.monotonic()
        return end - self._started

    async def run(self) -> None:
        """List every target on the workers; return when all are done. May be cancelled."""
        self._started = time.monotonic()
        interrupted = True
        try:
            await self._drive()
            interrupted = False
        finally:
            self._finished = time.monotonic()
            with anyio.CancelScope(shield=True):
                self._workers.close(interrupted=interrupted)
                await self._record_ends()

    async def _drive(self) -> None:
        ready = deque(i for i, shard in enumerate(self._shards) if self._open(shard))
        in_flight: dict[Future[TaskResult], int] = {}
        losses: Counter[int] = Counter()
        # As many tasks again as there are slots wait in the executor's queue, so that
        # every worker starts its next task while the coordinator commits the last one's
        # results, even when all of them finish at once. Only ``slots`` run at once: the
        # limits are split by ``slots``.
        depth = 2 * self._workers.slots

        def fill() -> None:
            while ready and len(in_flight) < depth:
                index = ready.popleft()
                in_flight[self._workers.submit(self._task(index))] = index

        while ready or in_flight:
            fill()
            done = await anyio.to_thread.run_sync(
                _wait_any, list(in_flight), abandon_on_cancel=True
            )
            results: list[tuple[int, TaskResult]] = []
            for future in done:
                index = in_flight.pop(future)
                try:
                    results.append((index, future.result()))
                except BaseException as exc:
                    if not self._workers.lost(future, exc):
                        raise
                    losses[index] += 1
                    self.resent += 1
                    if losses[index] >= MAX_LOSSES:
                        self._fail(index, f"its worker was lost {losses[index]} times: {exc!r}")
                    else:
                        ready.append(index)
            fill()  # other shards go on while these results are committed
            for index, result in results:
                losses[index] = 0
                await self._commit(result)
                if self._open(self._shards[index]):
                    ready.append(index)

    def _open(self, shard: Sequence[SourceKey]) -> bool:
        return any(self._sources[key].open for key in shard)

    def _task(self, index: int) -> Task:
        specs = []
        for key in self._shards[index]:
            source = self._sources[key]
            if source.open:
                target = source.target
                specs.append(SourceSpec(key, target.client_region, source.spec, source.token))
        return Task(index, specs, self._connection, self._settings)

    async def _commit(self, result: TaskResult) -> None:
        batch = [
            SourcePages(
                part.key.stored, part.rows, part.pages, part.resume_token, part.status, part.error
            )
            for part in result.sources
            if part.pages or part.status != UNFINISHED
        ]
        if self._store is not None and batch:
            await self._store.commit_pages(batch)
        if self._write_lines is not None:
            lines = [
                f'{self._prefix(part.key)}{encode_item(rid)},"item":{item}}}'
                for part in result.sources
                for rid, item in part.rows
            ]
            if lines:
                self._write_lines(lines)
        for part in result.sources:
            source = self._sources[part.key]
            source.token = part.resume_token
            source.items += len(part.rows)
            # Pages received, as one process counts them: a page a task fetched after its
            # budget ran out was not returned, and is counted when it comes again.
            source.statistics = source.statistics + replace(part.statistics, pages=part.pages)
            source.seconds += part.seconds
            if part.status != UNFINISHED:
                source.status, source.error = part.status, part.error  # type: ignore[assignment]
                source.recorded = True
            elif part.pages or part.statistics.requests:
                source.status = "running"
        self.tasks += 1
        self.worker_cpu += result.cpu

    def _prefix(self, key: SourceKey) -> str:
        """``{"account":...,"service":...,"region":...,"operation":...,"id":`` for ``key``."""
        prefix = self._prefixes.get(key)
        if prefix is None:
            head = record_head(key)
            encoded = encode_item(head)
            prefix = self._prefixes[key] = encoded[:-1] + ',"id":'
        return prefix

    def _fail(self, index: int, error: str) -> None:
        for key in self._shards[index]:
            source = self._sources[key]
            if source.open:
                source.status, source.error = "failed", error

    async def _record_ends(self) -> None:
        store = self._store
        if store is None:
            return
        for key, source in self._sources.items():
            if not source.open and not source.recorded:
                await store.end_source(key.stored, source.status, error=source.error)
                source.recorded = True
        await store.finish()

    def states(self) -> list[SourceState]:
        """Every source's state now, in plan order."""
        states = []
        for key, source in self._sources.items():
            status: Status = source.status
            if self._finished is not None and source.open:
                status = "cancelled"
            states.append(
                SourceState(
                    key,
                    status,
                    source.items,
                    source.statistics,
                    source.seconds,
                    source.error,
                    source.pages_before,
                )
            )
        return states


def _wait_any(futures: list[Future[TaskResult]]) -> set[Future[TaskResult]]:
    done, _ = concurrent.futures.wait(
        futures, timeout=_POLL_SECONDS, return_when=concurrent.futures.FIRST_COMPLETED
    )
    return done
