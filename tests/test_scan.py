"""parallel_scan: a DynamoDB Scan in segments, against moto over HTTP, on asyncio and trio.

moto implements ``Segment``/``TotalSegments`` (moto 5.2.5, ``Item.is_within_segment``): an
item belongs to segment ``md5(hash key)[0] % TotalSegments``, so segments are disjoint,
cover the table, and page with ``ExclusiveStartKey`` like a whole-table scan. Because it
uses one byte of the hash, segments numbered 256 and above are always empty in moto
(DynamoDB allows up to 1,000,000); the tests use a handful.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

import asyncpage
from _tables import create_table
from asyncpage._retry import error_code
from asyncpage._scan import parallel_scan

pytestmark = pytest.mark.anyio

TABLE = "events"
ITEMS = 120
SEGMENTS = 4
PAGE = 7
MakeClient = Callable[..., Awaitable[Any]]


@pytest.fixture
async def ddb(make_client: MakeClient, moto_endpoint: str) -> Any:
    client = await make_client("dynamodb", moto_endpoint)
    await create_table(client, TABLE, ITEMS)
    return client


async def plain_scan(ddb: Any, **params: Any) -> list[str]:
    """botocore's own paginator: the oracle."""
    paginator = ddb.get_paginator("scan").paginate(
        TableName=TABLE, PaginationConfig={"PageSize": PAGE}, **params
    )
    return [item["pk"]["S"] async for item in paginator.search("Items[]")]


async def test_parallel_scan_returns_exactly_the_items_of_a_plain_scan(ddb: Any) -> None:
    async with parallel_scan(
        ddb, TableName=TABLE, segments=SEGMENTS, PaginationConfig={"PageSize": PAGE}
    ) as scan:
        got = [(t.source, t.value["pk"]["S"]) async for t in scan.items()]

    assert Counter(key for _, key in got) == Counter(await plain_scan(ddb))  # each once
    for segment in range(SEGMENTS):
        alone = await plain_scan(ddb, Segment=segment, TotalSegments=SEGMENTS)
        assert [key for label, key in got if label == segment] == alone
    assert len({label for label, _ in got}) == SEGMENTS  # moto really splits the table
    outcomes = scan.outcomes
    assert sorted(outcomes) == list(range(SEGMENTS))
    assert {o.status for o in outcomes.values()} == {"ok"}
    assert sum(o.items for o in outcomes.values()) == ITEMS
    assert scan.statistics().items == ITEMS


async def test_a_failed_segment_resumes_from_its_outcome_token(
    make_client: MakeClient, fault_proxy: Any, ddb: Any
) -> None:
    """Segment 0 fails on its second page; the others finish; resuming gives the rest."""
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    # One segment at a time, no read-ahead, in segment order: the request after the
    # first page of segment 0 is segment 0's second page, and nothing is in flight.
    scan = parallel_scan(
        client,
        TableName=TABLE,
        segments=SEGMENTS,
        concurrency=1,
        prefetch=0,
        order="source",
        PaginationConfig={"PageSize": PAGE},
    )
    got: list[str] = []
    async with scan:
        async for tagged in scan:
            if not got:
                fault_proxy.fail_next(1, "throttle", code="ValidationException")
            got += [item["pk"]["S"] for item in tagged.page["Items"]]

    failed = scan.outcomes[0]
    assert failed.status == "failed"
    assert isinstance(failed.error, asyncpage.PageFetchError)
    assert error_code(failed.error.error) == "ValidationException"
    assert failed.pages == 1
    assert failed.resume_token is not None
    assert failed.resume_token == failed.error.resume_token
    assert [scan.outcomes[s].status for s in range(1, SEGMENTS)] == ["ok"] * (SEGMENTS - 1)

    async with parallel_scan(
        client,
        TableName=TABLE,
        segments=SEGMENTS,
        resume={0: failed.resume_token},
        PaginationConfig={"PageSize": PAGE},
    ) as rest:
        tail = [(t.source, t.value["pk"]["S"]) async for t in rest.items()]
    assert {label for label, _ in tail} == {0}
    assert Counter(got + [key for _, key in tail]) == Counter(await plain_scan(ddb))
    segment_0 = await plain_scan(ddb, Segment=0, TotalSegments=SEGMENTS)
    assert [key for _, key in tail] == segment_0[PAGE:]


async def test_one_segment_is_a_plain_scan(ddb: Any) -> None:
    async with parallel_scan(ddb, TableName=TABLE, segments=1) as scan:
        keys = [t.value["pk"]["S"] async for t in scan.items()]
    assert sorted(keys) == sorted(await plain_scan(ddb))


BAD_INPUT: list[tuple[dict[str, Any], str]] = [
    ({"segments": 0}, "between 1 and"),
    ({"segments": 1_000_001}, "between 1 and"),
    ({"segments": True}, "must be an int"),
    ({"segments": "4"}, "must be an int"),
    ({"TableName": None}, "TableName"),
    ({"Segment": 1}, "Segment"),
    ({"TotalSegments": 8}, "TotalSegments"),
    ({"PaginationConfig": {"MaxItems": 10}}, "MaxItems"),
    ({"PaginationConfig": {"StartingToken": "x"}}, "resume="),
    ({"resume": {4: None}}, "segment numbers"),
    ({"resume": {0: "not a token"}}, "token"),
    ({"PaginationConfig": {"PageSize": -1}}, "PageSize"),
]


async def test_bad_input_is_refused_before_any_request(
    make_client: MakeClient, fault_proxy: Any
) -> None:
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    for arguments, message in BAD_INPUT:
        params: dict[str, Any] = {"TableName": TABLE, **arguments}
        if params["TableName"] is None:
            del params["TableName"]
        with pytest.raises(asyncpage.InvalidPaginationError, match=message):
            parallel_scan(client, **params)
    assert fault_proxy.counters.requests == 0


async def test_leaving_right_after_the_last_item_leaves_every_segment_ok(ddb: Any) -> None:
    got = 0
    async with parallel_scan(
        ddb, TableName=TABLE, segments=SEGMENTS, PaginationConfig={"PageSize": PAGE}
    ) as scan:
        async for _ in scan.items():
            got += 1
            if got == ITEMS:
                break  # before the last segment's task has seen its end
    assert {o.status for o in scan.outcomes.values()} == {"ok"}
    assert {o.resume_token for o in scan.outcomes.values()} == {None}
