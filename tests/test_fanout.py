"""fan_out: many paginations merged, against moto over HTTP, on asyncio and trio.

Each behaviour the module docstring of ``asyncpage._fanout`` promises has a test here:
the merge equals each source alone, the three orders, outcomes (ok, skipped, failed,
cancelled), on_error="raise", leaving early, bounded buffers, concurrency limits and
the shared backoff gate.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

import anyio
import pytest

import asyncpage
from _tables import create_table
from asyncpage._fanout import DEFAULT_SKIP_CODES, FanOut, Order, Outcome, Tagged, fan_out
from asyncpage._regions import ClientPool
from asyncpage._retry import error_code
from conftest import client_config

pytestmark = pytest.mark.anyio

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
PAGE = 2
MakeClient = Callable[..., Awaitable[Any]]


# -- seeding ------------------------------------------------------------------------------


async def seed_region(pool: ClientPool, region: str, n: int) -> None:
    """Tables, queues and log groups in ``region``, concurrently; counts differ by region."""
    ddb = await pool.client("dynamodb", region)
    sqs = await pool.client("sqs", region)
    logs = await pool.client("logs", region)
    async with anyio.create_task_group() as tg:
        for i in range(3 + n):
            tg.start_soon(
                partial(
                    ddb.create_table,
                    TableName=f"table-{i}",
                    KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                    AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                    BillingMode="PAY_PER_REQUEST",
                )
            )
        for i in range(3 + n):
            tg.start_soon(partial(sqs.create_queue, QueueName=f"queue-{i}"))
        for i in range(6 - n):
            tg.start_soon(partial(logs.create_log_group, logGroupName=f"/app/g{i}"))


OPERATIONS = {
    "dynamodb": ("list_tables", "TableNames"),
    "sqs": ("list_queues", "QueueUrls"),
    "logs": ("describe_log_groups", "logGroups"),
}


def without_metadata(page: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in page.items() if k != "ResponseMetadata"}


def scan(client: Any, table: str, **config: Any) -> asyncpage.AsyncPageIterator:
    return asyncpage.paginate(
        client, "scan", TableName=table, PaginationConfig={"PageSize": PAGE, **config}
    )


async def alone(it: asyncpage.AsyncPageIterator) -> list[dict[str, Any]]:
    async with it:
        return [without_metadata(page) async for page in it]


async def drain(merged: FanOut[Any]) -> list[Tagged[Any, dict[str, Any]]]:
    return [tagged async for tagged in merged]


async def drain_into(merged: FanOut[Any], received: list[Any]) -> None:
    async with merged:
        async for tagged in merged:
            received.append(tagged)


@pytest.fixture
async def ddb(make_client: MakeClient, moto_endpoint: str) -> Any:
    return await make_client("dynamodb", moto_endpoint)


@pytest.fixture
async def tables(ddb: Any) -> dict[str, list[str]]:
    """Three tables of 12, 7 and 16 items: 6, 4 and 8 pages at PAGE=2."""
    return {name: await create_table(ddb, name, n) for name, n in (("a", 12), ("b", 7), ("c", 16))}


# -- the merge ----------------------------------------------------------------------------


async def test_fan_out_across_regions_equals_each_source_alone(
    moto_endpoint: str, anyio_backend: str
) -> None:
    """4 regions x 3 operations, factories opening clients lazily from a ClientPool."""
    config = client_config(anyio_backend, retries={"total_max_attempts": 1})
    credentials = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
    async with ClientPool(
        endpoint_url=moto_endpoint, config=config, client_kwargs=credentials
    ) as pool:
        async with anyio.create_task_group() as tg:
            for n, region in enumerate(REGIONS):
                tg.start_soon(seed_region, pool, region, n)

        def source(service: str, region: str) -> Callable[[], Awaitable[Any]]:
            async def make() -> asyncpage.AsyncPageIterator:
                client = await pool.client(service, region)
                operation = OPERATIONS[service][0]
                return asyncpage.paginate(client, operation, PaginationConfig={"PageSize": PAGE})

            return make

        labels = [(region, service) for region in REGIONS for service in OPERATIONS]
        merged = fan_out({label: source(*reversed(label)) for label in labels}, concurrency=5)
        received: dict[Any, list[dict[str, Any]]] = {label: [] for label in labels}
        async with merged:
            assert {o.status for o in merged.outcomes.values()} == {"pending"}
            async for tagged in merged:
                received[tagged.source].append(without_metadata(tagged.page))
        expected = {}
        for region, service in labels:
            client = await pool.client(service, region)
            operation = OPERATIONS[service][0]
            expected[region, service] = await alone(
                asyncpage.paginate(client, operation, PaginationConfig={"PageSize": PAGE})
            )

    assert received == expected
    assert all(len(pages) > 1 for pages in expected.values()), {
        k: len(v) for k, v in expected.items()
    }
    for label, pages in expected.items():
        outcome = merged.outcomes[label]
        key = OPERATIONS[label[1]][1]
        assert outcome.status == "ok"
        assert outcome.error is None
        assert outcome.resume_token is None
        assert outcome.pages == outcome.statistics.pages == len(pages)
        assert outcome.items == sum(len(page[key]) for page in pages)
    total = merged.statistics()
    assert total.pages == sum(len(pages) for pages in expected.values())
    assert total == sum(
        (o.statistics for o in merged.outcomes.values()), asyncpage.PageStatistics()
    )


async def test_items_and_search_are_tagged_with_their_source(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    async with fan_out({name: scan(ddb, name) for name in tables}) as merged:
        items = [(t.source, t.value["pk"]["S"]) async for t in merged.items()]
    assert Counter(label for label, _ in items) == {name: len(k) for name, k in tables.items()}
    for name, keys in tables.items():
        assert sorted(key for label, key in items if label == name) == sorted(keys)

    async with fan_out({name: scan(ddb, name) for name in tables}) as merged:
        counts = [(t.source, t.value) async for t in merged.search("Count")]
    for name, keys in tables.items():
        assert sum(n for label, n in counts if label == name) == len(keys)

    with pytest.raises(asyncpage.InvalidExpressionError):
        fan_out({"a": scan(ddb, "a")}).search("Items[")


# -- orders -------------------------------------------------------------------------------


async def test_source_order_is_strictly_grouped(ddb: Any, tables: dict[str, list[str]]) -> None:
    merged = fan_out({name: scan(ddb, name) for name in tables}, order="source", concurrency=3)
    async with merged:
        got = await drain(merged)
    assert [t.source for t in got] == ["a"] * 6 + ["b"] * 4 + ["c"] * 8
    assert all(t.page is t.value for t in got)
    for name in tables:
        pages = [without_metadata(t.page) for t in got if t.source == name]
        assert pages == await alone(scan(ddb, name))


async def test_round_robin_takes_one_page_from_each_source_in_turn(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    merged = fan_out({name: scan(ddb, name) for name in tables}, order="round_robin")
    async with merged:
        got = "".join(t.source for t in await drain(merged))
    assert got == "abc" * 4 + "ac" * 2 + "c" * 2


async def test_completed_order_yields_every_page_in_each_source_order(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    merged = fan_out({name: scan(ddb, name) for name in tables}, order="completed")
    async with merged:
        got = await drain(merged)
    for name in tables:
        pages = [without_metadata(t.page) for t in got if t.source == name]
        assert pages == await alone(scan(ddb, name))
    assert {o.status for o in merged.outcomes.values()} == {"ok"}


async def test_every_order_works_with_one_slot(ddb: Any, tables: dict[str, list[str]]) -> None:
    """One source at a time, factories started in order: no order can deadlock."""
    orders: tuple[Order, ...] = ("completed", "source", "round_robin")
    for order in orders:
        sources = {name: (lambda name=name: scan(ddb, name)) for name in tables}
        async with fan_out(sources, order=order, concurrency=1) as merged:
            got = [t.source for t in await drain(merged)]
        assert got == ["a"] * 6 + ["b"] * 4 + ["c"] * 8, order


# -- outcomes -----------------------------------------------------------------------------


async def test_failed_and_skipped_sources_do_not_stop_the_others(
    make_client: MakeClient, fault_proxy: Any, tables: dict[str, list[str]]
) -> None:
    ddb = await make_client("dynamodb", fault_proxy.endpoint_url)
    logs = await make_client("logs", fault_proxy.endpoint_url)
    fault_proxy.fail_next(1, "throttle", code="AccessDeniedException", only_service="logs")
    sources = {
        "ok": scan(ddb, "a"),
        "missing": scan(ddb, "missing"),
        "denied": asyncpage.paginate(logs, "describe_log_groups"),
        "also-ok": scan(ddb, "c"),
    }
    async with fan_out(sources) as merged:
        got = Counter(t.source for t in await drain(merged))

    assert got == {"ok": 6, "also-ok": 8}
    outcomes = merged.outcomes
    assert (outcomes["ok"].status, outcomes["also-ok"].status) == ("ok", "ok")

    failed = outcomes["missing"]
    assert failed.status == "failed"
    assert isinstance(failed.error, asyncpage.PageFetchError)
    assert error_code(failed.error.error) == "ResourceNotFoundException"
    assert failed.resume_token is None  # the first page: resume from the beginning
    assert (failed.pages, failed.items) == (0, 0)

    skipped = outcomes["denied"]
    assert skipped.status == "skipped"
    assert skipped.reason == "AccessDeniedException"
    assert isinstance(skipped.error, asyncpage.PageFetchError)
    assert skipped.statistics.requests == 1  # not retried


async def test_access_denied_after_some_pages_is_a_failure_not_a_skip(
    make_client: MakeClient, fault_proxy: Any, tables: dict[str, list[str]]
) -> None:
    """A partial listing must never look like "not here": it fails with its resume token."""
    ddb = await make_client("dynamodb", fault_proxy.endpoint_url)
    source = scan(ddb, "c")
    received: list[Any] = []
    async with fan_out({"c": source}) as merged:
        async for tagged in merged:
            received.append(tagged.page)
            if len(received) == 2:
                fault_proxy.fail_next(5, "throttle", code="AccessDeniedException")
    outcome = merged.outcomes["c"]
    assert outcome.status == "failed"
    assert isinstance(outcome.error, asyncpage.PageFetchError)
    assert error_code(outcome.error.error) == "AccessDeniedException"
    assert outcome.resume_token is not None
    fault_proxy.clear()
    rest = scan(ddb, "c", StartingToken=outcome.resume_token)
    keys = [i["pk"]["S"] for p in received + await alone(rest) for i in p["Items"]]
    assert sorted(keys) == sorted(tables["c"])  # every item...
    assert len(keys) == len(set(keys))  # ...exactly once


@pytest.mark.parametrize("stop_after", [1, 3, 9, 20])
async def test_leaving_items_mid_page_resumes_every_source_exactly(
    ddb: Any, tables: dict[str, list[str]], stop_after: int
) -> None:
    """Outcome tokens after merged.items() point at the next item, even inside a page."""
    got: dict[str, list[str]] = {name: [] for name in tables}
    async with fan_out({name: scan(ddb, name) for name in tables}, order="round_robin") as merged:
        async for tagged in merged.items():
            got[tagged.source].append(tagged.value["pk"]["S"])
            if sum(map(len, got.values())) == stop_after:
                break
    for name, keys in tables.items():
        outcome = merged.outcomes[name]
        rest: list[str] = []
        if outcome.status != "ok":
            assert outcome.status == "cancelled"
            assert outcome.items == len(got[name])
            it = scan(ddb, name, StartingToken=outcome.resume_token)
            rest = [item["pk"]["S"] async for item in it.items()]
        assert got[name] + rest == [
            i["pk"]["S"] for p in await alone(scan(ddb, name)) for i in p["Items"]
        ]
        assert sorted(got[name] + rest) == sorted(keys)


async def test_item_values_are_the_items_untagged_with_exact_tokens(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    """item_values() gives items()'s values in the same order; tokens stay exact mid-page."""
    sources = {name: scan(ddb, name) for name in tables}
    async with fan_out(sources, order="round_robin") as tagged_run:
        expected = [t.value async for t in tagged_run.items()]
    got: list[Any] = []
    async with fan_out({name: scan(ddb, name) for name in tables}, order="round_robin") as merged:
        async for value in merged.item_values():
            assert not isinstance(value, asyncpage.Tagged)
            got.append(value)
            if len(got) == 7:
                break
    assert got == expected[:7]
    rest: list[Any] = []
    for name, outcome in merged.outcomes.items():
        if outcome.status == "cancelled":
            it = scan(ddb, name, StartingToken=outcome.resume_token)
            rest += [item async for item in it.items()]
    assert sorted(str(v) for v in got + rest) == sorted(str(v) for v in expected)


