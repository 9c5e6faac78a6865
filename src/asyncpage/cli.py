"""The ``asyncpage`` command line: ``asyncpage inventory`` lists resources across regions.

``main(argv)`` parses, validates everything it can before a request is sent (a bad
``--query``, an unknown ``--operation`` or a parameter botocore rejects exits 2), then runs
:class:`~asyncpage._inventory.Inventory` on asyncio. Where the output goes and what the
exit status means are written once, in :data:`WHERE_THE_LINES_GO` and :data:`EXIT_STATUS`:
``--help`` shows them and README.md quotes them word for word (a test compares).
"""

from __future__ import annotations

import argparse
import datetime
import difflib
import fnmatch
import os
import re
import secrets
import socket
import sys
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack, ExitStack
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any, Final, TextIO, TypeVar

import anyio
import jmespath
from aiobotocore.config import AioConfig
from aiobotocore.session import AioSession
from botocore.exceptions import BotoCoreError, ClientError
from jmespath.exceptions import JMESPathError
from jmespath.parser import ParsedResult

from . import __version__
from ._accounts import (
    DEFAULT_ROLE_NAME,
    DEFAULT_SESSION_NAME,
    AccountSessions,
    AssumeRole,
    assume_failure,
    organization_accounts,
    parse_accounts,
)
from ._demo import DEMO_REGIONS, MANAGEMENT_ACCOUNT
from ._distribute import Coordinator, DaskWorkers, ProcessWorkers, Workers
from ._inventory import (
    DEFAULT_LISTINGS,
    GLOBAL_REGION,
    Inventory,
    JsonLinesWriter,
    Listing,
    SourceState,
    Target,
    listing_for,
    plan_targets,
)
from ._progress import (
    REFRESH_SECONDS,
    Display,
    FinishLines,
    LiveLine,
    NoDisplay,
    SeedDisplay,
    format_summary,
    refresh,
    refresh_interval,
)
from ._regions import ClientPool, regions_for
from ._s3 import decode_ranges
from ._store import SourceId, Store, StoredSource
from ._tasks import Connection, frozen_heap

__all__ = ["EXIT_STATUS", "WHERE_THE_LINES_GO", "main"]

T = TypeVar("T")

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1
EXIT_USAGE: Final = 2
EXIT_INTERRUPTED: Final = 130


@dataclass(frozen=True, slots=True)
class ChaosRates:
    """The faults ``--chaos`` injects: per-request probabilities and added latency."""

    throttle: float = 0.15
    server_error: float = 0.05
    reset: float = 0.03
    latency: float = 0.01
    latency_jitter: float = 0.04

    def describe(self) -> str:
        slowest = (self.latency + self.latency_jitter) * 1000
        return (
            f"{self.throttle:.0%} throttled, {self.server_error:.0%} 5xx, "
            f"{self.reset:.0%} connections reset, "
            f"{self.latency * 1000:.0f}-{slowest:.0f} ms latency"
        )


#: Enough faults that retries show in every run, few enough that asyncpage's retry
#: (8 attempts a page: a page fails with probability 0.23**8, about 1e-5) never runs out.
CHAOS: Final = ChaosRates()
#: ``--chaos`` without ``--seed`` draws a seed below this: short enough to retype.
CHAOS_SEEDS: Final = 1_000_000
DEMO_PAGE_SIZE: Final = 10
#: ``--workers`` by default: one process per core from this many sources on, else one.
AUTO_WORKERS_FROM: Final = 400
_DEMO_CREDENTIALS: Final = {"access_key": "demo", "secret_key": "demo"}
_CHAOS_ACCOUNT_RETRIES: Final = {"mode": "standard", "total_max_attempts": 10}
_CHAOS_ACCOUNT_CALLS: Final = AioConfig(retries=_CHAOS_ACCOUNT_RETRIES)
_REGION_PATTERN: Final = re.compile(r"^[a-z0-9*?\[\]-]+$")

_DESCRIPTION = """\
List the resources of an AWS account across regions, concurrently, one JSON line each.

Every (service, region, operation) is one paginated source; all of them run at once
through asyncpage's fan-out, with page-level retries on throttling and 5xx errors.
By default: S3 buckets (global, listed once), DynamoDB tables, EC2 instances, SQS
queues, Lambda functions, CloudWatch Logs log groups and SSM parameters.

Each line of output is {"service", "region", "operation", "id", "item"}: "id" names
the resource in a word, "item" is the resource as AWS describes it (or what --query
makes of it); datetimes become ISO 8601 strings, bytes base64. A summary table per
region and operation (items, pages, retries, throttles, seconds, outcome) goes to
stderr at the end, after live progress (a status line on a terminal, one line per
finished source otherwise).
"""

#: Where the JSON lines go, for ``--help`` and README.md.
WHERE_THE_LINES_GO: Final = """\
Without --output, lines go to stdout when it is redirected or piped, and to a new
file inventory-YYYYmmdd-HHMMSS.jsonl in the current directory when stdout is a
terminal (the summary names it). --output - forces stdout, and -o FILE writes FILE."""

#: What the exit status means, for ``--help`` and README.md.
EXIT_STATUS: Final = """\
0: every source ok or skipped (skipped: the region is not enabled, or access is
denied there), or the reader of stdout stopped early (| head). 1: a source failed,
every source was skipped (what wrong credentials look like), or AWS could not be
reached. 2: a usage error, found before any request. 130: interrupted (Ctrl-C)."""


def _indent(text: str) -> str:
    return "".join(f"  {line}\n" for line in text.splitlines())


