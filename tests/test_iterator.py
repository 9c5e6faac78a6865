"""AsyncPageIterator where botocore's paginator has known bugs: each decision, pinned.

* Iterating again starts again from the beginning (or StartingToken); aiobotocore's page
  iterator restarts from a stale token and returns only the tail.
* ``resume_token`` is readable after every page, and resuming from it gives exactly the
  rest (botocore #1041: boto3 has a resume token only when MaxItems stopped the listing).
* A token cycle (A, B, A, B, ...) raises :class:`TokenCycleError` after the pages before
  it; botocore loops forever. The same token twice raises too (botocore raises its
  PaginationError; asyncpage raises TokenCycleError, with a resume token).
* ``statistics()`` counts pages, items, requests, retries, throttles and read-ahead.
* A non-retryable error raises :class:`PageFetchError` carrying the ClientError and the
  token of the page not fetched; resuming from it gives exactly the rest.

Scripted token sequences and errors come from :class:`ScriptedAWS` (DynamoDB ListBackups
over HTTP); throttling from the fault proxy in front of moto.
"""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError, PaginationError
from botocore.paginate import TokenEncoder

import asyncpage
from asyncpage.testing._scripted import ScriptedAWS, ScriptedPage

pytestmark = pytest.mark.anyio

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@pytest.fixture
def aws() -> Iterator[ScriptedAWS]:
    with ScriptedAWS() as server:
        yield server


def boto3_dynamodb(aws: ScriptedAWS) -> Any:
    return boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url=aws.endpoint_url, **CREDENTIALS
    )


def arn(label: str) -> str:
    """A scripted ExclusiveStartBackupArn (botocore wants at least 37 characters)."""
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/scripted/backup/{label}"


def token_for(label: str, skip: int = 0) -> str:
    """The paginator token (botocore's encoding) of the page that starts after ``label``."""
    token: dict[str, Any] = {"ExclusiveStartBackupArn": arn(label)}
    if skip:
        token["boto_truncate_amount"] = skip
    return str(TokenEncoder().encode(token))


def summary(name: str) -> dict[str, Any]:
    return {
        "TableName": "scripted",
        "BackupArn": arn(name),
        "BackupName": name,
        "BackupCreationDateTime": dt.datetime(2024, 5, 1, tzinfo=dt.UTC),
        "BackupType": "USER",
    }


def page(*names: str, next: str | None = None) -> ScriptedPage:
    return {"items": [summary(n) for n in names], "next": None if next is None else arn(next)}


def names_of(pages: list[dict[str, Any]]) -> list[list[str]]:
    return [[s["BackupName"] for s in p["BackupSummaries"]] for p in pages]


def backup_names(items: list[dict[str, Any]]) -> list[str]:
    return [s["BackupName"] for s in items]


async def pages_until_error(
    pages: Any,
) -> tuple[list[dict[str, Any]], Exception | None]:
    """The pages delivered before iteration stopped, and the exception that stopped it."""
    delivered: list[dict[str, Any]] = []
    try:
        async for p in pages:
            delivered.append(p)
    except Exception as error:
        return delivered, error
    return delivered, None


# -- iterating again --------------------------------------------------------------------------


async def test_iterating_again_starts_again_where_aiobotocore_returns_a_stale_tail(
    aws: ScriptedAWS, make_client: Any
) -> None:
    expected = backup_names(aws.add_backups("music", 25))
    client = await make_client("dynamodb", aws.endpoint_url)
    config = {"PageSize": 10}

    it = asyncpage.paginate(client, "list_backups", TableName="music", PaginationConfig=config)
    first = [s async for s in it.items()]
    second = [s async for s in it.items()]
    assert backup_names(first) == backup_names(second) == expected
    async for _ in it:  # leave the third iteration after one page...
        break
    assert it.resume_token is not None
    assert backup_names([s async for s in it.items()]) == expected  # ...the fourth is whole
    async with it:  # and with read-ahead
        assert [len(p["BackupSummaries"]) async for p in it] == [10, 10, 5]
        assert [len(p["BackupSummaries"]) async for p in it] == [10, 10, 5]

    # aiobotocore (like botocore) keeps the last token in the request parameters: iterating
    # its page iterator again returns only the last page.
    stale = client.get_paginator("list_backups").paginate(
        TableName="music", PaginationConfig=config
    )
    assert [len(p["BackupSummaries"]) async for p in stale] == [10, 10, 5]
    assert [len(p["BackupSummaries"]) async for p in stale] == [5]


