"""``asyncpage inventory``: what a user sees on stdout and stderr, and its exit status.

The command runs in-process through ``main(argv)`` and, twice, as ``python -m asyncpage``.
Expected counts come from what the demo seeded (its :class:`SeedSummary`), never from
numbers written here. The demo runs moto in this process, and moto keeps its data per
process: every test that runs ``--demo`` in-process asks for ``moto_endpoint``, which
empties moto first.
"""

from __future__ import annotations

import contextlib
import fcntl
import gc
import io
import json
import os
import pty
import re
import shlex
import signal
import sqlite3
import struct
import subprocess
import sys
import termios
from collections import Counter
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest

from asyncpage._demo import DemoEndpoint, SeedProgress, SeedSummary, resources_listed_by, seed
from asyncpage._inventory import DEFAULT_LISTINGS, SourceKey, SourceState
from asyncpage._iterator import PageStatistics
from asyncpage._progress import LiveLine, SeedDisplay
from asyncpage._store import Store
from asyncpage.cli import main
from asyncpage.testing import FaultProxy

SCALE = "0.05"

#: What each default listing lists, as the demo's SeedSummary names it.
SEEDED_AS = {
    "dynamodb": "dynamodb.tables",
    "ec2": "ec2.instances",
    "sqs": "sqs.queues",
    "lambda": "lambda.functions",
    "logs": "logs.log_groups",
    "ssm": "ssm.parameters",
}


@dataclass
class Result:
    status: int
    records: list[dict[str, Any]]
    stderr: str

    def counts(self) -> Counter[tuple[str, str]]:
        return Counter((record["service"], record["region"]) for record in self.records)

    def summary_row(self, first_cell: str) -> list[str]:
        """The summary table's row whose first cell is ``first_cell`` ("total", a region)."""
        rows = [line.split() for line in self.stderr.splitlines() if line.split()[:1]]
        return next(row for row in rows if row[0] == first_cell)

    def outcomes(self, operation: str) -> dict[str, str]:
        """The summary's outcome of ``operation`` in each region."""
        rows = [line.split() for line in self.stderr.splitlines()]
        return {row[0]: row[7] for row in rows if len(row) == 8 and row[1] == operation}


RECORD_FIELDS = {"service", "region", "operation", "id", "item"}


def parse(stdout: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Any:
    """``cli(*argv)`` runs ``asyncpage *argv`` in-process and returns what it printed."""

    def run(*argv: str) -> Result:
        status = main(list(argv))
        out, err = capsys.readouterr()
        return Result(status, parse(out), err)

    return run


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch, moto_endpoint: str) -> list[SeedSummary]:
    """What each ``--demo`` run seeded, recorded as the demo endpoint starts (moto emptied)."""
    summaries: list[SeedSummary] = []
    enter = DemoEndpoint.__aenter__

    async def record(self: DemoEndpoint) -> DemoEndpoint:
        entered = await enter(self)
        assert entered.summary is not None
        summaries.append(entered.summary)
        return entered

    monkeypatch.setattr(DemoEndpoint, "__aenter__", record)
    return summaries


def expected_counts(summary: SeedSummary) -> Counter[tuple[str, str]]:
    """Resources per (service, region) the inventory must find; S3 buckets are global."""
    counts = Counter(
        {
            (service, region): summary.count(resource, region)  # type: ignore[arg-type]
            for service, resource in SEEDED_AS.items()
            for region in summary.regions
        }
    )
    counts["s3", "global"] = summary.count("s3.buckets")
    return +counts  # no zero entries: a region with nothing has no line


