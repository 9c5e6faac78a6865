"""A local AWS for examples: moto's server on 127.0.0.1, in this process, seeded with data.

The public names are re-exported by :mod:`asyncpage.testing` (``DemoEndpoint``,
``SeedProgress``, ``SeedSummary``, ``DemoResource``, ``DEMO_REGIONS``); the CLI's
``inventory --demo`` and ``python -m asyncpage.testing`` use them too. Needs the ``demo``
extra (moto's server); no AWS account is used. :func:`seed` alone fills any moto server;
:data:`DEMO_REGIONS` are the regions it knows.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import math
import sys
import time
import zipfile
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass
from functools import partial
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self, TypedDict, cast, get_args

import anyio
import anyio.to_thread
from aiobotocore.session import get_session

if TYPE_CHECKING:
    # Imported when an endpoint starts: asyncpage.testing re-exports this module, so a
    # module-level import of asyncpage.testing here would be circular.
    from .testing._moto import MotoServer

__all__ = [
    "DEMO_REGIONS",
    "ClientKwargs",
    "DemoEndpoint",
    "DemoResource",
    "SeedProgress",
    "SeedSummary",
    "seed",
]

DEMO_REGIONS: Final = ("us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2")

#: What :class:`SeedSummary` counts, per region.
DemoResource = Literal[
    "s3.buckets",
    "s3.objects",
    "dynamodb.tables",
    "dynamodb.items",
    "ec2.reservations",
    "ec2.instances",
    "sqs.queues",
    "lambda.functions",
    "logs.log_groups",
    "ssm.parameters",
    "iam.users",
]
_RESOURCES: Final[tuple[DemoResource, ...]] = get_args(DemoResource)

# Requests in flight at once while seeding. moto runs in this process, so moto and the client
# share one GIL: more than this only adds threads (werkzeug opens one per connection).
_CONCURRENCY: Final = 8
_AMI_ID: Final = "ami-760aaa0f"  # amzn-ami-hvm-2017.09.1, which moto loads in every region
_LAMBDA_ROLE: Final = "asyncpage-demo-lambda"
_SERVICES: Final = (
    "orders", "payments", "inventory", "shipping", "customers", "notifications",
    "search", "billing", "catalog", "auth", "reports", "email",
)  # fmt: skip
_COMPONENTS: Final = ("api", "worker", "cron", "migrate", "audit", "metrics", "proxy", "scheduler")
_USERS: Final = (
    "deploy", "ci", "terraform", "grafana", "backup", "readonly",
    "oncall", "etl", "audit", "support", "billing", "analytics",
)  # fmt: skip
_PARAMETER_KEYS: Final = (
    "db/host", "db/port", "db/name", "db/password", "api/base-url",
    "api/allowed-origins", "cache/ttl-seconds", "queue/url", "feature/new-checkout", "log-level",
)  # fmt: skip


_FIRST_REQUESTS: Final = {
    "s3": "list_buckets",
    "dynamodb": "list_tables",
    "ec2": "describe_instances",
    "sqs": "list_queues",
    "lambda": "list_functions",
    "logs": "describe_log_groups",
    "ssm": "describe_parameters",
}


class ClientKwargs(TypedDict):
    """What :meth:`DemoEndpoint.client_kwargs` returns: ``create_client(service, **these)``.

    A TypedDict, so that ``**`` of it type-checks against the typed ``create_client``.
    """

    endpoint_url: str
    region_name: str
    aws_access_key_id: str
    aws_secret_access_key: str


@dataclass(frozen=True)
class _RegionPlan:
    """What one region holds at scale 1.0."""

    env: str
    currency: str
    buckets: tuple[tuple[str, str, int], ...]  # (bucket, key layout, objects)
    tables: tuple[tuple[str, str, int], ...]  # (table, item layout, items)
    reservations: tuple[tuple[str, str, int], ...]  # (Name tag, instance type, instances)
    queues: int
    functions: int
    ecs_log_groups: int  # beside one /aws/lambda/ group per function
    parameters: int
    users: int  # IAM users of this environment (IAM is global: every region sees all)


_PLANS: Final[Mapping[str, _RegionPlan]] = {
    "us-east-1": _RegionPlan(
        env="prod",
        currency="USD",
        buckets=(
            ("orders-prod", "logs", 150),
            ("inventory-2024", "snapshots", 60),
            ("static-assets-prod", "assets", 40),
        ),
        tables=(
            ("orders-prod", "orders", 2000),
            ("customers-prod", "customers", 400),
            ("feature-flags", "flags", 20),
        ),
        reservations=(
            ("orders-api", "m5.large", 4),
            ("orders-worker", "c5.xlarge", 3),
            ("payments-api", "m5.large", 2),
            ("inventory-sync", "t3.medium", 2),
            ("search-node", "r5.large", 3),
            ("bastion", "t3.micro", 1),
            ("reports-batch", "c5.2xlarge", 2),
            ("catalog-api", "m5.large", 2),
            ("auth-api", "t3.large", 2),
            ("ci-runner", "c5.large", 3),
        ),
        queues=20,
        functions=15,
        ecs_log_groups=95,
        parameters=120,
        users=12,
    ),
    "us-west-2": _RegionPlan(
        env="staging",
        currency="USD",
        buckets=(("orders-staging", "logs", 60), ("ml-training-data", "datasets", 30)),
        tables=(("orders-staging", "orders", 600), ("customers-staging", "customers", 150)),
        reservations=(
            ("orders-api", "t3.medium", 2),
            ("orders-worker", "t3.medium", 1),
            ("search-node", "r5.large", 2),
            ("ml-trainer", "p3.2xlarge", 1),
            ("bastion", "t3.micro", 1),
        ),
        queues=8,
        functions=6,
        ecs_log_groups=30,
        parameters=40,
        users=6,
    ),
    "eu-west-1": _RegionPlan(
        env="prod-eu",
        currency="EUR",
        buckets=(("orders-prod-eu", "logs", 50),),
        tables=(("orders-prod-eu", "orders", 800),),
        reservations=(
            ("orders-api", "m5.large", 2),
            ("payments-api", "m5.large", 2),
            ("bastion", "t3.micro", 1),
        ),
        queues=6,
        functions=4,
        ecs_log_groups=12,
        parameters=30,
        users=4,
    ),
    "ap-southeast-2": _RegionPlan(
        env="dr",
        currency="AUD",
        buckets=(("backups-apse2", "backups", 4),),
        tables=(("orders-dr", "orders", 12),),
        reservations=(("dr-bastion", "t3.micro", 1),),
        queues=2,
        functions=0,
        ecs_log_groups=2,
        parameters=2,
        users=1,
    ),
}


@dataclass(frozen=True)
class SeedSummary:
    """What :func:`seed` created.

    ``counts`` holds every (resource, region) pair seeded, zeros included;
    ``objects_per_bucket`` and ``bucket_regions`` are keyed by bucket name (global, as on AWS);
    ``items_per_table`` is keyed by (region, table); ``seconds`` is the wall time seeding took.
    """

    regions: tuple[str, ...]
    counts: Mapping[tuple[DemoResource, str], int]
    objects_per_bucket: Mapping[str, int]
    bucket_regions: Mapping[str, str]
    items_per_table: Mapping[tuple[str, str], int]
    seconds: float

    def count(self, resource: DemoResource, region: str | None = None) -> int:
        """How many of ``resource`` were seeded in ``region``, or in all regions if ``None``."""
        regions = self.regions if region is None else (region,)
        return sum(self.counts.get((resource, r), 0) for r in regions)


@dataclass(frozen=True, slots=True)
class SeedProgress:
    """Where seeding stands, told after each of its steps (``seed(on_progress=...)``).

    A step is moto's first use of every service (``step == "moto"``: it loads their models,
    a good part of the time at scale 1.0), then one service in one region (``"s3 us-east-1"``).
    ``created`` is what the step made (keys are :data:`DemoResource` names), ``done`` the
    steps finished so far out of ``total``, ``seconds`` the time since seeding began.
    ``str()`` gives the line ``asyncpage inventory --demo`` shows, so ``on_progress=print``
    reports seeding as it goes: ``seeded 3/9: s3 us-east-1 (3 buckets, 25 objects)``.
    """

    step: str
    created: Mapping[DemoResource, int]
    done: int
    total: int
    seconds: float

    def __str__(self) -> str:
        from ._progress import seed_step_line  # the CLI's wording, kept in one place

        return seed_step_line(self)


ProgressCallback = Callable[[SeedProgress], None]


class DemoEndpoint:
    """moto's server on 127.0.0.1 (a free port), optionally seeded by :func:`seed`.

    Create it with :meth:`start` and enter it with ``with`` or ``async with``: entering starts
    the server (in a worker thread under ``async with``) and seeds it; leaving calls
    :meth:`stop`. Nothing is written to ``os.environ``: pass :meth:`client_kwargs` to
    ``create_client``. An endpoint can be entered once.

    moto keeps its data per *process*, shared by every moto server and ``mock_aws`` in it. A
    seeded endpoint therefore clears that data (moto's ``/moto-api/reset``) when it starts,
    so that demos run one after another each see exactly the seeded inventory; do not run it
    beside another user of moto in the same process.

    Entering raises :class:`ImportError` saying how to install the ``demo`` extra if moto's
    server is not installed; the sync ``with`` raises :class:`RuntimeError` inside a running
    event loop.
    """

    def __init__(
        self,
        *,
        seed: bool = False,
        scale: float = 1.0,
        regions: Sequence[str] = DEMO_REGIONS,
        on_progress: ProgressCallback | None = None,
    ) -> None:
        _check_seed_arguments(regions, scale)
        self._seed = seed
        self._scale = scale
        self._on_progress = on_progress
        self._regions = tuple(regions)
        self._server: MotoServer | None = None
        self._entered = False
        #: What entering seeded; ``None`` for ``seed=False``.
        self.summary: SeedSummary | None = None

    @classmethod
    def start(
        cls,
        *,
        seed: bool = False,
        scale: float = 1.0,
        regions: Sequence[str] = DEMO_REGIONS,
        on_progress: ProgressCallback | None = None,
    ) -> Self:
        """Return an endpoint that starts when entered, seeded if ``seed`` is true.

        ``scale``, ``regions`` and ``on_progress`` go to :func:`seed`; a bad value raises
        :class:`ValueError` here, before anything starts. Example::

            with DemoEndpoint.start(seed=True) as demo:
                s3 = boto3.client("s3", **demo.client_kwargs("eu-west-1"))
        """
        return cls(seed=seed, scale=scale, regions=regions, on_progress=on_progress)

    @property
    def endpoint_url(self) -> str:
        """``http://127.0.0.1:<port>``; raises :class:`RuntimeError` unless running."""
        if self._server is None:
            raise RuntimeError("the demo endpoint is not running: enter it with `with` first")
        return self._server.endpoint_url

    def client_kwargs(self, region: str) -> ClientKwargs:
        """Keyword arguments for ``create_client(service, **kwargs)`` in ``region``."""
        return {
            "endpoint_url": self.endpoint_url,
            "region_name": region,
            "aws_access_key_id": "demo",
            "aws_secret_access_key": "demo",
        }

    def stop(self) -> None:
        """Stop the server and free its port.

        Blocks for up to about half a second (werkzeug's poll interval); does nothing unless
        the endpoint is running. moto's data is left as it is: a seeded endpoint clears it
        when it starts instead, so that stopping never races requests still being served.
        """
        server, self._server = self._server, None
        if server is not None:
            server.stop()  # werkzeug closes the listening socket when serve_forever returns

    def _start_server(self) -> None:
        if self._entered:
            raise RuntimeError("a DemoEndpoint can be entered only once; start a new one")
        self._entered = True
        from .testing._moto import MotoServer

        self._server = MotoServer().start()
        if self._seed:
            self._server.reset()

    async def _seed_server(self) -> None:
        self.summary = await seed(
            self.endpoint_url,
            regions=self._regions,
            scale=self._scale,
            on_progress=self._on_progress,
        )

    def __enter__(self) -> Self:
        try:
            self._start_server()
            if self._seed:
                anyio.run(self._seed_server)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> Self:
        try:
            await anyio.to_thread.run_sync(self._start_server)
            if self._seed:
                await self._seed_server()
        except BaseException:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(self.stop)
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(self.stop)


def _loop_config() -> Any:
    """The client config for this loop: aiohttp on asyncio, httpx (``asyncpage[trio]``) on trio."""
    from aiobotocore.config import AioConfig

    if _running_trio():
        from aiobotocore.httpxsession import HttpxSession

        # types-aiobotocore 3.10 types http_session_cls as aiohttp's session class only.
        return AioConfig(http_session_cls=cast(Any, HttpxSession))
    return None


def _running_trio() -> bool:
    trio = sys.modules.get("trio")
    if trio is None:
        return False
    try:
        trio.lowlevel.current_task()
    except RuntimeError:
        return False
    return True


def _check_seed_arguments(regions: Sequence[str], scale: float) -> None:
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"scale must be a positive number, not {scale!r}")
    if isinstance(regions, str) or not regions or any(r not in _PLANS for r in regions):
        raise ValueError(
            f"regions must be a non-empty sequence drawn from {DEMO_REGIONS}, not {regions!r}"
        )