async def test_iterating_again_starts_again_from_the_starting_token(
    aws: ScriptedAWS, make_client: Any
) -> None:
    expected = backup_names(aws.add_backups("music", 25))
    client = await make_client("dynamodb", aws.endpoint_url)
    head = await asyncpage.paginate(
        client, "list_backups", PaginationConfig={"PageSize": 10, "MaxItems": 13}
    ).build_full_result()
    it = asyncpage.paginate(
        client,
        "list_backups",
        PaginationConfig={"PageSize": 10, "StartingToken": head["NextToken"]},
    )
    assert it.resume_token == head["NextToken"]  # before the first page: where it starts
    for _ in range(2):
        assert backup_names([s async for s in it.items()]) == expected[13:]


# -- resume_token after every page --------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 2])
async def test_resume_token_after_every_page_resumes_on_exactly_the_rest(
    aws: ScriptedAWS, make_client: Any, prefetch: int
) -> None:
    expected = backup_names(aws.add_backups("music", 25))
    client = await make_client("dynamodb", aws.endpoint_url)
    sync = boto3_dynamodb(aws)
    config = {"PageSize": 7}

    it = asyncpage.paginate(client, "list_backups", PaginationConfig=config).with_options(
        prefetch=prefetch
    )
    assert it.resume_token is None
    delivered = 0
    tokens: list[tuple[int, str | None]] = []
    async with it:
        async for p in it:
            delivered += len(p["BackupSummaries"])
            # The token is that of the first page *not delivered*, however far read-ahead got.
            tokens.append((delivered, it.resume_token))
    assert [count for count, _ in tokens] == [7, 14, 21, 25]
    assert tokens[-1][1] is None
    assert it.finished

    # boto3 has no such token mid-listing (botocore #1041): only None until MaxItems.
    boto3_pages = sync.get_paginator("list_backups").paginate(PaginationConfig=config)
    assert [boto3_pages.resume_token for _ in boto3_pages] == [None] * 4

    for count, token in tokens[:-1]:
        assert token is not None
        rest_config = {"PageSize": 7, "StartingToken": token}
        rest = [
            s
            async for s in asyncpage.paginate(
                client, "list_backups", PaginationConfig=rest_config
            ).items()
        ]
        assert backup_names(rest) == expected[count:]
        boto3_rest = sync.get_paginator("list_backups").paginate(PaginationConfig=rest_config)
        assert backup_names(list(boto3_rest.search("BackupSummaries[]"))) == expected[count:]


async def test_resume_token_mid_page_after_max_items(aws: ScriptedAWS, make_client: Any) -> None:
    backups = aws.add_backups("music", 25)
    expected = backup_names(backups)
    client = await make_client("dynamodb", aws.endpoint_url)
    config = {"PageSize": 7, "MaxItems": 10}
    it = asyncpage.paginate(client, "list_backups", PaginationConfig=config)
    assert backup_names([s async for s in it.items()]) == expected[:10]
    # Page 2 starts after backup 6; 3 of its items were delivered.
    assert it.resume_token == TokenEncoder().encode(
        {"ExclusiveStartBackupArn": backups[6]["BackupArn"], "boto_truncate_amount": 3}
    )
    boto3_pages = (
        boto3_dynamodb(aws).get_paginator("list_backups").paginate(PaginationConfig=config)
    )
    for _ in boto3_pages:
        pass
    assert it.resume_token == boto3_pages.resume_token
    resume = {"PageSize": 7, "StartingToken": it.resume_token}
    rest = [
        s async for s in asyncpage.paginate(client, "list_backups", PaginationConfig=resume).items()
    ]
    assert backup_names(rest) == expected[10:]


