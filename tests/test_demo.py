"""The embedded demo endpoint: moto's server started in-process and seeded over HTTP."""

from __future__ import annotations

import gzip
import importlib.metadata
import json
import signal
import socket
import subprocess
import sys
import threading
import tomllib
from collections import Counter
from collections.abc import Mapping
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any, cast

import anyio
import anyio.to_thread
import boto3
import pytest
from aiobotocore.session import AioSession, get_session
from packaging.requirements import Requirement
from packaging.version import Version

from asyncpage._demo import (
    DEMO_REGIONS,
    MANAGEMENT_ACCOUNT,
    DemoEndpoint,
    DemoResource,
    SeedProgress,
    SeedSummary,
    resources_listed_by,
    seed,
)
from asyncpage.testing import MotoServer

# Small pages, so that every count below is gathered across several pages.
_PAGE = 3


async def _aiobotocore_inventory(
    session: AioSession, demo: DemoEndpoint, region: str
) -> dict[str, int]:
    """Count what ``region`` holds, through aiobotocore's paginators."""
    counts: dict[str, int] = {}

    async def paged(client: Any, operation: str, key: str, **params: Any) -> list[Any]:
        found: list[Any] = []
        async for page in client.get_paginator(operation).paginate(**params):
            found += page.get(key, [])
        return found

    config = {"PaginationConfig": {"PageSize": _PAGE}}
    kwargs = demo.client_kwargs(region)
    async with session.create_client("s3", **kwargs) as s3:
        buckets = await paged(s3, "list_buckets", "Buckets", BucketRegion=region, **config)
        counts["s3.buckets"] = len(buckets)
        for bucket in buckets:
            objects = await paged(
                s3, "list_objects_v2", "Contents", Bucket=bucket["Name"], **config
            )
            counts[f"s3://{bucket['Name']}"] = len(objects)
    async with session.create_client("dynamodb", **kwargs) as ddb:
        tables = await paged(ddb, "list_tables", "TableNames", **config)
        counts["dynamodb.tables"] = len(tables)
        for table in tables:
            total = 0
            async for page in ddb.get_paginator("scan").paginate(
                TableName=table, Select="COUNT", PaginationConfig={"PageSize": 25}
            ):
                total += page["Count"]
            counts[f"dynamodb:{table}"] = total
    async with session.create_client("ec2", **kwargs) as ec2:
        reservations = await paged(
            ec2, "describe_instances", "Reservations", PaginationConfig={"PageSize": 5}
        )
        counts["ec2.reservations"] = len(reservations)
        counts["ec2.instances"] = sum(len(r["Instances"]) for r in reservations)
    for service, operation, key, name in (
        ("sqs", "list_queues", "QueueUrls", "sqs.queues"),
        ("lambda", "list_functions", "Functions", "lambda.functions"),
        ("logs", "describe_log_groups", "logGroups", "logs.log_groups"),
        ("ssm", "describe_parameters", "Parameters", "ssm.parameters"),
    ):
        # cast: the stubs type create_client by literal service names only.
        async with session.create_client(cast(Any, service), **kwargs) as client:
            counts[name] = len(await paged(client, operation, key, **config))
    return counts


def _boto3_inventory(demo: DemoEndpoint, region: str) -> dict[str, int]:
    """Count what ``region`` holds, through boto3's paginators: the independent check."""
    config = {"PaginationConfig": {"PageSize": _PAGE}}
    with ExitStack() as stack:

        def client(service: str) -> Any:
            made = boto3.client(service, **demo.client_kwargs(region))
            stack.callback(made.close)
            return made

        def paged(service: str, operation: str, key: str, **params: Any) -> list[Any]:
            pages = client(service).get_paginator(operation).paginate(**params)
            return [item for page in pages for item in page.get(key, [])]

        counts: dict[str, int] = {}
        buckets = paged("s3", "list_buckets", "Buckets", BucketRegion=region, **config)
        counts["s3.buckets"] = len(buckets)
        for bucket in buckets:
            objects = paged("s3", "list_objects_v2", "Contents", Bucket=bucket["Name"], **config)
            counts[f"s3://{bucket['Name']}"] = len(objects)
        tables = paged("dynamodb", "list_tables", "TableNames", **config)
        counts["dynamodb.tables"] = len(tables)
        for table in tables:
            pages = (
                client("dynamodb").get_paginator("scan").paginate(TableName=table, Select="COUNT")
            )
            counts[f"dynamodb:{table}"] = sum(page["Count"] for page in pages)
        reservations = paged("ec2", "describe_instances", "Reservations")
        counts["ec2.reservations"] = len(reservations)
        counts["ec2.instances"] = sum(len(r["Instances"]) for r in reservations)
        counts["sqs.queues"] = len(paged("sqs", "list_queues", "QueueUrls"))
        counts["lambda.functions"] = len(paged("lambda", "list_functions", "Functions"))
        counts["logs.log_groups"] = len(paged("logs", "describe_log_groups", "logGroups", **config))
        counts["ssm.parameters"] = len(paged("ssm", "describe_parameters", "Parameters", **config))
        return counts


