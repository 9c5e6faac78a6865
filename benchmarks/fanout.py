"""Fan-out across four regions, and a 4-segment parallel scan, against doing it serially.

Run from the repository root::

    python benchmarks/fanout.py            # 7 repetitions, about 2.5 minutes
    python benchmarks/fanout.py --reps 11

Part 1, fan-out: four "regions", each its own ScriptedAWS endpoint (DynamoDB
``ListBackups``, 100 backups a page, pre-rendered, in a child process) with a server-side
latency, each listed by a client of that region. ``asyncpage.fan_out`` against the same
four listings one after another (aiobotocore's paginator; asyncpage with prefetch=1) and
against a hand-written merge (aiobotocore paginators in an anyio task group feeding one
memory object stream). "Slowest source alone" is, per repetition, the longest of the four
single-region times inside the serial asyncpage run.

Part 2, parallel scan: ``asyncpage.parallel_scan(segments=4)`` against a plain
``Scan`` of the same table, with 50 ms latency, on two backends: pre-rendered Scan pages
(``benchmarks/_server.py``; item *i* is in segment ``i % 4``, so the segments are equal)
and moto's server behind asyncpage's FaultProxy (which adds the latency; moto assigns
segments by a hash of the key, so they are uneven, and moto's CPU per page is real).

Every contender runs once per repetition, in an order rotated between repetitions; the
tables give medians and the spread (min-max). Endpoints run in child processes.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio
from _measure import load, machine, median, rotations, spread
from _server import CREDENTIALS, SCAN_TABLE, BackupsServer, MotoScan, ScanServer
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

import asyncpage
from asyncpage import fan_out, parallel_scan

REGIONS = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")
LISTING = "listing"


@dataclass
class Run:
    """One contender's repetition: wall seconds, pages or items seen, per-source seconds."""

    wall: float
    count: int
    per_source: dict[str, float] = field(default_factory=dict)


Contender = Callable[[], Awaitable[Run]]


async def interleave(
    contenders: Mapping[str, Contender], reps: int, expected: int, label: str
) -> dict[str, list[Run]]:
    runs: dict[str, list[Run]] = {name: [] for name in contenders}
    for rep, order in rotations(list(contenders), reps):
        for name in order:
            run = await contenders[name]()
            if run.count != expected:
                raise RuntimeError(f"{label}: {name} saw {run.count}, not {expected}")
            runs[name].append(run)
        print(f"  {label}: repetition {rep + 1}/{reps} done", file=sys.stderr)
    return runs


# -- part 1: fan-out across regions ----------------------------------------------------


def fanout_contenders(
    clients: Mapping[str, Any], per_region: int, work: float
) -> dict[str, Contender]:
    async def consume() -> None:
        if work:
            await anyio.sleep(work)

    async def serial_aiobotocore() -> Run:
        pages = 0
        started = time.perf_counter()
        for client in clients.values():
            async for _page in client.get_paginator("list_backups").paginate(TableName=LISTING):
                pages += 1
                await consume()
        return Run(time.perf_counter() - started, pages)

    async def serial_asyncpage() -> Run:
        pages, per_source = 0, {}
        started = time.perf_counter()
        for region, client in clients.items():
            began = time.perf_counter()
            async with asyncpage.paginate(client, "list_backups", TableName=LISTING) as it:
                async for _page in it:
                    pages += 1
                    await consume()
            per_source[region] = time.perf_counter() - began
        return Run(time.perf_counter() - started, pages, per_source)

    async def task_group_aiobotocore() -> Run:
        pages = 0
        started = time.perf_counter()
        send, receive = anyio.create_memory_object_stream[dict[str, Any]]()

        async def produce(client: Any, send: Any) -> None:
            async with send:
                paginator = client.get_paginator("list_backups")
                async for page in paginator.paginate(TableName=LISTING):
                    await send.send(page)

        async with anyio.create_task_group() as group:
            async with send:
                for client in clients.values():
                    group.start_soon(produce, client, send.clone())
            async with receive:
                async for _page in receive:
                    pages += 1
                    await consume()
        return Run(time.perf_counter() - started, pages)

    def fanned(order: Any, buffer: int = 1) -> Contender:
        async def run() -> Run:
            pages = 0
            started = time.perf_counter()
            sources = {
                region: lambda c=client: asyncpage.paginate(c, "list_backups", TableName=LISTING)
                for region, client in clients.items()
            }
            async with fan_out(sources, order=order, buffer=buffer) as merged:
                async for _tagged in merged:
                    pages += 1
                    await consume()
            bad = {k: o.status for k, o in merged.outcomes.items() if o.status != "ok"}
            if bad:
                raise RuntimeError(f"fan_out outcomes: {bad}")
            return Run(time.perf_counter() - started, pages)

        return run

    return {
        "aiobotocore paginators, one region after another": serial_aiobotocore,
        "asyncpage prefetch=1, one region after another": serial_asyncpage,
        "aiobotocore paginators in a task group, one stream": task_group_aiobotocore,
        'fan_out(order="completed")': fanned("completed"),
        'fan_out(order="round_robin")': fanned("round_robin"),
        'fan_out(order="source")': fanned("source"),
        f'fan_out(order="source", buffer={per_region})': fanned("source", per_region),
    }


