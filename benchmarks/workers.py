"""``inventory --workers``: one process against 2 worker processes and a 2-worker Dask cluster.

Run from the repository root::

    python benchmarks/workers.py                 # about 2 minutes
    python benchmarks/workers.py --reps 3 --sources 128 --pages 10

A CPU-bound inventory: ``--sources`` DynamoDB ``ListBackups`` sources (one per region, so
one endpoint each), each ``--pages`` pages of 100 backups, from ``BackupsServer`` (every
page rendered before the first timed request, in a child process), with no latency; every
record goes to a SQLite store (``--db``) as the CLI stores it. Contenders, in one process
run, order rotated each repetition:

* ``one process``: :class:`~asyncpage._inventory.Inventory`, what ``--workers 1`` runs
  (its heap frozen for the run, as the CLI freezes it; so is the coordinators');
* ``2 workers``: the :class:`~asyncpage._distribute.Coordinator` with 2 worker
  processes (a new pool per repetition: its start is part of the time, and is also
  measured alone);
* ``2 workers, started before``: the same, on a new pool started (and waited for) before
  the time starts, as the CLI starts it while it discovers regions and accounts or seeds
  the demo;
* ``dask``: the same coordinator on a ``LocalCluster`` of 2 worker processes of one thread
  (started once, before the repetitions).

Reported: records per second (median, spread), the ratio to one process, the
coordinator's own CPU per page (``time.process_time()`` of this process, the store's
thread included) against the one-process CPU per page, and tasks per run.

``--part cli`` runs the command a user runs instead, ``asyncpage inventory --workers 1``
against ``--workers 2`` (each a new process: interpreter, imports, region discovery, the
pool started as the run starts; and ``--workers 2`` without the entry point's early start
of the workers' forkserver, which the pool then starts), on ``--regions all`` (DynamoDB's
34 regions in botocore's endpoint data, the endpoint refusing EC2's ``DescribeRegions``)
of ``--pages`` pages each (default 40 with it), into a store; reported: the command's wall
time and the inventory's own, from the summary's ``total`` line::

    python benchmarks/workers.py --part cli --reps 5
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import anyio
from _measure import load, machine, median, rotations, spread
from _server import CREDENTIALS, BackupsServer
from aiobotocore.session import AioSession

from asyncpage._distribute import Coordinator, DaskWorkers, ProcessWorkers, Workers
from asyncpage._inventory import Inventory, Target, listing_for, plan_targets
from asyncpage._regions import ClientPool
from asyncpage._store import Store
from asyncpage._tasks import Connection, frozen_heap

TABLE = "bench"
#: ``asyncpage`` as its entry point runs it (asyncpage/__main__.py), but without the early
#: start of the forkserver.
LATE_ENTRY = "import gc, sys; from asyncpage.cli import main; s = main(); gc.freeze(); sys.exit(s)"


def targets_for(sources: int) -> list[Target]:
    listing = listing_for("dynamodb:list_backups", [f'{{"TableName": "{TABLE}"}}'])
    regions = [f"bench-{i:03d}" for i in range(sources)]
    return plan_targets([listing], {"dynamodb": regions}, home_region=regions[0])


async def begin(db: Path, targets: list[Target]) -> Store:
    store = Store(db)
    await store.__aenter__()
    await store.begin([target.key.stored for target in targets], resume=False)
    return store


async def one_process(url: str, targets: list[Target], db: Path) -> tuple[int, int]:
    store = await begin(db, targets)
    try:
        session = AioSession()
        session.set_credentials(
            access_key=CREDENTIALS["aws_access_key_id"],
            secret_key=CREDENTIALS["aws_secret_access_key"],
        )
        async with ClientPool(session=session, endpoint_url=url) as pool:
            inventory = Inventory(targets, pool=pool, store=store, concurrency=16)
            with frozen_heap():  # as the CLI runs it
                await inventory.run()
    finally:
        await store.__aexit__(None, None, None)
    states = inventory.states()
    return sum(s.items for s in states), sum(s.statistics.pages for s in states)


def coordinated(make: Callable[[], Workers]) -> Callable[..., Awaitable[tuple[int, int]]]:
    async def run(url: str, targets: list[Target], db: Path) -> tuple[int, int]:
        store = await begin(db, targets)
        try:
            coordinator = Coordinator(
                targets,
                workers=make(),
                connection=Connection(
                    endpoint_url=url,
                    credentials=(
                        CREDENTIALS["aws_access_key_id"],
                        CREDENTIALS["aws_secret_access_key"],
                    ),
                ),
                store=store,
                concurrency=16,
            )
            with frozen_heap():
                await coordinator.run()
        finally:
            await store.__aexit__(None, None, None)
        run.tasks = coordinator.tasks  # type: ignore[attr-defined]
        run.worker_cpu = coordinator.worker_cpu  # type: ignore[attr-defined]
        states = coordinator.states()
        return sum(s.items for s in states), sum(s.statistics.pages for s in states)

    return run


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) process ``pid`` has used, from /proc."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cli(reps: int, pages: int) -> None:
    """``asyncpage inventory --workers 1`` against ``--workers 2``, each a process of its own."""
    print(machine())
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
        "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    # Each command's entry and --workers; the last without the entry point's early start
    # of the workers' forkserver (asyncpage/__main__.py), as before it had one.
    commands = {
        "--workers 1": (["-m", "asyncpage"], "1"),
        "--workers 2": (["-m", "asyncpage"], "2"),
        "--workers 2, forkserver at the pool": (["-c", LATE_ENTRY], "2"),
    }
    names = list(commands)
    wall: dict[str, list[float]] = {name: [] for name in names}
    listing: dict[str, list[float]] = {name: [] for name in names}
    items = ""
    loads = [load()]
    with BackupsServer({TABLE: pages}) as server, tempfile.TemporaryDirectory() as tmp:

        def run(name: str, db: Path) -> tuple[float, float, str]:
            entry, workers = commands[name]
            command = [
                sys.executable, *entry, "inventory",
                "--endpoint-url", server.endpoint_url, "--regions", "all",
                "--operation", "dynamodb:list_backups", "--param", f"TableName={TABLE}",
                "--db", str(db), "--no-progress", "--workers", workers,
            ]  # fmt: skip
            started = time.perf_counter()
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
            took = time.perf_counter() - started
            (total,) = [line for line in done.stderr.splitlines() if line.startswith("total")]
            fields = total.split()
            # total  N sources  items  pages  retries  throttles  seconds  outcome
            return took, float(fields[7]), f"{fields[3]} items in {fields[4]} pages"

        for name in names:  # warm up: the file cache, the endpoint's threads
            run(name, Path(tmp) / f"warm-{name}.db")
        for rep, order in rotations(names, reps):
            for name in order:
                took, seconds, items = run(name, Path(tmp) / f"{rep}-{name}.db")
                wall[name].append(took)
                listing[name].append(seconds)
            loads.append(load())
    print(f"\n`asyncpage inventory` of DynamoDB ListBackups in every region: {items} a run, ")
    print(f"{reps} repetitions; load average: {', '.join(loads)}\n")
    print("| command | wall s (median) | spread | x --workers 1 | inventory s | spread | x |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name in names:
        w, i = median(wall[name]), median(listing[name])
        print(
            f"| `{name}` | {w:.2f} | {spread(wall[name], digits=2)} "
            f"| {median(wall[names[0]]) / w:.2f}x | {i:.2f} | {spread(listing[name], digits=2)} "
            f"| {median(listing[names[0]]) / i:.2f}x |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["engine", "cli"], default="engine")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sources", type=int, default=128)
    parser.add_argument("--pages", type=int, default=None, help="default: 10; 40 with cli")
    args = parser.parse_args()
    if args.part == "cli":
        cli(args.reps, args.pages or 40)
        return
    args.pages = args.pages or 10

    from distributed import Client, LocalCluster

    print(machine())
    targets = targets_for(args.sources)
    print(
        f"\n{args.sources} sources x {args.pages} pages of 100 ListBackups records, "
        f"no latency, into a SQLite store; {args.reps} repetitions\n"
    )
    with (
        BackupsServer({TABLE: args.pages}) as server,
        tempfile.TemporaryDirectory() as tmp,
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        ready_pools: list[ProcessWorkers] = []

        def start_pool() -> None:
            pool = ProcessWorkers(2, services=["dynamodb"])
            pool.start()
            pool.wait_started(timeout=60)
            ready_pools.append(pool)

        contenders: dict[str, Callable[..., Awaitable[tuple[int, int]]]] = {
            "one process": one_process,
            "2 workers": coordinated(lambda: ProcessWorkers(2, services=["dynamodb"])),
            "2 workers, started before": coordinated(ready_pools.pop),
            "dask (2 workers)": coordinated(lambda: DaskWorkers(client)),
        }
        #: Run before the time starts.
        prepare: dict[str, Callable[[], None]] = {"2 workers, started before": start_pool}
        wall: dict[str, list[float]] = {name: [] for name in contenders}
        cpu: dict[str, list[float]] = {name: [] for name in contenders}
        workers_cpu: dict[str, list[float]] = {name: [] for name in contenders}
        endpoint_cpu: dict[str, list[float]] = {name: [] for name in contenders}
        #: Pages the endpoint served a run: more than were stored when a task's budget cut
        #: pages in flight (listed again by the shard's next task).
        requested: dict[str, list[int]] = {name: [] for name in contenders}
        endpoint = server._process.pid
        tasks: dict[str, int] = {}
        records = pages = 0
        loads = [load()]
        # One warm-up run of each (models loaded, Dask workers warm), not timed.
        for name, run in contenders.items():
            prepare.get(name, lambda: None)()
            anyio.run(run, server.endpoint_url, targets, Path(tmp) / f"warm-{name}.db")
        for rep, order in rotations(list(contenders), args.reps):
            for name in order:
                db = Path(tmp) / f"{rep}-{name}.db"
                prepare.get(name, lambda: None)()
                started, cpu_started = time.perf_counter(), time.process_time()
                served, asked = process_cpu(endpoint), server.requests
                records, pages = anyio.run(contenders[name], server.endpoint_url, targets, db)
                wall[name].append(time.perf_counter() - started)
                cpu[name].append(time.process_time() - cpu_started)
                endpoint_cpu[name].append(process_cpu(endpoint) - served)
                requested[name].append(server.requests - asked)
                workers_cpu[name].append(getattr(contenders[name], "worker_cpu", 0.0))
                tasks[name] = getattr(contenders[name], "tasks", 0)
            loads.append(load())

        started = time.perf_counter()
        start = coordinated(lambda: ProcessWorkers(2, services=["dynamodb"]))
        anyio.run(start, server.endpoint_url, targets[:1], Path(tmp) / "start.db")
        start_cost = time.perf_counter() - started

    print(f"{records:,} records in {pages:,} pages a run; load average: {', '.join(loads)}\n")
    print(
        "| contender | records/s (median) | spread (s a run) | x one process "
        "| CPU per page: this process | workers | endpoint | tasks | requests a page |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    base = records / median(wall["one process"])

    def ms(values: list[float]) -> str:
        return f"{median(values) / pages * 1e3:.2f} ms" if any(values) else "-"

    for name in contenders:
        rate = records / median(wall[name])
        print(
            f"| {name} | {rate:,.0f} | {spread(wall[name], digits=2)} | {rate / base:.2f}x "
            f"| {ms(cpu[name])} | {ms(workers_cpu[name])} | {ms(endpoint_cpu[name])} "
            f"| {tasks.get(name) or '-'} | {median(requested[name]) / pages:.3f} |"
        )
    one = median(cpu["one process"]) / pages
    total = (
        median(cpu["2 workers"])
        + median(workers_cpu["2 workers"])
        + median(endpoint_cpu["2 workers"])
    ) / pages
    print(
        f"\nOn 2 idle cores, from CPU alone: one process lists at most {1 / one:,.0f} pages/s "
        f"(its own CPU, the endpoint on the other core); 2 workers at most {2 / total:,.0f} "
        f"(every process's CPU on 2 cores): {2 * one / total:.2f}x."
    )
    one_cpu = median(cpu["one process"]) / pages
    coordinator_cpu = median(cpu["2 workers"]) / pages
    print(
        f"\nThe coordinator spends {coordinator_cpu / one_cpu:.0%} of one process's CPU per page:"
        f" one core of coordinator keeps up with about {one_cpu / coordinator_cpu:.0f} workers."
    )
    dask_extra = median(wall["dask (2 workers)"]) - median(wall["2 workers"])
    per_task = dask_extra / max(1, tasks.get("dask (2 workers)", 1))
    print(
        f"\nDask against --workers 2: {dask_extra:+.2f} s a run, {per_task * 1e3:+.1f} ms a task."
        f"\nA 2-process pool, from nothing to one source of {args.pages} pages listed: "
        f"{start_cost:.2f} s (processes, imports, service model)."
    )


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(__file__))
    main()