@pytest.mark.parametrize("max_items", [10, 14], ids=["mid-page", "page-boundary"])
async def test_finished_once_max_items_is_reached(
    aws: ScriptedAWS, make_client: Any, max_items: int
) -> None:
    # AsyncPageIterator.finished: "True once the current iteration reached the end of the
    # listing (or MaxItems)" -- a loop `while not it.finished` must stop at MaxItems.
    aws.add_backups("music", 25)
    client = await make_client("dynamodb", aws.endpoint_url)
    it = asyncpage.paginate(
        client, "list_backups", PaginationConfig={"PageSize": 7, "MaxItems": max_items}
    )
    assert not it.finished
    assert len([s async for s in it.items()]) == max_items
    assert it.resume_token is not None  # more remain...
    assert it.finished  # ...but this iteration is over
    assert not it.exhausted  # and the listing is not

    # Batches of MaxItems until the listing is exhausted: every backup once.
    got: list[Any] = []
    token = None
    while True:
        config = {"PageSize": 7, "MaxItems": max_items, "StartingToken": token}
        batch = asyncpage.paginate(client, "list_backups", PaginationConfig=config)
        got += [s async for s in batch.items()]
        if batch.exhausted:
            break
        token = batch.resume_token
    assert len(got) == 25
    assert len({s["BackupArn"] for s in got}) == 25


async def test_finished_only_at_the_end(aws: ScriptedAWS, make_client: Any) -> None:
    aws.add_backups("music", 25)
    client = await make_client("dynamodb", aws.endpoint_url)
    it = asyncpage.paginate(client, "list_backups", PaginationConfig={"PageSize": 10})
    async for _ in it:
        break
    assert not it.finished  # left after page 1 of 3
    assert not it.exhausted
    async for _ in it:
        pass
    assert it.finished
    assert it.exhausted
    assert it.resume_token is None


# -- token cycles -----------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 1, 3])
async def test_token_cycle_raises_after_the_pages_before_it(
    aws: ScriptedAWS, make_client: Any, prefetch: int
) -> None:
    # Tokens A, B, A, B, ...: botocore only compares a token with the one just before.
    aws.script_list_backups([page("one", next="A"), page("two", next="B"), page("three", next="A")])
    client = await make_client("dynamodb", aws.endpoint_url)
    it = asyncpage.paginate(client, "list_backups").with_options(prefetch=prefetch)
    async with it:
        delivered, error = await pages_until_error(it)
    assert isinstance(error, asyncpage.TokenCycleError)
    assert names_of(delivered) == [["one"], ["two"], ["three"]]
    assert aws.requests == 3  # it never asks for A a second time
    assert error.resume_token == token_for("A")
    assert it.resume_token == error.resume_token
    assert it.statistics().pages == 3

    # boto3 follows the cycle for as long as you let it.
    sync = boto3_dynamodb(aws).get_paginator("list_backups").paginate()
    looped = list(itertools.islice(sync, 8))
    assert names_of(looped) == [["one"], *[["two"], ["three"]] * 3, ["two"]]


# A cycle longer than the exact window (caught by the anchor) is a Walk unit test:
# test_walk.py, 1,100 pages in milliseconds instead of over HTTP.


