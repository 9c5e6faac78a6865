"""One listing, paged by asyncpage (prefetch 0/1/2 in ``async with``, and prefetch=1 in a
plain ``async for``), aiobotocore's and boto3's paginators.

Run from the repository root::

    python benchmarks/paging.py                 # about 10 minutes: timing, then memory
    python benchmarks/paging.py --part timing   # about 3 minutes
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
``pages x max(fetch, consume) + one fetch``. Floor A takes ``fetch = latency + the time
per request`` of aiobotocore's paginator with no latency and no work; floor B takes its
time per request measured at the same latency with no work.
Memory: tracemalloc peaks over runs of N and 4N one-item pages (N=1500 by default: more
than asyncpage's 1,024-token cycle-check window), also with ``gc.collect()`` every 50 pages.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass
from typing import Any

import anyio
import boto3
import botocore.config
from _measure import Sample, load, machine, median, rotations, spread
from _server import CREDENTIALS, BackupsServer
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session
from anyio.from_thread import BlockingPortal, start_blocking_portal

import asyncpage

OPERATION = "list_backups"
REFERENCE = "aiobotocore paginator"


@dataclass(frozen=True)
class Scenario:
    name: str
    table: str
    pages: int
    latency: float
    work: float
    page_size: int | None = None
    collect_every: int = 0
    """``gc.collect()`` after every this many pages (0: never), to tell live memory from
    cyclic garbage the collector has not reached yet."""


Measure = Callable[[Scenario], tuple[float, float, int]]
"""``measure(scenario) -> (wall seconds, CPU seconds, pages)``, called from the main thread."""


def operation_params(scenario: Scenario) -> dict[str, Any]:
    params: dict[str, Any] = {"TableName": scenario.table}
    if scenario.page_size is not None:
        params["PaginationConfig"] = {"PageSize": scenario.page_size}
    return params


# -- the contenders --------------------------------------------------------------------


def boto3_contender(client: Any) -> Measure:
    def measure(scenario: Scenario) -> tuple[float, float, int]:
        pages, work, collect = 0, scenario.work, scenario.collect_every
        wall, cpu = time.perf_counter(), time.process_time()
        for _page in client.get_paginator(OPERATION).paginate(**operation_params(scenario)):
            pages += 1
            if collect and pages % collect == 0:
                gc.collect()
            if work:
                time.sleep(work)
        return time.perf_counter() - wall, time.process_time() - cpu, pages

    return measure


def in_loop(portal: BlockingPortal, run: Callable[[Scenario], Awaitable[int]]) -> Measure:
    async def timed(scenario: Scenario) -> tuple[float, float, int]:
        wall, cpu = time.perf_counter(), time.process_time()
        pages = await run(scenario)
        return time.perf_counter() - wall, time.process_time() - cpu, pages

    def measure(scenario: Scenario) -> tuple[float, float, int]:
        return portal.call(timed, scenario)

    return measure


def aiobotocore_contender(portal: BlockingPortal, client: Any) -> Measure:
    async def run(scenario: Scenario) -> int:
        pages, work, collect = 0, scenario.work, scenario.collect_every
        paginator = client.get_paginator(OPERATION)
        async for _page in paginator.paginate(**operation_params(scenario)):
            pages += 1
            if collect and pages % collect == 0:
                gc.collect()
            if work:
                await anyio.sleep(work)
        return pages

    return in_loop(portal, run)


def asyncpage_contender(
    portal: BlockingPortal, client: Any, prefetch: int, *, plain: bool = False
) -> Measure:
    """asyncpage inside ``async with``, or (``plain``) in a plain ``async for`` loop."""

    async def consume(iterator: asyncpage.AsyncPageIterator, scenario: Scenario) -> int:
        pages, work, collect = 0, scenario.work, scenario.collect_every
        async for _page in iterator:
            pages += 1
            if collect and pages % collect == 0:
                gc.collect()
            if work:
                await anyio.sleep(work)
        return pages

    async def run(scenario: Scenario) -> int:
        iterator = asyncpage.paginate(client, OPERATION, **operation_params(scenario)).with_options(
            prefetch=prefetch
        )
        if plain:
            return await consume(iterator, scenario)
        async with iterator:
            return await consume(iterator, scenario)

    return in_loop(portal, run)


# -- measuring -------------------------------------------------------------------------


def run_scenario(
    contenders: dict[str, Measure], scenario: Scenario, reps: int, server: BackupsServer
) -> dict[str, Sample]:
    server.set_latency(scenario.latency)
    samples = {name: Sample() for name in contenders}
    for rep, order in rotations(list(contenders), reps):
        for name in order:
            gc.collect()
            wall, cpu, pages = contenders[name](scenario)
            if pages != scenario.pages:
                raise RuntimeError(f"{name} saw {pages} pages, not {scenario.pages}")
            samples[name].wall.append(wall)
            samples[name].cpu.append(cpu)
        print(f"  {scenario.name}: repetition {rep + 1}/{reps} done", file=sys.stderr)
    return samples


def peak_memory(
    contenders: dict[str, Measure], scenarios: list[Scenario], reps: int
) -> dict[str, list[list[int]]]:
    """tracemalloc peak above the starting level during a run, pages discarded as read."""
    peaks = {name: [[] for _ in scenarios] for name in contenders}
    tracemalloc.start()
    try:
        for name, measure in contenders.items():
            measure(scenarios[0])  # warm caches under tracing
            for _ in range(reps):
                for index, scenario in enumerate(scenarios):
                    gc.collect()
                    tracemalloc.reset_peak()
                    start = tracemalloc.get_traced_memory()[0]
                    _, _, pages = measure(scenario)
                    if pages != scenario.pages:
                        raise RuntimeError(f"{name} saw {pages} pages, not {scenario.pages}")
                    peaks[name][index].append(tracemalloc.get_traced_memory()[1] - start)
            print(f"  memory: {name} done", file=sys.stderr)
    finally:
        tracemalloc.stop()
    return peaks


# -- reporting -------------------------------------------------------------------------


def overhead_table(scenario: Scenario, samples: dict[str, Sample]) -> str:
    pages = scenario.pages
    reference = samples[REFERENCE]
    ref_wall = median(reference.wall) / pages
    ref_cpu = median(reference.cpu) / pages
    lines = [
        f"#### {scenario.name}: {pages} pages of 100 items, no latency, no consumer work",
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


def floor(scenario: Scenario, fetch: float) -> float:
    """One sequential token chain: ``pages x max(fetch, consume) + one fetch``."""
    return scenario.pages * max(fetch, scenario.work) + fetch


def latency_table(
    scenario: Scenario, samples: dict[str, Sample], request: float, fetch_measured: float
) -> str:
    fetch = scenario.latency + request
    floor_a = floor(scenario, fetch)
    floor_b = floor(scenario, fetch_measured)
    reference = median(samples[REFERENCE].wall)
    lines = [
        f"#### {scenario.name}: {scenario.pages} pages of 100 items, "
        f"{scenario.latency * 1e3:.0f} ms latency, {scenario.work * 1e3:.0f} ms work per page",
        "",
        f"- floor A = {scenario.pages} x max({fetch * 1e3:.1f}, {scenario.work * 1e3:.0f}) ms "
        f"+ {fetch * 1e3:.1f} ms = **{floor_a:.3f} s**, fetch = latency + {request * 1e3:.2f} ms "
        "(aiobotocore's time per request without latency)",
        f"- floor B = {scenario.pages} x max({fetch_measured * 1e3:.1f}, "
        f"{scenario.work * 1e3:.0f}) ms + {fetch_measured * 1e3:.1f} ms = **{floor_b:.3f} s**, "
        "fetch = aiobotocore's time per request measured at this latency with no work",
        "",
        "| contender | wall s (median) | spread (min-max) | vs aiobotocore | vs floor A "
        "| vs floor B | CPU ms/page |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, sample in samples.items():
        wall = median(sample.wall)
        lines.append(
            f"| {name} | {wall:.3f} | {spread(sample.wall, 1, 3)} | {wall / reference:.3f} "
            f"| {wall / floor_a:.3f} | {wall / floor_b:.3f} "
            f"| {median(sample.cpu) / scenario.pages * 1e3:.2f} |"
        )
    return "\n".join(lines)


def calibration_table(scenario: Scenario, samples: dict[str, Sample]) -> str:
    lines = [
        f"#### {scenario.name}: {scenario.pages} pages of 100 items, "
        f"{scenario.latency * 1e3:.0f} ms latency, no work (calibrates floor B)",
        "",
        "| contender | wall ms/page (median) | spread (min-max) | minus latency (ms) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name, sample in samples.items():
        wall = [w / scenario.pages for w in sample.wall]
        lines.append(
            f"| {name} | {median(wall) * 1e3:.2f} | {spread(wall, 1e3, 2)} "
            f"| {(median(wall) - scenario.latency) * 1e3:.2f} |"
        )
    return "\n".join(lines)


def memory_table(peaks: dict[str, list[list[int]]], scenarios: list[Scenario]) -> str:
    small, large, collected, _ = scenarios
    n, big = small.pages, large.pages
    lines = [
        f"#### Peak traced memory during one run: {n} vs {big} pages "
        f"(PageSize={small.page_size}, pages discarded as read; tracemalloc, KiB above the "
        f"level before the run, median of {len(next(iter(peaks.values()))[0])})",
        "",
        f"| contender | peak, {n} pages | peak, {big} pages | growth "
        f"| peak, {n} pages, gc every {collected.collect_every} | same, {big} pages | growth |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, runs in peaks.items():
        a, b, c, d = (median(values) / 1024 for values in runs)
        lines.append(
            f"| {name} | {a:.1f} | {b:.1f} | {b - a:+.1f} | {c:.1f} | {d:.1f} | {d - c:+.1f} |"
        )
    return "\n".join(lines)


def timing(
    contenders: dict[str, Measure],
    overhead: Scenario,
    calibration: Scenario,
    scenarios: list[Scenario],
    reps: int,
    server: BackupsServer,
) -> None:
    samples = run_scenario(contenders, overhead, reps, server)
    print(overhead_table(overhead, samples) + "\n", flush=True)
    request = median(samples[REFERENCE].wall) / overhead.pages
    samples = run_scenario(contenders, calibration, reps, server)
    print(calibration_table(calibration, samples) + "\n", flush=True)
    fetch_measured = median(samples[REFERENCE].wall) / calibration.pages
    for scenario in scenarios:
        samples = run_scenario(contenders, scenario, reps, server)
        print(latency_table(scenario, samples, request, fetch_measured) + "\n", flush=True)


# -- main ------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7, help="repetitions (default 7)")
    parser.add_argument("--pages", type=int, default=20, help="pages, latency scenarios")
    parser.add_argument("--overhead-pages", type=int, default=200, help="pages, no latency")
    parser.add_argument(
        "--memory-pages", type=int, default=1500, help="N for the N/4N memory runs (1 item a page)"
    )
    parser.add_argument("--memory-reps", type=int, default=2, help="memory repetitions")
    parser.add_argument("--part", choices=["all", "timing", "memory"], default="all")
    args = parser.parse_args()

    overhead = Scenario("no-latency", "overhead", args.overhead_pages, 0.0, 0.0)
    calibration = Scenario("latency-only", "listing", args.pages, 0.02, 0.0)
    scenarios = [
        Scenario("20ms-work", "listing", args.pages, 0.02, 0.02),
        Scenario("40ms-work", "listing", args.pages, 0.02, 0.04),
        Scenario("60ms-work", "listing", args.pages, 0.02, 0.06),
    ]
    n = args.memory_pages
    memory = [
        Scenario("memory-n", "memory-n", n, 0.0, 0.0, page_size=1),
        Scenario("memory-4n", "memory-4n", 4 * n, 0.0, 0.0, page_size=1),
        Scenario("memory-n-gc", "memory-n", n, 0.0, 0.0, page_size=1, collect_every=50),
        Scenario("memory-4n-gc", "memory-4n", 4 * n, 0.0, 0.0, page_size=1, collect_every=50),
    ]
    tables: dict[str, int | tuple[int, int]] = {
        "listing": args.pages,
        "overhead": args.overhead_pages,
    }
    if args.part != "timing":
        tables |= {scenario.table: (scenario.pages, 1) for scenario in memory[:2]}

    with ExitStack() as stack:
        server = stack.enter_context(BackupsServer(tables))
        portal = stack.enter_context(start_blocking_portal("asyncio"))
        client_args = {
            "region_name": "us-east-1",
            "endpoint_url": server.endpoint_url,
            **CREDENTIALS,
        }
        retries = {"total_max_attempts": 1}
        aio_client = portal.wrap_async_context_manager(
            get_session().create_client(
                "dynamodb", config=AioConfig(retries=retries), **client_args
            )
        )
        client = stack.enter_context(aio_client)
        sync_client = boto3.client(
            "dynamodb", config=botocore.config.Config(retries=retries), **client_args
        )
        stack.callback(sync_client.close)
        contenders: dict[str, Measure] = {
            "boto3 paginator": boto3_contender(sync_client),
            REFERENCE: aiobotocore_contender(portal, client),
            **{
                f"asyncpage prefetch={n}": asyncpage_contender(portal, client, n) for n in (0, 1, 2)
            },
            "asyncpage plain loop prefetch=1": asyncpage_contender(portal, client, 1, plain=True),
        }
        for measure in contenders.values():  # connections, models, caches
            measure(calibration)

        print(f"# asyncpage paging benchmark\n\n{machine()}\n")
        print(
            f"{args.reps} repetitions, contenders interleaved round-robin; "
            "`python benchmarks/paging.py " + " ".join(sys.argv[1:]) + "`\n"
        )
        if args.part != "memory":
            timing(contenders, overhead, calibration, scenarios, args.reps, server)
        if args.part != "timing":
            server.set_latency(0.0)
            peaks = peak_memory(contenders, memory, args.memory_reps)
            print(memory_table(peaks, memory) + "\n", flush=True)
    print(f"Load average at the end: {load()}")


if __name__ == "__main__":
    main()
