"""ScriptedAWS pages DynamoDB ListBackups and RDS DescribeDBClusterBacktracks over real HTTP."""

from __future__ import annotations

import datetime as dt
import http.client
import json
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any, TypedDict, cast

import aiobotocore.httpxsession
import boto3
import pytest
import trio
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from botocore.config import Config
from botocore.exceptions import ClientError, PaginationError

from asyncpage.testing._scripted import ScriptedAWS, ScriptedPage

UTC = dt.UTC


class _Credentials(TypedDict):
    aws_access_key_id: str
    aws_secret_access_key: str


#: A TypedDict, so that ``**CREDENTIALS`` type-checks against the stubs' create_client.
CREDENTIALS: _Credentials = {"aws_access_key_id": "x", "aws_secret_access_key": "x"}
#: httpx's session class; cast, as types-aiobotocore 3.10 allows only aiohttp's there.
HTTPX: Any = aiobotocore.httpxsession.HttpxSession


@pytest.fixture
def aws() -> Iterator[ScriptedAWS]:
    with ScriptedAWS() as server:
        yield server


@asynccontextmanager
async def aio_client(
    service: str, aws: ScriptedAWS, config: AioConfig | None = None
) -> AsyncIterator[Any]:
    async with get_session().create_client(
        cast(Any, service),  # the stubs know only literal service names
        region_name="us-east-1",
        endpoint_url=aws.endpoint_url,
        config=config,
        **CREDENTIALS,
    ) as client:
        yield client


def boto3_client(service: str, aws: ScriptedAWS, config: Config | None = None) -> Any:
    return boto3.client(
        service,
        region_name="us-east-1",
        endpoint_url=aws.endpoint_url,
        config=config,
        **CREDENTIALS,
    )


def arn(label: str) -> str:
    """A scripted token long enough for botocore's ExclusiveStartBackupArn validation."""
    return f"arn:aws:dynamodb:us-east-1:123456789012:table/scripted/backup/{label}"


def summary(name: str) -> dict[str, Any]:
    return {
        "TableName": "scripted",
        "BackupArn": arn(name),
        "BackupName": name,
        "BackupCreationDateTime": dt.datetime(2024, 5, 1, tzinfo=UTC),
        "BackupType": "USER",
    }


# -- DynamoDB ListBackups -------------------------------------------------------------------


@pytest.mark.asyncio
async def test_aiobotocore_paginator_gets_every_backup_once_in_order(aws: ScriptedAWS) -> None:
    expected = aws.add_backups("music", 250)
    aws.add_backups("films", 30)
    async with aio_client("dynamodb", aws) as client:
        paginator = client.get_paginator("list_backups")
        pages = [
            page
            async for page in paginator.paginate(
                TableName="music", PaginationConfig={"PageSize": 100}
            )
        ]
    assert [len(page["BackupSummaries"]) for page in pages] == [100, 100, 50]
    assert [s for page in pages for s in page["BackupSummaries"]] == expected
    first = pages[0]["BackupSummaries"][0]
    assert isinstance(first["BackupCreationDateTime"], dt.datetime)
    assert first["BackupCreationDateTime"] == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert pages[0]["LastEvaluatedBackupArn"] == expected[99]["BackupArn"]
    assert "LastEvaluatedBackupArn" not in pages[-1]
    assert aws.requests == 3
    assert [call.get("ExclusiveStartBackupArn") for call in aws.calls["ListBackups"]] == [
        None,
        expected[99]["BackupArn"],
        expected[199]["BackupArn"],
    ]


@pytest.mark.asyncio
async def test_list_backups_filters_by_time_range_and_type(aws: ScriptedAWS) -> None:
    start = dt.datetime(2024, 3, 1, tzinfo=UTC)
    user = aws.add_backups("music", 10, start=start, step=dt.timedelta(hours=1))
    system = aws.add_backups("music", 3, backup_type="SYSTEM", start=start)
    async with aio_client("dynamodb", aws) as client:
        paginator = client.get_paginator("list_backups")
        in_range = [
            s
            async for s in paginator.paginate(
                TableName="music",
                TimeRangeLowerBound=start + dt.timedelta(hours=2),  # inclusive
                TimeRangeUpperBound=start + dt.timedelta(hours=5),  # exclusive
                PaginationConfig={"PageSize": 2},
            ).search("BackupSummaries[]")
        ]
        system_listed = await client.list_backups(TableName="music", BackupType="SYSTEM")
        everything = await client.list_backups(TableName=user[0]["TableArn"], BackupType="ALL")
    assert in_range == user[2:5]
    assert system_listed["BackupSummaries"] == system
    assert system[0]["BackupExpiryDateTime"] == start + dt.timedelta(days=35)
    assert everything["BackupSummaries"] == user + system


