"""Seeding `asyncpage inventory --demo`: in-process (what the demo does) against over HTTP.

    python benchmarks/seeding.py                  # about 2 minutes; --reps N

Both contenders seed what ``asyncpage inventory --demo`` seeds (the Organization of 4
accounts in 4 regions, the resources its default listings list) into moto running in the
process: "in-process" as ``DemoEndpoint`` does (moto's request handlers answer botocore's
requests without HTTP), "over HTTP" through ``asyncpage._demo.seed(url)`` (the same requests
to moto's server in the same process). Each repetition runs each contender in a fresh
child process, because moto's first use of a service (EC2's import and AMIs above all) is
paid once per process, as the demo pays it: "cold" is that first seeding, "warm" a second
one in the same child after ``/moto-api/reset``, "to seeded" the child's time from its first
line (before it imports asyncpage or moto) to the end of the cold seeding. CPU is the
child's ``time.process_time()``, moto's threads included.
"""

from __future__ import annotations

import time

STARTED = time.perf_counter()

import argparse  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from typing import Any  # noqa: E402

from _measure import load, machine, median, rotations, spread  # noqa: E402

CONTENDERS = ("in-process", "over HTTP")


def _child(contender: str) -> None:
    import anyio

    from asyncpage._demo import DemoEndpoint, resources_listed_by, seed
    from asyncpage._inventory import DEFAULT_LISTINGS

    listed = resources_listed_by((item.service, item.operation) for item in DEFAULT_LISTINGS)
    result: dict[str, float] = {}

    async def once(label: str) -> None:
        cpu, wall = time.process_time(), time.perf_counter()
        if contender == "in-process":
            async with DemoEndpoint.start(seed=True, organization=True, resources=listed):
                pass
        else:
            async with DemoEndpoint.start() as demo:  # not seeded: only the server
                await seed(demo.endpoint_url, organization=True, resources=listed)
        result[f"{label}_wall"] = time.perf_counter() - wall
        result[f"{label}_cpu"] = time.process_time() - cpu
        if label == "cold":
            result["to_seeded"] = time.perf_counter() - STARTED

    async def main() -> None:
        await once("cold")
        from asyncpage.testing import MotoServer

        with MotoServer() as moto:  # moto's data is per process: forget the first seeding
            moto.reset()
        await once("warm")

    anyio.run(main)
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--child", choices=CONTENDERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(args.child)
        return

    print(machine())
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in CONTENDERS}
    for _, order in rotations(CONTENDERS, args.reps):
        for name in order:
            done = subprocess.run(
                [sys.executable, __file__, "--child", name],
                capture_output=True,
                text=True,
                check=True,
            )
            runs[name].append(json.loads(done.stdout.splitlines()[-1]))
    print(f"\n#### demo seeding, organization, default listings; median of {args.reps}\n")
    print(
        "| contender | cold wall s | spread | cold CPU s | warm wall s | warm CPU s "
        "| to seeded s | cold wall vs over HTTP |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    http = median([r["cold_wall"] for r in runs["over HTTP"]])
    for name in CONTENDERS:
        got = runs[name]

        def m(key: str, got: list[dict[str, Any]] = got) -> float:
            return median([r[key] for r in got])

        cold = [r["cold_wall"] for r in got]
        print(
            f"| {name} | {m('cold_wall'):.2f} | {spread(cold, digits=2)} | {m('cold_cpu'):.2f} "
            f"| {m('warm_wall'):.2f} | {m('warm_cpu'):.2f} | {m('to_seeded'):.2f} "
            f"| {m('cold_wall') / http:.2f} |"
        )
    print(f"\nload average at the end {load()}")


if __name__ == "__main__":
    main()