def test_demo_writes_one_line_per_seeded_resource(cli: Any, seeded: list[SeedSummary]) -> None:
    result = cli("inventory", "--demo", "--demo-scale", SCALE)

    assert result.status == 0, result.stderr
    (summary,) = seeded
    assert result.counts() == expected_counts(summary)
    assert {r["id"] for r in result.records if r["service"] == "s3"} == set(summary.bucket_regions)
    # The demo is an Organization: every record names its account.
    fields = ["account", "service", "region", "operation", "id", "item"]
    assert all(list(record) == fields for record in result.records)
    by_account = Counter(record["account"] for record in result.records)
    assert set(by_account) == set(summary.accounts) and len(by_account) == 4
    assert "organization: 4 active accounts, management 123456789012" in result.stderr
    # Datetimes are ISO 8601 strings.
    bucket = next(r["item"] for r in result.records if r["service"] == "s3")
    assert bucket["CreationDate"][:4].isdigit() and "T" in bucket["CreationDate"]
    # Instances are flattened out of their reservations.
    instance = next(r for r in result.records if r["service"] == "ec2")
    assert instance["id"] == instance["item"]["InstanceId"]
    # A plain progress line per finished source (stderr is not a terminal), then the table.
    assert "ok      ssm.describe_parameters us-east-1 123456789012:" in result.stderr
    assert result.summary_row("REGION")[:3] == ["REGION", "OPERATION", "ITEMS"]
    # 7 listings, 6 of them in 4 regions, in each of 4 accounts.
    assert result.summary_row("total")[1:4] == ["100", "sources", f"{len(result.records):,}"]
    assert result.summary_row("total")[-2:] == ["100", "ok"]
    # Seeding showed its progress first: a line per step, every step, before the listing.
    seeding = re.findall(r"^\[ *[\d.]+s\] seeded +(\d+)/(\d+): (.*)$", result.stderr, re.M)
    (total,) = {int(total) for _, total, _ in seeding}
    assert [int(done) for done, _, _ in seeding] == list(range(1, total + 1))
    steps = "\n".join(step for _, _, step in seeding)
    assert "the organization and its member accounts" in steps
    assert "s3 management (5 buckets)" in steps
    assert "objects" not in steps  # only what is listed is seeded
    assert result.stderr.index(f"seeded {total}/{total}") < result.stderr.index("demo endpoint")


def test_chaos_still_gets_every_item_and_shows_the_retries(
    cli: Any, seeded: list[SeedSummary]
) -> None:
    # One item a page: a few hundred requests, so faults are certain to hit some.
    result = cli("inventory", "--demo", "--chaos", "--demo-scale", SCALE, "--page-size", "1")

    assert result.status == 0, result.stderr
    assert "behind a fault proxy" in result.stderr
    (summary,) = seeded
    assert result.counts() == expected_counts(summary)
    _, _, _, items, _, retries, throttles, *_ = result.summary_row("total")
    assert int(items.replace(",", "")) == len(result.records)
    assert int(retries) > 0
    assert int(throttles) > 0


def faults_per_source(result: Result) -> list[list[str]]:
    """Each summary row but its time: region, operation, items, pages, retries, throttles."""
    rows = [line.split() for line in result.stderr.splitlines()]
    return [
        row[:6] + row[7:]
        for row in rows
        if len(row) == 8
        and row[0] != "total"
        and all(n.replace(",", "").isdigit() for n in row[2:6])
    ]


def test_chaos_prints_a_new_seed_and_seed_replays_its_faults(
    cli: Any, seeded: list[SeedSummary]
) -> None:
    # One source at a time, one item a page: the same requests in the same order every run,
    # and enough of them (about 80) that some faults are certain.
    argv = (
        "inventory", "--demo", "--chaos", "--demo-scale", SCALE, "--page-size", "1",
        "--concurrency", "1",
    )  # fmt: skip
    first = cli(*argv)
    printed = re.findall(r"replay (?:with|these faults with) --seed (\d+)", first.stderr)
    replay = cli(*argv, "--seed", printed[0])
    other = cli(*argv, "--seed", str(int(printed[0]) + 1))

    assert first.status == replay.status == other.status == 0, first.stderr
    assert len(printed) == 2 and printed[0] == printed[1]  # at the start and after the summary
    assert f"seed {printed[0]} (replay with --seed {printed[0]})" in replay.stderr
    assert faults_per_source(replay) == faults_per_source(first)
    assert int(first.summary_row("total")[5]) > 0  # retries happened, and were replayed
    assert faults_per_source(other) != faults_per_source(first)


