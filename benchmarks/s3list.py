"""parallel_list_objects at 1/4/16/64 shards beside aiobotocore's single-chain paginator.

Run from the repository root::

    python benchmarks/s3list.py                     # 100,000 keys, about 3 minutes
    python benchmarks/s3list.py --keys 100000 --shards 1,4,16,64 --reps 3 --latency 0.02

The bucket is :class:`~asyncpage.testing.ListObjectsServer` in a child process (so its CPU
is not the client's), 20 ms added to every request, each response rendered once in a
warm-up pass and then served from memory. Every contender lists the whole bucket and
keeps every ``Key``; the result is checked against the chain's. Columns: wall time
(median and spread), the speed-up over aiobotocore's paginator, the client's CPU per key
(``time.process_time()``), requests (planning included) and the plan's requests.
``--speedups`` installs ``asyncpage.speedups`` (the faster parsers) on the session of the
sharded contenders and of a second chain, "aiobotocore + speedups"; "aiobotocore" stays on a
plain session (the paginator as users have it), and speed-ups are over it.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

import anyio
from _measure import load, machine, median, rotations, spread
from _server import CREDENTIALS, S3_BUCKET, ObjectListingServer
from aiobotocore.config import AioConfig
from aiobotocore.session import get_session

import asyncpage


async def chain(client: Any) -> tuple[list[str], int]:
    keys: list[str] = []
    async for page in client.get_paginator("list_objects_v2").paginate(Bucket=S3_BUCKET):
        keys.extend(c["Key"] for c in page.get("Contents", ()))
    return keys, 0


async def sharded(client: Any, shards: int) -> tuple[list[str], int]:
    async with asyncpage.parallel_list_objects(client, Bucket=S3_BUCKET, shards=shards) as listing:
        keys = [obj["Key"] async for obj in listing.items()]
    return keys, listing.plan.requests


async def main(args: argparse.Namespace) -> None:
    shard_counts = [int(s) for s in args.shards.split(",")]
    chains = ["aiobotocore", *(["aiobotocore + speedups"] if args.speedups else [])]
    names = [*chains, *(f"{s} shards" for s in shard_counts)]
    wall: dict[str, list[float]] = {n: [] for n in names}
    cpu: dict[str, list[float]] = {n: [] for n in names}
    requests: dict[str, list[int]] = {n: [] for n in names}
    planning: dict[str, list[int]] = {n: [] for n in names}
    config = AioConfig(max_pool_connections=max(shard_counts) * 2 + 2)
    plain = get_session()
    session = get_session()
    if args.speedups:
        from asyncpage import speedups

        speedups.install(session)
    with ObjectListingServer(args.keys, args.layout) as server:
        options: dict[str, Any] = {
            "region_name": "us-east-1",
            "endpoint_url": server.endpoint_url,
            "config": config,
            **CREDENTIALS,
        }
        async with (
            plain.create_client("s3", **options) as plain_client,
            session.create_client("s3", **options) as client,
        ):

            async def run(name: str) -> tuple[list[str], int]:
                if name == "aiobotocore":
                    return await chain(plain_client)
                if name == "aiobotocore + speedups":
                    return await chain(client)
                return await sharded(client, int(name.split()[0]))

            expected, _ = await chain(plain_client)  # renders the chain's pages
            for name in names[1:]:
                await run(name)  # renders each plan's pages
            server.set_latency(args.latency)
            print(machine(), file=sys.stderr)
            for rep, order in rotations(names, args.reps):
                for name in order:
                    before = server.requests
                    started, cpu_started = time.perf_counter(), time.process_time()
                    keys, plan_requests = await run(name)
                    wall[name].append(time.perf_counter() - started)
                    cpu[name].append(time.process_time() - cpu_started)
                    requests[name].append(server.requests - before)
                    planning[name].append(plan_requests)
                    if sorted(keys) != expected:
                        raise SystemExit(f"{name}: the listing differs from the chain's")
                print(f"repetition {rep + 1}/{args.reps} done (load {load()})", file=sys.stderr)
    base = median(wall["aiobotocore"])
    print(
        f"\n{args.keys:,} keys ({args.layout}), {args.latency * 1000:.0f} ms per request, "
        f"{'with' if args.speedups else 'without'} asyncpage.speedups, "
        f"median of {args.reps}; {machine()}\n"
    )
    print(
        "| contender | wall s (spread) | speed-up | client CPU µs/key | requests "
        "| of which planning |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name in names:
        print(
            f"| {name} | {median(wall[name]):.2f} ({spread(wall[name], digits=2)}) | "
            f"{base / median(wall[name]):.1f}x | {median(cpu[name]) / args.keys * 1e6:.0f} | "
            f"{median(requests[name]):.0f} | {median(planning[name]):.0f} |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=100_000)
    parser.add_argument("--shards", default="1,4,16,64")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--layout", choices=("logs", "skewed"), default="logs")
    parser.add_argument(
        "--speedups", action="store_true", help="install asyncpage.speedups on the session"
    )
    anyio.run(main, parser.parse_args())