def fanout_table(runs: dict[str, list[Run]], pages: int, latency: float, work: float) -> str:
    serial = runs["asyncpage prefetch=1, one region after another"]
    slowest = [max(run.per_source.values()) for run in serial]
    reference = median(slowest)
    lines = [
        f"#### fan-out: {len(REGIONS)} regions x {pages} pages, {latency * 1e3:.0f} ms latency, "
        f"{work * 1e3:.0f} ms consumer work per page",
        "",
        "| contender | wall s (median) | spread (min-max) | vs slowest source alone |",
        "| --- | ---: | ---: | ---: |",
        f"| slowest source alone (asyncpage prefetch=1) | {reference:.3f} | {spread(slowest)} "
        "| 1.000 |",
    ]
    for name, contender_runs in runs.items():
        walls = [run.wall for run in contender_runs]
        lines.append(
            f"| {name} | {median(walls):.3f} | {spread(walls)} | {median(walls) / reference:.3f} |"
        )
    return "\n".join(lines)


# -- part 2: parallel scan -------------------------------------------------------------


def scan_contenders(client: Any, page_size: int, segments: int) -> dict[str, Contender]:
    config = {"PageSize": page_size}

    async def plain_aiobotocore() -> Run:
        items = 0
        started = time.perf_counter()
        paginator = client.get_paginator("scan")
        async for page in paginator.paginate(TableName=SCAN_TABLE, PaginationConfig=config):
            items += len(page["Items"])
        return Run(time.perf_counter() - started, items)

    async def plain_asyncpage() -> Run:
        items = 0
        started = time.perf_counter()
        async with asyncpage.paginate(
            client, "scan", TableName=SCAN_TABLE, PaginationConfig=config
        ) as pages:
            async for page in pages:
                items += len(page["Items"])
        return Run(time.perf_counter() - started, items)

    async def segments_task_group() -> Run:
        items = 0
        started = time.perf_counter()

        async def segment(number: int) -> None:
            nonlocal items
            paginator = client.get_paginator("scan")
            async for page in paginator.paginate(
                TableName=SCAN_TABLE,
                Segment=number,
                TotalSegments=segments,
                PaginationConfig=config,
            ):
                items += len(page["Items"])

        async with anyio.create_task_group() as group:
            for number in range(segments):
                group.start_soon(segment, number)
        return Run(time.perf_counter() - started, items)

    async def parallel() -> Run:
        items = 0
        started = time.perf_counter()
        async with parallel_scan(
            client, segments=segments, TableName=SCAN_TABLE, PaginationConfig=config
        ) as scan:
            async for tagged in scan:
                items += len(tagged.value["Items"])
        bad = {k: o.status for k, o in scan.outcomes.items() if o.status != "ok"}
        if bad:
            raise RuntimeError(f"parallel_scan outcomes: {bad}")
        return Run(time.perf_counter() - started, items)

    return {
        "plain scan, aiobotocore paginator": plain_aiobotocore,
        "plain scan, asyncpage prefetch=1": plain_asyncpage,
        f"{segments} segments, aiobotocore paginators in a task group": segments_task_group,
        f"parallel_scan(segments={segments})": parallel,
    }