async def test_token_cycle_through_the_starting_token(aws: ScriptedAWS, make_client: Any) -> None:
    aws.script_list_backups([page("one", next="A"), page("two", next="B"), page("three", next="A")])
    client = await make_client("dynamodb", aws.endpoint_url)
    it = asyncpage.paginate(
        client, "list_backups", PaginationConfig={"StartingToken": token_for("A")}
    )
    delivered, error = await pages_until_error(it)
    assert isinstance(error, asyncpage.TokenCycleError)
    assert names_of(delivered) == [["two"], ["three"]]
    assert aws.requests == 2


async def test_same_token_twice_raises_token_cycle_error_where_boto3_raises_pagination_error(
    aws: ScriptedAWS, make_client: Any
) -> None:
    aws.script_list_backups([page("one", next="A"), page("two", next="A")])
    client = await make_client("dynamodb", aws.endpoint_url)
    delivered, error = await pages_until_error(asyncpage.paginate(client, "list_backups"))
    assert isinstance(error, asyncpage.TokenCycleError)
    assert isinstance(error, PaginationError)  # so `except PaginationError` still catches it
    assert names_of(delivered) == [["one"], ["two"]]
    assert aws.requests == 2
    assert error.resume_token == token_for("A")

    boto3_delivered = []
    boto3_pages = iter(boto3_dynamodb(aws).get_paginator("list_backups").paginate())
    boto3_delivered.append(next(boto3_pages))
    boto3_delivered.append(next(boto3_pages))
    with pytest.raises(PaginationError, match="same next token"):
        next(boto3_pages)
    assert names_of(boto3_delivered) == names_of(delivered)


# -- statistics() ----------------------------------------------------------------------------


async def test_statistics_count_pages_items_requests_and_read_ahead(
    aws: ScriptedAWS, make_client: Any
) -> None:
    aws.add_backups("music", 25)
    client = await make_client("dynamodb", aws.endpoint_url)
    it = asyncpage.paginate(client, "list_backups", PaginationConfig={"PageSize": 10})
    assert it.statistics() == asyncpage.PageStatistics()

    assert len([s async for s in it.items()]) == 25
    plain = it.statistics()
    # A plain loop reads ahead too (prefetch=1): pages 2 and 3 came while page 1 was used.
    assert plain == asyncpage.PageStatistics(pages=3, items=25, requests=3, prefetched=2)
    on_demand = asyncpage.paginate(
        client, "list_backups", PaginationConfig={"PageSize": 10}
    ).with_options(prefetch=0)
    assert len([s async for s in on_demand.items()]) == 25
    assert on_demand.statistics() == asyncpage.PageStatistics(pages=3, items=25, requests=3)

    async with asyncpage.paginate(
        client, "list_backups", PaginationConfig={"PageSize": 10}
    ).with_options(prefetch=2) as ahead:
        async for _ in ahead:
            pass
    read_ahead = ahead.statistics()
    assert (read_ahead.pages, read_ahead.items, read_ahead.requests) == (3, 25, 3)
    assert read_ahead.prefetched == 2  # every page but the first was fetched ahead

    # Counts add up across iterations of one iterator; MaxItems counts what was delivered.
    async for _ in it:
        pass
    assert it.statistics() == plain + plain
    capped = asyncpage.paginate(
        client, "list_backups", PaginationConfig={"PageSize": 10, "MaxItems": 15}
    )
    await capped.build_full_result()  # reads ahead, as documented
    capped_stats = capped.statistics()
    assert (capped_stats.pages, capped_stats.items, capped_stats.requests) == (2, 15, 2)
    assert aws.requests == 3 + 3 + 3 + 3 + 2