async def test_skip_codes_are_data_the_caller_extends(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    codes = DEFAULT_SKIP_CODES | {"ResourceNotFoundException"}
    sources = {"a": scan(ddb, "a"), "gone": scan(ddb, "gone")}
    async with fan_out(sources, skip_codes=codes, on_error="raise") as merged:
        await drain(merged)  # a skip never raises
    assert merged.outcomes["gone"].status == "skipped"
    assert merged.outcomes["gone"].reason == "ResourceNotFoundException"
    assert merged.outcomes["a"].status == "ok"


async def test_a_refused_connection_fails_with_its_resume_token(
    make_client: MakeClient, ddb: Any, tables: dict[str, list[str]]
) -> None:
    """Nothing listening is not "the service is absent here": it fails, resumably."""
    nowhere = await make_client("dynamodb", "http://127.0.0.1:9", region="ap-east-1")
    sources = {
        "nowhere": asyncpage.paginate(nowhere, "list_tables").with_options(
            retry=asyncpage.Retry(attempts=2)
        ),
        "b": scan(ddb, "b"),
    }
    async with fan_out(sources) as merged:
        got = [t.source for t in await drain(merged)]
    assert got == ["b"] * 4
    outcome = merged.outcomes["nowhere"]
    assert outcome.status == "failed"
    assert isinstance(outcome.error, asyncpage.PageFetchError)
    assert outcome.error.attempts == 2
    assert outcome.resume_token is None  # the first page: start over


def test_a_name_that_does_not_resolve_means_the_endpoint_is_missing() -> None:
    """What aiobotocore raises for a service absent from a region: not retried, skipped."""
    import socket

    from botocore.exceptions import EndpointConnectionError

    from asyncpage._retry import endpoint_missing

    nowhere = "https://dynamodb.ap-east-1.amazonaws.com/"
    dns = EndpointConnectionError(
        endpoint_url=nowhere, error=socket.gaierror(socket.EAI_NONAME, "Name not known")
    )
    flaky_dns = EndpointConnectionError(
        endpoint_url=nowhere, error=socket.gaierror(socket.EAI_AGAIN, "Try again")
    )
    typo = EndpointConnectionError(
        endpoint_url="http://moto-typo.invalid:5000/",
        error=socket.gaierror(socket.EAI_NONAME, "Name not known"),
    )
    refused = EndpointConnectionError(
        endpoint_url="http://127.0.0.1:9", error=ConnectionRefusedError(111, "refused")
    )
    assert endpoint_missing(dns) and asyncpage.classify(dns) is None
    assert not endpoint_missing(refused) and asyncpage.classify(refused) == "transient"
    assert not endpoint_missing(flaky_dns) and asyncpage.classify(flaky_dns) == "transient"
    # A custom endpoint that does not resolve is a mistake to report, not "absent here".
    assert not endpoint_missing(typo)


async def test_source_order_raises_a_failure_promptly_and_loses_nothing(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    """A later source failing on its first page does not wait for the earlier ones."""
    merged = fan_out(
        {"a": scan(ddb, "a", PageSize=1), "gone": scan(ddb, "gone")},
        order="source",
        on_error="raise",
    )
    received: list[Tagged[str, dict[str, Any]]] = []
    with pytest.raises(asyncpage.PageFetchError):
        await drain_into(merged, received)
    outcome = merged.outcomes["a"]
    assert outcome.status == "cancelled"
    assert outcome.pages == len(received) < 12
    rest = scan(ddb, "a", StartingToken=outcome.resume_token)
    async with rest:
        tail = [item["pk"]["S"] async for item in rest.items()]
    got = [item["pk"]["S"] for tagged in received for item in tagged.page["Items"]]
    assert got + tail == [
        item["pk"]["S"] for page in await alone(scan(ddb, "a")) for item in page["Items"]
    ]


async def test_a_factory_that_raises_fails_its_source_only(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    def broken() -> asyncpage.AsyncPageIterator:
        return asyncpage.paginate(ddb, "scan", TableName="a", PaginationConfig={"PageSize": 0})

    async with fan_out({"broken": broken, "b": lambda: scan(ddb, "b")}) as merged:
        got = [t.source for t in await drain(merged)]
    assert got == ["b"] * 4
    assert merged.outcomes["broken"].status == "failed"
    assert isinstance(merged.outcomes["broken"].error, asyncpage.InvalidPaginationConfigError)


@pytest.mark.parametrize("where", ["factory", "returned", "async factory"])
async def test_a_bug_in_a_factory_is_raised_not_filed_as_failed(
    ddb: Any, tables: dict[str, list[str]], where: str, anyio_backend: str
) -> None:
    # A KeyError in your own code is not an AWS outcome: it comes out of `async for` as
    # itself, every other source is cancelled, and nothing is left running.
    def buggy() -> asyncpage.AsyncPageIterator:
        registry: dict[str, asyncpage.AsyncPageIterator] = {}
        return registry["no such key"]

    def wrong() -> Any:
        return "not an iterator"

    async def buggy_async() -> asyncpage.AsyncPageIterator:
        raise KeyError("no such key")

    factory = {"factory": buggy, "returned": wrong, "async factory": buggy_async}[where]
    expected = TypeError if where == "returned" else KeyError
    before = len(anyio.get_running_tasks())
    with pytest.raises(expected):
        async with fan_out({"b": lambda: scan(ddb, "b"), "bug": factory}, concurrency=1) as merged:
            async for _ in merged:
                pass
    assert len(anyio.get_running_tasks()) == before
    assert merged.outcomes["b"].status in {"ok", "cancelled"}


async def test_on_error_raise_cancels_the_rest_and_raises_the_page_error(
    make_client: MakeClient,
    moto_endpoint: str,
    fault_proxy: Any,
    tables: dict[str, list[str]],
    anyio_backend: str,
) -> None:
    direct = await make_client("dynamodb", moto_endpoint)
    slow = await make_client("dynamodb", fault_proxy.endpoint_url)
    fault_proxy.hold()  # the slow sources' requests stay in flight until cancelled
    sources = {
        "slow-a": asyncpage.paginate(slow, "scan", TableName="a", PaginationConfig={"PageSize": 1}),
        "slow-c": asyncpage.paginate(slow, "scan", TableName="c", PaginationConfig={"PageSize": 1}),
        "missing": scan(direct, "missing"),
    }
    tasks_before = len(asyncio.all_tasks()) if anyio_backend == "asyncio" else 0
    merged = fan_out(sources, on_error="raise")
    received: list[object] = []
    with anyio.fail_after(20), pytest.raises(asyncpage.PageFetchError) as caught:
        await drain_into(merged, received)  # raises the page error, not an ExceptionGroup
    assert error_code(caught.value.error) == "ResourceNotFoundException"
    if anyio_backend == "asyncio":
        assert len(asyncio.all_tasks()) == tasks_before
    outcomes = merged.outcomes
    assert outcomes["missing"].status == "failed"
    assert outcomes["missing"].error is caught.value
    for label, total in (("slow-a", 12), ("slow-c", 16)):
        assert outcomes[label].status == "cancelled"
        assert outcomes[label].statistics.requests < total
    assert len(received) == outcomes["slow-a"].pages + outcomes["slow-c"].pages


async def test_leaving_early_cancels_everything_and_resume_tokens_say_where(
    ddb: Any, tables: dict[str, list[str]], anyio_backend: str
) -> None:
    tasks_before = len(asyncio.all_tasks()) if anyio_backend == "asyncio" else 0
    received: dict[str, list[str]] = {name: [] for name in tables}
    async with fan_out({name: scan(ddb, name) for name in tables}, order="source") as merged:
        async for tagged in merged:
            received[tagged.source] += [item["pk"]["S"] for item in tagged.page["Items"]]
            if len(received["a"]) == 6:
                break
    if anyio_backend == "asyncio":
        assert len(asyncio.all_tasks()) == tasks_before
    for name, keys in tables.items():
        outcome = merged.outcomes[name]
        assert outcome.status == "cancelled"
        assert outcome.pages == len(received[name]) // PAGE
        rest = scan(ddb, name, StartingToken=outcome.resume_token)
        async with rest:
            tail = [item["pk"]["S"] async for item in rest.items()]
        assert sorted(received[name] + tail) == sorted(keys)  # nothing lost, nothing twice


async def test_an_exception_in_the_body_propagates_unwrapped(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    merged = fan_out({name: scan(ddb, name) for name in tables})

    async def body() -> None:
        async with merged:
            async for _ in merged:
                raise KeyError("mine")

    with pytest.raises(KeyError, match="mine"):
        await body()
    assert {o.status for o in merged.outcomes.values()} == {"cancelled"}


async def test_cancelled_from_outside_leaves_nothing_running(
    ddb: Any, tables: dict[str, list[str]], anyio_backend: str
) -> None:
    tasks_before = len(asyncio.all_tasks()) if anyio_backend == "asyncio" else 0
    with anyio.CancelScope() as scope:
        async with fan_out({name: scan(ddb, name) for name in tables}) as merged:
            async for _ in merged:
                scope.cancel()
                await anyio.sleep(1)
    assert scope.cancelled_caught
    if anyio_backend == "asyncio":
        assert len(asyncio.all_tasks()) == tasks_before
    assert {o.status for o in merged.outcomes.values()} == {"cancelled"}


async def test_iterating_without_async_with_is_a_clear_error(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    merged = fan_out({"a": scan(ddb, "a")})
    with pytest.raises(asyncpage.AsyncPageError, match="async with"):
        async for _ in merged:
            pass
    with pytest.raises(asyncpage.AsyncPageError, match="async with"):
        async for _ in merged.items():
            pass
    assert merged.statistics().requests == 0
    async with merged:
        await drain(merged)
    with pytest.raises(asyncpage.AsyncPageError, match="closed"):
        async for _ in merged:
            pass
    with pytest.raises(asyncpage.AsyncPageError, match="only once"):
        async with merged:
            pass


async def test_bad_options_are_refused_before_anything_starts(ddb: Any) -> None:
    bad: list[dict[str, Any]] = [
        {"concurrency": 0},
        {"concurrency": 2.5},
        {"per_endpoint": 0},
        {"buffer": 0},
        {"order": "random"},
        {"on_error": "ignore"},
        {"skip_codes": "AccessDenied"},
    ]
    for options in bad:
        with pytest.raises(asyncpage.InvalidPaginationError):
            fan_out({"a": scan(ddb, "a")}, **options)
    it = scan(ddb, "a")
    with pytest.raises(ValueError, match="twice"):
        fan_out({"x": it, "y": it})
    with pytest.raises(ValueError, match="callable returning one"):
        fan_out({"x": 42})  # type: ignore[dict-item]


# -- memory and concurrency ---------------------------------------------------------------


async def test_a_slow_consumer_holds_each_producer_to_its_buffer(
    ddb: Any, tables: dict[str, list[str]]
) -> None:
    # The iterators' own prefetch does not add up: a source's task is its read-ahead.
    for buffer, prefetch in ((1, 0), (1, 1), (3, 2)):
        its = {
            name: asyncpage.paginate(
                ddb, "scan", TableName=name, PaginationConfig={"PageSize": 1}
            ).with_options(prefetch=prefetch)
            for name in ("a", "c")
        }
        taken: Counter[str] = Counter()
        async with fan_out(its, order="source", buffer=buffer) as merged:
            async for tagged in merged:
                taken[tagged.source] += 1
                for _ in range(10):  # every chance for the producers to run ahead too far
                    await anyio.sleep(0.002)
                for name, it in its.items():
                    assert it.statistics().requests <= taken[name] + buffer
                if taken["a"] == 6:
                    break
        # "c" was fetched ahead, within its bound, while "a" was being delivered
        assert its["c"].statistics().requests == buffer


async def test_concurrency_and_per_endpoint_limits_hold(
    make_client: MakeClient, moto_endpoint: str, ddb: Any, tables: dict[str, list[str]]
) -> None:
    west = await make_client("dynamodb", moto_endpoint, region="us-west-2")
    await create_table(west, "w", 9)
    made: dict[str, asyncpage.AsyncPageIterator] = {}

    def source(client: Any, table: str, label: str) -> Callable[[], asyncpage.AsyncPageIterator]:
        def make() -> asyncpage.AsyncPageIterator:
            made[label] = scan(client, table)
            return made[label]

        return make

    sources = {f"east-{t}": source(ddb, t, f"east-{t}") for t in ("a", "b", "c")}
    sources |= {f"west-{n}": source(west, "w", f"west-{n}") for n in range(3)}

    def running(prefix: str = "") -> int:
        return sum(
            1
            for label, it in made.items()
            if label.startswith(prefix) and it.statistics().requests and not it.finished
        )

    peak_east = peak_all = 0
    async with fan_out(sources, concurrency=3, per_endpoint=1) as merged:
        async for _ in merged:
            peak_east = max(peak_east, running("east"))
            peak_all = max(peak_all, running())
            assert running("east") <= 1
            assert running("west") <= 1
    assert {o.status for o in merged.outcomes.values()} == {"ok"}
    assert peak_all == 2
    assert peak_east == 1


async def test_sources_of_one_endpoint_share_a_backoff_gate(
    make_client: MakeClient, fault_proxy: Any, moto_endpoint: str, tables: dict[str, list[str]]
) -> None:
    """A throttle on one source closes the gate for its (service, region) siblings only."""
    asyncpage.set_testing(False)  # real waits: the gate is what is tested (restored after)
    east = await make_client("dynamodb", fault_proxy.endpoint_url)
    west_setup = await make_client("dynamodb", moto_endpoint, region="us-west-2")
    await create_table(west_setup, "w", 12)
    west = await make_client("dynamodb", fault_proxy.endpoint_url, region="us-west-2")
    fault_proxy.configure(retry_after=0.2)
    fault_proxy.fail_next(1, "throttle", only_operation="ListTables")
    policy = asyncpage.Retry(wait_initial=0.01, wait_max=0.2)
    sources = {
        "throttled": asyncpage.paginate(east, "list_tables").with_options(retry=policy),
        "sibling": asyncpage.paginate(
            east, "scan", TableName="c", PaginationConfig={"PageSize": 1}
        ).with_options(retry=policy),
        "elsewhere": asyncpage.paginate(
            west, "scan", TableName="w", PaginationConfig={"PageSize": 1}
        ).with_options(retry=policy),
    }
    async with fan_out(sources) as merged:
        await drain(merged)
    assert sources["throttled"].gate is sources["sibling"].gate
    assert sources["elsewhere"].gate is not sources["sibling"].gate
    outcomes = merged.outcomes
    assert {o.status for o in outcomes.values()} == {"ok"}
    throttled, sibling, elsewhere = (outcomes[k].statistics for k in sources)
    assert throttled.throttles == throttled.retries == 1
    assert sibling.throttles == 0
    assert sibling.seconds_waited > 0
    assert elsewhere.throttles == 0
    assert elsewhere.seconds_waited == 0


async def test_outcomes_are_live_while_iterating(ddb: Any, tables: dict[str, list[str]]) -> None:
    async with fan_out({name: scan(ddb, name) for name in tables}, order="source") as merged:
        outcomes = merged.outcomes
        seen: list[Outcome] = []
        async for tagged in merged:
            if tagged.source == "b":
                seen.append(outcomes["a"])
                seen.append(outcomes["c"])
    assert seen[0].status == "ok"
    assert seen[0].pages == 6
    assert seen[1].status == "pending"
    assert outcomes["c"].status == "ok"
    assert list(outcomes) == ["a", "b", "c"]


@pytest.mark.parametrize("consume", ["pages", "items"])
async def test_leaving_right_after_the_last_page_or_item_is_ok_not_cancelled(
    ddb: Any, tables: dict[str, list[str]], consume: str
) -> None:
    # The consumer has everything and leaves at once, before the source's task has seen
    # the end: the source is complete ("ok", no token), not "cancelled" with a token that
    # would mean "from the beginning" and repeat it all.
    keys = tables["b"]  # 7 items, 4 pages
    for config in ({}, {"MaxItems": 5}):
        want = len(keys) if not config else 5
        got: list[str] = []
        async with fan_out({"b": scan(ddb, "b", **config)}) as merged:
            if consume == "pages":
                async for tagged in merged:
                    got += [item["pk"]["S"] for item in tagged.page["Items"]]
                    if len(got) == want:
                        break
            else:
                async for tagged in merged.items():
                    got.append(tagged.value["pk"]["S"])
                    if len(got) == want:
                        break
        outcome = merged.outcomes["b"]
        assert outcome.status == "ok", config
        assert outcome.items == want
        if not config:
            assert outcome.resume_token is None
            assert sorted(got) == sorted(keys)
        else:  # MaxItems cut the listing: the token is the rest of it
            rest = scan(ddb, "b", StartingToken=outcome.resume_token)
            assert sorted(got + [i["pk"]["S"] async for i in rest.items()]) == sorted(keys)