async def seed(
    endpoint_url: str,
    *,
    regions: Sequence[str] = DEMO_REGIONS,
    scale: float = 1.0,
    on_progress: ProgressCallback | None = None,
) -> SeedSummary:
    """Fill an empty moto server with a deterministic, realistic inventory in ``regions``.

    S3 buckets and objects, DynamoDB tables and items, EC2 reservations, SQS queues, Lambda
    functions, CloudWatch Logs log groups, SSM parameters and IAM users (global, but each
    region's environment has its own, counted in that region); us-east-1 holds the most and
    ap-southeast-2 almost nothing. ``scale`` multiplies every count, and a count that is not
    zero stays at least 1. Regions are seeded concurrently; at ``scale=1.0`` it takes about
    5 s of CPU on 2 cores, half of which is moto's first use of each service in the process.
    ``on_progress`` is called after each step with a :class:`SeedProgress`, in the event
    loop's thread; an exception it raises stops the seeding.

    Raises :class:`ValueError` for a region outside :data:`DEMO_REGIONS` or a scale that is
    not a positive number, and botocore's ``ClientError`` if the data is already there.
    """
    _check_seed_arguments(regions, scale)
    started = time.perf_counter()
    seeder = _Seeder(endpoint_url, scale, tuple(dict.fromkeys(regions)), on_progress)
    await seeder.run()
    return SeedSummary(
        regions=seeder.regions,
        counts=MappingProxyType(seeder.counts),
        objects_per_bucket=MappingProxyType(seeder.objects_per_bucket),
        bucket_regions=MappingProxyType(seeder.bucket_regions),
        items_per_table=MappingProxyType(seeder.items_per_table),
        seconds=time.perf_counter() - started,
    )


