"""One listing, paged by asyncpage (prefetch 0/1/2), aiobotocore's and boto3's paginators.

Run from the repository root::

    python benchmarks/paging.py            # 7 repetitions, about 2 minutes
    python benchmarks/paging.py --reps 11

The endpoint is ScriptedAWS (DynamoDB ``ListBackups``, 100 backups a page, every page
rendered in advance) in a child process, with a server-side ``latency`` before each answer.
Consumer work is ``await anyio.sleep(work)`` for the async contenders and
``time.sleep(work)`` for boto3. Within each repetition every contender runs once, in an
order rotated from one repetition to the next; the tables give the median and the spread
(min-max) over the repetitions.

The event loop lives in a thread of its own (an anyio blocking portal) and the async
contenders time themselves inside it; boto3 runs in the main thread while the loop idles.
``time.process_time()`` covers the whole process, so "CPU/page" is client CPU only (the
server is another process). The floor of one sequential token chain is
``pages x max(fetch, consume) + one fetch``, with ``fetch = latency + the per-request time``
measured for aiobotocore's paginator in the no-latency, no-work scenario.
"""

from __future__ import annotations

import argparse
import datetime as dt
import gc
import importlib.metadata
import os
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import aiobotocore
import anyio
import boto3
import botocore.config
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from anyio.from_thread import BlockingPortal, start_blocking_portal

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import asyncpage
from _server import PageServer

OPERATION = "list_backups"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
REFERENCE = "aiobotocore paginator"


@dataclass(frozen=True)
class Scenario:
    name: str
    table: str
    pages: int
    latency: float
    work: float


@dataclass
class Sample:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)


Measure = Callable[[str, float], tuple[float, float, int]]
"""``measure(table, work) -> (wall seconds, CPU seconds, pages)``, called from the main thread."""


# -- the contenders --------------------------------------------------------------------


def boto3_contender(client: Any) -> Measure:
    def measure(table: str, work: float) -> tuple[float, float, int]:
        pages = 0
        wall, cpu = time.perf_counter(), time.process_time()
        for _page in client.get_paginator(OPERATION).paginate(TableName=table):
            pages += 1
            if work:
                time.sleep(work)
        return time.perf_counter() - wall, time.process_time() - cpu, pages

    return measure