def test_the_demo_has_iam_users_to_list(cli: Any, seeded: list[SeedSummary]) -> None:
    result = cli("inventory", "--demo", "--demo-scale", SCALE, "--operation", "iam:list_users")

    assert result.status == 0, result.stderr
    (summary,) = seeded
    assert summary.count("iam.users") >= len(summary.regions)  # each environment has some
    assert len(result.records) == summary.count("iam.users")
    assert {(r["service"], r["region"]) for r in result.records} == {("iam", "global")}
    assert all(r["id"] == r["item"]["UserName"] for r in result.records)


def test_query_shapes_every_item(cli: Any, seeded: list[SeedSummary]) -> None:
    result = cli(
        "inventory", "--demo", "--demo-scale", SCALE,
        "--services", "ssm", "--query", "{name: Name, type: Type}",
    )  # fmt: skip

    assert result.status == 0, result.stderr
    assert result.records
    assert {r["service"] for r in result.records} == {"ssm"}
    assert sum(r["region"] == "us-east-1" for r in result.records) == seeded[0].count(
        "ssm.parameters", "us-east-1"
    )
    for record in result.records:
        assert set(record["item"]) == {"name", "type"}
        assert record["item"]["name"] == record["id"]


def test_bad_query_exits_2_before_any_request(cli: Any, fault_proxy: FaultProxy) -> None:
    result = cli(
        "inventory", "--endpoint-url", fault_proxy.endpoint_url, "--regions", "us-east-1",
        "--query", "Name[?",
    )  # fmt: skip

    assert result.status == 2
    assert "--query 'Name[?' is not a valid JMESPath expression" in result.stderr
    assert result.records == []
    assert fault_proxy.counters.requests == 0


