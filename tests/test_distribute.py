"""The inventory over worker processes and a Dask cluster: the single process's results, exactly.

Every run lists the same moto data (over HTTP) and keeps it in its own SQLite store; the
single-process run (``--workers 1``, or :class:`Inventory` itself) is the reference. A
worker is killed with a real SIGKILL while its task's request is held in the fault proxy,
so the kill lands mid-task by construction; nothing may be lost or stored twice, in the
store or in the JSON lines.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
import os
import signal
import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import boto3
import pytest
from aiobotocore.session import AioSession
from distributed import Client, LocalCluster

from asyncpage._distribute import Coordinator, DaskWorkers, ProcessWorkers, Workers, plan_shards
from asyncpage._inventory import DEFAULT_LISTINGS, Inventory, Target, plan_targets
from asyncpage._regions import ClientPool
from asyncpage._store import SourcePages, Store
from asyncpage._tasks import Connection, run_task
from asyncpage.cli import main
from asyncpage.testing import FaultProxy

REGIONS = ("us-east-1", "us-west-2", "eu-west-1")
SERVICES = ("sqs", "dynamodb", "ssm")
#: The credentials moto_endpoint's fixture puts in the environment, for the Dask workers.
WORKER_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_EC2_METADATA_DISABLED": "true",
}


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
def dask_cluster() -> Iterator[LocalCluster]:
    """Two worker processes of one thread each, for the whole module (it takes seconds)."""
    with LocalCluster(  # type: ignore[no-untyped-call]
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",  # None still serves on 8787: a second cluster (xdist) clashes
        env=WORKER_ENVIRONMENT,
    ) as cluster:
        yield cluster


@pytest.fixture
def dask_client(dask_cluster: LocalCluster) -> Iterator[Client]:
    with Client(dask_cluster) as client:  # type: ignore[no-untyped-call]
        yield client


def seed(endpoint_url: str, *, queues: int = 25) -> None:
    """Several pages of SQS queues, DynamoDB tables and SSM parameters in every region."""
    for region in REGIONS:
        kwargs: dict[str, Any] = {"endpoint_url": endpoint_url, "region_name": region}
        sqs = boto3.client("sqs", **kwargs)
        for i in range(queues):
            sqs.create_queue(QueueName=f"jobs-{region}-{i:03d}")
        ddb = boto3.client("dynamodb", **kwargs)
        for i in range(7):
            ddb.create_table(
                TableName=f"table-{i:02d}",
                KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                BillingMode="PAY_PER_REQUEST",
            )
        ssm = boto3.client("ssm", **kwargs)
        for i in range(9):
            ssm.put_parameter(
                Name=f"/app/{region}/p{i}", Value="v", Type="String", Description="café ☕"
            )


def stored(db: Path) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """The store's resources (every column but ``run``) and its sources' ends."""
    with contextlib.closing(sqlite3.connect(db)) as connection:
        resources = connection.execute(
            "SELECT account, region, service, operation, id, item FROM resources"
            " ORDER BY 1, 2, 3, 4, 5"
        ).fetchall()
        sources = connection.execute(
            "SELECT account, region, service, operation, status, pages, items, resume_token,"
            " error FROM sources ORDER BY 1, 2, 3, 4"
        ).fetchall()
    return resources, sources


def test_workers_and_dask_store_exactly_what_one_process_stores(
    capsys: pytest.CaptureFixture[str],
    moto_endpoint: str,
    tmp_path: Path,
    dask_cluster: LocalCluster,
) -> None:
    seed(moto_endpoint)
    common = [
        "inventory",
        "--endpoint-url",
        moto_endpoint,
        "--regions",
        ",".join(REGIONS),
        "--services",
        ",".join(SERVICES),
        "--page-size",
        "4",
        "--no-progress",
    ]
    ways = {
        "one": ["--workers", "1"],
        "two": ["--workers", "2"],
        "dask": ["--dask", dask_cluster.scheduler_address],
    }
    results = {}
    for name, how in ways.items():
        db, lines = tmp_path / f"{name}.db", tmp_path / f"{name}.jsonl"
        status = main([*common, *how, "--db", str(db), "-o", str(lines)])
        err = capsys.readouterr().err
        assert status == 0, err
        summary = [line.split()[:4] for line in err.splitlines() if line.startswith("total")]
        records = sorted(lines.read_text().splitlines())
        results[name] = (stored(db), records, summary)
        if name == "two":
            assert "2 worker processes" in err
        if name == "dask":
            assert "2 worker threads" in err

    (resources, sources), records, summary = results["one"]
    assert len(resources) == len(REGIONS) * (25 + 7 + 9)
    assert {source[4] for source in sources} == {"ok"} and len(sources) == 9
    assert len(records) == len(set(records)) == len(resources)
    assert any("café ☕" in record for record in records)  # as text, not escaped
    assert summary == [["total", "9", "sources", str(len(resources))]]
    assert results["two"] == results["one"]
    assert results["dask"] == results["one"]

    # A run that stopped half-way, resumed with workers: the other half is listed, and the
    # store ends as the clean run's.
    resumed = tmp_path / "resumed.db"
    half = sources[::2]

    async def stopped() -> None:
        async with Store(resumed) as store:
            await store.begin([tuple(s[:4]) for s in sources], resume=False)
            await store.commit_pages(
                [
                    SourcePages(
                        tuple(source[:4]),
                        [(r[4], r[5]) for r in resources if r[:4] == source[:4]],
                        source[5],
                        None,
                        "ok",
                    )
                    for source in half
                ]
            )

    anyio.run(stopped)
    status = main([*common, "--workers", "2", "--db", str(resumed), "--resume"])
    err = capsys.readouterr().err
    assert status == 0, err
    assert f"resuming run 1: {len(half)} of 9 sources finished before" in err
    assert stored(resumed) == (resources, sources)
    # The summary counts the whole run's items and pages, those stored before included.
    (total,) = [line.split()[:5] for line in err.splitlines() if line.startswith("total")]
    assert total == ["total", "9", "sources", str(len(resources)), str(sum(s[5] for s in sources))]


def test_shards_keep_each_endpoint_whole_and_balance_sources() -> None:
    listings = [listing for listing in DEFAULT_LISTINGS if listing.service in SERVICES]
    targets = plan_targets(
        listings,
        {service: REGIONS for service in SERVICES},
        home_region="us-east-1",
        accounts=["111122223333", "444455556666"],
    )
    shards = plan_shards(targets, 4)
    assert sorted(t.key for shard in shards for t in shard) == sorted(t.key for t in targets)
    endpoints = [
        {(t.key.account, t.key.service, t.client_region) for t in shard} for shard in shards
    ]
    assert all(not (a & b) for i, a in enumerate(endpoints) for b in endpoints[i + 1 :])
    assert sorted(len(shard) for shard in shards) == [4, 4, 5, 5]


async def reference(targets: list[Target], endpoint_url: str, db: Path) -> None:
    """The single-process inventory of ``targets``, into ``db``."""
    async with Store(db) as store:
        await store.begin([target.key.stored for target in targets], resume=False)
        async with ClientPool(session=AioSession(), endpoint_url=endpoint_url) as pool:
            await Inventory(targets, pool=pool, page_size=2, store=store).run()


async def coordinate(
    targets: list[Target], workers: Workers, connection: Connection, db: Path, **options: Any
) -> Coordinator:
    """Run a coordinator of ``targets`` on ``workers`` into a new store ``db``, to its end."""
    async with Store(db) as store:
        await store.begin([target.key.stored for target in targets], resume=False)
        coordinator = Coordinator(
            targets, workers=workers, connection=connection, store=store, **options
        )
        await coordinator.run()
    return coordinator


async def kill_a_worker_mid_task(
    workers: Workers,
    pids: Callable[[], list[int]],
    proxy: FaultProxy,
    tmp_path: Path,
) -> None:
    """Run the coordinator; once two tasks each hold a request in the proxy, SIGKILL one
    worker; the rest of the inventory must be exactly the single process's."""
    seed(proxy.target_url, queues=40)
    listings = [listing for listing in DEFAULT_LISTINGS if listing.service == "sqs"]
    targets = plan_targets(listings, {"sqs": REGIONS}, home_region="us-east-1")
    await reference(targets, proxy.endpoint_url, tmp_path / "one.db")  # (SQS URLs name it)

    lines: list[str] = []
    # Let some tasks commit first, so the killed task starts from a token, not from zero.
    proxy.hold(skip=8)
    async with Store(tmp_path / "killed.db") as store:
        await store.begin([target.key.stored for target in targets], resume=False)
        coordinator = Coordinator(
            targets,
            workers=workers,
            connection=Connection(endpoint_url=proxy.endpoint_url),
            write_lines=lines.extend,
            page_size=2,
            concurrency=2,  # one source at a time per task: one held request per worker
            store=store,
            task_seconds=0.2,
        )
        async with anyio.create_task_group() as tasks:
            tasks.start_soon(coordinator.run)
            with anyio.fail_after(60):
                await proxy.wait_held(2)  # both workers are in a task, waiting for a page
            killed_pid = pids()[0]
            os.kill(killed_pid, signal.SIGKILL)
            proxy.release()

    if isinstance(workers, ProcessWorkers):
        assert coordinator.resent >= 1  # the dead process was seen, its tasks sent again
    else:
        assert killed_pid not in pids()  # Dask's nanny started a new worker process
    one, killed = stored(tmp_path / "one.db"), stored(tmp_path / "killed.db")
    assert killed == one  # same rows, and every page committed once (pages, items)
    assert len(lines) == len(set(lines)) == len(one[0]) == len(REGIONS) * 40
    assert {json.loads(line)["id"] for line in lines} == {row[4] for row in one[0]}


