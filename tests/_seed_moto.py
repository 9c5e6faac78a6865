"""Data for the differential tests: paginated operations seeded in moto over HTTP.

Seeding goes through boto3 (synchronous, so a module-scoped fixture can do it once), with
fixed names and a fixed order, so that every listing is the same on every run. Each
:class:`GridCase` names one operation, its parameters, the region its data lives in and a
small page size at which moto returns several pages.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field, replace
from typing import Any

import boto3

__all__ = ["CREDENTIALS", "GRID", "GridCase", "boto3_client", "seed_grid"]

CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}

_GRID_BUCKET = "asyncpage-grid"
_TREE_BUCKET = "asyncpage-grid-tree"
_BINARY_TABLE = "grid-binary"
_QUERY_TABLE = "grid-query"
_EVENTS_GROUP = "grid-events"
#: One of the AMIs moto ships (looking one up with describe_images costs seconds).
_MOTO_AMI = "ami-12c6146b"
#: Log events must be recent (moto, like AWS, ignores old ones); a whole minute.
_EVENTS_EPOCH_MS = int(time.time() // 60 * 60_000)


@dataclass(frozen=True)
class GridCase:
    """One paginated operation over seeded data, as the differential grid runs it."""

    id: str
    service: str
    operation: str
    page_size: int
    region: str = "us-east-1"
    params: dict[str, Any] = field(default_factory=dict)


GRID: tuple[GridCase, ...] = (
    GridCase("s3-list_objects_v2", "s3", "list_objects_v2", 4, params={"Bucket": _GRID_BUCKET}),
    # Contents (primary) and CommonPrefixes (secondary) share S3's MaxKeys.
    GridCase(
        "s3-list_objects_v2-delimiter",
        "s3",
        "list_objects_v2",
        3,
        params={"Bucket": _TREE_BUCKET, "Delimiter": "/"},
    ),
    # A binary (B) hash key: LastEvaluatedKey holds bytes, the token boto_encoded_keys.
    GridCase(
        "dynamodb-scan-binary-key", "dynamodb", "scan", 4, params={"TableName": _BINARY_TABLE}
    ),
    GridCase(
        "dynamodb-query",
        "dynamodb",
        "query",
        4,
        params={
            "TableName": _QUERY_TABLE,
            "KeyConditionExpression": "pk = :pk",
            "ExpressionAttributeValues": {":pk": {"S": "alpha"}},
        },
    ),
    GridCase("dynamodb-list_tables", "dynamodb", "list_tables", 4, region="us-west-2"),
    # EC2 counts reservations; MaxResults must be at least 5.
    GridCase("ec2-describe_instances", "ec2", "describe_instances", 5),
    GridCase("sqs-list_queues", "sqs", "list_queues", 4),
    GridCase("logs-describe_log_groups", "logs", "describe_log_groups", 4),
    # Two streams: searchedLogStreams is a secondary list result key.
    GridCase(
        "logs-filter_log_events",
        "logs",
        "filter_log_events",
        4,
        region="us-west-2",
        params={"logGroupName": _EVENTS_GROUP},
    ),
    GridCase("secretsmanager-list_secrets", "secretsmanager", "list_secrets", 4),
    # 12 parameters at 4 a page: moto sends an empty last page after a full one.
    GridCase(
        "ssm-get_parameters_by_path",
        "ssm",
        "get_parameters_by_path",
        4,
        params={"Path": "/grid", "Recursive": True},
    ),
    # moto ignores MaxResults here and pages by 10 whatever PageSize says: 25 parameters.
    GridCase("ssm-describe_parameters", "ssm", "describe_parameters", 4, region="eu-west-1"),
    # Three input tokens (StartRecordName/Type/Identifier), IsTruncated, a string limit key.
    # HostedZoneId is only known once the zone exists: seed_grid() fills it in.
    GridCase("route53-list_resource_record_sets", "route53", "list_resource_record_sets", 4),
)


def boto3_client(service: str, endpoint_url: str, region: str = "us-east-1") -> Any:
    """A boto3 client of ``service`` against ``endpoint_url`` with fake credentials."""
    return boto3.client(service, region_name=region, endpoint_url=endpoint_url, **CREDENTIALS)


def seed_grid(endpoint_url: str) -> dict[str, GridCase]:
    """Create the data of every :data:`GRID` case in an empty (reset) moto.

    Returns the cases by id, with the parameters known only after seeding filled in.
    """
    _seed_s3(boto3_client("s3", endpoint_url))
    _seed_dynamodb(boto3_client("dynamodb", endpoint_url))
    _seed_tables(boto3_client("dynamodb", endpoint_url, "us-west-2"), 11)
    _seed_ec2(boto3_client("ec2", endpoint_url), 11)
    sqs = boto3_client("sqs", endpoint_url)
    for i in range(11):
        sqs.create_queue(QueueName=f"grid-queue-{i:02d}")
    logs = boto3_client("logs", endpoint_url)
    for i in range(11):
        logs.create_log_group(logGroupName=f"/grid/group-{i:02d}")
    _seed_events(boto3_client("logs", endpoint_url, "us-west-2"))
    secrets = boto3_client("secretsmanager", endpoint_url)
    for i in range(11):
        secrets.create_secret(Name=f"grid-secret-{i:02d}", SecretString=f"value-{i}")
    ssm = boto3_client("ssm", endpoint_url)
    for i in range(12):
        ssm.put_parameter(
            Name=f"/grid/{'deep/' if i % 3 else ''}p{i:02d}", Value="v", Type="String"
        )
    ssm_eu = boto3_client("ssm", endpoint_url, "eu-west-1")
    for i in range(25):
        ssm_eu.put_parameter(Name=f"grid-param-{i:02d}", Value=str(i), Type="String")
    zone = _seed_route53(boto3_client("route53", endpoint_url))
    resolved = {"route53-list_resource_record_sets": {"HostedZoneId": zone}}
    return {
        case.id: replace(case, params={**case.params, **resolved.get(case.id, {})}) for case in GRID
    }


def _seed_s3(s3: Any) -> None:
    s3.create_bucket(Bucket=_GRID_BUCKET)
    for i in range(11):
        s3.put_object(Bucket=_GRID_BUCKET, Key=f"key-{i:02d}", Body=b"x" * i)
    s3.create_bucket(Bucket=_TREE_BUCKET)
    keys = [f"file-{i}" for i in range(6)] + [f"dir-{d}/{n}" for d in "abcde" for n in "12"]
    for key in keys:
        s3.put_object(Bucket=_TREE_BUCKET, Key=key, Body=b"")


def _seed_dynamodb(ddb: Any) -> None:
    ddb.create_table(
        TableName=_BINARY_TABLE,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "B"}],
        BillingMode="PAY_PER_REQUEST",
    )
    ddb.batch_write_item(
        RequestItems={
            _BINARY_TABLE: [
                # Not valid UTF-8: the bytes must survive base64 inside the token.
                {
                    "PutRequest": {
                        "Item": {"pk": {"B": bytes([i, 0xFF - i, 0x80])}, "n": {"N": str(i)}}
                    }
                }
                for i in range(11)
            ]
        }
    )
    ddb.create_table(
        TableName=_QUERY_TABLE,
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
    items = [("alpha", i) for i in range(11)] + [("beta", i) for i in range(3)]
    ddb.batch_write_item(
        RequestItems={
            _QUERY_TABLE: [
                {"PutRequest": {"Item": {"pk": {"S": pk}, "sk": {"N": str(sk)}}}}
                for pk, sk in items
            ]
        }
    )


def _seed_tables(ddb: Any, count: int) -> None:
    for i in range(count):
        ddb.create_table(
            TableName=f"grid-table-{i:02d}",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )


def _seed_ec2(ec2: Any, reservations: int) -> None:
    for i in range(reservations):
        # One reservation each; every fourth holds two instances (nesting for search()).
        ec2.run_instances(
            ImageId=_MOTO_AMI,
            MinCount=1 + (i % 4 == 0),
            MaxCount=1 + (i % 4 == 0),
            TagSpecifications=[
                {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": f"grid-{i:02d}"}]}
            ],
        )


def _seed_events(logs: Any) -> None:
    logs.create_log_group(logGroupName=_EVENTS_GROUP)
    for stream, count in (("stream-a", 6), ("stream-b", 5)):
        logs.create_log_stream(logGroupName=_EVENTS_GROUP, logStreamName=stream)
        logs.put_log_events(
            logGroupName=_EVENTS_GROUP,
            logStreamName=stream,
            logEvents=[
                {"timestamp": _EVENTS_EPOCH_MS + i, "message": f"{stream} event {i}"}
                for i in range(count)
            ],
        )


def _seed_route53(route53: Any) -> str:
    zone = route53.create_hosted_zone(Name="grid.example.com", CallerReference="asyncpage-grid")
    # Several record types under one name: a page can end between them, so the
    # StartRecordType token matters, not only StartRecordName.
    records = [("A", f"h{i:02d}", f"10.0.0.{i}") for i in range(9)]
    records += [("TXT", "h03", '"grid"'), ("MX", "h03", "10 mail.grid.example.com")]
    route53.change_resource_record_sets(
        HostedZoneId=zone["HostedZone"]["Id"],
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"{name}.grid.example.com",
                        "Type": kind,
                        "TTL": 60,
                        "ResourceRecords": [{"Value": value}],
                    },
                }
                for kind, name, value in records
            ]
        },
    )
    return str(zone["HostedZone"]["Id"])
