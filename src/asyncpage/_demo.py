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
import time
import urllib.request
import zipfile
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType, TracebackType
from typing import TYPE_CHECKING, Any, Final, Literal, Self, TypedDict, get_args

import anyio
import anyio.to_thread

if TYPE_CHECKING:
    # Imported when an endpoint starts: asyncpage.testing re-exports this module, so a
    # module-level import of asyncpage.testing here would be circular.
    from .testing._moto import MotoServer

__all__ = [
    "DEMO_REGIONS",
    "ClientKwargs",
    "MANAGEMENT_ACCOUNT",
    "DemoEndpoint",
    "DemoResource",
    "SeedProgress",
    "SeedSummary",
    "resources_listed_by",
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
_RESOURCE_SET: Final = frozenset(_RESOURCES)

_AMI_ID: Final = "ami-760aaa0f"  # amzn-ami-hvm-2017.09.1, which moto loads in every region
_LAMBDA_ROLE: Final = "asyncpage-demo-lambda"
#: moto's account for credentials it does not know: the demo's own, and in an organization
#: its management account.
MANAGEMENT_ACCOUNT: Final = "123456789012"
#: The accounts of the demo's organization: (name, share of the one-account demo's counts);
#: the four hold about as much as the one-account demo. A member's resources are named
#: after it (``payments-prod-orders-events``).
_MANAGEMENT_SHARE: Final = 0.5
#: Each member works in some of the regions only (as member accounts do): it has nothing
#: elsewhere, and listing that costs moto nothing while seeding.
_MEMBERS: Final = (
    ("payments", 0.3, ("us-east-1", "eu-west-1")),
    ("data", 0.2, ("us-east-1", "us-west-2")),
    ("sandbox", 0.15, ("us-west-2",)),
)
#: What ``POST /moto-api/seed`` seeds moto's random ids with: the same ids on every run.
_RANDOM_SEED: Final = 20241101
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

    ``counts`` holds every (resource, region) pair seeded, zeros included, summed over the
    accounts; ``account_counts`` the same per (account id, resource, region), and
    ``accounts`` names the accounts seeded (id to name, the management account first: one
    account, ``123456789012``, unless seeded as an organization).
    ``objects_per_bucket``, ``bucket_regions`` and ``bucket_accounts`` are keyed by bucket
    name (global, as on AWS); ``items_per_table`` and ``table_accounts`` by (region, table);
    ``seconds`` is the wall time seeding took.
    """

    regions: tuple[str, ...]
    counts: Mapping[tuple[DemoResource, str], int]
    objects_per_bucket: Mapping[str, int]
    bucket_regions: Mapping[str, str]
    items_per_table: Mapping[tuple[str, str], int]
    seconds: float
    accounts: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({MANAGEMENT_ACCOUNT: "management"})
    )
    account_counts: Mapping[tuple[str, DemoResource, str], int] = field(
        default_factory=lambda: MappingProxyType({})
    )
    bucket_accounts: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    table_accounts: Mapping[tuple[str, str], str] = field(
        default_factory=lambda: MappingProxyType({})
    )

    def count(
        self, resource: DemoResource, region: str | None = None, account: str | None = None
    ) -> int:
        """How many of ``resource`` were seeded in ``region`` (``None``: all regions), in
        ``account`` (``None``: all accounts)."""
        regions = self.regions if region is None else (region,)
        if account is None:
            return sum(self.counts.get((resource, r), 0) for r in regions)
        return sum(self.account_counts.get((account, resource, r), 0) for r in regions)


@dataclass(frozen=True, slots=True)
class SeedProgress:
    """Where seeding stands, told after each of its steps (``seed(on_progress=...)``).

    A step is one service in one region (``"s3 us-east-1"``), or, seeding an organization,
    one service in one account across the regions (``"s3 payments"``); besides these,
    ``"organization"`` (its accounts made) and ``"moto"`` (moto's first use of the services
    seeded after EC2 and IAM, which come first: it imports them and loads their models).
    The steps run one after another, in a fixed order, for the same ids on every run.
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
    """moto's server on 127.0.0.1 (a free port), optionally seeded as by :func:`seed`.

    Create it with :meth:`start` and enter it with ``with`` or ``async with``: entering starts
    the server (in a worker thread under ``async with``) and seeds it; leaving calls
    :meth:`stop`. Nothing is written to ``os.environ``: pass :meth:`client_kwargs` to
    ``create_client``. An endpoint can be entered once.

    moto keeps its data per *process*, shared by every moto server and ``mock_aws`` in it. A
    seeded endpoint therefore clears that data (moto's ``/moto-api/reset``) when it starts,
    so that demos run one after another each see exactly the seeded inventory; do not run it
    beside another user of moto in the same process. Seeding, too, goes to moto in this
    process without HTTP: the requests :func:`seed` makes, answered by moto's own request
    handlers (the same resources and ids) with half the CPU once moto has loaded its
    services; the server answers whatever comes after over HTTP.

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
        organization: bool = False,
        resources: Collection[DemoResource] | None = None,
    ) -> None:
        _check_seed_arguments(regions, scale)
        self._resources = _RESOURCE_SET if resources is None else _wanted(resources)
        self._organization = organization
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
        organization: bool = False,
        resources: Collection[DemoResource] | None = None,
    ) -> Self:
        """Return an endpoint that starts when entered, seeded if ``seed`` is true.

        ``scale``, ``regions``, ``on_progress``, ``organization`` and ``resources`` go to
        :func:`seed`; a bad value raises :class:`ValueError` here, before anything starts.
        ``client_kwargs`` are the management account's (``123456789012``), which holds all
        the data unless ``organization`` is true. Example::

            with DemoEndpoint.start(seed=True) as demo:
                s3 = boto3.client("s3", **demo.client_kwargs("eu-west-1"))
        """
        return cls(
            seed=seed,
            scale=scale,
            regions=regions,
            on_progress=on_progress,
            organization=organization,
            resources=resources,
        )

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
        # moto answers in this process: the same requests, without HTTP in between.
        self.summary = await _seed(
            self.endpoint_url,
            in_process=True,
            regions=self._regions,
            scale=self._scale,
            on_progress=self._on_progress,
            organization=self._organization,
            resources=self._resources,
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
    organization: bool = False,
    resources: Collection[DemoResource] | None = None,
) -> SeedSummary:
    """Fill an empty moto server with a deterministic, realistic inventory in ``regions``.

    S3 buckets and objects, DynamoDB tables and items, EC2 reservations, SQS queues, Lambda
    functions, CloudWatch Logs log groups, SSM parameters and IAM users (global, but each
    region's environment has its own, counted in that region); us-east-1 holds the most and
    ap-southeast-2 almost nothing. ``scale`` multiplies every count, and a count that is not
    zero stays at least 1. The requests go over HTTP, one at a time, so the server may be in
    any process (:class:`DemoEndpoint` seeds its own moto in-process instead: the same
    requests without HTTP, for about half the CPU). ``on_progress`` is called after each step
    with a :class:`SeedProgress`, in the event loop's thread; an exception it raises stops
    the seeding.

    ``organization=True`` seeds an AWS Organization instead: the management account
    (``123456789012``, the caller's) and three member accounts made with
    ``organizations:CreateAccount`` (``payments``, ``data``, ``sandbox``), each seeded with
    credentials from ``sts:AssumeRole`` into its ``OrganizationAccountAccessRole``, so that
    its resources are its own; together they hold about as much as one account does, and
    each member works in one or two of the regions only. ``resources`` seeds only these
    (and what they need: buckets for objects, tables for items); ``None``: everything.

    The ids are the same on every run: moto's random generator is seeded first
    (``POST /moto-api/seed``) and every request is made in a fixed order (every response
    draws its request id from the same generator), the resources listed with random ids
    (accounts, EC2 instances, IAM users) first. What botocore makes up itself still differs
    from run to run (the ``ClientToken`` of an EC2 instance), and so do the timestamps.

    Raises :class:`ValueError` for a region outside :data:`DEMO_REGIONS` or a scale that is
    not a positive number, and botocore's ``ClientError`` if the data is already there.
    """
    return await _seed(
        endpoint_url,
        in_process=False,
        regions=regions,
        scale=scale,
        on_progress=on_progress,
        organization=organization,
        resources=resources,
    )


async def _seed(
    endpoint_url: str,
    *,
    in_process: bool,
    regions: Sequence[str],
    scale: float,
    on_progress: ProgressCallback | None,
    organization: bool,
    resources: Collection[DemoResource] | None,
) -> SeedSummary:
    """:func:`seed`; ``in_process``: through this process's moto without HTTP, which is
    right only for a moto server that runs in this process."""
    _check_seed_arguments(regions, scale)
    started = time.perf_counter()
    seeder = _Seeder(
        endpoint_url,
        scale,
        tuple(dict.fromkeys(regions)),
        on_progress,
        organization=organization,
        resources=_RESOURCE_SET if resources is None else _wanted(resources),
        in_process=in_process,
    )
    await seeder.run()
    accounts = {account.id: account.name for account in seeder.accounts}
    account_counts = {
        (account, resource, region): seeder.counts.get((account, resource, region), 0)
        for account in accounts
        for resource in _RESOURCES
        for region in seeder.regions
    }
    counts = {
        (resource, region): sum(account_counts[a, resource, region] for a in accounts)
        for resource in _RESOURCES
        for region in seeder.regions
    }
    return SeedSummary(
        regions=seeder.regions,
        counts=MappingProxyType(counts),
        objects_per_bucket=MappingProxyType(seeder.objects_per_bucket),
        bucket_regions=MappingProxyType(seeder.bucket_regions),
        items_per_table=MappingProxyType(seeder.items_per_table),
        seconds=time.perf_counter() - started,
        accounts=MappingProxyType(accounts),
        account_counts=MappingProxyType(account_counts),
        bucket_accounts=MappingProxyType(seeder.bucket_accounts),
        table_accounts=MappingProxyType(seeder.table_accounts),
    )


class _Account:
    """One account being seeded: its id, name, share of the counts and credentials."""

    def __init__(
        self,
        account_id: str,
        name: str,
        share: float,
        credentials: dict[str, str],
        regions: tuple[str, ...] = DEMO_REGIONS,
    ) -> None:
        self.id, self.name, self.share, self.credentials = account_id, name, share, credentials
        self.regions = regions
        self.role_arn = ""

    def prefixed(self, name: str) -> str:
        """A resource name in this account: members prefix theirs with the account's name."""
        return name if self.id == MANAGEMENT_ACCOUNT else f"{self.name}-{name}"


class _Seeder:
    """One seeding run: its clients and what it has created so far.

    moto draws every random id (account, instance, IAM user, Lambda revision, S3 version)
    from one generator, seeded first, and so does every response (its request id): every
    request is made one after another, in a fixed order. The steps run in a worker thread
    (botocore's clients are synchronous; moto answers in this process or over HTTP), and
    each is reported from the event loop's thread when it is done.
    """

    def __init__(
        self,
        url: str,
        scale: float,
        regions: tuple[str, ...],
        on_progress: ProgressCallback | None = None,
        *,
        organization: bool = False,
        resources: frozenset[DemoResource] = frozenset(_RESOURCES),
        in_process: bool = False,
    ) -> None:
        self.url, self.scale, self.regions = url, scale, regions
        self.on_progress = on_progress
        self.organization, self.resources = organization, resources
        self.in_process = in_process
        self.services = [
            service for service in _STEPS if any(r.startswith(f"{service}.") for r in resources)
        ]
        self.started = time.perf_counter()
        self.done = 0
        if organization:  # the organization, then moto, then each service in each account
            self.total = 2 + (1 + len(_MEMBERS)) * len(self.services)
        else:  # moto, then each service in each region
            self.total = 1 + len(regions) * len(self.services)
        self.accounts: list[_Account] = [
            _Account(MANAGEMENT_ACCOUNT, "management", 1.0, dict(_DEMO_KEYS))
        ]
        self.counts: dict[tuple[str, DemoResource, str], int] = {}
        self.objects_per_bucket: dict[str, int] = {}
        self.bucket_regions: dict[str, str] = {}
        self.bucket_accounts: dict[str, str] = {}
        self.items_per_table: dict[tuple[str, str], int] = {}
        self.table_accounts: dict[tuple[str, str], str] = {}
        if organization:
            self.accounts[0].share = _MANAGEMENT_SHARE
        self.session: Any = None  # made in the worker thread: it loads botocore's data
        self.clients: dict[tuple[str, str, str], Any] = {}

    def scaled(self, count: int, account: _Account) -> int:
        return 0 if count == 0 else max(1, round(count * self.scale * account.share))

    def add(self, account: _Account, resource: DemoResource, region: str, n: int) -> None:
        key = (account.id, resource, region)
        self.counts[key] = self.counts.get(key, 0) + n

    def client(self, service: str, region: str, account: _Account) -> Any:
        key = (account.id, service, region)
        if key not in self.clients:
            if self.session is None:
                self.session = _session(self.in_process)
            # Plain HTTP on 127.0.0.1: nothing to verify, and skipping it spares every
            # client from loading the CA bundle.
            where = {} if self.in_process else {"endpoint_url": self.url, "verify": False}
            self.clients[key] = self.session.create_client(
                service, region_name=region, **where, **account.credentials
            )
        return self.clients[key]

    async def run(self) -> None:
        try:
            await anyio.to_thread.run_sync(_post, f"{self.url}/moto-api/seed?a={_RANDOM_SEED}")
            if self.organization:
                await anyio.to_thread.run_sync(self.create_organization)
                self.report("organization", {})
            # The resources with random ids first, for the same ids whatever is seeded next.
            for account in self.accounts:
                for service in self.services:
                    if service in _RANDOM_STEPS:
                        await self.step(service, account)
            # moto imports a service and loads its botocore model on the service's first
            # request: a step of its own, so that the steps below show what they make.
            await anyio.to_thread.run_sync(self.first_requests)
            self.report("moto", {})
            for account in self.accounts:
                for service in self.services:
                    if service not in _RANDOM_STEPS:
                        await self.step(service, account)
        finally:
            for client in self.clients.values():
                client.close()

    def first_requests(self) -> None:
        for service in self.services:
            if service not in _RANDOM_STEPS:
                client = self.client(service, self.regions[0], self.accounts[0])
                getattr(client, _FIRST_REQUESTS[service])()

    def create_organization(self) -> None:
        management = self.accounts[0]
        organizations = self.client("organizations", "us-east-1", management)
        sts = self.client("sts", "us-east-1", management)
        organizations.create_organization(FeatureSet="ALL")
        for name, share, regions in _MEMBERS:
            made = organizations.create_account(AccountName=name, Email=f"aws+{name}@example.com")
            account_id = made["CreateAccountStatus"]["AccountId"]
            assumed = sts.assume_role(
                RoleArn=f"arn:aws:iam::{account_id}:role/OrganizationAccountAccessRole",
                RoleSessionName="asyncpage-demo-seed",
            )
            credentials = assumed["Credentials"]
            keys = {
                "aws_access_key_id": credentials["AccessKeyId"],
                "aws_secret_access_key": credentials["SecretAccessKey"],
                "aws_session_token": credentials["SessionToken"],
            }
            self.accounts.append(_Account(account_id, name, share, keys, regions))

    async def step(self, service: str, account: _Account) -> None:
        seed_step = self.steps()[service]
        regions = tuple(region for region in self.regions if region in account.regions)
        if self.organization:  # a step per account, across its regions

            def all_regions() -> None:
                for region in regions:
                    seed_step(account, region, _PLANS[region])

            await anyio.to_thread.run_sync(all_regions)
            self.report_step(f"{service} {account.name}", service, account, regions)
            return
        for region in regions:  # one account: a step per region
            await anyio.to_thread.run_sync(seed_step, account, region, _PLANS[region])
            self.report_step(f"{service} {region}", service, account, (region,))

    def report_step(
        self, step: str, service: str, account: _Account, regions: tuple[str, ...]
    ) -> None:
        prefix = f"{service}."
        created = {
            r: sum(self.counts.get((account.id, r, region), 0) for region in regions)
            for r in _RESOURCES
            if r.startswith(prefix) and r in self.resources
        }
        self.report(step, created)

    def report(self, step: str, created: Mapping[DemoResource, int]) -> None:
        self.done += 1
        if self.on_progress is not None:
            seconds = time.perf_counter() - self.started
            self.on_progress(
                SeedProgress(step, MappingProxyType(created), self.done, self.total, seconds)
            )

    def steps(self) -> dict[str, Callable[[_Account, str, _RegionPlan], None]]:
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

    def env(self, account: _Account, plan: _RegionPlan) -> str:
        return account.prefixed(plan.env)

    def s3(self, account: _Account, region: str, plan: _RegionPlan) -> None:
        s3 = self.client("s3", region, account)
        # us-east-1 is the one region that rejects a LocationConstraint naming itself.
        where = {"CreateBucketConfiguration": {"LocationConstraint": region}}
        if region == "us-east-1":
            where = {}
        env = self.env(account, plan)
        for bucket, layout, objects in plan.buckets[: _share(len(plan.buckets), account)]:
            bucket = account.prefixed(bucket)
            s3.create_bucket(Bucket=bucket, **where)
            count = self.scaled(objects, account) if "s3.objects" in self.resources else 0
            for i in range(count):
                s3.put_object(Bucket=bucket, **_s3_object(layout, i, env))
            self.bucket_regions[bucket] = region
            self.bucket_accounts[bucket] = account.id
            self.objects_per_bucket[bucket] = count
            self.add(account, "s3.buckets", region, 1)
            self.add(account, "s3.objects", region, count)

    def dynamodb(self, account: _Account, region: str, plan: _RegionPlan) -> None:
        ddb = self.client("dynamodb", region, account)
        for table, layout, items in plan.tables[: _share(len(plan.tables), account)]:
            table = account.prefixed(table)
            keys = _TABLE_KEYS[layout]
            ddb.create_table(
                TableName=table,
                BillingMode="PAY_PER_REQUEST",
                KeySchema=[
                    {"AttributeName": name, "KeyType": kind}
                    for name, kind in zip(keys, ("HASH", "RANGE"), strict=False)
                ],
                AttributeDefinitions=[{"AttributeName": k, "AttributeType": "S"} for k in keys],
            )
            count = self.scaled(items, account) if "dynamodb.items" in self.resources else 0
            rows = [_dynamodb_item(layout, i, plan.currency) for i in range(count)]
            for start in range(0, count, 25):
                _batch_write(ddb, table, rows[start : start + 25])
            self.items_per_table[region, table] = count
            self.table_accounts[region, table] = account.id
            self.add(account, "dynamodb.tables", region, 1)
            self.add(account, "dynamodb.items", region, count)

    def ec2(self, account: _Account, region: str, plan: _RegionPlan) -> None:
        reservations = plan.reservations[: self.scaled(len(plan.reservations), account)]
        if not reservations:
            return
        ec2 = self.client("ec2", region, account)
        env = self.env(account, plan)
        for name, instance_type, count in reservations:
            ec2.run_instances(
                ImageId=_AMI_ID,
                InstanceType=instance_type,
                MinCount=count,
                MaxCount=count,
                TagSpecifications=[{"ResourceType": "instance", "Tags": _tags(Name=name, env=env)}],
            )
        self.add(account, "ec2.reservations", region, len(reservations))
        self.add(account, "ec2.instances", region, sum(count for _, _, count in reservations))

    def sqs(self, account: _Account, region: str, plan: _RegionPlan) -> None:
        names = [f"{plan.env}-{s}-{kind}" for s in _SERVICES for kind in ("events", "events-dlq")]
        names = [account.prefixed(n) for n in names[: self.scaled(plan.queues, account)]]
        if not names:
            return
        sqs = self.client("sqs", region, account)
        env = self.env(account, plan)
        for name in names:
            sqs.create_queue(QueueName=name, tags={"env": env})
        self.add(account, "sqs.queues", region, len(names))

    def lambda_(self, account: _Account, region: str, plan: _RegionPlan) -> None:
        names = _function_names(self.scaled(plan.functions, account))
        if not names:
            return
        if not account.role_arn:  # one role per account, for all its regions
            iam = self.client("iam", "us-east-1", account)
            role = iam.create_role(
                RoleName=_LAMBDA_ROLE,
                Path="/service-role/",
                AssumeRolePolicyDocument=_LAMBDA_TRUST_POLICY,
            )
            account.role_arn = role["Role"]["Arn"]
        lam = self.client("lambda", region, account)
        env = self.env(account, plan)
        for i, name in enumerate(names):
            lam.create_function(
                FunctionName=name,
                Runtime="python3.12",
                Role=account.role_arn,
                Handler="app.handler",
                Code={"ZipFile": _LAMBDA_ZIP},
                MemorySize=128 * (1 + i % 4),
                Timeout=3 + 10 * (i % 3),
                Environment={"Variables": {"ENV": env}},
                Tags={"env": env},
            )
        self.add(account, "lambda.functions", region, len(names))

    def logs(self, account: _Account, region: str, plan: _RegionPlan) -> None:
        ecs = [f"/ecs/{self.env(account, plan)}/{s}-{c}" for c in _COMPONENTS for s in _SERVICES]
        functions = _function_names(self.scaled(plan.functions, account))
        names = [f"/aws/lambda/{name}" for name in functions]
        names += ecs[: self.scaled(plan.ecs_log_groups, account)]
        logs = self.client("logs", region, account)
        env = self.env(account, plan)
        for name in names:
            logs.create_log_group(logGroupName=name, tags={"env": env})
        self.add(account, "logs.log_groups", region, len(names))

    def ssm(self, account: _Account, region: str, plan: _RegionPlan) -> None:
        pairs = [(s, key) for s in _SERVICES for key in _PARAMETER_KEYS]
        pairs = pairs[: self.scaled(plan.parameters, account)]
        if not pairs:
            return
        ssm = self.client("ssm", region, account)
        env = self.env(account, plan)
        for service, key in pairs:
            ssm.put_parameter(**_parameter(env, service, key))
        self.add(account, "ssm.parameters", region, len(pairs))

    def iam(self, account: _Account, region: str, plan: _RegionPlan) -> None:
        env = self.env(account, plan)
        names = [f"{env}-{name}" for name in _USERS[: self.scaled(plan.users, account)]]
        iam = self.client("iam", "us-east-1", account)  # IAM is global
        for name in names:
            iam.create_user(UserName=name, Path=f"/{env}/", Tags=_tags(env=env))
        self.add(account, "iam.users", region, len(names))


def _session(in_process: bool) -> Any:
    """A botocore session for seeding: over HTTP, or answered by this process's moto."""
    if in_process:
        from .testing._moto import in_process_session

        return in_process_session()
    import botocore.session

    return botocore.session.Session()


#: What each listing of ``asyncpage inventory`` lists, as the demo seeds it.
_LISTED_BY: Final[Mapping[tuple[str, str], tuple[DemoResource, ...]]] = {
    ("s3", "list_buckets"): ("s3.buckets",),
    ("s3", "list_objects_v2"): ("s3.objects",),
    ("dynamodb", "list_tables"): ("dynamodb.tables",),
    ("dynamodb", "scan"): ("dynamodb.items",),
    ("dynamodb", "query"): ("dynamodb.items",),
    ("ec2", "describe_instances"): ("ec2.instances",),
    ("sqs", "list_queues"): ("sqs.queues",),
    ("lambda", "list_functions"): ("lambda.functions",),
    ("logs", "describe_log_groups"): ("logs.log_groups",),
    ("ssm", "describe_parameters"): ("ssm.parameters",),
    ("ssm", "get_parameters_by_path"): ("ssm.parameters",),
    ("iam", "list_users"): ("iam.users",),
}


def resources_listed_by(operations: Iterable[tuple[str, str]]) -> frozenset[DemoResource] | None:
    """The resources to seed for listing ``(service, operation)`` pairs; ``None``: all of
    them (an operation the demo seeds nothing particular for)."""
    wanted: set[DemoResource] = set()
    for operation in operations:
        if operation not in _LISTED_BY:
            return None
        wanted.update(_LISTED_BY[operation])
    return _wanted(wanted)


def _wanted(resources: Collection[DemoResource]) -> frozenset[DemoResource]:
    """``resources`` and what they need: a bucket for its objects, a table for its items."""
    wanted = set(resources)
    unknown = wanted - _RESOURCE_SET
    if unknown or isinstance(resources, str):
        raise ValueError(f"resources must be drawn from {_RESOURCES}, not {resources!r}")
    if "s3.objects" in wanted:
        wanted.add("s3.buckets")
    if "dynamodb.items" in wanted:
        wanted.add("dynamodb.tables")
    if wanted & {"ec2.instances", "ec2.reservations"}:
        wanted |= {"ec2.instances", "ec2.reservations"}
    return frozenset(wanted)


def _share(count: int, account: _Account) -> int:
    """An account's share of ``count`` things (buckets, tables: as many at every scale)."""
    return 0 if count == 0 else max(1, round(count * account.share))


_DEMO_KEYS: Final = {"aws_access_key_id": "demo", "aws_secret_access_key": "demo"}
#: The steps whose resources are listed with random ids (EC2 instances, IAM users).
_RANDOM_STEPS: Final = ("ec2", "iam")
_STEPS: Final = ("s3", "dynamodb", "ec2", "sqs", "lambda", "logs", "ssm", "iam")


def _post(url: str) -> None:
    request = urllib.request.Request(url, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        response.read()


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


def _batch_write(ddb: Any, table: str, rows: list[dict[str, dict[str, Any]]]) -> None:
    requests: Any = {table: [{"PutRequest": {"Item": row}} for row in rows]}
    while requests:  # moto never leaves items unprocessed; DynamoDB may
        response = ddb.batch_write_item(RequestItems=requests)
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