def create_tables(endpoint_url: str, regions: tuple[str, ...]) -> dict[str, list[str]]:
    names = {region: [f"orders-{region}", f"users-{region}"] for region in regions}
    for region, tables in names.items():
        ddb = boto3.client(
            "dynamodb", region_name=region, endpoint_url=endpoint_url,
            aws_access_key_id="testing", aws_secret_access_key="testing",
        )  # fmt: skip
        for table in tables:
            ddb.create_table(
                TableName=table,
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
    return names


def test_a_failed_source_exits_1_and_the_others_complete(
    cli: Any, fault_proxy: FaultProxy, moto_endpoint: str
) -> None:
    tables = create_tables(moto_endpoint, ("us-east-1", "us-west-2"))
    # The first DynamoDB request gets an error no retry can fix: one region fails.
    fault_proxy.fail_next(1, "throttle", code="ValidationException", only_service="dynamodb")

    result = cli(
        "inventory", "--endpoint-url", fault_proxy.endpoint_url, "--services", "dynamodb,sqs",
        "--regions", "us-east-1,us-west-2", "--concurrency", "1",
    )  # fmt: skip

    assert result.status == 1, result.stderr
    outcomes = result.outcomes("dynamodb.list_tables")
    assert sorted(outcomes.values()) == ["failed", "ok"]
    (good,) = [region for region, outcome in outcomes.items() if outcome == "ok"]
    assert sorted(r["id"] for r in result.records) == sorted(tables[good])
    assert result.outcomes("sqs.list_queues") == {"us-east-1": "ok", "us-west-2": "ok"}
    assert "ValidationException" in result.stderr


def test_a_run_leaves_the_garbage_collector_as_it_found_it(cli: Any, moto_endpoint: str) -> None:
    # The run keeps the heap it starts with out of full collections (gc.freeze); a program
    # calling main() again and again must not keep, frozen, everything it ever held.
    tables = create_tables(moto_endpoint, ("us-east-1",))
    assert gc.get_freeze_count() == 0
    result = cli(
        "inventory", "--endpoint-url", moto_endpoint, "--services", "dynamodb",
        "--regions", "us-east-1",
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert sorted(r["id"] for r in result.records) == sorted(tables["us-east-1"])
    assert gc.get_freeze_count() == 0


def test_access_denied_in_a_region_is_skipped_not_failed(
    cli: Any, fault_proxy: FaultProxy, moto_endpoint: str
) -> None:
    tables = create_tables(moto_endpoint, ("us-east-1", "us-west-2"))
    fault_proxy.fail_next(1, "throttle", code="AccessDeniedException", only_service="dynamodb")

    result = cli(
        "inventory", "--endpoint-url", fault_proxy.endpoint_url, "--services", "dynamodb",
        "--regions", "us-*",
    )  # fmt: skip

    assert result.status == 0, result.stderr
    outcomes = result.outcomes("dynamodb.list_tables")
    assert set(tables) < set(outcomes)  # every us-* region the endpoint reports
    assert Counter(outcomes.values()) == {"ok": len(outcomes) - 1, "skipped": 1}
    assert "AccessDeniedException" in result.stderr
    (skipped,) = [region for region, outcome in outcomes.items() if outcome == "skipped"]
    listed = {record["id"] for record in result.records}
    assert listed == {t for region, names in tables.items() if region != skipped for t in names}


def test_every_source_skipped_is_a_failure(
    cli: Any, fault_proxy: FaultProxy, moto_endpoint: str
) -> None:
    """Wrong or revoked credentials make every call "denied": that is no empty account."""
    create_tables(moto_endpoint, ("us-east-1",))
    fault_proxy.fail_next(
        1, "throttle", code="UnrecognizedClientException", only_service="dynamodb"
    )

    result = cli(
        "inventory", "--endpoint-url", fault_proxy.endpoint_url, "--services", "dynamodb",
        "--regions", "us-east-1",
    )  # fmt: skip

    assert result.status == 1, result.stderr
    assert result.outcomes("dynamodb.list_tables") == {"us-east-1": "skipped"}
    assert "every source was skipped" in result.stderr


def put_objects(endpoint_url: str, bucket: str, keys: list[str]) -> None:
    s3 = boto3.client(
        "s3", region_name="us-east-1", endpoint_url=endpoint_url,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    s3.create_bucket(Bucket=bucket)
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    s3.close()


def test_params_reach_the_operation_typed_by_its_input_shape(cli: Any, moto_endpoint: str) -> None:
    keys = [f"app/{n}.log" for n in range(5)] + ["db/0.dump", "db/1.dump"]
    put_objects(moto_endpoint, "logs", keys)
    listing = ("inventory", "--endpoint-url", moto_endpoint, "--regions", "us-east-1")

    # MaxKeys is an integer member: "2" becomes 2, so 7 objects take 4 pages.
    result = cli(
        *listing, "--operation", "s3:list_objects_v2", "--param", "Bucket=logs",
        "--param", "MaxKeys=2",
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert sorted(r["id"] for r in result.records) == sorted(keys)
    assert result.summary_row("us-east-1")[1:4] == ["s3.list_objects_v2", "7", "4"]

    # A JSON object gives several at once, with JSON's own types.
    result = cli(
        *listing, "--operation", "s3:list_objects_v2",
        "--param", '{"Bucket": "logs", "Prefix": "db/", "MaxKeys": 1}',
    )  # fmt: skip
    assert result.status == 0, result.stderr
    assert [r["id"] for r in result.records] == ["db/0.dump", "db/1.dump"]
    assert result.summary_row("us-east-1")[1:4] == ["s3.list_objects_v2", "2", "2"]


def test_boolean_and_json_params_reach_the_operation(cli: Any, moto_endpoint: str) -> None:
    ssm = boto3.client(
        "ssm", region_name="us-east-1", endpoint_url=moto_endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    for name in ("/prod/db/host", "/prod/log-level", "/dev/log-level"):
        ssm.put_parameter(Name=name, Value="x", Type="String")
    ssm.close()
    listing = ("inventory", "--endpoint-url", moto_endpoint, "--regions", "us-east-1")

    def names(*argv: str) -> list[str]:
        result = cli(*listing, *argv)
        assert result.status == 0, result.stderr
        return sorted(record["id"] for record in result.records)

    by_path = ("--operation", "ssm:get_parameters_by_path", "--param", "Path=/prod")
    assert names(*by_path) == ["/prod/log-level"]
    assert names(*by_path, "--param", "Recursive=true") == ["/prod/db/host", "/prod/log-level"]
    begins = '[{"Key": "Name", "Option": "BeginsWith", "Values": ["/dev"]}]'
    described = names(
        "--operation", "ssm:describe_parameters", "--param", f"ParameterFilters={begins}"
    )
    assert described == ["/dev/log-level"]


def test_the_banner_counts_a_global_operation_as_global(cli: Any, moto_endpoint: str) -> None:
    iam = boto3.client(
        "iam", region_name="us-east-1", endpoint_url=moto_endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    )  # fmt: skip
    for name in ("alice", "bob"):
        iam.create_user(UserName=name)
    iam.close()
    listing = ("inventory", "--endpoint-url", moto_endpoint, "--operation", "iam:list_users")

    only_global = cli(*listing)
    both = cli(*listing, "--services", "sqs", "--regions", "us-east-1,eu-west-1")

    assert only_global.status == both.status == 0, only_global.stderr
    assert f"listing 1 operation globally (1 source) at {moto_endpoint}: iam.list_users\n" in (
        only_global.stderr
    )
    assert sorted(r["id"] for r in only_global.records) == ["alice", "bob"]
    assert {r["region"] for r in only_global.records} == {"global"}
    assert "listing 2 operations in 2 regions and globally (3 sources)" in both.stderr


@pytest.mark.parametrize(
    ("params", "report"),
    [
        ([], 'Parameter validation failed:\nMissing required parameter in input: "Bucket"\n'),
        (
            ["Bucket=logs", "MaxKeys=five"],
            "Parameter validation failed:\nInvalid type for parameter MaxKeys, value: five, "
            "type: <class 'str'>, valid types: <class 'int'>\n",
        ),
        (
            ["Bucket=logs", "Buckit=logs"],
            'Parameter validation failed:\nUnknown parameter in input: "Buckit", must be one of: '
            "Bucket, Delimiter, EncodingType, MaxKeys, Prefix",
        ),
        (["Bucket=my/logs"], 'Parameter validation failed:\nInvalid bucket name "my/logs"'),
    ],
)
def test_bad_params_exit_2_with_botocores_report_before_anything_starts(
    cli: Any, fault_proxy: FaultProxy, params: list[str], report: str
) -> None:
    given = [arg for param in params for arg in ("--param", param)]
    for where in (["--endpoint-url", fault_proxy.endpoint_url], ["--demo"]):
        result = cli(
            "inventory", *where, "--regions", "us-east-1", "--operation", "s3:list_objects_v2",
            *given,
        )  # fmt: skip

        assert result.status == 2
        assert "usage: asyncpage inventory" in result.stderr
        assert f"error: --operation: s3.list_objects_v2: {report}" in result.stderr
        assert "starting moto" not in result.stderr  # the demo was never seeded
    assert fault_proxy.counters.requests == 0


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["inventory", "--chaos"], "--chaos needs --demo"),
        (["inventory", "--demo", "--seed", "3"], "--seed needs --chaos"),
        (["inventory", "--demo", "--chaos", "--seed", "-1"], "must be 0 or more"),
        (["inventory", "--services", "s3,nope"], "unknown nope"),
        (["inventory", "--operation", "s3:get_object"], "s3 cannot paginate 'get_object'"),
        (["inventory", "--operation", "nosuch:list_x"], "unknown AWS service 'nosuch'"),
        (["inventory", "--operation", "iam"], "not SERVICE:OPERATION"),
        (["inventory", "--concurrency", "0"], "must be at least 1"),
        (["inventory", "--workers", "0"], "must be at least 1"),
        (["inventory", "--workers", "2", "--dask", "tcp://127.0.0.1:9"], "drop --workers"),
        (["inventory", "--page-size", "ten"], "not a whole number"),
        (["inventory", "--regions", "EU West"], "is not a region or pattern"),
        (["inventory", "--demo", "--regions", "sa-*"], "matches none of the demo's regions"),
        (["inventory", "--demo", "--profile", "prod"], "drop --profile"),
        (["inventory", "--frobnicate"], "unrecognized arguments"),
        (["inventory", "--param", "Bucket=logs"], "must follow the --operation it is for"),
        (
            ["inventory", "--operation", "s3:list_objects_v2", "--param", "Bucket"],
            "'Bucket' is not NAME=VALUE or a JSON object",
        ),
        (
            ["inventory", "--operation", "s3:list_objects_v2", "--param", "[1]"],
            "'[1]' is not NAME=VALUE or a JSON object",
        ),
        (
            [
                "inventory",
                "--services",
                "ec2",
                "--operation",
                "ec2:describe_instances",
                "--param",
                "MaxResults=5",
            ],
            "ec2.describe_instances is listed twice with different parameters",
        ),
    ],
)
def test_usage_errors_exit_2_with_a_reason(cli: Any, argv: list[str], message: str) -> None:
    result = cli(*argv)

    assert result.status == 2
    assert message in result.stderr
    assert "usage: asyncpage" in result.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--frobnicate"], "unrecognized arguments: --frobnicate\n"),
        (["--dmeo"], "unrecognized arguments: --dmeo (did you mean --demo?)"),
        (["--regoins=us-*"], "unrecognized arguments: --regoins=us-* (did you mean --regions?)"),
        (
            ["--demo", "--pagesize", "5"],
            "unrecognized arguments: --pagesize 5 (did you mean --page-size?)",
        ),
    ],
)
def test_an_unknown_flag_after_inventory_shows_its_usage_and_a_guess(
    cli: Any, argv: list[str], message: str
) -> None:
    result = cli("inventory", *argv)

    assert result.status == 2
    assert result.stderr.startswith("usage: asyncpage inventory [-h] [--demo]")
    assert f"asyncpage inventory: error: {message}" in result.stderr


