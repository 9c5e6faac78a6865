"""An organization-sized inventory: 200 accounts x 4 regions x 3 services, side by side.

    python benchmarks/organization.py                    # 200 accounts, 4 regions, 3 pages a source
    python benchmarks/organization.py --accounts 50 --reps 1 --latency 0

The endpoint is :class:`_server.OrgServer` in a child process (its CPU is not the
client's): Organizations ``ListAccounts``, STS ``AssumeRole``, EC2 ``DescribeRegions`` and
canned pages of DynamoDB ``ListTables``, SQS ``ListQueues`` and Logs
``DescribeLogGroups``, the same for every account and region, with ``--latency`` added to
each request. moto would be the bottleneck here (and stateful); this endpoint answers in
well under a millisecond.

Contenders, each run in a fresh process of its own (so that its peak RSS is its own), in
rotated order, ``--reps`` times:

* ``asyncpage --db``: ``asyncpage inventory --org --db PATH`` through the CLI's own entry
  (``asyncpage.cli.main``): ListAccounts, AssumeRole per member account (refreshing
  credentials, one model loader), ClientPool, Inventory, the SQLite store (a transaction
  a page with its resume token);
* ``asyncpage -o``: the same, JSON Lines to ``/dev/null`` instead of the store;
* ``plain aiobotocore``: the same inventory as a user writes it with aiobotocore: list the
  accounts with its paginator, one ``asyncio.TaskGroup`` per account (all accounts at
  once), a client per (service, region) made with the account's assumed credentials, a
  semaphore for the same number of listings at once as ``--concurrency``, and each page's
  rows written to SQLite (same schema and pragmas, one transaction a page) on the loop.

Each process reports wall time, CPU time (``time.process_time``: every thread of the
process, the store's included), the pages and items it got, the peak of its resident set
(``ru_maxrss``) and its growth from just before the run, and the most clients open at once
(counted at aiobotocore's ``ClientCreatorContext``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from _measure import load, machine, median, rotations, spread
from _server import ORG_LISTINGS, ORG_MANAGEMENT, OrgServer

REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"]
SERVICES = list(ORG_LISTINGS)
CONTENDERS = ("asyncpage --db", "asyncpage -o", "plain aiobotocore")
OPERATIONS = {"dynamodb": "list_tables", "sqs": "list_queues", "logs": "describe_log_groups"}
RESULT_KEYS = {"dynamodb": "TableNames", "sqs": "QueueUrls", "logs": "logGroups"}
MiB = 1024 * 1024


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class OpenClients:
    """Counts the clients open at once, at aiobotocore's ``ClientCreatorContext``."""

    def __init__(self) -> None:
        self.now = 0
        self.peak = 0

    @contextlib.contextmanager
    def counting(self) -> Iterator[None]:
        from aiobotocore.session import ClientCreatorContext

        enter, leave = ClientCreatorContext.__aenter__, ClientCreatorContext.__aexit__

        async def counted_enter(context: Any) -> Any:
            client = await enter(context)
            self.now += 1
            self.peak = max(self.peak, self.now)
            return client

        async def counted_exit(context: Any, *exc_info: Any) -> Any:
            self.now -= 1
            return await leave(context, *exc_info)

        ClientCreatorContext.__aenter__ = counted_enter  # type: ignore[method-assign]
        ClientCreatorContext.__aexit__ = counted_exit  # type: ignore[method-assign]
        try:
            yield
        finally:
            ClientCreatorContext.__aenter__ = enter  # type: ignore[method-assign]
            ClientCreatorContext.__aexit__ = leave  # type: ignore[method-assign]


# -- the contenders, each run in a child process ----------------------------------------


def run_asyncpage(endpoint: str, work: Path, options: argparse.Namespace, db: bool) -> int:
    from asyncpage.cli import main

    regions, services = ",".join(options.region_list), ",".join(SERVICES)
    argv = [
        "inventory", "--org", "--endpoint-url", endpoint, "--regions", regions,
        "--services", services, "--no-progress", "--concurrency", str(options.concurrency),
    ]  # fmt: skip
    argv += ["--db", str(work / "inventory.db")] if db else ["-o", os.devnull]
    with open(os.devnull, "w") as quiet, contextlib.redirect_stderr(quiet):
        status = main(argv)
    if status != 0:
        raise SystemExit(f"asyncpage inventory exited {status}")
    return -1  # counted from the store or the endpoint, outside the run