def scan_table(
    backend: str,
    runs: dict[str, list[Run]],
    *,
    items: int,
    page_size: int,
    latency: float,
    per_request: float,
    requests: int,
) -> str:
    reference = median([run.wall for run in runs["plain scan, aiobotocore paginator"]])
    plain = median([run.wall for run in runs["plain scan, asyncpage prefetch=1"]])
    lines = [
        f"#### parallel scan, {backend}: {items} items, PageSize={page_size}, "
        f"{latency * 1e3:.0f} ms latency",
        "",
        f"Without latency one plain-scan request takes {per_request * 1e3:.1f} ms (client + "
        f"server); a 4-segment scan sent {requests} requests against "
        f"{-(-items // page_size)} for the plain scan.",
        "",
        "| contender | wall s (median) | spread (min-max) | speed-up vs aiobotocore plain "
        "| speed-up vs asyncpage plain |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name, contender_runs in runs.items():
        walls = [run.wall for run in contender_runs]
        wall = median(walls)
        lines.append(
            f"| {name} | {wall:.3f} | {spread(walls)} | {reference / wall:.2f}x "
            f"| {plain / wall:.2f}x |"
        )
    return "\n".join(lines)


async def scan_backend(
    backend: str, server: Any, args: argparse.Namespace, stack: AsyncExitStack
) -> str:
    client = await stack.enter_async_context(
        get_session().create_client(
            "dynamodb",
            region_name="us-east-1",
            endpoint_url=server.endpoint_url,
            config=AioConfig(retries={"total_max_attempts": 1}, max_pool_connections=32),
            **CREDENTIALS,
        )
    )
    contenders = scan_contenders(client, args.scan_page_size, 4)
    server.set_latency(0.0)
    for contender in contenders.values():  # connections, rendering, caches
        await contender()
    calibration = await interleave(
        {"plain": contenders["plain scan, aiobotocore paginator"]},
        args.reps,
        args.scan_items,
        f"{backend}, no latency",
    )
    pages = -(-args.scan_items // args.scan_page_size)
    per_request = median([run.wall for run in calibration["plain"]]) / pages
    before = server.requests
    await contenders["parallel_scan(segments=4)"]()
    requests = server.requests - before
    server.set_latency(args.scan_latency)
    runs = await interleave(contenders, args.reps, args.scan_items, backend)
    return scan_table(
        backend,
        runs,
        items=args.scan_items,
        page_size=args.scan_page_size,
        latency=args.scan_latency,
        per_request=per_request,
        requests=requests,
    )


# -- main ------------------------------------------------------------------------------


async def benchmark(
    args: argparse.Namespace, regions: Mapping[str, BackupsServer], scans: Mapping[str, Any]
) -> None:
    async with AsyncExitStack() as stack:
        clients = {
            region: await stack.enter_async_context(
                get_session().create_client(
                    "dynamodb",
                    region_name=region,
                    endpoint_url=server.endpoint_url,
                    config=AioConfig(retries={"total_max_attempts": 1}),
                    **CREDENTIALS,
                )
            )
            for region, server in regions.items()
        }
        for work in (0.0, args.work) if args.part != "scan" else ():
            for server in regions.values():
                server.set_latency(args.latency)
            contenders = fanout_contenders(clients, args.pages, work)
            for contender in contenders.values():  # connections, models, caches
                await contender()
            expected = len(REGIONS) * args.pages
            label = f"fan-out, {work * 1e3:.0f} ms work"
            runs = await interleave(contenders, args.reps, expected, label)
            print(fanout_table(runs, args.pages, args.latency, work) + "\n", flush=True)
        for backend, server in scans.items() if args.part != "fanout" else ():
            print(await scan_backend(backend, server, args, stack) + "\n", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="repetitions (default 7)")
    parser.add_argument("--pages", type=int, default=20, help="pages per region")
    parser.add_argument("--latency", type=float, default=0.02, help="fan-out latency, s")
    parser.add_argument("--work", type=float, default=0.005, help="consumer work per page, s")
    parser.add_argument("--scan-items", type=int, default=800, help="items in the scan table")
    parser.add_argument("--scan-page-size", type=int, default=40, help="scan PageSize")
    parser.add_argument("--scan-latency", type=float, default=0.05, help="scan latency, s")
    parser.add_argument("--skip-moto", action="store_true", help="no moto backend")
    parser.add_argument("--part", choices=["all", "fanout", "scan"], default="all")
    args = parser.parse_args()

    with ExitStack() as stack:
        regions = {
            region: stack.enter_context(BackupsServer({LISTING: args.pages})) for region in REGIONS
        }
        scans: dict[str, Any] = {
            "pre-rendered Scan pages": stack.enter_context(ScanServer(args.scan_items))
        }
        if not args.skip_moto:
            scans["moto behind the FaultProxy"] = stack.enter_context(MotoScan(args.scan_items))
        print(f"# asyncpage fan-out and parallel-scan benchmark\n\n{machine()}\n")
        print(
            f"{args.reps} repetitions, contenders interleaved round-robin; "
            "`python benchmarks/fanout.py " + " ".join(sys.argv[1:]) + "`\n"
        )
        anyio.run(benchmark, args, regions, scans)
        print(f"Load average at the end: {load()}")


if __name__ == "__main__":
    main()