def test_help_describes_the_output_and_exit_status(cli: Any, capsys: Any) -> None:
    status = main(["inventory", "--help"])
    text = capsys.readouterr().out

    assert status == 0
    for expected in ("--demo", "--chaos", "--query JMESPATH", "exit status:", '"item"'):
        assert expected in text


def words(text: str) -> str:
    return " ".join(text.replace("`", "").split())


@pytest.mark.parametrize("section", ["where the lines go:", "exit status:"])
def test_readme_says_what_help_says_about_output_and_exit_status(
    capsys: pytest.CaptureFixture[str], section: str
) -> None:
    assert main(["inventory", "--help"]) == 0
    help_text = capsys.readouterr().out
    paragraph = help_text.split(section, 1)[1].split("\n\n", 1)[0]
    readme = (Path(__file__).parents[1] / "README.md").read_text()

    assert "terminal" in paragraph if section.startswith("where") else "130" in paragraph
    assert words(paragraph) in words(readme)


def test_output_goes_to_a_new_file_when_stdout_is_a_terminal(
    cli: Any,
    moto_endpoint: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    tables = create_tables(moto_endpoint, ("eu-west-1",))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)

    result = cli(
        "inventory", "--endpoint-url", moto_endpoint, "--services", "dynamodb",
        "--regions", "eu-west-1",
    )  # fmt: skip

    assert result.status == 0, result.stderr
    assert result.records == []
    (written,) = tmp_path.glob("inventory-*.jsonl")
    assert f"2 items written to {written.name}" in result.stderr
    assert sorted(r["id"] for r in parse(written.read_text())) == tables["eu-west-1"]


