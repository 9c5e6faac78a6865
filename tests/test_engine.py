"""The engine: read-ahead, page-level retry that never loses position, cancellation.

Everything runs over HTTP against moto, through the fault-injecting proxy, on asyncio and
on trio (aiobotocore's httpx backend).
"""

from __future__ import annotations

import gc
import logging
from collections.abc import AsyncIterator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

import asyncpage
from _tables import create_table

pytestmark = pytest.mark.anyio

TABLE = "orders"
ITEMS = 137
PAGE = 10


@pytest.fixture
async def ddb(make_client: Any, moto_endpoint: str) -> Any:
    client = await make_client("dynamodb", moto_endpoint)
    await create_table(client, TABLE, ITEMS, prefix="order")
    return client


@pytest.fixture
async def plain_order(ddb: Any) -> list[str]:
    """The scan order of the table, as botocore's own paginator sees it."""
    paginator = ddb.get_paginator("scan")
    return [
        item["pk"]["S"]
        async for item in paginator.paginate(
            TableName=TABLE, PaginationConfig={"PageSize": PAGE}
        ).search("Items[]")
    ]


def keys_of(pages: list[dict[str, Any]]) -> list[str]:
    return [item["pk"]["S"] for page in pages for item in page["Items"]]


async def collect(it: asyncpage.AsyncPageIterator) -> list[dict[str, Any]]:
    async with it:
        return [page async for page in it]


# -- read-ahead ---------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_prefetch_delivers_the_same_pages_in_order(
    ddb: Any, plain_order: list[str], prefetch: int
) -> None:
    it = asyncpage.paginate(
        ddb, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE}
    ).with_options(prefetch=prefetch)
    assert keys_of(await collect(it)) == plain_order
    stats = it.statistics()
    assert stats.pages == stats.requests == -(-ITEMS // PAGE)
    assert stats.items == ITEMS


@pytest.mark.parametrize("prefetch", [1, 2])
async def test_read_ahead_is_bounded_by_prefetch(
    ddb: Any, moto_endpoint: str, prefetch: int
) -> None:
    """While the consumer holds page k, at most `prefetch` further pages are requested."""
    it = asyncpage.paginate(
        ddb, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE}
    ).with_options(prefetch=prefetch)
    async with it:
        seen = 0
        async for _ in it:
            seen += 1
            # Give the read-ahead task every chance to run further than it may.
            for _ in range(20):
                await anyio.sleep(0.005)
            assert it.statistics().requests <= seen + prefetch
            if seen == 4:
                # ...and, on a loaded machine, the time to get as far as it should.
                for _ in range(2000):
                    if it.statistics().requests >= seen + prefetch:
                        break
                    await anyio.sleep(0.005)
                break
    assert it.statistics().requests == 4 + prefetch


@pytest.mark.parametrize("prefetch", [0, 1, 2])
async def test_plain_async_for_reads_ahead_by_prefetch(ddb: Any, prefetch: int) -> None:
    """A plain loop reads ahead as `async with` does, and stops at `prefetch` pages."""
    it = asyncpage.paginate(
        ddb, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE}
    ).with_options(prefetch=prefetch)
    async for _ in it:
        with anyio.fail_after(10):
            # A bounded poll of the iterator's own counter: nothing else signals "sent".
            while it.statistics().requests < 1 + prefetch:  # noqa: ASYNC110
                await anyio.sleep(0.005)
        # ...and no further, however long the consumer works on this page.
        for _ in range(10):
            await anyio.lowlevel.checkpoint()
        assert it.statistics().requests == 1 + prefetch
        break


async def test_error_met_while_reading_ahead_surfaces_after_earlier_pages(
    ddb: Any, fault_proxy: Any, make_client: Any, plain_order: list[str]
) -> None:
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    it = asyncpage.paginate(
        client, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE}
    ).with_options(prefetch=2, retry=None)
    fault_proxy.hold(skip=3)
    delivered: list[dict[str, Any]] = []
    async with it:
        with pytest.raises(asyncpage.PageFetchError) as caught:
            async for page in it:
                delivered.append(page)
                if len(delivered) == 3:
                    # While the consumer is on page 3, the read-ahead asks for page 4
                    # (held), gets it, then asks for page 5, which fails.
                    with anyio.fail_after(20):
                        await fault_proxy.wait_held()
                    fault_proxy.fail_next(1, "server_error")  # page 4's fate is decided
                    fault_proxy.release()
                    fault_proxy.hold()  # no checkpoint since release(): page 5 is held
                    with anyio.fail_after(20):
                        await fault_proxy.wait_held()
                    fault_proxy.release()
    got = keys_of(delivered)
    assert got == plain_order[: 4 * PAGE]  # every page fetched before the error, in order
    # Resume from the error: exactly the rest, nothing lost, nothing repeated.
    rest_it = asyncpage.paginate(
        ddb,
        "scan",
        TableName=TABLE,
        PaginationConfig={"PageSize": PAGE, "StartingToken": caught.value.resume_token},
    )
    assert got + keys_of(await collect(rest_it)) == plain_order