def test_boto3_paginator_honours_page_size_and_max_items(aws: ScriptedAWS) -> None:
    expected = aws.add_backups("music", 70)
    client = boto3_client("dynamodb", aws)
    paginator = client.get_paginator("list_backups")
    head = paginator.paginate(
        TableName="music", PaginationConfig={"PageSize": 20, "MaxItems": 55}
    ).build_full_result()
    tail = paginator.paginate(
        TableName="music", PaginationConfig={"PageSize": 20, "StartingToken": head["NextToken"]}
    ).build_full_result()
    client.close()
    assert head["BackupSummaries"] == expected[:55]
    assert tail["BackupSummaries"] == expected[55:]
    assert {call["Limit"] for call in aws.calls["ListBackups"]} == {20}


@pytest.mark.asyncio
async def test_httpx_backend_pages_through_absolute_form_requests(aws: ScriptedAWS) -> None:
    expected = aws.add_backups("music", 45)
    config = AioConfig(http_session_cls=HTTPX)
    async with aio_client("dynamodb", aws, config) as client:
        paginator = client.get_paginator("list_backups")
        items = [
            s
            async for s in paginator.paginate(
                TableName="music", PaginationConfig={"PageSize": 20}
            ).search("BackupSummaries[]")
        ]
    assert items == expected
    assert aws.requests == 3


def test_serves_a_trio_client(aws: ScriptedAWS) -> None:
    expected = aws.add_backups("music", 25)

    async def listing() -> list[dict[str, Any]]:
        config = AioConfig(http_session_cls=HTTPX)
        async with aio_client("dynamodb", aws, config) as client:
            paginator = client.get_paginator("list_backups")
            pages = paginator.paginate(TableName="music", PaginationConfig={"PageSize": 10})
            return [s async for s in pages.search("BackupSummaries[]")]

    assert trio.run(listing) == expected


@pytest.mark.asyncio
async def test_list_backups_errors_are_dynamodb_validation_exceptions(aws: ScriptedAWS) -> None:
    aws.add_backups("music", 3)
    unvalidated = AioConfig(parameter_validation=False)
    async with aio_client("dynamodb", aws, unvalidated) as client:
        for bad in (
            {"Limit": 101},
            {"Limit": 0},
            {"BackupType": "WEEKLY"},
            {"ExclusiveStartBackupArn": arn("not-a-backup-of-this-listing")},
        ):
            with pytest.raises(ClientError) as caught:
                await client.list_backups(TableName="music", **bad)
            assert caught.value.response["Error"]["Code"] == "ValidationException", bad
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
        with pytest.raises(ClientError, match="less than or equal to 100"):
            await client.list_backups(Limit=101)
    assert aws.requests == 5


@pytest.mark.asyncio
async def test_prerendered_pages_match_the_computed_ones(aws: ScriptedAWS) -> None:
    expected = aws.add_backups("bench", 1000)
    assert aws.prerender_backups("bench", page_size=100) == 10
    async with aio_client("dynamodb", aws) as client:
        paginator = client.get_paginator("list_backups")
        items = [s async for s in paginator.paginate(TableName="bench").search("BackupSummaries[]")]
    assert items == expected
    assert aws.requests == 10
    with pytest.raises(ValueError, match="page_size"):
        aws.prerender_backups("bench", page_size=101)


# -- scripted tokens ------------------------------------------------------------------------