def test_seeding_on_a_terminal_is_one_line_redrawn() -> None:
    stream = io.StringIO()
    display = SeedDisplay(stream, live=True, width=lambda: 100)
    display.tick()
    display.update(SeedProgress("moto", {}, 1, 3, 2.0))
    display.update(SeedProgress("s3 eu-west-1", {"s3.buckets": 1, "s3.objects": 40}, 2, 3, 2.5))
    display.close()

    drawn = stream.getvalue().split("\r\x1b[2K")
    assert "\n" not in stream.getvalue()
    assert drawn[1].endswith("s  seeding the demo, starting moto")
    assert drawn[2].endswith(
        "s  seeding the demo, 0 made  | seeded 1/3: moto loaded its service models"
    )
    assert drawn[3].endswith(", 41 made  | seeded 2/3: s3 eu-west-1 (1 bucket, 40 objects)")
    assert drawn[4] == ""  # erased at the end
    assert all(len(line) < 100 for line in drawn)


def test_live_line_fits_the_terminal() -> None:
    key = SourceKey("logs", "ap-southeast-2", "describe_log_groups")
    running = SourceState(key, "running", 1234, PageStatistics(pages=99, retries=7), 1.0)
    line = LiveLine.render([running] * 30, 12.5, 79)

    assert len(line) <= 79
    assert line.startswith("12.5s  0/30 done  30 running  37,020 items  2,970 pages")