async def test_a_paginator_pages_exactly_as_client_and_operation_do(
    ddb: Any, plain_order: list[str]
) -> None:
    it = asyncpage.paginate(
        ddb.get_paginator("scan"), TableName=TABLE, PaginationConfig={"PageSize": PAGE}
    )
    assert keys_of(await collect(it)) == plain_order
    assert it.model == asyncpage.paginate(ddb, "scan", TableName=TABLE).model


async def test_with_options_is_a_new_iterator_over_the_same_listing(
    ddb: Any, plain_order: list[str]
) -> None:
    it = asyncpage.paginate(ddb, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE})
    gate = it.gate = asyncpage.BackoffGate()
    eager = it.with_options(prefetch=3)
    assert eager is not it
    assert eager.gate is gate  # what is not an option is kept
    assert keys_of(await collect(eager)) == plain_order
    assert eager.statistics().prefetched > 0
    assert it.statistics() == asyncpage.PageStatistics()  # the original is untouched
    lazy = eager.with_options(prefetch=0)
    assert keys_of(await collect(lazy)) == plain_order
    assert lazy.statistics().prefetched == 0


async def test_options_among_the_parameters_are_not_sent_to_aws(
    ddb: Any, plain_order: list[str]
) -> None:
    with pytest.warns(DeprecationWarning, match="with_options"):
        it = asyncpage.paginate(
            ddb, "scan", TableName=TABLE, prefetch=0, PaginationConfig={"PageSize": PAGE}
        )
    # botocore refuses an unknown parameter before sending: "prefetch" was taken out.
    assert keys_of(await collect(it)) == plain_order
    assert it.statistics().prefetched == 0


# -- retry ---------------------------------------------------------------------------------


async def test_soak_every_item_exactly_once_through_faults(
    moto_endpoint: str, fault_proxy: Any, make_client: Any
) -> None:
    """Many paginations, heavy throttling, 5xx and resets, botocore at one attempt."""
    setup = await make_client("dynamodb", moto_endpoint)
    tables = {f"t{n}": await create_table(setup, f"t{n}", 60 + 7 * n) for n in range(6)}
    expected = {}
    for name in tables:
        paginator = setup.get_paginator("scan").paginate(
            TableName=name, PaginationConfig={"PageSize": 7}
        )
        expected[name] = [item["pk"]["S"] async for item in paginator.search("Items[]")]

    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    fault_proxy.configure(throttle=0.25, server_error=0.15, reset=0.1)
    policy = asyncpage.Retry(attempts=60, timeout=600)
    results: dict[str, list[str]] = {}
    stats: list[asyncpage.PageStatistics] = []

    async def run(name: str) -> None:
        it = asyncpage.paginate(
            client, "scan", TableName=name, PaginationConfig={"PageSize": 7}
        ).with_options(retry=policy)
        async with it:
            results[name] = [item["pk"]["S"] async for item in it.search("Items[]")]
        stats.append(it.statistics())

    async with anyio.create_task_group() as tg:
        for name in tables:
            tg.start_soon(run, name)

    assert results == expected
    total = sum(stats, asyncpage.PageStatistics())
    counters = fault_proxy.counters
    assert counters.throttled > 0 and counters.server_errors > 0 and counters.resets > 0
    assert total.retries == counters.throttled + counters.server_errors + counters.resets
    assert total.throttles == counters.throttled