def in_loop(portal: BlockingPortal, run: Callable[[str, float], Awaitable[int]]) -> Measure:
    async def timed(table: str, work: float) -> tuple[float, float, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        pages = await run(table, work)
        return time.perf_counter() - wall, time.process_time() - cpu, pages

    def measure(table: str, work: float) -> tuple[float, float, int]:
        return portal.call(timed, table, work)

    return measure


def aiobotocore_contender(portal: BlockingPortal, client: Any) -> Measure:
    async def run(table: str, work: float) -> int:
        pages = 0
        async for _page in client.get_paginator(OPERATION).paginate(TableName=table):
            pages += 1
            if work:
                await anyio.sleep(work)
        return pages

    return in_loop(portal, run)


def asyncpage_contender(portal: BlockingPortal, client: Any, prefetch: int) -> Measure:
    async def run(table: str, work: float) -> int:
        pages = 0
        async with asyncpage.paginate(
            client, OPERATION, prefetch=prefetch, TableName=table
        ) as iterator:
            async for _page in iterator:
                pages += 1
                if work:
                    await anyio.sleep(work)
        return pages

    return in_loop(portal, run)


# -- measuring -------------------------------------------------------------------------


def run_scenario(
    contenders: dict[str, Measure], scenario: Scenario, reps: int, server: PageServer
) -> dict[str, Sample]:
    server.set_latency(scenario.latency)
    names = list(contenders)
    samples = {name: Sample() for name in names}
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            wall, cpu, pages = contenders[name](scenario.table, scenario.work)
            if pages != scenario.pages:
                raise RuntimeError(f"{name} saw {pages} pages, not {scenario.pages}")
            samples[name].wall.append(wall)
            samples[name].cpu.append(cpu)
        print(f"  {scenario.name}: repetition {rep + 1}/{reps} done", file=sys.stderr)
    return samples


def peak_memory(contenders: dict[str, Measure], tables: dict[str, int]) -> dict[str, list[int]]:
    """tracemalloc peak above the starting level during one run, pages discarded as read."""
    peaks: dict[str, list[int]] = {name: [] for name in contenders}
    tracemalloc.start()
    try:
        for name, measure in contenders.items():
            measure(next(iter(tables)), 0.0)  # warm caches under tracing
            for table, pages in tables.items():
                gc.collect()
                tracemalloc.reset_peak()
                start = tracemalloc.get_traced_memory()[0]
                _, _, seen = measure(table, 0.0)
                if seen != pages:
                    raise RuntimeError(f"{name} saw {seen} pages, not {pages}")
                peaks[name].append(tracemalloc.get_traced_memory()[1] - start)
    finally:
        tracemalloc.stop()
    return peaks


# -- reporting -------------------------------------------------------------------------


def median(values: list[float]) -> float:
    return statistics.median(values)


def spread(values: list[float], unit: float, digits: int) -> str:
    return f"{min(values) * unit:.{digits}f}-{max(values) * unit:.{digits}f}"


def overhead_table(scenario: Scenario, samples: dict[str, Sample]) -> str:
    pages = scenario.pages
    reference = samples[REFERENCE]
    ref_wall = median(reference.wall) / pages
    ref_cpu = median(reference.cpu) / pages
    lines = [
        f"#### {scenario.name}: {pages} pages, no latency, no consumer work",
        "",
        "| contender | wall ms/page (median) | spread (min-max) | wall vs aiobotocore "
        "| CPU ms/page | CPU vs aiobotocore |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, sample in samples.items():
        wall = [w / pages for w in sample.wall]
        cpu = median(sample.cpu) / pages
        lines.append(
            f"| {name} | {median(wall) * 1e3:.3f} | {spread(wall, 1e3, 3)} "
            f"| {median(wall) / ref_wall:.3f} | {cpu * 1e3:.3f} | {cpu / ref_cpu:.3f} |"
        )
    return "\n".join(lines)


def latency_table(scenario: Scenario, samples: dict[str, Sample], request: float) -> str:
    fetch = scenario.latency + request
    floor = scenario.pages * max(fetch, scenario.work) + fetch
    reference = median(samples[REFERENCE].wall)
    lines = [
        f"#### {scenario.name}: {scenario.pages} pages, {scenario.latency * 1e3:.0f} ms latency, "
        f"{scenario.work * 1e3:.0f} ms work per page",
        "",
        f"floor = {scenario.pages} x max({fetch * 1e3:.1f}, {scenario.work * 1e3:.0f}) ms "
        f"+ {fetch * 1e3:.1f} ms = **{floor:.3f} s** (fetch = latency + {request * 1e3:.2f} ms "
        "measured per request)",
        "",
        "| contender | wall s (median) | spread (min-max) | vs aiobotocore | vs floor "
        "| CPU ms/page |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, sample in samples.items():
        wall = median(sample.wall)
        lines.append(
            f"| {name} | {wall:.3f} | {spread(sample.wall, 1, 3)} | {wall / reference:.3f} "
            f"| {wall / floor:.3f} | {median(sample.cpu) / scenario.pages * 1e3:.2f} |"
        )
    return "\n".join(lines)


def memory_table(peaks: dict[str, list[int]], tables: dict[str, int]) -> str:
    counts = list(tables.values())
    lines = [
        "#### Peak traced memory during one run (tracemalloc, pages discarded as read)",
        "",
        f"| contender | peak, {counts[0]} pages (KiB) | peak, {counts[1]} pages (KiB) "
        "| growth (KiB) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, (small, large) in peaks.items():
        lines.append(
            f"| {name} | {small / 1024:.1f} | {large / 1024:.1f} | {(large - small) / 1024:+.1f} |"
        )
    return "\n".join(lines)


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return (
        f"{dt.date.today().isoformat()}, {os.cpu_count()} CPUs ({model}), "
        f"Python {platform.python_version()}, asyncpage {asyncpage.__version__}, "
        f"aiobotocore {aiobotocore.__version__}, boto3 {boto3.__version__}, "
        f"anyio {importlib.metadata.version('anyio')}"
    )


# -- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="repetitions (default 7)")
    parser.add_argument("--pages", type=int, default=20, help="pages, latency scenarios")
    parser.add_argument("--overhead-pages", type=int, default=200, help="pages, no latency")
    parser.add_argument("--memory-pages", type=int, default=50, help="N for the N/4N memory run")
    args = parser.parse_args()

    overhead = Scenario("overhead", "overhead", args.overhead_pages, 0.0, 0.0)
    scenarios = [
        Scenario("20ms-latency-20ms-work", "listing", args.pages, 0.02, 0.02),
        Scenario("20ms-latency-60ms-work", "listing", args.pages, 0.02, 0.06),
    ]
    memory_tables = {"memory-n": args.memory_pages, "memory-4n": 4 * args.memory_pages}
    tables = {"listing": args.pages, "overhead": args.overhead_pages, **memory_tables}

    with ExitStack() as stack:
        server = stack.enter_context(PageServer(tables))
        portal = stack.enter_context(start_blocking_portal("asyncio"))
        client_args = {
            "region_name": "us-east-1",
            "endpoint_url": server.endpoint_url,
            **CREDENTIALS,
        }
        aio_client = portal.wrap_async_context_manager(
            get_session().create_client(
                "dynamodb", config=AioConfig(retries={"total_max_attempts": 1}), **client_args
            )
        )
        client = stack.enter_context(aio_client)
        sync_client = boto3.client(
            "dynamodb", config=botocore.config.Config(retries={"total_max_attempts": 1}), **client_args
        )
        stack.callback(sync_client.close)
        contenders: dict[str, Measure] = {
            "boto3 paginator": boto3_contender(sync_client),
            REFERENCE: aiobotocore_contender(portal, client),
            **{
                f"asyncpage prefetch={n}": asyncpage_contender(portal, client, n)
                for n in (0, 1, 2)
            },
        }
        for measure in contenders.values():  # connections, models, caches
            measure("listing", 0.0)

        print(f"# asyncpage paging benchmark\n\n{machine()}\n")
        print(f"{args.reps} repetitions, contenders interleaved round-robin.\n")
        samples = run_scenario(contenders, overhead, args.reps, server)
        print(overhead_table(overhead, samples) + "\n", flush=True)
        request = median(samples[REFERENCE].wall) / overhead.pages
        for scenario in scenarios:
            samples = run_scenario(contenders, scenario, args.reps, server)
            print(latency_table(scenario, samples, request) + "\n", flush=True)
        server.set_latency(0.0)
        peaks = peak_memory(contenders, memory_tables)
        print(memory_table(peaks, memory_tables), flush=True)


if __name__ == "__main__":
    main()