# -- as a program -------------------------------------------------------------------------


def run_program(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "asyncpage", *argv],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        check=False,
    )


def test_python_m_asyncpage_demo(moto_endpoint: str, tmp_path: Path) -> None:
    # The demo seeds the same data at the same scale every time: seed this process's moto
    # the same way to know what the program's own demo holds.
    listed = resources_listed_by(
        (listing.service, listing.operation) for listing in DEFAULT_LISTINGS
    )
    seeding = partial(seed, moto_endpoint, scale=float(SCALE), organization=True, resources=listed)
    expected = expected_counts(anyio.run(seeding))

    done = run_program("inventory", "--demo", "--demo-scale", SCALE, "-o", "-", cwd=tmp_path)

    assert done.returncode == 0, done.stderr
    records = parse(done.stdout)
    assert Counter((r["service"], r["region"]) for r in records) == expected
    assert "demo endpoint http://127.0.0.1:" in done.stderr
    assert f"{len(records)} items written to stdout" in done.stderr
    assert "Traceback" not in done.stderr


def test_ctrl_c_exits_130_with_a_summary_and_no_traceback(
    moto_endpoint: str, fault_proxy: Any, tmp_path: Path
) -> None:
    anyio.run(partial(seed, moto_endpoint, regions=["us-east-1"], scale=0.3))
    stderr_file = tmp_path / "stderr.txt"
    with stderr_file.open("w") as stderr_sink:
        program = subprocess.Popen(
            [
                sys.executable, "-m", "asyncpage", "inventory",
                "--endpoint-url", fault_proxy.endpoint_url,
                "--regions", "us-east-1", "--page-size", "1", "--concurrency", "1",
            ],
            stdout=subprocess.PIPE,
            stderr=stderr_sink,
            text=True,
            cwd=tmp_path,
        )  # fmt: skip
        assert program.stdout is not None
        with program.stdout:
            first = program.stdout.readline()  # lines come as pages arrive: listing has begun
            # Hold the requests from now on, so the listing (a page a request) is surely
            # still running when Ctrl-C arrives, however fast or loaded the machine.
            fault_proxy.hold()
            fault_proxy.wait_held_blocking()
            program.send_signal(signal.SIGINT)
            rest = program.stdout.read()
        program.wait(timeout=60)
    fault_proxy.release()
    stderr = stderr_file.read_text()

    assert program.returncode == 130, stderr
    assert json.loads(first)["region"] in ("us-east-1", "global")
    assert "Traceback" not in stderr
    assert "interrupted" in stderr
    assert "cancelled" in stderr.splitlines()[-3]  # the total row counts them
    written = 1 + len(rest.splitlines())
    assert f"{written:,} items written to stdout" in stderr


def test_a_reader_that_stops_early_ends_it_quietly_with_status_0(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """``asyncpage inventory | head -3``: as Python's docs advise for SIGPIPE, no traceback."""
    anyio.run(partial(seed, moto_endpoint, regions=["us-east-1"], scale=0.3))
    command = (
        f"set -o pipefail; {shlex.quote(sys.executable)} -m asyncpage inventory "
        f"--endpoint-url {moto_endpoint} --regions us-east-1 --page-size 1 --concurrency 1 "
        "2>stderr.txt | head -3"
    )
    done = subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, cwd=tmp_path, timeout=120
    )
    stderr = (tmp_path / "stderr.txt").read_text()

    assert done.returncode == 0, stderr  # pipefail: this is asyncpage's own status
    assert [set(json.loads(line)) for line in done.stdout.splitlines()] == [RECORD_FIELDS] * 3
    # Nothing after the reader left: no summary, no count, no complaint, no traceback.
    assert "REGION" not in stderr
    assert "written to" not in stderr
    assert "Traceback" not in stderr
    assert "Exception ignored" not in stderr
    assert "Broken pipe" not in stderr and "closed" not in stderr