async def test_exhausted_retries_resume_from_the_error_token(
    ddb: Any, fault_proxy: Any, make_client: Any, plain_order: list[str]
) -> None:
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    it = asyncpage.paginate(
        client, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE}
    ).with_options(retry=asyncpage.Retry(attempts=3))
    delivered: list[dict[str, Any]] = []
    async with it:
        with pytest.raises(asyncpage.PageFetchError) as caught:
            async for page in it:
                delivered.append(page)
                if len(delivered) == 5:
                    fault_proxy.configure(throttle=1.0)
    error = caught.value
    assert error.attempts == 3
    assert asyncpage.classify(error.error) == "throttling"
    assert error.resume_token == it.resume_token
    fault_proxy.configure()
    got = keys_of(delivered)
    resumed = asyncpage.paginate(
        client,
        "scan",
        TableName=TABLE,
        PaginationConfig={"PageSize": PAGE, "StartingToken": error.resume_token},
    )
    assert got + keys_of(await collect(resumed)) == plain_order
    # ...and boto3's own paginator accepts the same token.
    tail = ddb.get_paginator("scan").paginate(
        TableName=TABLE, PaginationConfig={"PageSize": PAGE, "StartingToken": error.resume_token}
    )
    assert got + [i["pk"]["S"] async for i in tail.search("Items[]")] == plain_order


async def test_non_retryable_error_fails_at_once(
    ddb: Any, fault_proxy: Any, make_client: Any
) -> None:
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    it = asyncpage.paginate(client, "scan", TableName="no-such-table")
    with pytest.raises(asyncpage.PageFetchError) as caught:
        await it.build_full_result()
    assert caught.value.attempts == 1
    assert fault_proxy.counters.requests == 1
    assert caught.value.resume_token is None  # the first page: resume from the beginning


async def test_retry_none_turns_asyncpage_retrying_off(
    ddb: Any, fault_proxy: Any, make_client: Any
) -> None:
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    fault_proxy.fail_next(1, "throttle")
    it = asyncpage.paginate(client, "scan", TableName=TABLE).with_options(retry=None)
    with pytest.raises(asyncpage.PageFetchError):
        await it.build_full_result()
    assert it.statistics().retries == 0


async def test_retry_is_counted_and_logged_without_tokens(
    ddb: Any, fault_proxy: Any, make_client: Any, caplog: pytest.LogCaptureFixture
) -> None:
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    it = asyncpage.paginate(client, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE})
    async with it:
        pages = 0
        with caplog.at_level(logging.DEBUG, logger="asyncpage"):
            async for _ in it:
                pages += 1
                if pages == 2:
                    token = it.resume_token
                    fault_proxy.fail_next(2, "throttle")
    stats = it.statistics()
    assert stats.retries >= 2 and stats.throttles >= 2
    retry_lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retry_lines) >= 2
    assert token is not None
    for line in retry_lines:
        assert token not in line and "order-" not in line


async def test_waits_follow_the_policy_when_not_testing(
    ddb: Any, fault_proxy: Any, make_client: Any
) -> None:
    """Backoff really sleeps (and is counted) once the testing switch is off."""
    asyncpage.set_testing(False)
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    fault_proxy.fail_next(2, "throttle")
    it = asyncpage.paginate(client, "scan", TableName=TABLE).with_options(
        retry=asyncpage.Retry(wait_initial=0.01, wait_max=0.02)
    )
    await it.build_full_result()
    stats = it.statistics()
    assert stats.retries == 2
    assert 0.0 < stats.seconds_waited <= 0.04


async def test_shared_gate_holds_back_siblings(
    ddb: Any, fault_proxy: Any, make_client: Any
) -> None:
    asyncpage.set_testing(False)
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    gate = asyncpage.BackoffGate()
    gate.close_for(0.5)
    it = asyncpage.paginate(client, "scan", TableName=TABLE)
    it.gate = gate
    await it.build_full_result()
    assert it.statistics().seconds_waited > 0


# -- cancellation --------------------------------------------------------------------------


@pytest.fixture
async def no_leaks(caplog: pytest.LogCaptureFixture) -> AsyncIterator[None]:
    """No task left behind, no asyncio complaint ("Task was destroyed", "Unclosed ...")."""
    before = len(anyio.get_running_tasks())
    yield
    for _ in range(5):
        await anyio.lowlevel.checkpoint()
    gc.collect()
    await anyio.lowlevel.checkpoint()
    assert len(anyio.get_running_tasks()) == before
    complaints = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert complaints == []


@pytest.fixture
async def proxied(ddb: Any, fault_proxy: Any, make_client: Any) -> Any:
    """A client behind the fault proxy; tests keep its requests in flight with `hold()`."""
    return await make_client("dynamodb", fault_proxy.endpoint_url)


def small_pages(client: Any) -> asyncpage.AsyncPageIterator:
    return asyncpage.paginate(client, "scan", TableName=TABLE, PaginationConfig={"PageSize": 5})


