"""The operations of the seed documents, end to end over HTTP, against boto3's paginator.

* DynamoDB ``ListBackups`` (TableName, TimeRangeLowerBound/UpperBound, BackupType and every
  PaginationConfig key) and RDS ``DescribeDBClusterBacktracks`` (DBClusterIdentifier,
  BacktrackIdentifier, Filters, Marker tokens) against :class:`ScriptedAWS`, which pages
  them as AWS does (moto does not page the first and does not implement the second).
* S3 ``ListObjectsV2`` with Prefix, EC2 ``DescribeInstances`` (nested Reservations and
  Instances, ``search()``) and DynamoDB ``Scan`` against moto.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import boto3
import pytest

import asyncpage
from asyncpage.testing._scripted import ScriptedAWS

pytestmark = pytest.mark.anyio

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
START = dt.datetime(2024, 3, 1, tzinfo=dt.UTC)


@pytest.fixture
def aws() -> Iterator[ScriptedAWS]:
    with ScriptedAWS() as server:
        yield server


def boto3_client(service: str, endpoint_url: str) -> Any:
    return boto3.client(service, region_name="us-east-1", endpoint_url=endpoint_url, **CREDENTIALS)


def strip(page: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in page.items() if key != "ResponseMetadata"}


async def asyncpage_pages(client: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    async with asyncpage.paginate(client, operation, **params) as pages:
        return [strip(page) async for page in pages]


def boto3_pages(client: Any, operation: str, **params: Any) -> list[dict[str, Any]]:
    return [strip(page) for page in client.get_paginator(operation).paginate(**params)]


# -- DynamoDB ListBackups ----------------------------------------------------------------


@pytest.fixture
def backups(aws: ScriptedAWS) -> dict[str, list[dict[str, Any]]]:
    """57 USER and 6 SYSTEM backups of "music" an hour apart, 12 USER of "films"."""
    hourly = dt.timedelta(hours=1)
    return {
        "music": aws.add_backups("music", 57, start=START, step=hourly),
        "music-system": aws.add_backups(
            "music", 6, backup_type="SYSTEM", start=START + 10 * hourly, step=hourly
        ),
        "films": aws.add_backups("films", 12, start=START, step=hourly),
    }


async def test_list_backups_of_a_table_page_by_page(
    aws: ScriptedAWS, backups: dict[str, list[dict[str, Any]]], make_client: Any
) -> None:
    client = await make_client("dynamodb", aws.endpoint_url)
    config = {"PageSize": 20}
    pages = await asyncpage_pages(
        client, "list_backups", TableName="music", PaginationConfig=config
    )
    assert [len(page["BackupSummaries"]) for page in pages] == [20, 20, 17]
    assert [s for page in pages for s in page["BackupSummaries"]] == backups["music"]
    sent = aws.calls["ListBackups"]
    assert [call["Limit"] for call in sent] == [20, 20, 20]
    assert [call.get("ExclusiveStartBackupArn") for call in sent] == [
        None,
        backups["music"][19]["BackupArn"],
        backups["music"][39]["BackupArn"],
    ]
    expected = boto3_pages(
        boto3_client("dynamodb", aws.endpoint_url),
        "list_backups",
        TableName="music",
        PaginationConfig=config,
    )
    assert pages == expected


async def test_list_backups_with_time_range_type_and_every_pagination_key(
    aws: ScriptedAWS, backups: dict[str, list[dict[str, Any]]], make_client: Any
) -> None:
    client = await make_client("dynamodb", aws.endpoint_url)
    sync = boto3_client("dynamodb", aws.endpoint_url)
    lower, upper = START + dt.timedelta(hours=5), START + dt.timedelta(hours=40)
    params = {
        "TableName": "music",
        "TimeRangeLowerBound": lower,  # inclusive
        "TimeRangeUpperBound": upper,  # exclusive
        "BackupType": "ALL",
    }
    wanted = [
        s
        for s in backups["music"] + backups["music-system"]
        if lower <= s["BackupCreationDateTime"] < upper
    ]
    everything = [
        s
        async for s in asyncpage.paginate(
            client, "list_backups", **params, PaginationConfig={"PageSize": 7}
        ).items()
    ]
    assert sorted(s["BackupArn"] for s in everything) == sorted(s["BackupArn"] for s in wanted)
    assert len(everything) == 35 + 6
    assert {s["BackupType"] for s in everything} == {"USER", "SYSTEM"}

    # MaxItems mid-page, then StartingToken + PageSize + MaxItems together, to the end.
    head = asyncpage.paginate(
        client, "list_backups", **params, PaginationConfig={"PageSize": 7, "MaxItems": 10}
    )
    head_full = await head.build_full_result()
    expected_head = (
        sync.get_paginator("list_backups")
        .paginate(**params, PaginationConfig={"PageSize": 7, "MaxItems": 10})
        .build_full_result()
    )
    assert head_full == expected_head
    assert head_full["BackupSummaries"] == everything[:10]
    assert head.resume_token == head_full["NextToken"]

    seen = list(head_full["BackupSummaries"])
    token: str | None = head_full["NextToken"]
    while token is not None:
        config = {"StartingToken": token, "PageSize": 7, "MaxItems": 9}
        part = await asyncpage.paginate(
            client, "list_backups", **params, PaginationConfig=config
        ).build_full_result()
        assert (
            part
            == sync.get_paginator("list_backups")
            .paginate(**params, PaginationConfig=config)
            .build_full_result()
        )
        seen += part["BackupSummaries"]
        token = part.get("NextToken")
    assert seen == everything

    # The filters went over the wire as AWS expects them: epoch seconds, the type, Limit.
    first = aws.calls["ListBackups"][0]
    assert first["TimeRangeLowerBound"] == lower.timestamp()
    assert first["TimeRangeUpperBound"] == upper.timestamp()
    assert first["BackupType"] == "ALL"
    assert first["Limit"] == 7


async def test_list_backups_of_every_table_with_default_page_size(
    aws: ScriptedAWS, backups: dict[str, list[dict[str, Any]]], make_client: Any
) -> None:
    aws.add_backups("archive", 150, start=START)
    client = await make_client("dynamodb", aws.endpoint_url)
    pages = await asyncpage_pages(client, "list_backups")  # USER backups of all tables
    assert [len(page["BackupSummaries"]) for page in pages] == [100, 100, 19]
    assert all("Limit" not in call for call in aws.calls["ListBackups"])
    assert pages == boto3_pages(boto3_client("dynamodb", aws.endpoint_url), "list_backups")


# -- RDS DescribeDBClusterBacktracks -----------------------------------------------------


@pytest.fixture
def backtracks(aws: ScriptedAWS) -> list[dict[str, Any]]:
    aws.add_backtracks("other-cluster", 5)
    return aws.add_backtracks(
        "Prod-Cluster", 70, statuses=("completed", "failed", "completed", "pending"), start=START
    )


async def test_backtracks_follow_marker_tokens_across_pages(
    aws: ScriptedAWS, backtracks: list[dict[str, Any]], make_client: Any
) -> None:
    client = await make_client("rds", aws.endpoint_url)
    params = {"DBClusterIdentifier": "Prod-Cluster", "PaginationConfig": {"PageSize": 20}}
    pages = await asyncpage_pages(client, "describe_db_cluster_backtracks", **params)
    assert [len(page["DBClusterBacktracks"]) for page in pages] == [20, 20, 20, 10]
    assert [b for page in pages for b in page["DBClusterBacktracks"]] == backtracks
    assert [page.get("Marker") for page in pages] == [
        backtracks[19]["BacktrackIdentifier"],
        backtracks[39]["BacktrackIdentifier"],
        backtracks[59]["BacktrackIdentifier"],
        None,
    ]
    calls = aws.calls["DescribeDBClusterBacktracks"]
    assert [call.get("Marker") for call in calls] == [None] + [
        page["Marker"] for page in pages[:-1]
    ]
    assert {call["MaxRecords"] for call in calls} == {20}
    assert pages == boto3_pages(
        boto3_client("rds", aws.endpoint_url), "describe_db_cluster_backtracks", **params
    )


async def test_backtracks_with_filters_max_items_and_resume(
    aws: ScriptedAWS, backtracks: list[dict[str, Any]], make_client: Any
) -> None:
    client = await make_client("rds", aws.endpoint_url)
    sync = boto3_client("rds", aws.endpoint_url)
    params: dict[str, Any] = {
        "DBClusterIdentifier": "prod-cluster",
        "Filters": [{"Name": "db-cluster-backtrack-status", "Values": ["completed", "pending"]}],
    }
    wanted = [b for b in backtracks if b["Status"] in ("completed", "pending")]
    assert len(wanted) == 52

    config = {"PageSize": 20, "MaxItems": 30}
    head = await asyncpage.paginate(
        client, "describe_db_cluster_backtracks", **params, PaginationConfig=config
    ).build_full_result()
    boto3_head = (
        sync.get_paginator("describe_db_cluster_backtracks")
        .paginate(**params, PaginationConfig=config)
        .build_full_result()
    )
    assert head == boto3_head
    assert head["DBClusterBacktracks"] == wanted[:30]

    # The token (Marker of page 1, 10 items into page 2) resumes both paginators.
    resume = {"PageSize": 20, "StartingToken": head["NextToken"]}
    rest = [
        b
        async for b in asyncpage.paginate(
            client, "describe_db_cluster_backtracks", **params, PaginationConfig=resume
        ).search("DBClusterBacktracks[]")
    ]
    assert rest == wanted[30:]
    assert rest == list(
        sync.get_paginator("describe_db_cluster_backtracks")
        .paginate(**params, PaginationConfig=resume)
        .search("DBClusterBacktracks[]")
    )

    one = backtracks[42]["BacktrackIdentifier"]
    only = await asyncpage.paginate(
        client,
        "describe_db_cluster_backtracks",
        DBClusterIdentifier="PROD-CLUSTER",
        BacktrackIdentifier=one,
    ).build_full_result()
    assert only == {"DBClusterBacktracks": [backtracks[42]]}
    by_id = await asyncpage.paginate(
        client,
        "describe_db_cluster_backtracks",
        DBClusterIdentifier="prod-cluster",
        Filters=[{"Name": "db-cluster-backtrack-id", "Values": [one]}],
    ).build_full_result()
    assert by_id == only


# -- moto: S3 with Prefix, EC2 nested reservations, DynamoDB scan -----------------------------


async def test_s3_list_objects_v2_with_prefix(moto_endpoint: str, make_client: Any) -> None:
    sync = boto3_client("s3", moto_endpoint)
    sync.create_bucket(Bucket="seed-logs")
    logs = [f"logs/2024/{i:02d}.gz" for i in range(23)]
    for key in [*logs, "logsheet.txt", "other/a", "z"]:
        sync.put_object(Bucket="seed-logs", Key=key, Body=key.encode())
    client = await make_client("s3", moto_endpoint)
    params = {"Bucket": "seed-logs", "Prefix": "logs/", "PaginationConfig": {"PageSize": 10}}

    it = asyncpage.paginate(client, "list_objects_v2", **params)
    keys = [obj["Key"] async for obj in it.items()]
    assert keys == logs
    assert it.statistics().pages == 3
    full = await it.build_full_result()
    assert full == sync.get_paginator("list_objects_v2").paginate(**params).build_full_result()
    assert full["Prefix"] == "logs/"  # a non-aggregate key, from the first page
    assert [o["Key"] for o in full["Contents"]] == logs
    pages = await asyncpage_pages(client, "list_objects_v2", **params)
    assert pages == boto3_pages(sync, "list_objects_v2", **params)


async def test_ec2_describe_instances_nested_reservations(
    moto_endpoint: str, make_client: Any
) -> None:
    sync = boto3_client("ec2", moto_endpoint)
    launched: list[str] = []
    for count in (1, 3, 1, 2, 1, 1, 2):
        reservation = sync.run_instances(ImageId="ami-12c6146b", MinCount=count, MaxCount=count)
        launched += [instance["InstanceId"] for instance in reservation["Instances"]]
    client = await make_client("ec2", moto_endpoint)
    params = {"PaginationConfig": {"PageSize": 5}}
    it = asyncpage.paginate(client, "describe_instances", **params)
    ids = [i async for i in it.search("Reservations[].Instances[].InstanceId")]
    assert sorted(ids) == sorted(launched)
    assert len(ids) == 11
    expected = list(
        sync.get_paginator("describe_instances")
        .paginate(**params)
        .search("Reservations[].Instances[].InstanceId")
    )
    assert ids == expected
    # MaxItems counts reservations (the result key), not instances.
    full = await asyncpage.paginate(
        client, "describe_instances", PaginationConfig={"PageSize": 5, "MaxItems": 3}
    ).build_full_result()
    assert [len(r["Instances"]) for r in full["Reservations"]] == [1, 3, 1]
    assert full == (
        sync.get_paginator("describe_instances")
        .paginate(PaginationConfig={"PageSize": 5, "MaxItems": 3})
        .build_full_result()
    )


async def test_dynamodb_scan_every_item_once(moto_endpoint: str, make_client: Any) -> None:
    sync = boto3_client("dynamodb", moto_endpoint)
    sync.create_table(
        TableName="seed-scan",
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    keys = [f"item-{i:03d}" for i in range(120)]
    for start in range(0, len(keys), 25):
        sync.batch_write_item(
            RequestItems={
                "seed-scan": [
                    {"PutRequest": {"Item": {"pk": {"S": k}, "n": {"N": str(i)}}}}
                    for i, k in enumerate(keys[start : start + 25], start)
                ]
            }
        )
    client = await make_client("dynamodb", moto_endpoint)
    params = {"TableName": "seed-scan", "PaginationConfig": {"PageSize": 25}}
    full = await asyncpage.paginate(client, "scan", **params).build_full_result()
    assert sorted(item["pk"]["S"] for item in full["Items"]) == keys
    assert full["Count"] == full["ScannedCount"] == 120  # summed over 5 pages
    assert full == sync.get_paginator("scan").paginate(**params).build_full_result()
    # A filter: Count and ScannedCount differ, both summed as botocore sums them.
    filtered = {
        "TableName": "seed-scan",
        "FilterExpression": "n < :n",
        "ExpressionAttributeValues": {":n": {"N": "30"}},
        "PaginationConfig": {"PageSize": 25},
    }
    got = await asyncpage.paginate(client, "scan", **filtered).build_full_result()
    assert (got["Count"], got["ScannedCount"]) == (30, 120)
    assert got == sync.get_paginator("scan").paginate(**filtered).build_full_result()


# -- RDS DownloadDBLogFilePortion: a string result key ---------------------------------------


async def test_a_string_result_key_is_cut_and_merged_as_a_string_as_botocore_does(
    aws: ScriptedAWS, make_client: Any
) -> None:
    # LogFileData is a string: MaxItems counts its characters and cuts the string itself.
    data = aws.add_log_file("db-1", "error/postgres.log", [f"line {i:02d}" for i in range(9)])
    client = await make_client("rds", aws.endpoint_url)
    sync = boto3_client("rds", aws.endpoint_url)
    params = {"DBInstanceIdentifier": "db-1", "LogFileName": "error/postgres.log"}
    operation = "download_db_log_file_portion"
    line = len("line 00\n")
    # Cut in the first page, on a later page, on a page boundary, and past the end.
    for max_items in (2, 2 * line + 3, 4 * line, 3 * line, len(data) + 5):
        config = {"PageSize": 2, "MaxItems": max_items}
        expected_pages = boto3_pages(sync, operation, **params, PaginationConfig=config)
        got_pages = await asyncpage_pages(client, operation, **params, PaginationConfig=config)
        assert got_pages == expected_pages, max_items
        assert all(isinstance(page["LogFileData"], str) for page in got_pages)
        expected = (
            sync.get_paginator(operation).paginate(**params, PaginationConfig=config)
        ).build_full_result()
        full = await asyncpage.paginate(
            client, operation, **params, PaginationConfig=config
        ).build_full_result()
        assert full == expected, max_items
        assert full["LogFileData"] == data[:max_items]
        if "NextToken" in full:
            rest = await asyncpage.paginate(
                client,
                operation,
                **params,
                PaginationConfig={"PageSize": 2, "StartingToken": full["NextToken"]},
            ).build_full_result()
            assert full["LogFileData"] + rest["LogFileData"] == data, max_items
