"""fan_out at 4, 32, 256 and 1,024 sources beside a hand-written anyio task group.

Run from the repository root::

    python benchmarks/fanout_scale.py            # about 3 minutes
    python benchmarks/fanout_scale.py --reps 3 --sources 4,32,256,1024

Each source is one DynamoDB ``ListBackups`` listing of 3 pages of 10 items, pre-rendered by
``BackupsServer`` in a child process, all through one aiobotocore client.

* **CPU per page**: no latency, at most 64 sources at once, so the client's CPU is the
  bound; ``time.process_time()`` over the run divided by the pages. Also with the cyclic
  garbage collector disabled during the run, to show what it costs each contender.
* **Memory per source**: 20 ms latency and every source running at once (up to 256: more
  connections at once overwhelm the local server), so their state is alive together; the
  ``tracemalloc`` peak above the level before the run, divided by the number of sources.

The hand-written contender is what one would write without asyncpage: aiobotocore
paginators in an anyio task group under a ``CapacityLimiter``, feeding one memory object
stream. Contenders alternate within each repetition; medians (and the spread) are given.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from _measure import load, machine, median, rotations, spread
from _server import CREDENTIALS, BackupsServer
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

import asyncpage

PAGES, PER_PAGE, CONCURRENCY = 3, 10, 64
#: Sources running at once in the memory runs (more than this many connections at once
#: overwhelm the local server); every source up to it is alive at the same time.
MEMORY_CONCURRENCY = 256

Run = Callable[[Any, int, int], Awaitable[int]]


async def with_fan_out(client: Any, sources: int, concurrency: int) -> int:
    factories = {
        i: (
            lambda i=i: asyncpage.paginate(
                client, "list_backups", TableName=f"t{i}", PaginationConfig={"PageSize": PER_PAGE}
            )
        )
        for i in range(sources)
    }
    pages = 0
    async with asyncpage.fan_out(factories, concurrency=concurrency, per_endpoint=None) as merged:
        async for _ in merged:
            pages += 1
    failed = {k: o.error for k, o in merged.outcomes.items() if o.status != "ok"}
    if failed:
        raise RuntimeError(
            f"{len(failed)} sources did not end ok, e.g. {next(iter(failed.values()))!r}"
        )
    return pages


async def with_task_group(client: Any, sources: int, concurrency: int) -> int:
    send, receive = anyio.create_memory_object_stream[dict[str, Any]](1)
    limiter = anyio.CapacityLimiter(concurrency)

    async def produce(i: int, send: Any) -> None:
        async with limiter, send:
            paginator = client.get_paginator("list_backups")
            config = {"PageSize": PER_PAGE}
            async for page in paginator.paginate(TableName=f"t{i}", PaginationConfig=config):
                await send.send(page)

    pages = 0
    async with anyio.create_task_group() as group:
        async with send:
            for i in range(sources):
                group.start_soon(produce, i, send.clone())
        async with receive:
            async for _ in receive:
                pages += 1
    return pages


CONTENDERS: dict[str, Run] = {
    "fan_out": with_fan_out,
    "task group (hand-written)": with_task_group,
}


async def cpu_per_page(client: Any, run: Run, sources: int, collect: bool) -> float:
    gc.collect()
    if not collect:
        gc.disable()
    try:
        started = time.process_time()
        pages = await run(client, sources, CONCURRENCY)
        cpu = time.process_time() - started
    finally:
        gc.enable()
    assert pages == sources * PAGES, pages
    return cpu / pages


async def memory_per_source(client: Any, run: Run, sources: int) -> float:
    gc.collect()
    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        tracemalloc.reset_peak()
        pages = await run(client, sources, min(sources, MEMORY_CONCURRENCY))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert pages == sources * PAGES, pages
    return (peak - base) / sources


async def benchmark(args: argparse.Namespace, server: BackupsServer) -> None:
    config = AioConfig(retries={"total_max_attempts": 1}, max_pool_connections=1100)
    async with get_session().create_client(
        "dynamodb",
        region_name="us-east-1",
        endpoint_url=server.endpoint_url,
        config=config,
        **CREDENTIALS,
    ) as client:
        for run in CONTENDERS.values():  # connections, models, caches
            await run(client, 8, 8)
        cpu: dict[tuple[str, int, bool], list[float]] = {}
        memory: dict[tuple[str, int], list[float]] = {}
        for sources in args.sources:
            for rep, order in rotations(list(CONTENDERS), args.reps):
                server.set_latency(0.0)
                for name in order:
                    for collect in (True, False):
                        key = (name, sources, collect)
                        value = await cpu_per_page(client, CONTENDERS[name], sources, collect)
                        cpu.setdefault(key, []).append(value)
                server.set_latency(0.02)
                for name in order:
                    value = await memory_per_source(client, CONTENDERS[name], sources)
                    memory.setdefault((name, sources), []).append(value)
                print(f"  {sources} sources: repetition {rep + 1} done", file=sys.stderr)
        print(cpu_table(cpu, args.sources) + "\n")
        print(memory_table(memory, args.sources) + "\n", flush=True)


def cpu_table(cpu: dict[tuple[str, int, bool], list[float]], counts: list[int]) -> str:
    lines = [
        f"#### CPU per page ({PAGES} pages of {PER_PAGE} items a source, no latency, "
        f"{CONCURRENCY} at once)",
        "",
        "| sources | contender | CPU µs/page (median) | spread | vs task group | "
        "with gc disabled | gc's share |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for sources in counts:
        reference = median(cpu[("task group (hand-written)", sources, True)])
        for name in CONTENDERS:
            on, off = cpu[(name, sources, True)], cpu[(name, sources, False)]
            share = 1 - median(off) / median(on)
            lines.append(
                f"| {sources} | {name} | {median(on) * 1e6:.0f} | {spread(on, 1e6, 0)} | "
                f"{median(on) / reference:.3f} | {median(off) * 1e6:.0f} | {share:+.0%} |"
            )
    return "\n".join(lines)


def memory_table(memory: dict[tuple[str, int], list[float]], counts: list[int]) -> str:
    lines = [
        f"#### Memory per source (up to {MEMORY_CONCURRENCY} sources running at once, "
        "20 ms latency)",
        "",
        "| sources | contender | KiB/source (median) | spread | vs task group |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for sources in counts:
        reference = median(memory[("task group (hand-written)", sources)])
        for name in CONTENDERS:
            values = memory[(name, sources)]
            lines.append(
                f"| {sources} | {name} | {median(values) / 1024:.1f} | "
                f"{spread(values, 1 / 1024, 1)} | {median(values) / reference:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5, help="repetitions (default 5)")
    parser.add_argument(
        "--sources",
        type=lambda text: [int(n) for n in text.split(",")],
        default=[4, 32, 256, 1024],
        help="source counts, comma-separated (default 4,32,256,1024)",
    )
    args = parser.parse_args()
    tables = {f"t{i}": (PAGES, PER_PAGE) for i in range(max(args.sources))}
    with BackupsServer(tables) as server:
        print(f"# fan_out at scale\n\n{machine()}\n")
        print(
            f"{args.reps} repetitions, contenders interleaved round-robin; "
            "`python benchmarks/fanout_scale.py " + " ".join(sys.argv[1:]) + "`\n"
        )
        anyio.run(benchmark, args, server)
    print(f"Load average at the end: {load()}")


if __name__ == "__main__":
    main()