async def _client_still_works(client: Any, fault_proxy: Any) -> None:
    fault_proxy.release()
    page = await client.scan(TableName=TABLE, Limit=1)
    assert len(page["Items"]) == 1


async def _cancel_once_held(scope: anyio.CancelScope, fault_proxy: Any) -> None:
    await fault_proxy.wait_held()
    scope.cancel()


async def _expire_once_held(scope: anyio.CancelScope, fault_proxy: Any) -> None:
    await fault_proxy.wait_held()
    scope.deadline = anyio.current_time()  # the timeout strikes now, mid-request


# A held request waits until released: each test passing within its 20 s means the
# request in flight was cancelled.


async def test_break_inside_async_with_cancels_read_ahead(
    proxied: Any, fault_proxy: Any, no_leaks: None
) -> None:
    fault_proxy.hold(skip=1)  # the first page passes; the read-ahead request is held
    with anyio.fail_after(20):
        it = small_pages(proxied)
        async with it:
            async for _ in it:
                await fault_proxy.wait_held()
                break
    await _client_still_works(proxied, fault_proxy)


async def test_exception_in_consumer_cancels_read_ahead(
    proxied: Any, fault_proxy: Any, no_leaks: None
) -> None:
    fault_proxy.hold(skip=1)
    with anyio.fail_after(20):
        it = small_pages(proxied)
        with pytest.raises(KeyError):
            async with it:
                async for _ in it:
                    await fault_proxy.wait_held()
                    raise KeyError("consumer failed")
    await _client_still_works(proxied, fault_proxy)


async def test_fail_after_cancels_the_request_in_flight(
    proxied: Any, fault_proxy: Any, no_leaks: None
) -> None:
    fault_proxy.hold()
    with anyio.fail_after(20):
        it = small_pages(proxied)
        async with anyio.create_task_group() as tg:
            with pytest.raises(TimeoutError):
                with anyio.fail_after(20) as timeout:
                    tg.start_soon(_expire_once_held, timeout, fault_proxy)
                    async with it:
                        async for _ in it:
                            pass
    await _client_still_works(proxied, fault_proxy)


async def test_plain_async_for_cancelled_mid_request(
    proxied: Any, fault_proxy: Any, no_leaks: None
) -> None:
    fault_proxy.hold()
    with anyio.fail_after(20):
        it = small_pages(proxied)
        async with anyio.create_task_group() as tg:
            with anyio.CancelScope() as scope:
                tg.start_soon(_cancel_once_held, scope, fault_proxy)
                async for _ in it:
                    pass
        assert scope.cancelled_caught
    await _client_still_works(proxied, fault_proxy)


async def test_task_cancellation_of_consumer(
    proxied: Any, fault_proxy: Any, no_leaks: None
) -> None:
    async def consume() -> None:
        it = small_pages(proxied)
        async with it:
            async for _ in it:
                pass

    fault_proxy.hold(skip=1)
    with anyio.fail_after(20):
        async with anyio.create_task_group() as tg:
            tg.start_soon(consume)
            await fault_proxy.wait_held()  # the consumer waits for its second page
            tg.cancel_scope.cancel()
    await _client_still_works(proxied, fault_proxy)


async def test_aclose_and_breaking_out_of_items_and_search(
    proxied: Any, fault_proxy: Any, no_leaks: None
) -> None:
    fault_proxy.hold(skip=1)
    with anyio.fail_after(20):
        it = small_pages(proxied)
        async with it:
            async for _ in it.items():
                await fault_proxy.wait_held()
                break
            await it.aclose()
        fault_proxy.release()
        it2 = small_pages(proxied)
        async for _ in it2.search("Items[].pk.S"):
            break
    await _client_still_works(proxied, fault_proxy)


# -- a plain `async for` reads ahead, and cleans up when the loop lets go ---------------------


async def _given_up(fault_proxy: Any, before: int) -> None:
    """Wait until the held request's client has hung up and the read-ahead task is gone."""
    with anyio.fail_after(20):
        # A bounded poll: no backend signals "that other task has ended" to a bystander.
        while fault_proxy.held or len(anyio.get_running_tasks()) > before:  # noqa: ASYNC110
            await anyio.sleep(0.01)