def _expected(summary: SeedSummary, region: str) -> dict[str, int]:
    """What ``summary`` says ``region`` holds, keyed like the inventories above."""
    resources: tuple[DemoResource, ...] = (
        "s3.buckets",
        "dynamodb.tables",
        "ec2.reservations",
        "ec2.instances",
        "sqs.queues",
        "lambda.functions",
        "logs.log_groups",
        "ssm.parameters",
    )
    expected: dict[str, int] = {r: summary.count(r, region) for r in resources}
    for bucket, objects in summary.objects_per_bucket.items():
        if summary.bucket_regions[bucket] == region:
            expected[f"s3://{bucket}"] = objects
    for (table_region, table), items in summary.items_per_table.items():
        if table_region == region:
            expected[f"dynamodb:{table}"] = items
    return expected


def _port_is_free(url: str) -> bool:
    port = int(url.rsplit(":", 1)[1])
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", port)) == 0:
            return False
    with socket.socket() as listener:
        # As every server does; without it, the closed connections' TIME_WAIT blocks bind.
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", port))
        listener.listen()
    return True


@pytest.mark.asyncio
async def test_async_with_seeds_every_region_as_summarised_and_frees_the_port() -> None:
    session = get_session()
    async with DemoEndpoint.start(seed=True, scale=0.05) as demo:
        summary = demo.summary
        assert summary is not None
        assert summary.regions == DEMO_REGIONS
        for region in DEMO_REGIONS:
            expected = _expected(summary, region)
            assert await _aiobotocore_inventory(session, demo, region) == expected, region
            assert await anyio.to_thread.run_sync(_boto3_inventory, demo, region) == expected
        url = demo.endpoint_url

    assert _port_is_free(url)
    with pytest.raises(RuntimeError, match="not running"):
        _ = demo.endpoint_url
    # One region is nearly empty; the busiest one holds at least as much of everything.
    assert summary.count("lambda.functions", "ap-southeast-2") == 0
    for resource, region in summary.counts:
        assert summary.count(resource, "us-east-1") >= summary.count(resource, region)
    assert summary.count("s3.objects") == sum(summary.objects_per_bucket.values())


def test_sync_with_seeds_deterministic_content_and_stop_frees_the_port() -> None:
    with DemoEndpoint.start(seed=True, scale=0.01, regions=["us-east-1"]) as demo:
        summary = demo.summary
        assert summary is not None
        assert summary.regions == ("us-east-1",)
        assert _boto3_inventory(demo, "us-east-1") == _expected(summary, "us-east-1")
        other_region = boto3.client("sqs", **demo.client_kwargs("eu-west-1"))
        assert other_region.list_queues().get("QueueUrls", []) == []

        s3 = boto3.client("s3", **demo.client_kwargs("us-east-1"))
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="orders-prod")["Contents"]]
        body = s3.get_object(Bucket="orders-prod", Key=keys[0])["Body"].read()
        ddb = boto3.client("dynamodb", **demo.client_kwargs("us-east-1"))
        order = ddb.get_item(
            TableName="orders-prod",
            Key={"customer_id": {"S": "cust-0000"}, "order_id": {"S": "2024-01-01#ord-000000"}},
        )
        iam = boto3.client("iam", **demo.client_kwargs("us-east-1"))
        users = iam.list_users()["Users"]
        for client in (other_region, s3, ddb, iam):
            client.close()

        url = demo.endpoint_url
        demo.stop()
        assert _port_is_free(url)
        demo.stop()  # a second stop, and then the one from leaving the block, do nothing

    objects = summary.objects_per_bucket["orders-prod"]
    assert keys == [f"logs/2024/11/01/app-{n:04d}.json.gz" for n in range(1, objects + 1)]
    first_line = gzip.decompress(body).splitlines()[0]
    assert json.loads(first_line) == {
        "level": "INFO",
        "env": "prod",
        "msg": "order 000000 placed",
        "request_id": "ca08ea5bca49cc18",
        "ms": 535,
    }
    assert order["Item"]["currency"] == {"S": "USD"}
    assert [user["UserName"] for user in users] == ["prod-deploy"]  # at scale 0.01, one
    assert summary.count("iam.users") == 1