@pytest.mark.anyio
async def test_a_worker_process_killed_mid_task_loses_and_repeats_nothing(
    fault_proxy: FaultProxy, tmp_path: Path
) -> None:
    workers = ProcessWorkers(2)
    await kill_a_worker_mid_task(workers, workers.pids, fault_proxy, tmp_path)


@pytest.mark.anyio
@pytest.mark.parametrize(
    ("services", "profile"),
    [(["no-such-service", "sqs"], None), (["sqs"], "no-such-profile")],
    ids=["unknown service", "unknown profile"],
)
async def test_workers_told_of_models_they_cannot_load_start_and_list_as_one_process(
    moto_endpoint: str, tmp_path: Path, services: list[str], profile: str | None
) -> None:
    seed(moto_endpoint)
    listings = [listing for listing in DEFAULT_LISTINGS if listing.service == "sqs"]
    targets = plan_targets(listings, {"sqs": REGIONS}, home_region="us-east-1")
    await reference(targets, moto_endpoint, tmp_path / "one.db")

    workers = ProcessWorkers(2, services=services, profile=profile)
    workers.start()
    # Each process loads the models as it starts; one it cannot load is left to the tasks.
    pids = workers.wait_started(timeout=60)
    assert sorted(pids) == sorted(workers.pids()) and len(set(pids)) == 2
    coordinator = await coordinate(
        targets, workers, Connection(endpoint_url=moto_endpoint), tmp_path / "two.db", page_size=2
    )
    assert coordinator.resent == 0  # no pool broken by its start
    assert stored(tmp_path / "two.db") == stored(tmp_path / "one.db")