class _Seeder:
    """One seeding run: its clients, its concurrency limit and what it has created so far."""

    def __init__(
        self,
        url: str,
        scale: float,
        regions: tuple[str, ...],
        on_progress: ProgressCallback | None = None,
    ) -> None:
        self.url, self.scale, self.regions = url, scale, regions
        self.on_progress = on_progress
        self.started = time.perf_counter()
        self.done = 0
        self.total = 1 + len(regions) * len(self.steps())
        self.limiter = anyio.CapacityLimiter(_CONCURRENCY)
        self.counts: dict[tuple[DemoResource, str], int] = {
            (resource, region): 0 for resource in _RESOURCES for region in regions
        }
        self.objects_per_bucket: dict[str, int] = {}
        self.bucket_regions: dict[str, str] = {}
        self.items_per_table: dict[tuple[str, str], int] = {}
        self.role_arn = ""

    def scaled(self, count: int) -> int:
        return 0 if count == 0 else max(1, round(count * self.scale))

    async def call_all(self, calls: Iterable[Callable[[], Awaitable[object]]]) -> None:
        async def one(call: Callable[[], Awaitable[object]]) -> None:
            async with self.limiter:
                await call()

        async with anyio.create_task_group() as tg:
            for call in calls:
                tg.start_soon(one, call)

    async def run(self) -> None:
        session = get_session()
        async with AsyncExitStack() as stack:

            async def client(service: str, region: str) -> Any:
                return await stack.enter_async_context(
                    session.create_client(
                        cast(Any, service),  # the stubs know only literal service names
                        endpoint_url=self.url,
                        region_name=region,
                        aws_access_key_id="demo",
                        aws_secret_access_key="demo",
                        # Plain HTTP on 127.0.0.1: nothing to verify, and skipping it spares
                        # every client from loading the CA bundle.
                        verify=False,
                        config=_loop_config(),
                    )
                )

            clients = {
                (service, region): await client(service, region)
                for region in self.regions
                for service in _FIRST_REQUESTS
            }
            # IAM is global: one client serves every region's users and the Lambda role.
            iam = await client("iam", "us-east-1")
            clients.update(dict.fromkeys([("iam", region) for region in self.regions], iam))
            if any(self.scaled(_PLANS[r].functions) for r in self.regions):
                role = await iam.create_role(
                    RoleName=_LAMBDA_ROLE,
                    Path="/service-role/",
                    AssumeRolePolicyDocument=_LAMBDA_TRUST_POLICY,
                )
                self.role_arn = role["Role"]["Arn"]
            # moto imports a service and loads its botocore model on that service's first
            # request, and again for every request that arrives before that is done: one
            # request per service first spares the regions below from doing it many times over.
            async with anyio.create_task_group() as tg:
                for service, operation in _FIRST_REQUESTS.items():
                    tg.start_soon(getattr(clients[service, self.regions[0]], operation))
            self.report("moto", {})
            async with anyio.create_task_group() as tg:
                for region in self.regions:
                    for service in self.steps():
                        tg.start_soon(self.step, service, clients[service, region], region)

    async def step(self, service: str, client: Any, region: str) -> None:
        await self.steps()[service](client, region, _PLANS[region])
        prefix = f"{service}."
        created = {r: self.counts[r, region] for r in _RESOURCES if r.startswith(prefix)}
        self.report(f"{service} {region}", created)

    def report(self, step: str, created: Mapping[DemoResource, int]) -> None:
        self.done += 1
        if self.on_progress is not None:
            seconds = time.perf_counter() - self.started
            self.on_progress(
                SeedProgress(step, MappingProxyType(created), self.done, self.total, seconds)
            )

    def steps(self) -> dict[str, Callable[[Any, str, _RegionPlan], Coroutine[Any, Any, None]]]:
        return {
            "s3": self.s3,
            "dynamodb": self.dynamodb,
            "ec2": self.ec2,
            "sqs": self.sqs,
            "lambda": self.lambda_,
            "logs": self.logs,
            "ssm": self.ssm,
            "iam": self.iam,
        }

    async def s3(self, s3: Any, region: str, plan: _RegionPlan) -> None:
        # us-east-1 is the one region that rejects a LocationConstraint naming itself.
        where = {"CreateBucketConfiguration": {"LocationConstraint": region}}
        if region == "us-east-1":
            where = {}
        puts = []
        for bucket, layout, objects in plan.buckets:
            await s3.create_bucket(Bucket=bucket, **where)
            count = self.scaled(objects)
            puts += [
                partial(s3.put_object, Bucket=bucket, **_s3_object(layout, i, plan.env))
                for i in range(count)
            ]
            self.bucket_regions[bucket] = region
            self.objects_per_bucket[bucket] = count
            self.counts["s3.buckets", region] += 1
            self.counts["s3.objects", region] += count
        await self.call_all(puts)

    async def dynamodb(self, ddb: Any, region: str, plan: _RegionPlan) -> None:
        writes = []
        for table, layout, items in plan.tables:
            keys = _TABLE_KEYS[layout]
            await ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[
                    {"AttributeName": name, "KeyType": kind}
                    for name, kind in zip(keys, ("HASH", "RANGE"), strict=False)
                ],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            )
            count = self.scaled(items)
            rows = [_dynamodb_item(layout, i, plan.currency) for i in range(count)]
            writes += [
                partial(_batch_write, ddb, table, rows[start : start + 25])
                for start in range(0, count, 25)
            ]
            self.items_per_table[region, table] = count
            self.counts["dynamodb.tables", region] += 1
            self.counts["dynamodb.items", region] += count
        await self.call_all(writes)

    async def ec2(self, ec2: Any, region: str, plan: _RegionPlan) -> None:
        reservations = plan.reservations[: self.scaled(len(plan.reservations))]
        await self.call_all(
            partial(
                ec2.run_instances,
                ImageId=_AMI_ID,
                InstanceType=instance_type,
                MinCount=count,
                MaxCount=count,
                TagSpecifications=[
                    {"ResourceType": "instance", "Tags": _tags(Name=name, env=plan.env)}
                ],
            )
            for name, instance_type, count in reservations
        )
        self.counts["ec2.reservations", region] = len(reservations)
        self.counts["ec2.instances", region] = sum(count for _, _, count in reservations)

    async def sqs(self, sqs: Any, region: str, plan: _RegionPlan) -> None:
        names = [f"{plan.env}-{s}-{kind}" for s in _SERVICES for kind in ("events", "events-dlq")]
        names = names[: self.scaled(plan.queues)]
        await self.call_all(
            partial(sqs.create_queue, QueueName=name, tags={"env": plan.env}) for name in names
        )
        self.counts["sqs.queues", region] = len(names)

    async def lambda_(self, lam: Any, region: str, plan: _RegionPlan) -> None:
        names = _function_names(self.scaled(plan.functions))
        await self.call_all(
            partial(
                lam.create_function,
                FunctionName=name,
                Runtime="python3.12",
                Role=self.role_arn,
                Handler="app.handler",
                Code={"ZipFile": _LAMBDA_ZIP},
                MemorySize=128 * (1 + i % 4),
                Timeout=3 + 10 * (i % 3),
                Environment={"Variables": {"ENV": plan.env}},
                Tags={"env": plan.env},
            )
            for i, name in enumerate(names)
        )
        self.counts["lambda.functions", region] = len(names)

    async def logs(self, logs: Any, region: str, plan: _RegionPlan) -> None:
        ecs = [f"/ecs/{plan.env}/{s}-{c}" for c in _COMPONENTS for s in _SERVICES]
        names = [f"/aws/lambda/{name}" for name in _function_names(self.scaled(plan.functions))]
        names += ecs[: self.scaled(plan.ecs_log_groups)]
        await self.call_all(
            partial(logs.create_log_group, logGroupName=name, tags={"env": plan.env})
            for name in names
        )
        self.counts["logs.log_groups", region] = len(names)

    async def ssm(self, ssm: Any, region: str, plan: _RegionPlan) -> None:
        pairs = [(s, key) for s in _SERVICES for key in _PARAMETER_KEYS]
        pairs = pairs[: self.scaled(plan.parameters)]
        await self.call_all(
            partial(ssm.put_parameter, **_parameter(plan.env, service, key))
            for service, key in pairs
        )
        self.counts["ssm.parameters", region] = len(pairs)

    async def iam(self, iam: Any, region: str, plan: _RegionPlan) -> None:
        names = [f"{plan.env}-{name}" for name in _USERS[: self.scaled(plan.users)]]
        await self.call_all(
            partial(iam.create_user, UserName=name, Path=f"/{plan.env}/", Tags=_tags(env=plan.env))
            for name in names
        )
        self.counts["iam.users", region] = len(names)