@pytest.mark.parametrize("loop", ["pages", "items", "search"])
async def test_break_out_of_a_plain_loop_cancels_the_read_ahead(
    proxied: Any, fault_proxy: Any, no_leaks: None, loop: str
) -> None:
    before = len(anyio.get_running_tasks())
    fault_proxy.hold(skip=1)  # page 1 passes; the read-ahead of page 2 is held
    it = small_pages(proxied)
    source = it if loop == "pages" else it.items() if loop == "items" else it.search("Items")
    async for _ in source:
        await fault_proxy.wait_held()  # the read-ahead request is in flight
        break
    del source  # what the loop held: the iteration object is freed with it
    await _given_up(fault_proxy, before)
    assert it.statistics().requests == 2
    await _client_still_works(proxied, fault_proxy)


async def test_an_exception_in_a_plain_loop_cancels_the_read_ahead(
    proxied: Any, fault_proxy: Any, no_leaks: None
) -> None:
    before = len(anyio.get_running_tasks())
    fault_proxy.hold(skip=1)
    with pytest.raises(KeyError):
        async for _ in small_pages(proxied):
            await fault_proxy.wait_held()
            raise KeyError("consumer failed")
    await _given_up(fault_proxy, before)
    await _client_still_works(proxied, fault_proxy)


async def test_a_plain_loop_cancelled_waiting_for_a_page_leaves_nothing_running(
    proxied: Any, fault_proxy: Any, plain_order: list[str]
) -> None:
    # The consumer is cancelled while page 2 is in flight: when the cancelled scope is
    # left, the read-ahead task is already gone. Catching the cancellation and going on
    # with the same iteration loses and repeats nothing: it fetches on demand from there.
    before = len(anyio.get_running_tasks())
    fault_proxy.hold(skip=1)
    it = asyncpage.paginate(proxied, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE})
    pages = aiter(it)
    got = keys_of([await anext(pages)])
    async with anyio.create_task_group() as tg:
        with anyio.CancelScope() as scope:
            tg.start_soon(_cancel_once_held, scope, fault_proxy)
            await anext(pages)
        assert scope.cancelled_caught
    assert len(anyio.get_running_tasks()) == before
    fault_proxy.release()
    got += keys_of([page async for page in pages])
    assert got == plain_order


@pytest.mark.parametrize("loop", ["pages", "items"])
async def test_a_plain_loop_reads_exactly_the_listing(
    ddb: Any, plain_order: list[str], loop: str
) -> None:
    it = asyncpage.paginate(
        ddb, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE}
    ).with_options(prefetch=2)
    if loop == "pages":
        got = keys_of([page async for page in it])
    else:
        got = [item["pk"]["S"] async for item in it.items()]
    assert got == plain_order
    assert it.statistics().prefetched > 0
    assert it.exhausted and it.resume_token is None


@pytest.mark.parametrize("taken", [1, 9, 10, 11, 55, ITEMS - 1, ITEMS])
async def test_items_checkpoint_between_two_items_resumes_exactly_there(
    ddb: Any, plain_order: list[str], taken: int
) -> None:
    it = asyncpage.paginate(ddb, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE})
    got: list[str] = []
    async with it:
        async for item in it.items():
            got.append(item["pk"]["S"])
            if len(got) == taken:
                break
    token = it.resume_token
    assert it.finished == (taken == ITEMS)
    if it.finished:  # a checkpointer stores "done", not a token that restarts the listing
        assert token is None
        assert got == plain_order
        return
    config = {"PageSize": PAGE, "StartingToken": token}
    rest = asyncpage.paginate(ddb, "scan", TableName=TABLE, PaginationConfig=config)
    assert got + [item["pk"]["S"] async for item in rest.items()] == plain_order
    # boto3/aiobotocore read the mid-page token the same way (it is botocore's own format).
    theirs = ddb.get_paginator("scan").paginate(TableName=TABLE, PaginationConfig=config)
    assert got + [item["pk"]["S"] async for item in theirs.search("Items[]")] == plain_order


async def test_requests_are_tagged_as_paginator_calls_like_botocore(ddb: Any) -> None:
    """AWS sees the same User-Agent feature ids as for aiobotocore's own paginator."""
    agents: list[str] = []

    def record(request: Any, **_: Any) -> None:
        agents.append(request.headers["User-Agent"].decode())

    ddb.meta.events.register("before-send.dynamodb.Scan", record)
    await asyncpage.paginate(ddb, "scan", TableName=TABLE).build_full_result()
    await ddb.get_paginator("scan").paginate(TableName=TABLE).build_full_result()
    ours, theirs = agents
    features = [part for part in theirs.split() if part.startswith("m/")]
    assert features
    assert "C" in features[0][2:].split(",")  # botocore's feature id for PAGINATOR
    assert [part for part in ours.split() if part.startswith("m/")] == features