SCHEMA = """
CREATE TABLE resources (
    account TEXT NOT NULL, region TEXT NOT NULL, service TEXT NOT NULL,
    operation TEXT NOT NULL, id TEXT NOT NULL, item TEXT NOT NULL,
    UNIQUE (account, region, service, operation, id)
);
"""


async def plain(endpoint: str, db_path: Path, options: argparse.Namespace) -> int:
    """The inventory as a user writes it with aiobotocore and asyncio, stored in SQLite."""
    from aiobotocore.config import AioConfig
    from aiobotocore.session import get_session

    db = sqlite3.connect(db_path, isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    db.execute("PRAGMA synchronous=NORMAL")
    db.executescript(SCHEMA)
    session = get_session()
    config = AioConfig(retries={"mode": "standard", "total_max_attempts": 3})
    common = {"endpoint_url": endpoint, "config": config}
    limit = asyncio.Semaphore(options.concurrency)
    pages = 0
    async with session.create_client("organizations", region_name="us-east-1", **common) as org:
        management = (await org.describe_organization())["Organization"]["MasterAccountId"]
        accounts = [
            account["Id"]
            async for page in org.get_paginator("list_accounts").paginate()
            for account in page["Accounts"]
            if account["Status"] == "ACTIVE"
        ]

    async def list_source(credentials: dict[str, str], account: str, service: str, region: str):
        async with (
            limit,
            session.create_client(service, region_name=region, **credentials, **common) as client,
        ):
            operation = OPERATIONS[service]
            async for page in client.get_paginator(operation).paginate():
                nonlocal pages
                pages += 1
                items = page.get(RESULT_KEYS[service], [])
                rows = [
                    (account, region, service, operation, _id(service, item), json.dumps(item))
                    for item in items
                ]
                db.execute("BEGIN")
                db.executemany(
                    "INSERT INTO resources VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO UPDATE"
                    " SET item = excluded.item",
                    rows,
                )
                db.execute("COMMIT")

    async def one_account(account: str) -> None:
        credentials: dict[str, str] = {}
        if account != management:
            async with session.create_client("sts", region_name="us-east-1", **common) as sts:
                made = await sts.assume_role(
                    RoleArn=f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole",
                    RoleSessionName="inventory",
                )
            credentials = {
                "aws_access_key_id": made["Credentials"]["AccessKeyId"],
                "aws_secret_access_key": made["Credentials"]["SecretAccessKey"],
                "aws_session_token": made["Credentials"]["SessionToken"],
            }
        async with asyncio.TaskGroup() as tasks:
            for region in options.region_list:
                for service in SERVICES:
                    tasks.create_task(list_source(credentials, account, service, region))

    async with asyncio.TaskGroup() as tasks:
        for account in accounts:
            tasks.create_task(one_account(account))
    db.close()
    return pages


def _id(service: str, item: Any) -> str:
    if service == "logs":
        return str(item["logGroupName"])
    return str(item).rsplit("/", 1)[-1]


def child(options: argparse.Namespace) -> None:
    """Run one contender once; print its measurements as one JSON line."""
    # Imported before the RSS baseline: the growth is the run's, not the imports'.
    import aiobotocore.session  # noqa: F401

    import asyncpage.cli  # noqa: F401

    work = Path(options.work)
    counter = OpenClients()
    os.environ.update(AWS_ACCESS_KEY_ID="bench", AWS_SECRET_ACCESS_KEY="bench")
    run: Callable[[], int]
    if options.child == "plain aiobotocore":
        run = lambda: asyncio.run(plain(options.endpoint, work / "inventory.db", options))  # noqa: E731
    else:
        db = options.child == "asyncpage --db"
        run = lambda: run_asyncpage(options.endpoint, work, options, db)  # noqa: E731
    before = rss()
    wall, cpu = time.perf_counter(), time.process_time()
    with counter.counting():
        pages = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": cpu,
                "peak": peak,
                "growth": peak - before,
                "clients": counter.peak,
                "pages": pages,
            }
        )
    )