_EPILOG = (
    f"where the lines go:\n{_indent(WHERE_THE_LINES_GO)}\n"
    f"exit status:\n{_indent(EXIT_STATUS)}\n"
    """\
examples:
  asyncpage inventory --demo                      no AWS account: a local moto, seeded
                                                  with an Organization of 4 accounts
  asyncpage inventory --demo --chaos              the same through a fault proxy
  asyncpage inventory --demo --chaos --seed 4242  replay the faults of a run
  asyncpage inventory --regions 'eu-*' --services ec2,lambda -o eu.jsonl
  asyncpage inventory --org --db org.db           every account; resume with --resume
  asyncpage inventory --org --hub-role-arn arn:aws:iam::999988887777:role/Hub \\
      --role-arn-template 'arn:aws:iam::{account}:role/Audit'
  asyncpage inventory --operation iam:list_users --query '{name: UserName}'
  asyncpage inventory --operation s3:list_objects_v2 --param Bucket=logs --regions us-east-1
  asyncpage inventory --demo | jq -r 'select(.service=="ec2") | .id'
"""
)


def main(argv: Sequence[str] | None = None, *, dask_client: Any = None) -> int:
    """Run the ``asyncpage`` command with ``argv`` (default ``sys.argv[1:]``); return its status.

    ``dask_client``: a ``distributed.Client`` whose cluster runs the inventory's tasks, as
    ``--dask ADDRESS`` would (see :func:`asyncpage.cluster.inventory`).
    """
    parser, command = _parser()
    try:
        # Known args first: argparse would report what the subcommand does not know with
        # the top-level usage, which does not list the subcommand's options.
        args, unknown = parser.parse_known_args(argv)
        if unknown:
            command.error(_unrecognized(command, unknown))
        options = _validate(command, args, argv if argv is not None else sys.argv[1:])
        if dask_client is not None:
            if options.workers is not None or options.dask is not None:
                command.error("a Dask client runs the tasks: drop --workers and --dask")
            options.dask_client = dask_client
    except SystemExit as exit_:
        return exit_.code if isinstance(exit_.code, int) else EXIT_USAGE
    return _inventory(options)


