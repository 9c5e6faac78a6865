"""asyncpage.speedups: responses recorded from moto over HTTP parse exactly as botocore parses them.

Each response is recorded from a real client (asyncio with aiohttp, trio with httpx) at
botocore's ``before-parse`` event, then parsed from the same bytes by botocore's parser,
by botocore's parser with asyncpage's timestamp parser, and by the fast path; every
outcome must be botocore's (see ``_parsing.py`` for what identical means). Mutations of
the recorded bytes — a field newer than this botocore, a repeated element, a bad number,
a truncated body — must give the same outcome too, the fast path giving way to botocore.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import ClientError

import asyncpage
import asyncpage.speedups
from _parsing import assert_identical, assert_same_outcomes
from _seed_moto import CREDENTIALS, boto3_client
from asyncpage._fastparse import FastParserFactory
from conftest import ClientFactory, client_config

pytestmark = pytest.mark.anyio

_BUCKET = "speedups-listing"
_VERSIONED = "speedups-versions"
_TABLE = "speedups-items"
_KEYS = [
    "plain",
    "with space",
    "a&b<c>'\"",
    "ünïcødé/ключ/鍵",
    "dir/one",
    "dir/two",
    "dir/sub/three",
    "tab\tin",
    "",
]


@pytest.fixture(scope="module")
def seeded(moto_server: Any) -> str:
    """Buckets, a versioned bucket, a table of every attribute type, EC2, IAM, API Gateway."""
    endpoint: str = moto_server.endpoint_url
    s3 = boto3_client("s3", endpoint)
    s3.create_bucket(Bucket=_BUCKET)
    for index, key in enumerate(k for k in _KEYS if k):
        s3.put_object(Bucket=_BUCKET, Key=key, Body=b"x" * index)
    s3.create_bucket(Bucket=_VERSIONED)
    s3.put_bucket_versioning(Bucket=_VERSIONED, VersioningConfiguration={"Status": "Enabled"})
    for round_ in range(3):
        for key in ("a", "b", "dir/c"):
            s3.put_object(Bucket=_VERSIONED, Key=key, Body=str(round_).encode())
    s3.delete_object(Bucket=_VERSIONED, Key="b")

    ddb = boto3_client("dynamodb", endpoint)
    ddb.create_table(
        TableName=_TABLE,
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "N"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )
    for index in range(12):
        ddb.put_item(
            TableName=_TABLE,
            Item={
                "pk": {"S": "group" if index % 2 else "other"},
                "sk": {"N": str(index)},
                "blob": {"B": bytes([index, 0xFF, 0x80])},
                "strings": {"SS": ["a", f"s{index}"]},
                "numbers": {"NS": ["1", f"{index}.5"]},
                "blobs": {"BS": [b"\x00", bytes([index])]},
                "map": {"M": {"nested": {"L": [{"S": "x"}, {"N": "-1e10"}, {"NULL": True}]}}},
                "flag": {"BOOL": index % 3 == 0},
                "nothing": {"NULL": True},
                "text": {"S": 'ünïcødé "quoted" \\ / \n'},
            },
        )

    ec2 = boto3_client("ec2", endpoint)
    ec2.run_instances(
        ImageId="ami-12c6146b",
        MinCount=3,
        MaxCount=3,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "a&b"}]}],
    )
    iam = boto3_client("iam", endpoint)
    for name in ("speedups-alice", "speedups-bob"):
        iam.create_user(UserName=name, Tags=[{"Key": "team", "Value": "<x>"}])
    apigateway = boto3_client("apigateway", endpoint)
    apigateway.create_rest_api(name="speedups-api", description="d", tags={"k": "v"})
    logs = boto3_client("logs", endpoint)
    for name in ("/speedups/a", "/speedups/ünï"):
        logs.create_log_group(logGroupName=name, tags={"k": "v"})
    logs.put_retention_policy(logGroupName="/speedups/a", retentionInDays=7)
    ddb.create_backup(TableName=_TABLE, BackupName="speedups-backup")
    return endpoint


# (service, method, params, whether the fast path is to parse it)
CALLS: list[tuple[str, str, dict[str, Any], bool]] = [
    ("s3", "list_objects_v2", {"Bucket": _BUCKET}, True),
    ("s3", "list_objects_v2", {"Bucket": _BUCKET, "MaxKeys": 3}, True),
    ("s3", "list_objects_v2", {"Bucket": _BUCKET, "Delimiter": "/", "FetchOwner": True}, True),
    ("s3", "list_objects_v2", {"Bucket": _BUCKET, "EncodingType": "url"}, True),
    ("s3", "list_objects_v2", {"Bucket": _BUCKET, "Prefix": "nothing-here"}, True),
    ("s3", "list_objects", {"Bucket": _BUCKET, "MaxKeys": 4}, True),
    ("s3", "list_object_versions", {"Bucket": _VERSIONED}, True),
    ("s3", "list_object_versions", {"Bucket": _VERSIONED, "MaxKeys": 2, "Delimiter": "/"}, True),
    ("s3", "head_object", {"Bucket": _BUCKET, "Key": "plain"}, False),
    ("s3", "get_bucket_acl", {"Bucket": _BUCKET}, False),
    ("s3", "list_objects_v2", {"Bucket": "speedups-no-such-bucket"}, False),
    ("dynamodb", "scan", {"TableName": _TABLE}, True),
    ("dynamodb", "scan", {"TableName": _TABLE, "Limit": 5}, True),
    (
        "dynamodb",
        "query",
        {
            "TableName": _TABLE,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "group"}},
            "ReturnConsumedCapacity": "TOTAL",
        },
        True,
    ),
    ("dynamodb", "describe_table", {"TableName": _TABLE}, True),
    ("dynamodb", "list_tables", {}, True),
    ("dynamodb", "list_tables", {"Limit": 1}, True),
    ("dynamodb", "list_backups", {"TableName": _TABLE}, True),
    ("logs", "describe_log_groups", {}, True),
    ("logs", "describe_log_groups", {"limit": 1}, True),
    ("dynamodb", "scan", {"TableName": "speedups-no-such-table"}, False),
    ("ec2", "describe_instances", {}, True),
    ("ec2", "describe_instances", {"MaxResults": 5}, True),
    ("ec2", "describe_vpcs", {}, True),
    ("ec2", "describe_security_groups", {}, True),
    ("ec2", "describe_regions", {}, True),
    ("ec2", "describe_instances", {"InstanceIds": ["i-00000000000000000"]}, False),
    ("iam", "list_users", {}, True),
    ("iam", "get_user", {"UserName": "speedups-alice"}, False),
    ("sts", "get_caller_identity", {}, False),
    ("apigateway", "get_rest_apis", {}, False),
]


@pytest.fixture
async def recorded(seeded: str, make_client: ClientFactory) -> Callable[..., Any]:
    """``await record(service, method, **params)``: (protocol, response dict, output shape)."""

    async def record(service: str, method: str, **params: Any) -> tuple[str, Any, Any]:
        client = await make_client(service, seeded)
        seen: list[Any] = []

        def keep(response_dict: Any, operation_model: Any, **_: Any) -> None:
            seen.append((dict(response_dict), operation_model))

        client.meta.events.register("before-parse", keep)
        with contextlib.suppress(ClientError):  # error responses are recorded too
            await getattr(client, method)(**params)
        ((response, operation_model),) = seen
        return operation_model.service_model.resolved_protocol, response, operation_model

    return record


def _counts() -> dict[str, int]:
    return asyncpage.speedups.statistics()


@pytest.mark.parametrize(
    ("service", "method", "params", "fast"),
    CALLS,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(CALLS)],
)
async def test_recorded_responses_parse_as_botocore_parses_them(
    recorded: Callable[..., Any], service: str, method: str, params: dict[str, Any], fast: bool
) -> None:
    protocol, response, operation = await recorded(service, method, **params)
    before = _counts()
    expected = assert_same_outcomes(protocol, response, operation.output_shape)
    after = _counts()
    # Two fast parsers (asyncpage's timestamps and botocore's) parsed it.
    assert after["fast"] - before["fast"] == (2 if fast else 0), (expected, after, before)
    assert after["gave_way"] == before["gave_way"]
    if fast and service == "s3":
        # moto writes S3 listings as S3 does: plain XML, read without an element tree.
        assert after["scanned"] - before["scanned"] == 2


def _mutations(protocol: str, body: bytes) -> list[tuple[str, bytes]]:
    """Bodies a later or a broken service could send, derived from a recorded one."""
    text = body.decode()
    found: list[tuple[str, bytes]] = [("truncated", body[: len(body) // 2]), ("empty", b"")]
    if protocol == "json":
        data = json.loads(text)
        found.append(("unknown top key", json.dumps({**data, "NewField": 1}).encode()))
        found.append(("null member", json.dumps({**data, "Count": None}).encode()))
        found.append(("top is a list", json.dumps([data]).encode()))
        found.append(("not utf-8", body.replace(b'"S"', b'"\xff"', 1)))
        if data.get("Items"):
            item = dict(data["Items"][0])
            item["pk"] = {"S": "x", "NEWTYPE": "y"}
            found.append(("two types", json.dumps({**data, "Items": [item]}).encode()))
            item["pk"] = {"NEWTYPE": "y"}
            found.append(("unknown type", json.dumps({**data, "Items": [item]}).encode()))
            item["pk"] = {"B": "not base64!"}
            found.append(("bad base64", json.dumps({**data, "Items": [item]}).encode()))
            item["pk"] = {"SS": "not a list"}
            found.append(("string as set", json.dumps({**data, "Items": [item]}).encode()))
            item["pk"] = {"M": None}
            found.append(("null map", json.dumps({**data, "Items": [item]}).encode()))
        return found
    first_leaf = re.search(r"<(\w+)>([^<]+)</\1>", text)
    assert first_leaf is not None
    leaf, tag = first_leaf[0], first_leaf[1]
    open_tag = f"<{tag}>"

    def replaced(old: str, new: str) -> bytes:
        return text.replace(old, new, 1).encode()

    def timestamp(value: str) -> bytes:
        pattern = r"(<(?:LastModified|launchTime|CreateDate)>)[^<]*"
        return re.sub(pattern, rf"\g<1>{value}", text, count=1).encode()

    found += [
        ("unknown element", replaced(open_tag, f"<NewField>1</NewField>{open_tag}")),
        ("repeated element", replaced(leaf, leaf * 2)),
        ("attribute", replaced(open_tag, f'<{tag} a="1">')),
        ("emptied", replaced(leaf, f"<{tag}/>")),
        ("comment and cdata", replaced(open_tag, f"<!-- c -->{open_tag}<![CDATA[&]]>")),
        ("bad timestamp", timestamp("2009-02-30T00:00:00Z")),
        ("offset timestamp", timestamp("2009-02-03T04:05:06.7+05:30")),
        ("rfc 822 timestamp", timestamp("Wed, 12 Oct 2009 17:50:00 GMT")),
        (
            "other namespace",
            text.replace(open_tag, f'<x:{tag} xmlns:x="urn:other">', 1)
            .replace(f"</{tag}>", f"</x:{tag}>", 1)
            .encode(),
        ),
    ]
    for number in ("Size", "MaxKeys", "KeyCount", "amiLaunchIndex", "fromPort"):
        bad = re.sub(rf"<{number}>[^<]*<", f"<{number}>1x<", text, count=1)
        found.append((f"bad {number}", bad.encode()))
    return found


MUTATED = [c for c in CALLS if c[3]]


@pytest.mark.parametrize(
    ("service", "method", "params", "fast"),
    MUTATED,
    ids=[f"{c[0]}-{c[1]}-{i}" for i, c in enumerate(MUTATED)],
)
async def test_mutated_responses_parse_or_fail_as_botocore(
    recorded: Callable[..., Any], service: str, method: str, params: dict[str, Any], fast: bool
) -> None:
    protocol, response, operation = await recorded(service, method, **params)
    for name, body in _mutations(protocol, response["body"]):
        try:
            assert_same_outcomes(protocol, {**response, "body": body}, operation.output_shape)
        except AssertionError as error:
            raise AssertionError(f"mutation {name!r}: {error}") from error


async def test_a_field_newer_than_botocore_goes_to_botocores_parser(
    recorded: Callable[..., Any],
) -> None:
    protocol, response, operation = await recorded("s3", "list_objects_v2", Bucket=_BUCKET)
    body = response["body"].replace(b"<Key>", b"<Future>1</Future><Key>", 1)
    before = _counts()
    parsed = assert_same_outcomes(protocol, {**response, "body": body}, operation.output_shape)
    assert parsed[0] == "parsed"
    assert _counts()["gave_way"] - before["gave_way"] == 2


async def test_install_speeds_up_clients_of_the_session_and_keeps_results(
    seeded: str, anyio_backend: str
) -> None:
    session = get_session()
    session.get_component("response_parser_factory").set_parser_defaults(
        blob_parser=base64.b64decode
    )
    assert asyncpage.speedups.installed(session) is None
    asyncpage.speedups.install(session)
    asyncpage.speedups.install(session)
    assert asyncpage.speedups.installed(session) == "fast_path"
    factory = session.get_component("response_parser_factory")
    assert isinstance(factory, FastParserFactory)
    kwargs: dict[str, Any] = {"region_name": "us-east-1", "endpoint_url": seeded, **CREDENTIALS}
    before = _counts()
    async with session.create_client("s3", config=client_config(anyio_backend), **kwargs) as s3:
        page: dict[str, Any] = dict(await s3.list_objects_v2(Bucket=_BUCKET))
    async with get_session().create_client(
        "s3", config=client_config(anyio_backend), **kwargs
    ) as s3:
        expected: dict[str, Any] = dict(await s3.list_objects_v2(Bucket=_BUCKET))
    assert _counts()["fast"] == before["fast"] + 1
    page.pop("ResponseMetadata")
    expected.pop("ResponseMetadata")
    assert_identical(page, expected)
    assert all(isinstance(o["LastModified"], datetime.datetime) for o in page["Contents"])


async def test_timestamps_only_install_works_on_any_session() -> None:
    import botocore.session

    session = botocore.session.get_session()
    asyncpage.speedups.install(session, fast_path=False)
    assert asyncpage.speedups.installed(session) == "timestamps"
    with pytest.raises(TypeError, match="AioSession"):
        asyncpage.speedups.install(session)


async def test_client_pools_install_speedups_unless_told_not_to() -> None:
    session = get_session()
    asyncpage.ClientPool(session=session, speedups=False)
    assert asyncpage.speedups.installed(session) is None
    asyncpage.ClientPool(session=session)
    assert asyncpage.speedups.installed(session) == "fast_path"