@pytest.mark.asyncio
async def test_scripted_cycle_serves_its_tokens_round_and_round(aws: ScriptedAWS) -> None:
    aws.script_list_backups(
        [
            {"items": [summary("one")], "next": arn("A")},
            {"items": [summary("two")], "next": arn("B")},
            {"items": [summary("three")], "next": arn("A")},
        ]
    )
    tokens: list[str | None] = []
    names: list[str] = []
    token: str | None = None
    async with aio_client("dynamodb", aws) as client:
        for _ in range(5):
            start = {} if token is None else {"ExclusiveStartBackupArn": token}
            page = await client.list_backups(**start)
            token = page.get("LastEvaluatedBackupArn")
            tokens.append(token)
            names += [s["BackupName"] for s in page["BackupSummaries"]]
    assert tokens == [arn("A"), arn("B"), arn("A"), arn("B"), arn("A")]
    assert names == ["one", "two", "three", "two", "three"]
    assert page["BackupSummaries"][0]["BackupCreationDateTime"] == dt.datetime(
        2024, 5, 1, tzinfo=UTC
    )


@pytest.mark.asyncio
async def test_scripted_repeated_token_and_empty_last_page(aws: ScriptedAWS) -> None:
    async with aio_client("dynamodb", aws) as client:
        paginator = client.get_paginator("list_backups")

        aws.script_list_backups(
            [{"items": [summary("a"), summary("b")], "next": arn("A")}, {"items": []}]
        )
        pages = [page async for page in paginator.paginate()]
        assert [len(page["BackupSummaries"]) for page in pages] == [2, 0]

        aws.script_list_backups(
            [
                {"items": [summary("a")], "next": arn("A")},
                {"items": [summary("b")], "next": arn("A")},
            ]
        )
        with pytest.raises(PaginationError, match="same next token"):
            _ = [page async for page in paginator.paginate()]

        aws.script_list_backups([{"items": [summary("a")], "next": arn("nowhere")}])
        with pytest.raises(ClientError, match="ValidationException"):
            _ = [page async for page in paginator.paginate()]


def test_ambiguous_script_is_refused(aws: ScriptedAWS) -> None:
    lap: list[ScriptedPage] = [
        {"items": [], "next": arn("A")},
        {"items": [], "next": arn("B")},
        {"items": [], "next": arn("A")},
        {"items": [], "next": arn("B")},
    ]
    with pytest.raises(ValueError, match="first lap"):
        aws.script_list_backups(lap)


# -- RDS DescribeDBClusterBacktracks --------------------------------------------------------


@pytest.mark.asyncio
async def test_backtracks_page_with_filters_and_page_size_20(aws: ScriptedAWS) -> None:
    backtracks = aws.add_backtracks("Aurora-1", 50, statuses=("completed", "failed"))
    completed = [b for b in backtracks if b["Status"] == "completed"]
    async with aio_client("rds", aws) as client:
        paginator = client.get_paginator("describe_db_cluster_backtracks")
        pages = [
            page
            async for page in paginator.paginate(
                DBClusterIdentifier="aurora-1",
                Filters=[{"Name": "db-cluster-backtrack-status", "Values": ["completed"]}],
                PaginationConfig={"PageSize": 20},
            )
        ]
    assert [len(page["DBClusterBacktracks"]) for page in pages] == [20, 5]
    assert [b for page in pages for b in page["DBClusterBacktracks"]] == completed
    first = pages[0]["DBClusterBacktracks"][0]
    assert first["DBClusterIdentifier"] == "aurora-1"
    assert isinstance(first["BacktrackTo"], dt.datetime)
    assert first["BacktrackedFrom"] == dt.datetime(2024, 1, 1, tzinfo=UTC)
    assert pages[0]["Marker"] == completed[19]["BacktrackIdentifier"]
    assert aws.calls["DescribeDBClusterBacktracks"][0] == {
        "DBClusterIdentifier": "aurora-1",
        "Filters": [{"Name": "db-cluster-backtrack-status", "Values": ["completed"]}],
        "MaxRecords": 20,
    }


def test_boto3_backtracks_by_identifier_and_id_filter(aws: ScriptedAWS) -> None:
    backtracks = aws.add_backtracks("aurora-1", 30)
    client = boto3_client("rds", aws)
    one = client.describe_db_cluster_backtracks(
        DBClusterIdentifier="aurora-1", BacktrackIdentifier=backtracks[7]["BacktrackIdentifier"]
    )
    wanted = [backtracks[3]["BacktrackIdentifier"], backtracks[29]["BacktrackIdentifier"]]
    some = client.describe_db_cluster_backtracks(
        DBClusterIdentifier="aurora-1",
        Filters=[{"Name": "db-cluster-backtrack-id", "Values": wanted}],
    )
    client.close()
    assert one["DBClusterBacktracks"] == [backtracks[7]]
    assert some["DBClusterBacktracks"] == [backtracks[3], backtracks[29]]
    assert "Marker" not in some


