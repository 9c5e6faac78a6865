"""What a worker process (or a Dask worker) runs: one shard of inventory sources, for a while.

A :class:`Task` is plain data that pickles: the shard's sources, each with the token to
start from, how to connect (:class:`Connection`) and how to list (:class:`Settings`).
:func:`run_task`, a top-level function, lists them with the single-process engine
(:class:`~asyncpage._inventory.Inventory`, one fan-out, a
:class:`~asyncpage.ClientPool`) until every source has ended or the task's budget
(seconds, records) is spent, and returns a :class:`TaskResult`: per source its rows
(``id`` and the item already encoded as compact JSON, so the coordinator only stores
them), the pages they came in, the token of the page after them, its status and
statistics. Nothing is written anywhere from here: the coordinator
(:mod:`asyncpage._distribute`) commits a result or, if the task was lost with its
worker, runs the same sources again from the same tokens.

A task is a function of its tokens: whichever worker runs it, however often, the rows it
returns for a source are those after the source's token, and the token it returns comes
after exactly those rows (pages are cut whole: a page fetched after the budget ran out is
not returned, and is listed again by the next task).

Each thread that runs tasks keeps one event loop and, per :class:`Connection`, one
aiobotocore session (its loaded service models), one set of account sessions (their
AssumeRole credentials, refreshed as they near expiry) and one client pool, whose clients
keep their connections from one task to the next (a new connection per task would cost
a TLS handshake, and against a small local server, refused connections): at most
:data:`CLIENT_CAP` clients are kept for endpoints the task at hand does not list. All of
it is closed when the process ends.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import gc
import json
import multiprocessing.util
import os
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any, Final

import anyio
import jmespath
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError

from ._accounts import AccountSessions, AssumeRole
from ._inventory import Inventory, Listing, SourceKey, Target, listing_for
from ._iterator import PageStatistics
from ._regions import ClientPool
from ._retry import Retry
from ._store import StoredSource, encode_item

__all__ = [
    "Connection",
    "ListingSpec",
    "Settings",
    "SourceResult",
    "SourceSpec",
    "Task",
    "TaskResult",
    "frozen_heap",
    "run_task",
    "warm",
]

#: Statuses a task returns: ``running`` means the budget ran out first (more to list).
UNFINISHED: Final = "running"


@dataclass(frozen=True, slots=True)
class Connection:
    """How a worker reaches AWS: the same for every task of a run.

    ``credentials`` are static keys handed to the workers (the demo's dummy ones);
    ``None`` means each worker uses its own credential chain (``profile``, environment,
    instance role). ``assume`` is set when accounts are listed (AssumeRole from the
    workers, with their credentials); ``own_account`` is the caller's account, listed
    with those credentials as they are. ``retries`` is botocore's ``retries`` config for
    the pages, ``account_retries`` for STS.
    """

    endpoint_url: str | None = None
    profile: str | None = None
    credentials: tuple[str, str] | None = None
    retries: Mapping[str, Any] = field(default_factory=dict)
    account_retries: Mapping[str, Any] | None = None
    assume: AssumeRole | None = None
    own_account: str | None = None
    home_region: str = "us-east-1"
    speedups: bool = True

    def key(self) -> str:
        """A stable name for the per-thread cache (the dataclass holds dicts: unhashable)."""
        return repr(self)


@dataclass(frozen=True, slots=True)
class Settings:
    """How to list: the inventory's options (limits already split per task) and a budget."""

    page_size: int | None = None
    query: str | None = None
    retry: Retry | None = None
    concurrency: int = 8
    per_endpoint: int = 4
    seconds: float = 2.0
    """Stop after this long (pages received by then are returned)."""
    records: int = 20_000
    """...or once this many records are held (bounds a result's size)."""


@dataclass(frozen=True, slots=True)
class ListingSpec:
    """A :class:`~asyncpage._inventory.Listing` by name: rebuilt by ``listing_for`` in the worker.

    Compiled JMESPath and the functions that name resources need not pickle this way.
    """

    service: str
    operation: str
    params: str = ""
    """The listing's parameters as a JSON object (``""``: none)."""

    @classmethod
    def of(cls, listing: Listing) -> ListingSpec:
        """The spec of ``listing``; :class:`ValueError` if ``listing_for`` cannot rebuild it."""
        params = json.dumps(dict(listing.params), sort_keys=True) if listing.params else ""
        spec = cls(listing.service, listing.operation, params)
        rebuilt = spec.listing()
        same = (
            rebuilt.items.expression == listing.items.expression
            and rebuilt.resource_id is listing.resource_id
            and (rebuilt.scope, rebuilt.page_size) == (listing.scope, listing.page_size)
            and dict(rebuilt.params) == dict(listing.params)
        )
        if not same:
            raise ValueError(
                f"{listing.name}: only listings that listing_for() makes (the default ones "
                "and any paginated operation) can be sent to workers"
            )
        return spec

    def listing(self) -> Listing:
        return _listing(self.service, self.operation, self.params)


@lru_cache(maxsize=256)
def _listing(service: str, operation: str, params: str) -> Listing:
    return listing_for(f"{service}:{operation}", [params] if params else [])


@dataclass(frozen=True, slots=True)
class SourceSpec:
    """One source of a task: its key, the region of its client, its listing, its start."""

    key: SourceKey
    client_region: str
    listing: ListingSpec
    token: str | None = None


@dataclass(frozen=True, slots=True)
class Task:
    """One run of a shard's sources: plain data, so that it pickles and can run anywhere."""

    shard: int
    sources: Sequence[SourceSpec]
    connection: Connection
    settings: Settings


@dataclass(frozen=True, slots=True)
class SourceResult:
    """What one source gave in one task."""

    key: SourceKey
    status: str
    """``running`` (the budget ran out first), ``ok``, ``skipped`` or ``failed``."""
    rows: list[tuple[str, str]]
    """``(id, item as compact JSON)``, in the order listed."""
    pages: int
    resume_token: str | None
    """The token of the page after the rows (``None`` once ``ok``)."""
    statistics: PageStatistics
    seconds: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class TaskResult:
    shard: int
    sources: list[SourceResult]
    cpu: float = 0.0
    """CPU seconds the task's thread spent (for benchmarks/workers.py)."""
    pid: int = 0
    """The process that ran it."""


def run_task(task: Task) -> TaskResult:
    """Run ``task`` to its budget in this thread's event loop; see the module docs."""
    started = time.thread_time()
    result = _thread().runner.run(_run(task))
    return replace(result, cpu=time.thread_time() - started, pid=os.getpid())


# -- per thread: one event loop; per connection a session, account sessions, clients -------


@dataclass(slots=True)
class _Context:
    session: AioSession
    accounts: AccountSessions | None
    pool: ClientPool
    #: The clients this thread's tasks asked for: the stale ones are closed past the cap.
    used: set[tuple[str, str, str]] = field(default_factory=set)


@dataclass(slots=True)
class _Thread:
    """What one thread keeps between its tasks; closed when the process ends."""

    thread: threading.Thread = field(default_factory=threading.current_thread)
    runner: asyncio.Runner = field(default_factory=asyncio.Runner)
    contexts: dict[str, _Context] = field(default_factory=dict)


class _Local(threading.local):
    state: _Thread | None = None


_LOCAL = _Local()
#: Every thread's state, whether its thread still runs or not (Dask closes its threads
#: before the process ends): all closed at exit.
_THREADS: list[_Thread] = []
_THREADS_LOCK = threading.Lock()
#: Clients a thread keeps open between tasks (about 0.25 MiB each) before it closes those
#: the task at hand does not use.
CLIENT_CAP: Final = 128


def _thread() -> _Thread:
    state = _LOCAL.state
    if state is None:
        state = _LOCAL.state = _Thread()
        with _THREADS_LOCK:
            if not _THREADS:
                # A pool's worker process ends through multiprocessing, which runs its
                # finalizers but not always atexit; a plain process runs atexit.
                multiprocessing.util.Finalize(None, _close_all, exitpriority=10)
                atexit.register(_close_all)
            ended = [other for other in _THREADS if not other.thread.is_alive()]
            _THREADS[:] = [other for other in _THREADS if other.thread.is_alive()]
            _THREADS.append(state)
        # Threads that ran tasks and ended (a Dask cluster closed in this process): their
        # clients and loops are closed here, in this thread, before its own loop runs.
        _close(ended)
    return state


def _close_all() -> None:
    """Close every thread's clients and event loop (harmless a second time)."""
    with _THREADS_LOCK:
        threads, _THREADS[:] = list(_THREADS), []
    _close(threads)


def _close(threads: list[_Thread]) -> None:
    for state in threads:
        contexts, state.contexts = state.contexts, {}
        with contextlib.suppress(Exception):
            for context in contexts.values():
                state.runner.run(context.pool.__aexit__(None, None, None))
        with contextlib.suppress(Exception):
            state.runner.close()


async def _context(connection: Connection) -> _Context:
    key = connection.key()
    contexts = _thread().contexts
    context = contexts.get(key)
    if context is None:
        session = _session(connection.profile)
        if connection.credentials is not None:
            access_key, secret_key = connection.credentials
            session.set_credentials(access_key=access_key, secret_key=secret_key)
        accounts = None
        if connection.assume is not None:
            retries = connection.account_retries or connection.retries
            accounts = AccountSessions(
                session,
                assume=connection.assume,
                own_account=connection.own_account,
                endpoint_url=connection.endpoint_url,
                region=connection.home_region,
                config=AioConfig(retries=dict(retries)),
            )
        config = AioConfig(retries=dict(connection.retries)) if connection.retries else None
        pool = ClientPool(
            session=session,
            endpoint_url=connection.endpoint_url,
            config=config,
            accounts=accounts,
            speedups=connection.speedups,
        )
        await pool.__aenter__()
        context = contexts[key] = _Context(session, accounts, pool)
    return context


#: Per botocore data path, the loader this process's sessions share: a service model read
#: once (about 0.1 s for DynamoDB's) stays read for every connection, and :func:`warm`
#: reads the run's models before the first task arrives.
_LOADERS: dict[Any, Any] = {}


def _session(profile: str | None) -> AioSession:
    """A new session of ``profile``, with this process's loader for its data path."""
    session = AioSession(profile=profile)
    try:
        path = session.get_config_variable("data_path")
    except BotoCoreError:
        # No such profile: the task's clients fail on it, per source, as without sharing.
        return session
    loader = _LOADERS.get(path)
    if loader is None:
        _LOADERS[path] = session.get_component("data_loader")
    else:
        session.register_component("data_loader", loader)
    return session


def warm(services: Sequence[str], profile: str | None = None) -> None:
    """Load the service models tasks of ``services`` will need, in this process.

    For a worker process as it starts (the pool's ``initializer``): importing this
    module imports aiobotocore, and the models are read before the first task rather
    than in it. A model that cannot be loaded (an unknown service, a profile that does
    not exist) is left for the task, which reports it as it would have.
    """
    with contextlib.suppress(Exception):
        session = _session(profile)
        for service in services:
            with contextlib.suppress(Exception):
                session.warm_up_loader_caches(service)  # type: ignore[attr-defined]  # not in the stubs


@contextlib.contextmanager
def frozen_heap() -> Iterator[None]:
    """Keep what this process holds now out of the garbage collector's full collections.

    The imported modules and loaded service models (hundreds of thousands of objects) are
    never garbage, yet every full collection walks all of them: 55-120 ms each, once every
    few seconds of listing. For the block they are frozen (:func:`gc.freeze`); after it,
    back to normal (any of them that became garbage meanwhile is collected then). For a
    process that lists and then ends, such as the CLI's; a worker process freezes its heap
    once it has started, for good.
    """
    gc.freeze()
    try:
        yield
    finally:
        gc.unfreeze()


async def _trim(context: _Context, needed: set[tuple[str, str, str]]) -> None:
    """Past :data:`CLIENT_CAP` clients, close those this task does not need."""
    context.used |= needed
    if context.pool.open_clients <= CLIENT_CAP:
        return
    for account, service, region in context.used - needed:
        await context.pool.release(service, region, account=account or None)
    context.used = set(needed)


# -- the task ------------------------------------------------------------------------------


async def _run(task: Task) -> TaskResult:
    connection, settings = task.connection, task.settings
    context = await _context(connection)
    specs = {spec.key: spec for spec in task.sources}
    targets = [
        Target(spec.key, spec.listing.listing(), spec.client_region) for spec in task.sources
    ]
    stored = {
        spec.key.stored: StoredSource(UNFINISHED, 0, 0, spec.token, None) for spec in task.sources
    }
    rows: dict[SourceKey, list[tuple[str, str]]] = {key: [] for key in specs}
    held = 0
    budget = anyio.CancelScope()

    def collect(records: list[dict[str, Any]]) -> None:
        nonlocal held
        for record in records:
            key = SourceKey(
                record["service"], record["region"], record["operation"], record.get("account", "")
            )
            rows[key].append((record["id"], encode_item(record["item"])))
        held += len(records)
        if held >= settings.records:
            budget.cancel()

    query = jmespath.compile(settings.query) if settings.query is not None else None
    await _trim(context, {(t.key.account, t.key.service, t.client_region) for t in targets})
    # The thread's pool, kept open between tasks: its clients keep their connections (and
    # TLS sessions) for the next task of the same endpoints. Inventory still closes a
    # client once every source of it has ended.
    inventory = Inventory(
        targets,
        pool=context.pool,
        write=collect,
        page_size=settings.page_size,
        query=query,
        retry=settings.retry,
        concurrency=settings.concurrency,
        per_endpoint=settings.per_endpoint,
        stored=stored,
    )
    with budget:
        budget.deadline = anyio.current_time() + settings.seconds
        await inventory.run()
    outcomes = inventory.outcomes
    results: list[SourceResult] = []
    for state in inventory.states():
        key = state.key
        outcome = outcomes.get(key)
        pages = outcome.pages if outcome is not None else 0
        status = state.status if state.status in ("ok", "skipped", "failed") else UNFINISHED
        # A source that received no page (never started, or cut before its first page)
        # starts again from where it was to start: the fan-out knows no token for it.
        token = outcome.resume_token if outcome is not None and pages else specs[key].token
        results.append(
            SourceResult(
                key,
                status,
                rows[key],
                pages,
                token,
                state.statistics,
                state.seconds,
                state.error,
            )
        )
    return TaskResult(task.shard, results)