class Recording:
    """Workers that keep each task's shard and future, for the results' process ids."""

    def __init__(self, inner: ProcessWorkers) -> None:
        self.inner = inner
        self.sent: list[tuple[int, concurrent.futures.Future[Any]]] = []

    @property
    def slots(self) -> int:
        return self.inner.slots

    def submit(self, task: Any) -> concurrent.futures.Future[Any]:
        future = self.inner.submit(task)
        self.sent.append((task.shard, future))
        return future

    def lost(self, future: concurrent.futures.Future[Any], error: BaseException) -> bool:
        return self.inner.lost(future, error)

    def close(self, *, interrupted: bool) -> None:
        self.inner.close(interrupted=interrupted)


@pytest.mark.anyio
async def test_each_shard_stays_in_one_process_and_both_processes_list(
    moto_endpoint: str, tmp_path: Path
) -> None:
    # A process keeps the clients of the endpoints it listed: a shard that moved to the
    # other one would make its clients again (5 ms of CPU each), task after task.
    seed(moto_endpoint, queues=8)
    listings = [listing for listing in DEFAULT_LISTINGS if listing.service in SERVICES]
    targets = plan_targets(listings, {s: REGIONS for s in SERVICES}, home_region="us-east-1")
    await reference(targets, moto_endpoint, tmp_path / "one.db")
    workers = Recording(ProcessWorkers(2))
    await coordinate(
        targets,
        workers,
        Connection(endpoint_url=moto_endpoint),
        tmp_path / "two.db",
        page_size=2,
        shards=4,  # two a process: each one's next task finds its process free
        task_records=2,  # a task a page or so: many tasks a shard
    )
    assert stored(tmp_path / "two.db") == stored(tmp_path / "one.db")
    processes: dict[int, set[int]] = {}
    for shard, future in workers.sent:
        processes.setdefault(shard, set()).add(future.result().pid)
    assert len(processes) == 4
    assert len(workers.sent) >= 3 * len(processes)  # the shards did come back
    assert all(len(pids) == 1 for pids in processes.values()), processes
    assert len(set().union(*processes.values())) == 2