@pytest.mark.asyncio
async def test_backtrack_errors_are_rds_faults(aws: ScriptedAWS) -> None:
    aws.add_backtracks("aurora-1", 3)
    async with aio_client("rds", aws) as client:
        with pytest.raises(client.exceptions.DBClusterNotFoundFault) as missing:
            await client.describe_db_cluster_backtracks(DBClusterIdentifier="nope")
        with pytest.raises(client.exceptions.DBClusterBacktrackNotFoundFault):
            await client.describe_db_cluster_backtracks(
                DBClusterIdentifier="aurora-1", BacktrackIdentifier="nope"
            )
        for bad in (
            {"MaxRecords": 19},
            {"MaxRecords": 101},
            {"Marker": "not-a-marker"},
            {"Filters": [{"Name": "engine", "Values": ["aurora"]}]},
        ):
            with pytest.raises(ClientError) as caught:
                await client.describe_db_cluster_backtracks(DBClusterIdentifier="aurora-1", **bad)
            assert caught.value.response["Error"]["Code"] == "InvalidParameterValue", bad
            assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert missing.value.response["Error"]["Message"] == "DBCluster nope not found."


# -- the server itself ----------------------------------------------------------------------


def test_absolute_form_keep_alive_and_counters(aws: ScriptedAWS) -> None:
    aws.add_backups("music", 3)
    assert aws.requests == 0
    assert aws.calls == {}
    port = int(aws.endpoint_url.rsplit(":", 1)[1])
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    headers = {
        "X-Amz-Target": "DynamoDB_20120810.ListBackups",
        "Content-Type": "application/x-amz-json-1.0",
    }
    try:
        bodies = []
        for limit in (2, 3):
            connection.request(
                "POST", f"{aws.endpoint_url}/", json.dumps({"Limit": limit}), headers
            )
            response = connection.getresponse()
            assert response.status == 200
            assert response.getheader("x-amz-crc32")
            bodies.append(json.loads(response.read()))
        connection.request("POST", "/", b"Action=DescribeDBClusters&Version=2014-10-31")
        unknown = connection.getresponse()
        assert unknown.status == 400
        assert b"<Code>InvalidAction</Code>" in unknown.read()
    finally:
        connection.close()
    assert [len(body["BackupSummaries"]) for body in bodies] == [2, 3]
    assert aws.requests == 3
    assert aws.calls == {"ListBackups": [{"Limit": 2}, {"Limit": 3}]}
    aws.clear()
    assert (aws.requests, aws.calls) == (0, {})


def test_latency_delays_every_response(aws: ScriptedAWS) -> None:
    aws.add_backups("music", 1)
    aws.latency = 0.2
    client = boto3_client("dynamodb", aws)
    began = time.monotonic()
    client.list_backups(TableName="music")
    elapsed = time.monotonic() - began
    client.close()
    assert elapsed >= 0.2
    with pytest.raises(ValueError, match="latency"):
        aws.latency = -1


@pytest.mark.asyncio
async def test_stop_closes_idle_keep_alive_connections_and_threads() -> None:
    aws = ScriptedAWS(latency=0.0)
    with aws:
        aws.add_backups("music", 2)
        async with aio_client("dynamodb", aws) as client:
            await client.list_backups(TableName="music")
            aws.stop()  # while the client still holds a pooled connection
            aws.stop()
    assert not [t for t in threading.enumerate() if t.name.startswith("ScriptedAWS")]
    with pytest.raises(RuntimeError, match="not running"):
        _ = aws.endpoint_url
    with aws:  # restartable, on a fresh port
        client = boto3_client("dynamodb", aws)
        assert client.list_backups(TableName="music")["BackupSummaries"][0]["BackupName"]
        client.close()


def test_bad_data_arguments_are_value_errors(aws: ScriptedAWS) -> None:
    with pytest.raises(ValueError, match="backup_type"):
        aws.add_backups("music", 1, backup_type="ALL")
    with pytest.raises(ValueError, match="statuses"):
        aws.add_backtracks("aurora-1", 1, statuses=("done",))