@dataclass
class Options:
    """``asyncpage inventory``'s arguments, validated."""

    listings: tuple[Listing, ...]
    region_patterns: tuple[str, ...] | None  # None: every region
    query: ParsedResult | None
    output: str | None  # None: stdout if redirected, else a timestamped file
    demo: bool = False
    demo_regions: tuple[str, ...] = ()
    demo_scale: float = 1.0
    chaos: bool = False
    chaos_seed: int | None = None  # None: a new one for this run
    concurrency: int = 16
    per_endpoint: int = 4
    page_size: int | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    progress: bool = True
    org: bool = False
    accounts: tuple[str, ...] = ()
    role_name: str = DEFAULT_ROLE_NAME
    external_id: str | None = None
    role_arn_template: str | None = None
    hub_role_arn: str | None = None
    session_name: str = DEFAULT_SESSION_NAME
    db: str | None = None
    resume: bool = False
    workers: int | None = None  # None: auto (see workers_for)
    dask: str | None = None
    dask_client: Any = None  # a distributed.Client (asyncpage.cluster.inventory)
    argv: tuple[str, ...] = ()
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def assume_role(self) -> AssumeRole:
        """How each account's credentials are made (checked by :func:`_validate`)."""
        return AssumeRole(
            role_name=self.role_name,
            role_arn=self.role_arn_template,
            external_id=self.external_id,
            session_name=self.session_name,
            hub_role_arn=self.hub_role_arn,
        )


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {value}")
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _parser() -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    """The ``asyncpage`` parser and its ``inventory`` subcommand's parser."""
    parser = argparse.ArgumentParser(
        prog="asyncpage", description="asyncpage: asyncio pagination for AWS."
    )
    parser.add_argument("--version", action="version", version=f"asyncpage {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    inventory = commands.add_parser(
        "inventory",
        help="list resources across regions concurrently, as JSON lines",
        description=_DESCRIPTION,
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    where = inventory.add_argument_group("where")
    where.add_argument(
        "--demo",
        action="store_true",
        help="no AWS account: start a local moto server, seed an Organization in it (a "
        "management account and 3 member accounts, 4 regions), list every account",
    )
    where.add_argument(
        "--chaos",
        action="store_true",
        help="with --demo: put a fault proxy in front (throttling, 5xx, dropped "
        "connections, latency) to watch retries recover every item",
    )
    where.add_argument(
        "--seed",
        metavar="N",
        type=_seed,
        help="with --chaos: seed the faults with N to replay an earlier run's (each run "
        "prints its seed; default: a new one each run). The same seed gives the same faults "
        "in the same order of requests; --concurrency 1 keeps that order from run to run",
    )
    where.add_argument(
        "--regions",
        metavar="LIST",
        help="comma-separated regions or patterns (us-east-1,eu-*) or 'all' "
        "(default: all regions enabled for the account; with --demo, its 4 regions)",
    )
    where.add_argument("--endpoint-url", metavar="URL", help="send every request to URL")
    where.add_argument("--profile", metavar="NAME", help="AWS profile (default: the usual chain)")
    who = inventory.add_argument_group("accounts")
    who.add_argument(
        "--org",
        action="store_true",
        help="list every ACTIVE account of the caller's Organization: the management "
        "account with the caller's credentials, each member account through AssumeRole",
    )
    who.add_argument(
        "--accounts",
        metavar="ID,ID,...",
        help="list these accounts (12-digit ids) through AssumeRole (the caller's own "
        "account with its own credentials)",
    )
    who.add_argument(
        "--role-name",
        metavar="NAME",
        help=f"the role to assume in each account (default: {DEFAULT_ROLE_NAME})",
    )
    who.add_argument(
        "--role-arn-template",
        metavar="ARN",
        help="the role to assume in each account as an ARN with {account} (and optionally "
        "{partition}) in it, e.g. 'arn:aws:iam::{account}:role/audit/Inventory'; instead "
        "of --role-name",
    )
    who.add_argument(
        "--hub-role-arn",
        metavar="ARN",
        help="role chaining: assume this role first with the caller's credentials, then "
        "each account's role with the hub's (both refreshed before they expire). A hub "
        "that cannot be assumed fails the run before anything is listed",
    )
    who.add_argument(
        "--external-id",
        metavar="ID",
        help="the ExternalId sent with each account's AssumeRole (not the hub's)",
    )
    who.add_argument(
        "--session-name",
        metavar="NAME",
        help=f"the RoleSessionName of every AssumeRole, as CloudTrail shows it (default: "
        f"{DEFAULT_SESSION_NAME})",
    )
    what = inventory.add_argument_group("what")
    what.add_argument(
        "--services",
        metavar="LIST",
        help="comma-separated services of the default set to list (default: all of "
        f"{','.join(listing.service for listing in DEFAULT_LISTINGS)})",
    )
    what.add_argument(
        "--operation",
        metavar="SERVICE:OP",
        action=_OperationAction,
        default=[],
        help="also list this paginated operation (iam:list_users, kms:list_keys); "
        "repeatable; given without --services, only these are listed",
    )
    what.add_argument(
        "--param",
        metavar="NAME=VALUE",
        action=_ParamAction,
        help="a parameter of the --operation before it (--operation s3:list_objects_v2 "
        "--param Bucket=logs --param MaxKeys=100), or a JSON object of several "
        '(--param \'{"Bucket": "logs"}\'); repeatable. A value takes the type of the '
        "operation's member: numbers and true/false are converted, lists, maps and "
        "structures are JSON. botocore checks every parameter before anything starts; "
        "the operation's limit key (MaxKeys) replaces --page-size",
    )
    what.add_argument(
        "--query", metavar="JMESPATH", help="JMESPath applied to each item, e.g. '{id: Name}'"
    )
    out = inventory.add_argument_group("output")
    out.add_argument(
        "-o", "--output", metavar="FILE", help="write JSON lines to FILE, or - for stdout"
    )
    out.add_argument(
        "--db",
        metavar="PATH",
        help="keep the inventory in the SQLite file PATH (tables resources, sources, runs), "
        "each page committed with its source's resume token; no JSON lines unless -o is given",
    )
    out.add_argument(
        "--resume",
        action="store_true",
        help="with --db: continue the last unfinished run (after a crash, kill -9 or Ctrl-C): "
        "finished sources are not listed again, the others continue from their token",
    )
    out.add_argument(
        "--no-progress", action="store_true", help="no progress display (the summary stays)"
    )
    tuning = inventory.add_argument_group("tuning")
    tuning.add_argument(
        "--concurrency",
        metavar="N",
        type=_positive_int,
        help="sources listed at once (default: 16; with --ranges N, at least N+1)",
    )
    tuning.add_argument(
        "--per-endpoint",
        metavar="N",
        type=_positive_int,
        help="sources listed at once per service and region (default: 4; with --ranges N, "
        "at least N+1: the key ranges of a bucket share one endpoint)",
    )
    tuning.add_argument(
        "--ranges",
        metavar="N",
        type=_positive_int,
        help="list each s3:list_objects_v2 source over up to N key ranges at once, as "
        "asyncpage.parallel_list_objects does (a bucket's listing is otherwise one chain "
        "of requests); with --db each range resumes from its own token. One process only",
    )
    tuning.add_argument(
        "--page-size",
        metavar="N",
        type=_positive_int,
        help="items per page request (default: each service's own; with --demo, "
        f"{DEMO_PAGE_SIZE}, so that its small listings take several pages)",
    )
    spread = inventory.add_argument_group("beyond one process")
    spread.add_argument(
        "--workers",
        metavar="N",
        type=_positive_int,
        help="list in N worker processes, sources sharded by account, service and region "
        "(limits split between them, one store and one summary); 1: one process. Default: "
        f"one per core from {AUTO_WORKERS_FROM} sources on, else 1 (starting workers costs "
        "a few tenths of a second)",
    )
    spread.add_argument(
        "--dask",
        metavar="ADDRESS",
        help="run the shards as tasks on the Dask cluster whose scheduler is ADDRESS "
        "(tcp://host:8786); needs the dask extra here and asyncpage on the workers, whose "
        "own AWS credentials are used; the store and the output stay here",
    )
    # Hidden: a smaller demo for tests and quick looks.
    tuning.add_argument("--demo-scale", type=_positive_float, default=1.0, help=argparse.SUPPRESS)
    return parser, inventory


@dataclass
class _OperationArguments:
    """One ``--operation`` and the ``--param`` arguments that followed it."""

    spec: str
    params: list[str] = field(default_factory=list)


class _OperationAction(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        given: list[_OperationArguments] = getattr(namespace, self.dest)
        setattr(namespace, self.dest, [*given, _OperationArguments(str(values))])


class _ParamAction(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        operations: list[_OperationArguments] = namespace.operation
        if not operations:
            parser.error(
                f"--param {values} must follow the --operation it is for, e.g. "
                "--operation s3:list_objects_v2 --param Bucket=logs"
            )
        operations[-1].params.append(str(values))


def _validate(
    command: argparse.ArgumentParser, args: argparse.Namespace, argv: Sequence[str] = ()
) -> Options:
    def usage(message: str) -> None:
        command.error(message)  # prints the usage line and exits 2

    if args.chaos and not args.demo:
        usage("--chaos needs --demo (it puts a fault proxy in front of the demo endpoint)")
    if args.seed is not None and not args.chaos:
        usage("--seed needs --chaos (it seeds the faults the fault proxy injects)")
    if args.demo and args.endpoint_url:
        usage("--demo runs its own endpoint: drop --endpoint-url")
    if args.demo and args.profile:
        usage("--demo needs no AWS credentials: drop --profile")
    if args.demo_scale != 1.0 and not args.demo:
        usage("--demo-scale needs --demo")
    if args.resume and not args.db:
        usage("--resume needs --db (the store whose unfinished run to continue)")
    if args.dask is not None and args.workers is not None:
        usage("--dask runs the tasks on the cluster's workers: drop --workers")
    if args.ranges is not None and (args.dask is not None or (args.workers or 1) > 1):
        usage("--ranges lists in one process: drop --workers/--dask")
    if args.org and args.accounts is not None:
        usage("--org lists the Organization's accounts: drop --accounts (or --org)")
    if args.demo and (args.org or args.accounts is not None):
        usage("--demo is an Organization already: drop --org/--accounts")
    named_accounts = args.org or args.accounts is not None or args.demo
    role_options = {
        "--role-name": args.role_name,
        "--role-arn-template": args.role_arn_template,
        "--hub-role-arn": args.hub_role_arn,
        "--external-id": args.external_id,
        "--session-name": args.session_name,
    }
    given_roles = [name for name, value in role_options.items() if value is not None]
    if not named_accounts and given_roles:
        verb = "needs" if len(given_roles) == 1 else "need"
        usage(f"{' and '.join(given_roles)} {verb} --org or --accounts (accounts to assume into)")
    if args.role_name is not None and args.role_arn_template is not None:
        usage("--role-name and --role-arn-template both name the role: give one")
    assume = AssumeRole()
    try:
        assume = AssumeRole(
            role_name=args.role_name or DEFAULT_ROLE_NAME,
            role_arn=args.role_arn_template,
            external_id=args.external_id,
            session_name=args.session_name or DEFAULT_SESSION_NAME,
            hub_role_arn=args.hub_role_arn,
        )
    except ValueError as exc:
        usage(str(exc))
    accounts: tuple[str, ...] = ()
    if args.accounts is not None:
        try:
            accounts = tuple(parse_accounts(args.accounts))
        except ValueError as exc:
            usage(f"--accounts: {exc}")

    listings: list[Listing] = []
    by_service = {listing.service: listing for listing in DEFAULT_LISTINGS}
    if args.services is not None or not args.operation:
        names = _split(args.services) if args.services is not None else list(by_service)
        unknown = [name for name in names if name not in by_service]
        if unknown or not names:
            usage(
                f"--services: unknown {', '.join(unknown) or '(empty list)'}; choose from "
                f"{', '.join(by_service)} (or use --operation SERVICE:OP)"
            )
        listings += [by_service[name] for name in names]
    for given in args.operation:
        try:
            listing = listing_for(given.spec, given.params)
        except ValueError as exc:
            usage(f"--operation: {exc}")
            raise  # unreachable: usage() exits
        if listing in listings:
            continue
        if any(other.name == listing.name for other in listings):
            # One source per (service, region, operation): the summary and the records
            # could not tell two parameter sets apart.
            usage(
                f"--operation: {listing.name} is listed twice with different parameters "
                "(by --services, or by two --operation); list one set at a time"
            )
        listings.append(listing)
    if args.ranges is not None:
        split = [listing for listing in listings if listing.splits]
        if not split:
            usage(
                "--ranges splits listings of S3 objects: add --operation s3:list_objects_v2 "
                "--param Bucket=NAME"
            )
        for listing in split:
            if "ContinuationToken" in listing.params:
                usage("--ranges: drop ContinuationToken (each range keeps its own token)")
        listings = [
            replace(listing, ranges=args.ranges) if listing.splits else listing
            for listing in listings
        ]
    # With --ranges N, a bucket's N ranges (and its first page's) run at once by default.
    floor = args.ranges + 1 if args.ranges is not None else 0
    concurrency = args.concurrency or max(16, floor)
    per_endpoint = args.per_endpoint or max(4, floor)

    patterns: tuple[str, ...] | None = None
    if args.regions is not None and args.regions.strip() != "all":
        patterns = tuple(_split(args.regions))
        bad = [p for p in patterns if not _REGION_PATTERN.match(p)]
        if bad or not patterns:
            usage(f"--regions: {', '.join(bad) or 'empty list'} is not a region or pattern")

    demo_regions: tuple[str, ...] = ()
    if args.demo:
        wanted = patterns or ("*",)
        demo_regions = tuple(
            region
            for region in DEMO_REGIONS
            if any(fnmatch.fnmatchcase(region, pattern) for pattern in wanted)
        )
        if not demo_regions:
            usage(f"--regions matches none of the demo's regions: {', '.join(DEMO_REGIONS)}")

    query = None
    if args.query is not None:
        try:
            query = jmespath.compile(args.query)
        except (JMESPathError, TypeError, ValueError) as exc:
            usage(f"--query {args.query!r} is not a valid JMESPath expression: {exc}")

    return Options(
        listings=tuple(listings),
        region_patterns=patterns,
        query=query,
        output=args.output,
        demo=args.demo,
        demo_regions=demo_regions,
        demo_scale=args.demo_scale,
        chaos=args.chaos,
        chaos_seed=args.seed,
        concurrency=concurrency,
        per_endpoint=per_endpoint,
        page_size=args.page_size or (DEMO_PAGE_SIZE if args.demo else None),
        endpoint_url=args.endpoint_url,
        profile=args.profile,
        progress=not args.no_progress,
        org=args.org,
        accounts=accounts,
        role_name=assume.role_name,
        external_id=assume.external_id,
        role_arn_template=assume.role_arn,
        hub_role_arn=assume.hub_role_arn,
        session_name=assume.session_name,
        db=args.db,
        resume=args.resume,
        workers=args.workers,
        dask=args.dask,
        argv=tuple(argv),
    )


def _unrecognized(command: argparse.ArgumentParser, arguments: Sequence[str]) -> str:
    """``unrecognized arguments: --dmeo (did you mean --demo?)``."""
    known = [
        option
        for action in command._actions  # noqa: SLF001 - argparse lists its options only here
        if action.help is not argparse.SUPPRESS
        for option in action.option_strings
        if option.startswith("--")
    ]
    guesses = [
        guess
        for argument in arguments
        if argument.startswith("--")
        for guess in difflib.get_close_matches(argument.partition("=")[0], known, n=1)
    ]
    message = f"unrecognized arguments: {' '.join(arguments)}"
    if guesses:
        message += f" (did you mean {' or '.join(dict.fromkeys(guesses))}?)"
    return message


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


class _Run:
    """One ``asyncpage inventory`` run: what is left to print when it ends, however it ends."""

    def __init__(
        self, options: Options, writer: JsonLinesWriter, *, output_is_terminal: bool = False
    ) -> None:
        self.options = options
        self.writer = writer
        self.output_is_terminal = output_is_terminal
        self.inventory: Inventory | Coordinator | None = None
        self.chaos_seed: int | None = None
        #: The reader of stdout went away (``| head``): print nothing more.
        self.output_closed = False
        #: With --workers N, the worker processes, started when the run starts.
        self.processes: ProcessWorkers | None = None
        self.err = options.stderr
        #: JSON lines are written unless --db keeps the inventory and no -o asks for them.
        self.writes_lines = options.db is None or options.output is not None

    def say(self, message: str) -> None:
        self.err.write(message + "\n")
        self.err.flush()

    async def main(self) -> int:
        options = self.options
        if options.dask is not None:
            # Before anything is seeded or listed: dask's Client retries a refused
            # connection for its whole timeout (30 s) before it says so.
            refused = await scheduler_refusal(options.dask)
            if refused is not None:
                self.say(
                    f"asyncpage inventory: cannot reach the Dask scheduler at {options.dask}: "
                    f"{refused}"
                )
                return EXIT_FAILED
        async with AsyncExitStack() as stack:
            if options.workers is not None and options.workers > 1 and options.dask is None:
                # Started now, from a thread, while regions, accounts or the demo are made.
                self.processes = self._process_workers(options.workers)
                self.processes.start()
                stack.callback(self.processes.close, interrupted=False)
            session = AioSession(profile=options.profile)
            endpoint_url = options.endpoint_url
            retries = {"mode": "standard", "total_max_attempts": 3}
            if options.demo:
                endpoint_url, regions = await self._start_demo(stack)
                # The session's own credentials (not client arguments): AssumeRole is made
                # with them, and a member account's clients must not be given them.
                session.set_credentials(**_DEMO_CREDENTIALS)
                if options.chaos:
                    # botocore's own layer off, so the summary's retries are asyncpage's.
                    retries = {"mode": "standard", "total_max_attempts": 1}
                regions_by_service = {listing.service: regions for listing in options.listings}
            else:
                found = await self._discover_regions(session, endpoint_url)
                if found is None:
                    return EXIT_FAILED
                regions_by_service = found
            config = AioConfig(retries=retries)
            home = _home_region(regions_by_service, session)
            sessions: AccountSessions | None = None
            account_ids: list[str] = [""]
            unavailable: dict[str, str] = {}
            accounts_retries = retries
            if options.org or options.accounts or options.demo:
                # STS and Organizations calls are not pages: with botocore's retries off
                # (--chaos), they get botocore's own, or a throttled AssumeRole would skip
                # a whole account.
                accounts_config = _CHAOS_ACCOUNT_CALLS if options.chaos else config
                accounts_retries = _CHAOS_ACCOUNT_RETRIES if options.chaos else retries
                sessions = AccountSessions(
                    session,
                    assume=options.assume_role(),
                    own_account=MANAGEMENT_ACCOUNT if options.demo else None,
                    endpoint_url=endpoint_url,
                    region=home,
                    config=accounts_config,
                )
                listed = await self._accounts(session, sessions, endpoint_url, accounts_config)
                if listed is None:
                    return EXIT_FAILED
                account_ids = listed
                try:
                    await sessions.caller_account()
                except (BotoCoreError, ClientError) as exc:
                    self.say(f"asyncpage inventory: cannot tell the caller's account: {exc}")
                    return EXIT_FAILED
                try:
                    unavailable = await sessions.check(account_ids)
                except (BotoCoreError, ClientError) as exc:
                    # Only the hub role's failure gets here: no account could be listed.
                    hub = options.hub_role_arn or ""
                    self.say(f"asyncpage inventory: {assume_failure(exc, hub)} (the hub role)")
                    return EXIT_FAILED
                for account, reason in unavailable.items():
                    self.say(f"asyncpage inventory: skipping account {account}: {reason}")
            targets = plan_targets(
                options.listings, regions_by_service, home_region=home, accounts=account_ids
            )
            if not targets:
                self.say("asyncpage inventory: no region matches --regions; nothing to list")
                return EXIT_FAILED
            self.say(_banner(targets, endpoint_url))
            store: Store | None = None
            stored = None
            if options.db is not None:
                store = await stack.enter_async_context(Store(options.db))
                begun = await store.begin(
                    [target.key.stored for target in targets],
                    resume=options.resume,
                    argv=options.argv,
                )
                stored = begun.sources
                self.say(_store_line(options, begun.run, begun.resumed, stored))
            display = self._display()

            def shown(write: Callable[[T], None]) -> Callable[[T], None]:
                """``write`` to the output, above the progress display if they share a terminal."""
                if not self.output_is_terminal:
                    return write
                return lambda records: display.print_above(partial(write, records))

            limits: dict[str, Any] = {
                "page_size": options.page_size,
                "query": options.query,
                "concurrency": options.concurrency,
                "per_endpoint": options.per_endpoint,
                "store": store,
                "stored": stored,
                "unavailable": unavailable,
            }
            inventory: Inventory | Coordinator
            distributed = options.dask is not None or options.dask_client is not None
            # Key ranges are planned and listed in one process, and so is a stored run
            # that was (its sources' tokens are tokens of ranges, which workers do not read).
            one_process = any(listing.ranges for listing in options.listings) or (
                stored is not None and _over_ranges(stored)
            )
            if one_process and (distributed or (options.workers or 1) > 1):
                self.say(
                    "asyncpage inventory: S3 objects listed over key ranges (--ranges, or the "
                    "stored run being resumed) are listed in one process: drop --workers/--dask"
                )
                return EXIT_USAGE
            if distributed or (not one_process and workers_for(options, len(targets)) > 1):
                connection = Connection(
                    endpoint_url=endpoint_url,
                    profile=options.profile,
                    credentials=(_DEMO_CREDENTIALS["access_key"], _DEMO_CREDENTIALS["secret_key"])
                    if options.demo
                    else None,
                    retries=retries,
                    account_retries=dict(accounts_retries),
                    assume=None if sessions is None else sessions.assume,
                    own_account=None if sessions is None else await sessions.caller_account(),
                    home_region=home,
                )
                workers = await self._workers(stack, len(targets))
                if workers is None:
                    return EXIT_FAILED
                inventory = self.inventory = Coordinator(
                    targets,
                    workers=workers,
                    connection=connection,
                    write_lines=shown(self.writer.write_lines) if self.writes_lines else None,
                    **limits,
                )
            else:
                # Each worker makes its own clients: a pool only for the one-process path.
                pool = await stack.enter_async_context(
                    ClientPool(
                        session=session, endpoint_url=endpoint_url, config=config, accounts=sessions
                    )
                )
                inventory = self.inventory = Inventory(
                    targets,
                    pool=pool,
                    write=shown(self.writer.write) if self.writes_lines else None,
                    **limits,
                )
            async with anyio.create_task_group() as tasks:
                if options.progress:
                    every = refresh_interval(len(targets))
                    tasks.start_soon(
                        partial(refresh, interval=every),
                        display,
                        lambda: (inventory.states(), inventory.elapsed),
                    )
                try:
                    with frozen_heap():
                        await inventory.run()
                except BaseException as exc:
                    self.output_closed = _is_broken_pipe(exc)
                    raise
                finally:
                    tasks.cancel_scope.cancel()
                    if not self.output_closed:
                        display.update(inventory.states(), inventory.elapsed)
                    display.close()
        states = inventory.states()
        if states and all(state.status == "skipped" for state in states):
            print(
                "asyncpage inventory: every source was skipped (access denied or not "
                "available): check the credentials and regions",
                file=options.stderr,
            )
        return exit_status(states)

    def _process_workers(self, processes: int) -> ProcessWorkers:
        """A pool of ``processes`` that load the models of the listings' services as they start."""
        return ProcessWorkers(
            processes,
            services=sorted({listing.service for listing in self.options.listings}),
            profile=self.options.profile,
        )

    async def _workers(self, stack: AsyncExitStack, sources: int) -> Workers | None:
        """The worker processes, or the Dask cluster's workers (None: it cannot be reached)."""
        address = self.options.dask
        if self.options.dask_client is not None:
            workers = DaskWorkers(self.options.dask_client)
            self.say(f"asyncpage inventory: Dask cluster, {_count(workers.slots, 'worker thread')}")
            return workers
        if address is None:
            processes = workers_for(self.options, sources)
            self.say(f"asyncpage inventory: {processes} worker processes")
            return self.processes or self._process_workers(processes)
        try:
            from distributed import Client
        except ImportError:
            raise ImportError(
                "--dask needs dask.distributed: pip install 'asyncpage[dask]'"
            ) from None
        try:
            client = await anyio.to_thread.run_sync(partial(Client, address, timeout="30s"))
        except (OSError, ValueError) as exc:  # TimeoutError is an OSError
            self.say(f"asyncpage inventory: cannot reach the Dask scheduler at {address}: {exc}")
            return None

        async def close() -> None:
            await anyio.to_thread.run_sync(client.close)

        stack.push_async_callback(close)
        workers = DaskWorkers(client)
        self.say(
            f"asyncpage inventory: Dask cluster {address}, {_count(workers.slots, 'worker thread')}"
        )
        return workers

    async def _accounts(
        self,
        session: AioSession,
        sessions: AccountSessions,
        endpoint_url: str | None,
        config: AioConfig,
    ) -> list[str] | None:
        """The account ids to list: --accounts, or the Organization's (management first).

        The demo is an Organization: its accounts are listed as --org lists them.
        """
        if not (self.options.org or self.options.demo):
            return list(self.options.accounts)
        try:
            management, accounts = await organization_accounts(
                session, endpoint_url=endpoint_url, config=config
            )
        except (BotoCoreError, ClientError) as exc:
            self.say(f"asyncpage inventory: cannot list the Organization's accounts: {exc}")
            return None
        ids = [account.id for account in accounts]
        self.say(f"organization: {_count(len(ids), 'active account')}, management {management}")
        return [management, *(account for account in ids if account != management)]

    async def _start_demo(self, stack: AsyncExitStack) -> tuple[str, list[str]]:
        from ._demo import DemoEndpoint, resources_listed_by

        regions = list(self.options.demo_regions)
        self.say(
            "asyncpage inventory --demo: starting moto and seeding an organization of 4 "
            f"accounts in {', '.join(regions)}…"
        )
        # Seeding takes seconds (moto loads its service models): show it.
        seeding = SeedDisplay(self.err, live=self.err.isatty()) if self.options.progress else None
        endpoint = DemoEndpoint.start(
            seed=True,
            scale=self.options.demo_scale,
            regions=regions,
            on_progress=None if seeding is None else seeding.update,
            organization=True,
            # Only what this run lists: no S3 objects unless an --operation lists them.
            resources=resources_listed_by(
                (listing.service, listing.operation) for listing in self.options.listings
            ),
        )
        async with anyio.create_task_group() as tasks:
            if seeding is not None:
                tasks.start_soon(_tick, seeding)
            try:
                demo = await stack.enter_async_context(endpoint)
            finally:
                tasks.cancel_scope.cancel()
                if seeding is not None:
                    seeding.close()
        endpoint_url = demo.endpoint_url
        seeded = demo.summary
        seconds = f" in {seeded.seconds:.1f}s" if seeded is not None else ""
        line = f"demo endpoint {endpoint_url} (moto, seeded{seconds})"
        chaos = ""
        if self.options.chaos:
            from .testing import FaultProxy

            seed = self.options.chaos_seed
            if seed is None:
                seed = secrets.randbelow(CHAOS_SEEDS)
            self.chaos_seed = seed
            proxy = stack.enter_context(FaultProxy(endpoint_url, seed=seed))
            proxy.configure(
                throttle=CHAOS.throttle,
                server_error=CHAOS.server_error,
                reset=CHAOS.reset,
                latency=CHAOS.latency,
                latency_jitter=CHAOS.latency_jitter,
            )
            endpoint_url = proxy.endpoint_url
            line += f" behind a fault proxy {endpoint_url}"
            chaos = (
                f"; chaos: {CHAOS.describe()}, seed {seed} (replay with --seed {seed}); "
                "retries by asyncpage only (botocore's off)"
            )
        self.say(f"{line}{chaos}")
        return endpoint_url, regions

    async def _discover_regions(
        self, session: AioSession, endpoint_url: str | None
    ) -> dict[str, list[str]] | None:
        try:
            if await session.get_credentials() is None:
                self.say(
                    "asyncpage inventory: no AWS credentials found (environment, "
                    "~/.aws, SSO, instance role). Configure some, pass --profile, or try --demo."
                )
                return None
        except BotoCoreError as exc:
            self.say(f"asyncpage inventory: {exc}")
            return None
        listings = self.options.listings
        services = sorted({x.service for x in listings if x.scope == "regional"})
        found: dict[str, list[str]] = {}

        async def discover(service: str) -> None:
            found[service] = await regions_for(
                service,
                session=session,
                patterns=self.options.region_patterns,
                endpoint_url=endpoint_url,
            )

        try:
            async with anyio.create_task_group() as tasks:
                for service in services:
                    tasks.start_soon(discover, service)
        except BaseExceptionGroup as group:
            failures = [leaf for leaf in _leaves(group) if isinstance(leaf, BotoCoreError)]
            if not failures:
                raise
            self.say(f"asyncpage inventory: could not list regions: {failures[0]}")
            return None
        return found

    def _display(self) -> Display:
        if not self.options.progress:
            return NoDisplay()
        if self.err.isatty():
            return LiveLine(self.err)
        return FinishLines(self.err)


async def _tick(display: SeedDisplay) -> None:
    while True:
        display.tick()
        await anyio.sleep(REFRESH_SECONDS)


def _banner(targets: Sequence[Target], endpoint_url: str | None) -> str:
    """``listing 7 operations in 4 regions and globally (25 sources) at URL: s3.list_buckets…``."""
    operations = list(dict.fromkeys(target.listing.name for target in targets))
    regions = {target.key.region for target in targets} - {GLOBAL_REGION}
    scopes = [f"in {_count(len(regions), 'region')}"] if regions else []
    if any(target.key.region == GLOBAL_REGION for target in targets):
        scopes.append("globally")
    where = f" at {endpoint_url}" if endpoint_url else ""
    return (
        f"listing {_count(len(operations), 'operation')} {' and '.join(scopes)} "
        f"({_count(len(targets), 'source')}){where}: " + ", ".join(operations)
    )


def _store_line(
    options: Options, run: int, resumed: bool, stored: Mapping[SourceId, StoredSource]
) -> str:
    """``store inv.db: run 3`` or ``... resuming run 3: 12 of 25 sources finished``."""
    if resumed:
        finished = sum(source.finished for source in stored.values())
        return (
            f"store {options.db}: resuming run {run}: "
            f"{finished} of {_count(len(stored), 'source')} finished before"
        )
    again = " (no unfinished run to resume: a new one)" if options.resume else ""
    return f"store {options.db}: run {run}{again}"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}{'s' * (n != 1)}"


def _home_region(regions: dict[str, list[str]], session: AioSession) -> str:
    """The region global listings go through: us-east-1 if listed, else the first listed."""
    listed = [region for service_regions in regions.values() for region in service_regions]
    if "us-east-1" in listed or not listed:
        return "us-east-1"
    configured = session.get_config_variable("region")
    return configured if configured in listed else listed[0]


def _over_ranges(stored: Mapping[SourceId, StoredSource]) -> bool:
    """True if a stored source was listed over key ranges (its token says so)."""
    for source in stored.values():
        token = source.resume_token
        try:
            if token is not None and decode_ranges(token) is not None:
                return True
        except ValueError:
            return True  # one of ours, but malformed: the inventory says so
    return False


async def scheduler_refusal(address: str) -> str | None:
    """Why the Dask scheduler at ``address`` cannot be reached at all, or ``None``.

    One TCP connection to a ``tcp://`` or ``tls://`` address (other schemes, and a
    missing ``distributed``, are left to the client, which says why); a bad address or a
    refused, unroutable or silent (10 s) port is the reason, in a few words.
    """
    try:
        from distributed.comm.addressing import parse_address, parse_host_port
    except ImportError:
        return None
    try:
        scheme, location = parse_address(address)
        if scheme not in ("tcp", "tls"):
            return None
        host, port = parse_host_port(location)
    except ValueError as exc:
        return f"not a scheduler address ({exc})"

    def connect() -> None:
        with socket.create_connection((host, port), timeout=10):
            pass

    try:
        await anyio.to_thread.run_sync(connect)
    except OSError as exc:  # refused, no route, timed out, no such host
        return exc.strerror or str(exc) or type(exc).__name__
    return None


def workers_for(options: Options, sources: int) -> int:
    """``--workers``, or by default one process per core for {AUTO_WORKERS_FROM}+ sources.

    Worker processes cost a few tenths of a second to start (imports, service models) and
    make clients of their own: more than a small inventory (the demo's 100 sources) takes
    in one process.
    """
    if options.workers is not None:
        return options.workers
    return (os.cpu_count() or 1) if sources >= AUTO_WORKERS_FROM else 1


def exit_status(states: Sequence[SourceState]) -> int:
    """0 if every source is ok or skipped, 130 if any was cancelled, else 1.

    Every source skipped is a failure too: that is what revoked or wrong credentials look
    like (each call answers InvalidClientTokenId or AccessDenied), not an empty account.
    """
    if any(state.status == "failed" for state in states):
        return EXIT_FAILED
    if states and all(state.status == "skipped" for state in states):
        return EXIT_FAILED
    if any(state.status in ("cancelled", "running", "waiting") for state in states):
        return EXIT_INTERRUPTED
    return EXIT_OK


def _open_output(option: str | None, stdout: TextIO) -> tuple[TextIO, str | None]:
    """The stream to write to, and the file's name (``None`` for stdout)."""
    if option == "-" or (option is None and not stdout.isatty()):
        return stdout, None
    if option is None:
        option = datetime.datetime.now().strftime("inventory-%Y%m%d-%H%M%S.jsonl")
    return open(option, "w", encoding="utf-8"), option


def _inventory(options: Options) -> int:
    err = options.stderr
    try:
        if options.db is not None and options.output is None:
            stream, path = sys.stdout, None  # nothing is written to it
        else:
            stream, path = _open_output(options.output, sys.stdout)
    except OSError as exc:
        err.write(f"asyncpage inventory: error: cannot write {options.output}: {exc}\n")
        return EXIT_USAGE
    with ExitStack() as files:
        if path is not None:
            files.callback(stream.close)
        run = _Run(options, JsonLinesWriter(stream), output_is_terminal=stream.isatty())
        try:
            status = anyio.run(run.main)
        except BaseException as exc:
            if not _is_broken_pipe(exc):
                status = _exit_status_for(exc, err)
            else:
                # The reader went away (`| head`): it has what it wanted, so stop quietly.
                # Python's advice for SIGPIPE: point stdout at devnull, or the flush at exit
                # fails again.
                _silence_stdout()
                return EXIT_OK
    if run.inventory is not None:
        states = run.inventory.states()
        err.write(format_summary(states, run.inventory.elapsed) + "\n")
        if run.writes_lines:
            where = "stdout" if path is None else path
            err.write(f"{run.writer.records:,} items written to {where}\n")
        if options.db is not None:
            err.write(f"{sum(s.items for s in states):,} items in the store {options.db}\n")
        if status == EXIT_INTERRUPTED:
            err.write("interrupted: the sources not finished are marked cancelled\n")
    if run.chaos_seed is not None:
        seed = run.chaos_seed
        err.write(f"chaos seed {seed}: replay these faults with --seed {seed}\n")
    err.flush()
    return status


def _exit_status_for(error: BaseException, err: TextIO) -> int:
    """The exit status for an exception that ended the run; re-raise the unexpected."""
    leaves = list(_leaves(error))
    if any(isinstance(leaf, KeyboardInterrupt) for leaf in leaves):
        return EXIT_INTERRUPTED
    for leaf in leaves:
        if isinstance(leaf, ImportError):
            err.write(f"asyncpage inventory: {leaf}\n")
            return EXIT_FAILED
    raise error


def _is_broken_pipe(error: BaseException) -> bool:
    return all(isinstance(leaf, BrokenPipeError) for leaf in _leaves(error))


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]


def _silence_stdout() -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError):
        pass
    finally:
        os.close(devnull)