async def test_statistics_count_retries_and_throttles(
    moto_endpoint: str, fault_proxy: Any, make_client: Any
) -> None:
    sync = boto3.client(
        "dynamodb", region_name="us-east-1", endpoint_url=moto_endpoint, **CREDENTIALS
    )
    sync.create_table(
        TableName="stats",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sync.batch_write_item(
        RequestItems={
            "stats": [{"PutRequest": {"Item": {"pk": {"S": f"k{i:02d}"}}}} for i in range(20)]
        }
    )
    client = await make_client("dynamodb", fault_proxy.endpoint_url)  # botocore: 1 attempt
    it = asyncpage.paginate(client, "scan", TableName="stats", PaginationConfig={"PageSize": 5})
    fault_proxy.fail_next(3, "throttle")
    items = [item async for item in it.items()]
    assert sorted(item["pk"]["S"] for item in items) == [f"k{i:02d}" for i in range(20)]
    stats = it.statistics()
    assert (stats.pages, stats.items) == (4, 20)
    assert (stats.requests, stats.retries, stats.throttles) == (4 + 3, 3, 3)
    assert stats.seconds_waited == 0.0  # asyncpage.set_testing(True): no backoff sleeps
    assert fault_proxy.counters.throttled == 3


# -- PageFetchError --------------------------------------------------------------------------


@pytest.mark.parametrize("prefetch", [0, 2])
async def test_page_fetch_error_carries_the_error_and_the_token_of_the_rest(
    aws: ScriptedAWS, make_client: Any, prefetch: int
) -> None:
    # Page 3 (after token B) fails with a ValidationException: not retryable.
    aws.script_list_backups([page("a1", "a2", next="A"), page("b1", "b2", next="B")])
    client = await make_client("dynamodb", aws.endpoint_url)
    it = asyncpage.paginate(client, "list_backups").with_options(prefetch=prefetch)
    async with it:
        delivered, error = await pages_until_error(it)
    assert isinstance(error, asyncpage.PageFetchError)
    assert names_of(delivered) == [["a1", "a2"], ["b1", "b2"]]
    assert isinstance(error.error, ClientError)
    assert error.error.response["Error"]["Code"] == "ValidationException"
    assert error.__cause__ is error.error
    assert error.attempts == 1
    assert aws.requests == 3
    assert error.resume_token == token_for("B")
    assert it.resume_token == error.resume_token
    assert it.statistics().retries == 0

    # aiobotocore's paginator raises the bare ClientError and loses the position.
    lost = client.get_paginator("list_backups").paginate()
    aio_delivered, aio_error = await pages_until_error(lost)
    assert isinstance(aio_error, ClientError)
    assert names_of(aio_delivered) == names_of(delivered)
    assert lost.resume_token is None

    # The service recovers: the token gives exactly the rest, to asyncpage and to boto3.
    aws.script_list_backups(
        [page("a1", "a2", next="A"), page("b1", "b2", next="B"), page("c1", "c2", "c3")]
    )
    config = {"StartingToken": error.resume_token}
    rest = [
        s async for s in asyncpage.paginate(client, "list_backups", PaginationConfig=config).items()
    ]
    assert backup_names(rest) == ["c1", "c2", "c3"]
    boto3_rest = boto3_dynamodb(aws).get_paginator("list_backups").paginate(PaginationConfig=config)
    assert backup_names(list(boto3_rest.search("BackupSummaries[]"))) == ["c1", "c2", "c3"]


async def test_page_fetch_error_on_the_first_page_keeps_a_mid_page_starting_token(
    aws: ScriptedAWS, make_client: Any
) -> None:
    aws.script_list_backups([page("a1", next="A")])  # nothing answers token A yet
    client = await make_client("dynamodb", aws.endpoint_url)
    start = token_for("A", skip=2)
    it = asyncpage.paginate(client, "list_backups", PaginationConfig={"StartingToken": start})
    with pytest.raises(asyncpage.PageFetchError) as info:
        await it.build_full_result()
    assert info.value.resume_token == start
    aws.script_list_backups([page("a1", next="A"), page("b1", "b2", "b3", "b4")])
    rest = await asyncpage.paginate(
        client, "list_backups", PaginationConfig={"StartingToken": info.value.resume_token}
    ).build_full_result()
    assert backup_names(rest["BackupSummaries"]) == ["b3", "b4"]