@pytest.mark.asyncio
async def test_seeding_reports_every_step_as_it_finishes() -> None:
    told: list[SeedProgress] = []
    regions = DEMO_REGIONS[:2]
    async with DemoEndpoint.start(
        seed=True, scale=0.05, regions=regions, on_progress=told.append
    ) as demo:
        summary = demo.summary
    assert summary is not None

    assert [progress.done for progress in told] == list(range(1, len(told) + 1))
    assert {progress.total for progress in told} == {len(told)}
    (moto,) = [progress for progress in told if progress.step == "moto"]
    assert moto.created == {}
    steps = [progress for progress in told if progress is not moto]
    services = {resource.partition(".")[0] for resource, _ in summary.counts}
    assert sorted(p.step for p in steps) == sorted(f"{s} {r}" for s in services for r in regions)
    created: Counter[tuple[str, str]] = Counter()
    for progress in steps:
        region = progress.step.partition(" ")[2]
        created.update({(resource, region): n for resource, n in progress.created.items()})
    assert +created == +Counter(summary.counts)
    seconds = [progress.seconds for progress in told]
    assert seconds == sorted(seconds) and seconds[-1] <= summary.seconds


def test_unseeded_endpoint_gives_client_kwargs_and_is_entered_once() -> None:
    demo = DemoEndpoint.start()
    with pytest.raises(RuntimeError, match="not running"):
        _ = demo.endpoint_url
    with demo:
        assert demo.summary is None
        assert demo.endpoint_url.startswith("http://127.0.0.1:")
        assert demo.client_kwargs("ap-southeast-2") == {
            "endpoint_url": demo.endpoint_url,
            "region_name": "ap-southeast-2",
            "aws_access_key_id": "demo",
            "aws_secret_access_key": "demo",
        }
    with pytest.raises(RuntimeError, match="only once"), demo:
        pass


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"scale": 0}, "scale must be a positive number"),
        ({"scale": -1.0}, "scale must be a positive number"),
        ({"scale": float("nan")}, "scale must be a positive number"),
        ({"scale": float("inf")}, "scale must be a positive number"),
        ({"regions": ["us-east-2"]}, "regions must be"),
        ({"regions": "us-east-1"}, "regions must be"),
        ({"regions": []}, "regions must be"),
    ],
)
def test_bad_arguments_raise_before_anything_starts(
    arguments: Mapping[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        DemoEndpoint.start(seed=True, **arguments)


@pytest.mark.asyncio
async def test_missing_moto_names_the_demo_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "moto.server", None)  # what an absent package does
    # asyncpage is not on a package index yet: the hint installs from a checkout, or the
    # extra's own packages with the bounds pyproject.toml gives them.
    hint = r"in a checkout of asyncpage, pip install '\.\[demo\]'; or its packages alone: "
    hint += r"pip install '(boto3|moto\[server\])[^']+' '(boto3|moto\[server\])[^']+'$"
    with pytest.raises(ImportError, match=hint):
        DemoEndpoint.start().__enter__()
    with pytest.raises(ImportError, match=hint) as raised:
        async with DemoEndpoint.start(seed=True):
            pass
    assert raised.value.name == "moto.server"


def test_the_demo_seeds_under_trio_too() -> None:
    """aiohttp is asyncio-only: under trio the seeding clients use aiobotocore's httpx backend."""

    async def main() -> SeedSummary | None:
        async with DemoEndpoint.start(seed=True, scale=0.1, regions=DEMO_REGIONS[:1]) as demo:
            return demo.summary

    summary = anyio.run(main, backend="trio")
    assert summary is not None
    assert summary.count("dynamodb.tables") > 0


def test_the_demo_extra_bounds_boto3_to_what_aiobotocore_allows() -> None:
    """moto leaves boto3 unpinned and aiobotocore pins botocore: without a bound on boto3 in
    the extra, ``pip install '.[demo]'`` downloads and rejects ~20 newer boto3 releases."""
    pyproject = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())
    demo = [Requirement(r) for r in pyproject["project"]["optional-dependencies"]["demo"]]
    (boto3_bound,) = [r.specifier for r in demo if r.name == "boto3"]
    (botocore_pin,) = [
        Requirement(r).specifier
        for r in importlib.metadata.requires("aiobotocore") or []
        if Requirement(r).name == "botocore"
    ]
    # boto3 X.Y.Z needs botocore X.Y.Z or later within X.Y: the same numbers must pass both.
    around = [Version(f"1.{minor}.{patch}") for minor in (42, 43, 44) for patch in range(200)]
    assert [v for v in around if v in boto3_bound] == [v for v in around if v in botocore_pin]