def _tags(**tags: str) -> list[dict[str, str]]:
    return [{"Key": key, "Value": value} for key, value in tags.items()]


def _function_names(count: int) -> list[str]:
    return [f"{s}-{c}" for c in _COMPONENTS[:3] for s in _SERVICES][:count]


def _s3_object(layout: str, i: int, env: str) -> dict[str, Any]:
    """Object ``i`` of a bucket laid out as ``layout``; sizes spread from 100 B to 64 KiB."""
    if layout == "logs":  # 25 files a day from 2024-11-01, of 5 to 300 lines each
        lines = [_log_line(n, env) for n in range(i * 1000, i * 1000 + 5 + i * 37 % 296)]
        return {
            "Key": f"logs/2024/11/{1 + i // 25:02d}/app-{i % 25 + 1:04d}.json.gz",
            "Body": gzip.compress("\n".join(lines).encode() + b"\n", mtime=0),
            "ContentType": "application/json",
            "ContentEncoding": "gzip",
        }
    key = {
        "snapshots": f"snapshots/2024-{1 + i // 5 % 12:02d}-01/warehouse-{i % 5 + 1:02d}.csv",
        "assets": f"img/products/sku-{10000 + i * 37}.webp",
        "datasets": f"datasets/clickstream/dt=2024-11-{1 + i // 10 % 28:02d}/"
        f"part-{i % 10:05d}.parquet",
        "backups": f"db/2024-11-{1 + i % 28:02d}/orders-{i:04d}.dump",
    }[layout]
    line = f"{key},{i}\n".encode()
    size = 100 + i * 7919 % 65437
    return {"Key": key, "Body": (line * (size // len(line) + 1))[:size]}


_LOG_LEVELS: Final = ("INFO", "INFO", "INFO", "DEBUG", "INFO", "WARN", "ERROR")


def _log_line(n: int, env: str) -> str:
    request_id = hashlib.blake2b(n.to_bytes(8), digest_size=8).hexdigest()
    return json.dumps(
        {
            "level": _LOG_LEVELS[n % 7],
            "env": env,
            "msg": f"order {n:06d} placed",
            "request_id": request_id,
            "ms": int(request_id[:3], 16) % 900 + 3,
        }
    )


_TABLE_KEYS: Final[Mapping[str, tuple[str, ...]]] = {
    "orders": ("customer_id", "order_id"),
    "customers": ("customer_id",),
    "flags": ("flag",),
}
_ORDER_STATUSES: Final = ("delivered", "shipped", "paid", "delivered", "pending", "refunded")


def _dynamodb_item(layout: str, i: int, currency: str) -> dict[str, dict[str, Any]]:
    if layout == "orders":
        return {
            "customer_id": {"S": f"cust-{i * 37 % 150:04d}"},  # in every customers table
            "order_id": {"S": f"2024-{1 + i * 7 % 12:02d}-{1 + i % 28:02d}#ord-{i:06d}"},
            "status": {"S": _ORDER_STATUSES[i % len(_ORDER_STATUSES)]},
            "total": {"N": f"{i * 1731 % 50000 / 100:.2f}"},
            "currency": {"S": currency},
        }
    if layout == "customers":
        return {
            "customer_id": {"S": f"cust-{i:04d}"},
            "email": {"S": f"customer{i:04d}@example.com"},
            "tier": {"S": ("standard", "standard", "gold", "platinum")[i % 4]},
        }
    return {"flag": {"S": f"flag-{i:03d}"}, "enabled": {"BOOL": i % 3 == 0}}


async def _batch_write(ddb: Any, table: str, rows: list[dict[str, dict[str, Any]]]) -> None:
    requests: Any = {table: [{"PutRequest": {"Item": row}} for row in rows]}
    while requests:  # moto never leaves items unprocessed; DynamoDB may
        response = await ddb.batch_write_item(RequestItems=requests)
        requests = response.get("UnprocessedItems")


def _parameter(env: str, service: str, key: str) -> dict[str, str]:
    name = f"/{env}/{service}/{key}"
    if key == "db/password":
        return {"Name": name, "Type": "SecureString", "Value": f"demo-{service}-password"}
    if key == "api/allowed-origins":
        value = f"https://{service}.example.com,https://admin.example.com"
        return {"Name": name, "Type": "StringList", "Value": value}
    value = {
        "db/host": f"{service}-db.{env}.internal",
        "db/port": "5432",
        "db/name": service,
        "api/base-url": f"https://{service}.{env}.example.com",
        "cache/ttl-seconds": "300",
        "queue/url": f"https://sqs.example.com/123456789012/{env}-{service}-events",
        "feature/new-checkout": "true" if service == "orders" else "false",
        "log-level": "INFO",
    }[key]
    return {"Name": name, "Type": "String", "Value": value}


_LAMBDA_TRUST_POLICY: Final = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _lambda_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        source = zipfile.ZipInfo("app.py", date_time=(2024, 11, 1, 0, 0, 0))
        archive.writestr(source, "def handler(event, context):\n    return {'ok': True}\n")
    return buffer.getvalue()


_LAMBDA_ZIP: Final = _lambda_zip()