def counted(work: Path, requests: int, result: dict[str, Any], contender: str) -> None:
    """Pages and items of one run, counted after it: from the store, or at the endpoint."""
    path = work / "inventory.db"
    if path.exists():
        with sqlite3.connect(path) as db:
            (result["items"],) = db.execute("SELECT count(*) FROM resources").fetchone()
            if contender == "asyncpage --db":
                (result["pages"],) = db.execute("SELECT sum(pages) FROM sources").fetchone()
    else:
        result["items"] = -1
    if result["pages"] < 0:
        result["pages"] = requests - overhead(result)
    result["requests"] = requests


def overhead(result: dict[str, Any]) -> int:
    """Requests of an asyncpage run that are not listing pages: Organizations, STS, EC2."""
    accounts = result["accounts"]
    # DescribeOrganization, ListAccounts, GetCallerIdentity, AssumeRole per member, and
    # DescribeRegions once per regional service.
    return 1 + -(-accounts // 20) + 1 + (accounts - 1) + len(SERVICES)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--regions", type=int, default=4, choices=range(1, 5))
    parser.add_argument("--pages", type=int, default=3, help="pages per source")
    parser.add_argument("--items", type=int, default=50, help="items per page")
    parser.add_argument("--latency", type=float, default=0.02, help="seconds per request")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--only", choices=CONTENDERS, action="append")
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--work", help=argparse.SUPPRESS)
    options = parser.parse_args()
    options.region_list = REGIONS[: options.regions]
    if options.child:
        child(options)
        return

    sources = options.accounts * options.regions * len(SERVICES)
    pages = sources * options.pages
    print(machine())
    print(
        f"{options.accounts} accounts x {options.regions} regions x {len(SERVICES)} services ="
        f" {sources:,} sources, {options.pages} pages of {options.items} items each ="
        f" {pages:,} pages; {options.latency * 1000:.0f} ms a request; concurrency"
        f" {options.concurrency}; management account {ORG_MANAGEMENT}"
    )
    names = options.only or list(CONTENDERS)
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in names}
    with OrgServer(options.accounts, options.region_list, options.pages, options.items) as server:
        server.set_latency(options.latency)
        for rep, order in rotations(names, options.reps):
            for name in order:
                with tempfile.TemporaryDirectory() as work:
                    before = server.requests
                    command = [
                        sys.executable, __file__, "--child", name,
                        "--endpoint", server.endpoint_url, "--work", work,
                        "--accounts", str(options.accounts), "--regions", str(options.regions),
                        "--concurrency", str(options.concurrency),
                    ]  # fmt: skip
                    done = subprocess.run(command, capture_output=True, text=True, check=False)
                    if done.returncode != 0:
                        raise SystemExit(f"{name} failed:\n{done.stderr}")
                    result = json.loads(done.stdout.strip().splitlines()[-1])
                    result["accounts"] = options.accounts
                    counted(Path(work), server.requests - before, result, name)
                    results[name].append(result)
                    print(
                        f"  rep {rep + 1} {name}: {result['wall']:.2f} s,"
                        f" cpu {result['cpu']:.2f} s,"
                        f" {result['pages']:,} pages, peak RSS {result['peak'] / MiB:.0f} MiB,"
                        f" load {load()}",
                        flush=True,
                    )
    reference = median([r["wall"] for r in results.get("plain aiobotocore", [])] or [0])
    print()
    print(
        "| contender | wall (median, range) | vs plain | client CPU per page | peak RSS |"
        " RSS growth | clients open at most | pages | items stored |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name in names:
        runs = results[name]
        walls = [r["wall"] for r in runs]
        per_page = [r["cpu"] / r["pages"] for r in runs]
        ratio = f"{median(walls) / reference:.2f}" if reference else "-"
        items = runs[0]["items"]
        print(
            f"| {name} | {median(walls):.2f} s ({spread(walls, digits=2)}) | {ratio} |"
            f" {median(per_page) * 1e3:.2f} ms ({spread(per_page, 1e3, 2)}) |"
            f" {median([r['peak'] for r in runs]) / MiB:.0f} MiB |"
            f" {median([r['growth'] for r in runs]) / MiB:.0f} MiB |"
            f" {max(r['clients'] for r in runs)} | {runs[0]['pages']:,} |"
            f" {'-' if items < 0 else f'{items:,}'} |"
        )
    print(f"load average at the end {load()}")


if __name__ == "__main__":
    main()