def test_the_demo_endpoint_is_public_in_asyncpage_testing_and_needs_no_pytest() -> None:
    import asyncpage.testing

    for name in ("DEMO_REGIONS", "DemoEndpoint", "DemoResource", "SeedProgress", "SeedSummary"):
        assert name in asyncpage.testing.__all__
    assert asyncpage.testing.DemoEndpoint is DemoEndpoint
    # Importable in a program with no pytest, and without loading moto until it starts.
    check = (
        "import sys; sys.modules['pytest'] = None; "
        "from asyncpage.testing import DemoEndpoint; sys.exit('moto' in sys.modules)"
    )
    assert subprocess.run([sys.executable, "-c", check], check=False).returncode == 0


def test_a_seed_step_prints_as_the_inventory_shows_it() -> None:
    """``on_progress=print`` is enough to show seeding as it goes."""
    step = SeedProgress("s3 us-east-1", {"s3.buckets": 3, "s3.objects": 25}, 8, 9, 2.5)
    assert str(step) == "seeded 8/9: s3 us-east-1 (3 buckets, 25 objects)"
    assert str(SeedProgress("moto", {}, 1, 9, 2.0)) == "seeded 1/9: moto loaded its service models"


def test_python_m_asyncpage_testing_serves_until_interrupted() -> None:
    """The command prints the environment for other programs, serves, and stops on Ctrl-C."""
    command = [sys.executable, "-m", "asyncpage.testing", "--regions", "eu-west-1"]
    with subprocess.Popen(
        [*command, "--scale", "0.1"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    ) as server:
        guard = threading.Timer(120, server.kill)  # a hung server fails this test only
        guard.start()
        try:
            assert server.stdout is not None
            line = server.stdout.readline()
            environment = dict(item.split("=", 1) for item in line.removeprefix("export ").split())
            assert set(environment) == {
                "AWS_ENDPOINT_URL",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_DEFAULT_REGION",
            }
            client = boto3.client(
                "dynamodb",
                endpoint_url=environment["AWS_ENDPOINT_URL"],
                region_name=environment["AWS_DEFAULT_REGION"],
                aws_access_key_id=environment["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=environment["AWS_SECRET_ACCESS_KEY"],
            )
            assert client.list_tables()["TableNames"] == ["orders-prod-eu"]
            client.close()
            server.send_signal(signal.SIGINT)
            _, errors = server.communicate(timeout=60)
        finally:
            guard.cancel()
            if server.poll() is None:
                server.kill()
                server.communicate()
    assert server.returncode == 0, errors
    lines = errors.splitlines()
    assert lines[0].startswith("starting the demo endpoint (moto, in this process) and seeding")
    assert "] seeded 9/9: " in errors  # every step, as it finished
    assert lines[-2:] == ["serving until Ctrl-C", "demo endpoint stopped"]
    assert _port_is_free(environment["AWS_ENDPOINT_URL"])


def test_python_m_asyncpage_testing_refuses_a_bad_region() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "asyncpage.testing", "--regions", "mars-1"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "regions must be a non-empty sequence drawn from" in done.stderr


def _member_kwargs(demo: DemoEndpoint, account: str, region: str) -> dict[str, str]:
    """Client arguments for ``account`` of the demo's organization, by AssumeRole."""
    sts = boto3.client("sts", **demo.client_kwargs("us-east-1"))
    role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
    made = sts.assume_role(RoleArn=role, RoleSessionName="test")["Credentials"]
    sts.close()
    return {
        "endpoint_url": demo.endpoint_url,
        "region_name": region,
        "aws_access_key_id": made["AccessKeyId"],
        "aws_secret_access_key": made["SecretAccessKey"],
        "aws_session_token": made["SessionToken"],
    }


def _organization_ids(demo: DemoEndpoint, summary: SeedSummary) -> dict[Any, Any]:
    """What boto3 finds in each account of the organization: accounts, ids, counts."""
    orgs = boto3.client("organizations", **demo.client_kwargs("us-east-1"))
    accounts = {a["Id"]: a["Name"] for a in orgs.list_accounts()["Accounts"]}
    orgs.close()
    found: dict[Any, Any] = {"accounts": accounts}
    for account in summary.accounts:
        for region in summary.regions:
            kwargs = (
                demo.client_kwargs(region)
                if account == MANAGEMENT_ACCOUNT
                else _member_kwargs(demo, account, region)
            )
            ec2 = boto3.client("ec2", **kwargs)
            pages = ec2.get_paginator("describe_instances").paginate()
            instances = [i for p in pages for r in p["Reservations"] for i in r["Instances"]]
            lam = boto3.client("lambda", **kwargs)
            functions = lam.list_functions()["Functions"]
            sqs = boto3.client("sqs", **kwargs)
            queues = sqs.list_queues().get("QueueUrls", [])
            ssm = boto3.client("ssm", **kwargs)
            pages = ssm.get_paginator("describe_parameters").paginate()
            parameters = [p["Name"] for page in pages for p in page["Parameters"]]
            iam = boto3.client("iam", **kwargs)  # global: every region sees the same users
            users = iam.list_users()["Users"]
            for client in (ec2, lam, sqs, ssm, iam):
                client.close()
            found[account, region] = {
                # moto's random ids: an instance's subnet and addresses too
                "instances": sorted(
                    (i["InstanceId"], i["SubnetId"], i["PrivateIpAddress"]) for i in instances
                ),
                "functions": sorted(f["FunctionArn"] for f in functions),
                "users": sorted((u["UserName"], u["UserId"]) for u in users),
                "queues": len(queues),
                "parameters": len(parameters),
            }
    return found


def test_an_organization_is_seeded_account_by_account_with_the_same_ids_every_run() -> None:
    """Each member's resources are its own (made with its AssumeRole credentials), and a
    second seeding has the same account ids, instance ids and user ids; so does seeding
    over HTTP: the demo's seeding in-process makes what the same requests over HTTP make."""
    runs = []
    for over_http in (False, False, True):
        arguments: dict[str, Any] = {"scale": 0.1, "organization": True}
        arguments["regions"] = DEMO_REGIONS[:2]
        with DemoEndpoint.start(seed=not over_http, **arguments) as demo:
            if over_http:  # moto's data is per process: forget the runs before
                with MotoServer() as moto:
                    moto.reset()
                demo.summary = anyio.run(partial(seed, demo.endpoint_url, **arguments))
            summary = demo.summary
            assert summary is not None
            runs.append((summary, _organization_ids(demo, summary)))
    (summary, found), (again, found_again), (http, found_over_http) = runs

    assert found == found_again == found_over_http
    assert dict(summary.accounts) == dict(again.accounts) == dict(http.accounts)
    assert summary.account_counts == http.account_counts
    assert list(summary.accounts.values()) == ["management", "payments", "data", "sandbox"]
    assert set(found["accounts"]) == set(summary.accounts)
    members = {a: n for a, n in found["accounts"].items() if a != MANAGEMENT_ACCOUNT}
    assert members == {a: n for a, n in summary.accounts.items() if a != MANAGEMENT_ACCOUNT}
    for account in summary.accounts:
        for region in summary.regions:
            seen = found[account, region]
            assert len(seen["instances"]) == summary.count("ec2.instances", region, account)
            assert len(seen["functions"]) == summary.count("lambda.functions", region, account)
            assert seen["queues"] == summary.count("sqs.queues", region, account)
            assert seen["parameters"] == summary.count("ssm.parameters", region, account)
        assert len(found[account, "us-east-1"]["users"]) == summary.count(
            "iam.users", None, account
        )
    # Every account holds something; the members less than the management account.
    totals = {a: sum(n for (b, _, _), n in summary.account_counts.items() if b == a) for a in
              summary.accounts}  # fmt: skip
    assert all(totals.values())
    assert max(totals, key=lambda account: totals[account]) == MANAGEMENT_ACCOUNT
    assert summary.count("ec2.instances") == sum(
        summary.count("ec2.instances", account=account) for account in summary.accounts
    )


def test_only_the_resources_asked_for_are_seeded() -> None:
    with DemoEndpoint.start(
        seed=True, scale=0.05, regions=["us-east-1"], resources=["s3.objects", "sqs.queues"]
    ) as demo:
        summary = demo.summary
        assert summary is not None
        ddb = boto3.client("dynamodb", **demo.client_kwargs("us-east-1"))
        assert ddb.list_tables()["TableNames"] == []
        ddb.close()
    seeded = {resource for (resource, _), n in summary.counts.items() if n}
    assert seeded == {"s3.buckets", "s3.objects", "sqs.queues"}  # buckets: for the objects
    assert resources_listed_by([("ssm", "describe_parameters")]) == frozenset({"ssm.parameters"})
    assert resources_listed_by([("kms", "list_keys")]) is None  # unknown: seed everything
    with pytest.raises(ValueError, match="resources must be drawn from"):
        DemoEndpoint.start(seed=True, resources=["s3.nothing"])  # type: ignore[list-item]