def visible_lines(output: str) -> list[str]:
    """What a terminal shows for ``output``: carriage returns and erase-line applied."""
    lines: list[str] = []
    row: list[str] = []
    col = 0
    erase = "\x1b[2K"
    i = 0
    while i < len(output):
        if output.startswith(erase, i):
            row, i = [], i + len(erase)
            continue
        char = output[i]
        i += 1
        if char == "\r":
            col = 0
        elif char == "\n":
            lines.append("".join(row).rstrip())
            row, col = [], 0
        else:
            row += [" "] * (col + 1 - len(row))
            row[col] = char
            col += 1
    return [*lines, "".join(row).rstrip()]


def test_on_a_terminal_the_status_line_stays_off_the_json_lines(
    moto_endpoint: str, tmp_path: Path
) -> None:
    """``-o -`` with stdout and stderr on one terminal: the JSON lines scroll above it."""
    tables = create_tables(moto_endpoint, ("us-east-1", "us-west-2"))
    terminal, program_side = pty.openpty()
    fcntl.ioctl(program_side, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 150, 0, 0))
    program = subprocess.Popen(
        [
            sys.executable, "-m", "asyncpage", "inventory", "--endpoint-url", moto_endpoint,
            "--services", "dynamodb", "--regions", "us-east-1,us-west-2", "--page-size", "1",
            "--concurrency", "1", "-o", "-",
        ],
        stdin=subprocess.DEVNULL, stdout=program_side, stderr=program_side, cwd=tmp_path,
    )  # fmt: skip
    os.close(program_side)
    output = b""
    with contextlib.suppress(OSError):  # EIO: the program closed the terminal
        while chunk := os.read(terminal, 65536):
            output += chunk
    os.close(terminal)
    assert program.wait(timeout=60) == 0
    text = output.decode()
    screen = visible_lines(text)

    assert " done " in text  # the status line was drawn (it is erased at the end)
    records = [line for line in screen if '"service"' in line]
    assert sorted(json.loads(line)["id"] for line in records) == sorted(
        name for names in tables.values() for name in names
    )
    assert "4 items written to stdout" in screen


def stored_keys(db: Path) -> list[tuple[str, ...]]:
    with contextlib.closing(sqlite3.connect(db)) as connection:
        rows = connection.execute(
            "SELECT account, region, service, operation, id FROM resources ORDER BY 1, 2, 3, 4, 5"
        ).fetchall()
    return [tuple(row) for row in rows]


def test_a_resumed_demo_stores_what_a_clean_one_does(
    cli: Any, seeded: list[SeedSummary], tmp_path: Path
) -> None:
    """The demo seeds the same ids every run (accounts, instances): a demo resumed in a new
    run, over a fresh seeding, ends with exactly the clean run's resources."""
    clean = tmp_path / "clean.db"
    first = cli("inventory", "--demo", "--demo-scale", SCALE, "--db", str(clean))
    assert first.status == 0, first.stderr
    expected = stored_keys(clean)
    with contextlib.closing(sqlite3.connect(clean)) as connection:
        sources = connection.execute(
            "SELECT account, region, service, operation FROM sources ORDER BY rowid"
        ).fetchall()
    assert len(sources) == 100

    # A run that stopped half-way: the first half of the sources finished, with the rows
    # the clean run stored for them; the others never started.
    resumed = tmp_path / "resumed.db"
    half = [tuple(source) for source in sources[:50]]

    async def stopped() -> None:
        async with Store(resumed) as store:
            await store.begin([tuple(source) for source in sources], resume=False)
            for source in half:
                ids = [key[4] for key in expected if key[:4] == source]
                await store.commit_page(
                    source, [(i, {}) for i in ids], resume_token=None, done=True
                )

    anyio.run(stopped)
    again = cli("inventory", "--demo", "--demo-scale", SCALE, "--db", str(resumed), "--resume")

    assert again.status == 0, again.stderr
    assert "resuming run 1: 50 of 100 sources finished before" in again.stderr
    assert stored_keys(resumed) == expected
    assert dict(seeded[0].accounts) == dict(seeded[1].accounts)
    instances = [key for key in expected if key[2] == "ec2"]
    assert instances and all(key[4].startswith("i-") for key in instances)