@pytest.mark.anyio
async def test_a_pool_lists_with_the_environment_of_the_moment_it_is_made(
    moto_endpoint: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(moto_endpoint)
    listings = [listing for listing in DEFAULT_LISTINGS if listing.service == "sqs"]
    targets = plan_targets(listings, {"sqs": REGIONS}, home_region="us-east-1")
    await reference(targets, moto_endpoint, tmp_path / "one.db")
    # A pool made before the endpoint is in the environment (on Linux, it starts the
    # forkserver the next pool's processes are forked from, if nothing had before).
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    first = ProcessWorkers(1)
    first.start()
    first.wait_started(timeout=60)
    first.close(interrupted=False)

    # botocore's own setting, read by each worker's clients: no endpoint_url is given.
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    await coordinate(targets, ProcessWorkers(2), Connection(), tmp_path / "two.db", page_size=2)
    assert stored(tmp_path / "two.db") == stored(tmp_path / "one.db")


@pytest.mark.anyio
async def test_a_dask_worker_killed_mid_task_loses_and_repeats_nothing(
    fault_proxy: FaultProxy, tmp_path: Path, dask_client: Client
) -> None:
    def pids() -> list[int]:
        return list(dask_client.run(os.getpid).values())

    await kill_a_worker_mid_task(DaskWorkers(dask_client), pids, fault_proxy, tmp_path)


def test_an_unreachable_scheduler_is_said_at_once_before_anything_is_listed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # A port nobody listens on: bound, then let go.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    db = tmp_path / "inventory.db"
    for address, reason in [
        (f"tcp://127.0.0.1:{port}", "Connection refused"),
        ("tcp://127.0.0.1", "not a scheduler address"),
    ]:
        status = main(["inventory", "--demo", "--dask", address, "--db", str(db)])
        err = capsys.readouterr().err
        assert status == 1, err
        assert f"cannot reach the Dask scheduler at {address}: {reason}" in err
        # Said before the demo was seeded or anything planned, not after dask's 30 s.
        assert "seeded" not in err and "listing" not in err
    assert not db.exists()


def test_a_profile_the_workers_lack_fails_each_source_not_the_run(
    moto_endpoint: str, tmp_path: Path
) -> None:
    # asyncpage.cluster.inventory(..., profile=...) on workers whose ~/.aws has no such
    # profile: every source fails with botocore's ProfileNotFound, the run itself ends.
    seed(moto_endpoint)
    listings = [listing for listing in DEFAULT_LISTINGS if listing.service == "sqs"]
    targets = plan_targets(listings, {"sqs": REGIONS}, home_region="us-east-1")

    class InAThread:
        """Tasks on a thread of this process (run_task keeps an event loop per thread)."""

        slots = 1

        def __init__(self) -> None:
            self.executor = concurrent.futures.ThreadPoolExecutor(1)

        def submit(self, task: Any) -> Any:
            return self.executor.submit(run_task, task)

        def lost(self, future: Any, error: BaseException) -> bool:
            return False

        def close(self, *, interrupted: bool) -> None:
            self.executor.shutdown()

    coordinator = Coordinator(
        targets,
        workers=InAThread(),
        connection=Connection(endpoint_url=moto_endpoint, profile="asyncpage-no-such-profile"),
    )
    anyio.run(coordinator.run)
    states = coordinator.states()
    assert len(states) == len(REGIONS)
    assert {state.status for state in states} == {"failed"}
    assert all("asyncpage-no-such-profile" in (state.error or "") for state in states)
