"""The inventory engine behind ``asyncpage inventory``: what to list, how, and what came back.

What is listed is data: a :class:`Listing` names a service's paginated operation, the
JMESPath expression that turns one page into resources, and how to name a resource in a
word. :data:`DEFAULT_LISTINGS` is the default set; :func:`listing_for` builds one for any
operation botocore can paginate. :class:`Inventory` runs one fan-out over every
(service, region, operation) source, writes each resource as one JSON line, and keeps a
:class:`SourceState` per source for the progress display and the summary.

Nothing here parses arguments or draws on a terminal: that is :mod:`asyncpage.cli` and
:mod:`asyncpage._progress`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any, Final, Literal, NamedTuple, TextIO

import anyio
import botocore.session
import jmespath
from botocore import xform_name
from botocore.exceptions import BotoCoreError, ClientError, DataNotFoundError, UnknownServiceError
from jmespath.parser import ParsedResult

from ._errors import PageFetchError
from ._fanout import Outcome, fan_out
from ._iterator import AsyncPageIterator, PageStatistics, paginate
from ._outcome import DEFAULT_SKIP_CODES, judge
from ._params import check_params, parse_params
from ._regions import ClientPool
from ._retry import Retry, error_code
from ._s3 import (
    PAGE_SIZE,
    FirstPageError,
    KeyRange,
    ListingPlan,
    decode_ranges,
    encode_ranges,
    plan_ranges,
    range_iterator,
)
from ._store import SourceId, Store, StoredSource, json_encoder

__all__ = [
    "DEFAULT_LISTINGS",
    "GLOBAL_REGION",
    "Inventory",
    "JsonLinesWriter",
    "Listing",
    "RangeSource",
    "SourceKey",
    "SourceState",
    "Target",
    "listing_for",
    "plan_targets",
    "record_head",
    "settled_before",
]

#: The ``region`` of sources and records for resources that belong to no region.
GLOBAL_REGION: Final = "global"

Scope = Literal["regional", "global"]
Status = Literal["waiting", "running", "ok", "skipped", "failed", "cancelled"]
FINISHED: Final[frozenset[Status]] = frozenset({"ok", "skipped", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class Listing:
    """One kind of resource and how to list it.

    ``items`` is a JMESPath expression taking one page to its resources (for EC2,
    ``Reservations[].Instances[]`` flattens instances out of reservations);
    ``resource_id`` names one resource in a word. A ``global`` listing is requested once,
    not once per region. ``page_size`` is false for operations that must not be sent
    ``--page-size`` (no limit parameter, or a limit the service does not page past, or
    one that ``params`` sets). ``params`` go to every request of the listing.

    ``ranges`` (S3 ``list_objects_v2`` only) splits each of its sources over up to that
    many key ranges listed at once, as :func:`~asyncpage.parallel_list_objects` does; 0
    lists one chain.
    """

    service: str
    operation: str
    items: ParsedResult
    resource_id: Callable[[Any], str]
    scope: Scope = "regional"
    page_size: bool = True
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}), hash=False)
    ranges: int = 0

    @property
    def splits(self) -> bool:
        """True for a listing of S3 objects that may be split over key ranges."""
        return (self.service, self.operation) == ("s3", "list_objects_v2")

    @property
    def name(self) -> str:
        """``service.operation``, as the summary shows it."""
        return f"{self.service}.{self.operation}"


def _field(name: str) -> Callable[[Any], str]:
    def resource_id(item: Any) -> str:
        return str(item.get(name, "")) if isinstance(item, Mapping) else str(item)

    resource_id.__name__ = f"field_{name}"
    return resource_id


def _itself(item: Any) -> str:
    return str(item)


def _last_path_segment(item: Any) -> str:
    return str(item).rstrip("/").rpartition("/")[2]


def _guess_id(item: Any) -> str:
    """The first ...Name/...Id/...Arn string of an item of an operation not in the table."""
    if not isinstance(item, Mapping):
        return str(item)
    for suffix in ("Name", "Id", "Arn", "name", "id", "arn"):
        for key, value in item.items():
            if isinstance(value, str) and str(key).endswith(suffix):
                return value
    key = item.get("Key")  # S3 objects and versions
    return key if isinstance(key, str) else ""


def _listing(
    service: str,
    operation: str,
    items: str,
    resource_id: Callable[[Any], str],
    *,
    scope: Scope = "regional",
    page_size: bool = True,
) -> Listing:
    return Listing(service, operation, jmespath.compile(items), resource_id, scope, page_size)


#: What ``asyncpage inventory`` lists unless told otherwise, one listing per service.
DEFAULT_LISTINGS: Final[tuple[Listing, ...]] = (
    # One ListBuckets response names every bucket of the account, whatever the region asked;
    # MaxBuckets is not sent: without it AWS answers with every bucket, and moto drops the
    # buckets past MaxBuckets instead of paging to them.
    _listing("s3", "list_buckets", "Buckets", _field("Name"), scope="global", page_size=False),
    _listing("dynamodb", "list_tables", "TableNames", _itself),
    _listing("ec2", "describe_instances", "Reservations[].Instances[]", _field("InstanceId")),
    _listing("sqs", "list_queues", "QueueUrls", _last_path_segment),
    _listing("lambda", "list_functions", "Functions", _field("FunctionName")),
    _listing("logs", "describe_log_groups", "logGroups", _field("logGroupName")),
    _listing("ssm", "describe_parameters", "Parameters", _field("Name")),
)


def listing_for(spec: str, params: Sequence[str] = ()) -> Listing:
    """The listing for ``"SERVICE:OPERATION"`` (``"iam:list_users"`` or ``"iam:ListUsers"``).

    A listing of :data:`DEFAULT_LISTINGS` is returned as it is; any other operation lists
    the items under its primary result key and is global if its service is (IAM, Route 53…).
    ``params`` are ``--param`` arguments (``NAME=VALUE`` or a JSON object, typed by the
    operation's input shape: see :mod:`asyncpage._params`); the listing sends them with
    every request, and one naming the operation's limit key replaces ``--page-size``.
    Reads botocore's models only, sends nothing. Raises :class:`ValueError` with a message
    fit for the command line if the service is unknown, cannot paginate the operation, or
    botocore rejects the parameters (its validation report in full, missing required
    parameters included).
    """
    service, sep, operation = spec.partition(":")
    service, operation = service.strip().lower(), operation.strip()
    if not sep or not service or not operation:
        raise ValueError(f"{spec!r} is not SERVICE:OPERATION, e.g. iam:list_users")
    session = botocore.session.get_session()
    try:
        service_model = session.get_service_model(service)
        # botocore's PaginatorModel has no public way to list its operations (nor do its stubs).
        model: Any = session.get_paginator_model(service)
        paging: Mapping[str, Any] = model._paginator_config  # noqa: SLF001
    except (UnknownServiceError, DataNotFoundError):
        raise ValueError(f"unknown AWS service {service!r} in {spec!r}") from None
    api_names = {xform_name(name): name for name in service_model.operation_names}
    api_name = api_names.get(operation) or (
        operation if operation in service_model.operation_names else None
    )
    if api_name is None or api_name not in paging:
        choices = ", ".join(sorted(py for py, api in api_names.items() if api in paging))
        what = "has no operation" if api_name is None else "cannot paginate"
        raise ValueError(f"{service} {what} {operation!r}; it can paginate: {choices}")
    py_name = xform_name(api_name)
    config = paging[api_name]
    operation_model = service_model.operation_model(api_name)
    try:
        given = parse_params(params, operation_model.input_shape)
        check_params(given, operation_model, session)
    except ValueError as exc:
        hint = ""
        if "Missing required parameter" in str(exc):
            hint = f"\n(give parameters with --param NAME=VALUE after --operation {spec})"
        elif "Invalid type for parameter" in str(exc):
            hint = "\n(--param values of lists, maps and structures are JSON)"
        raise ValueError(f"{service}.{py_name}: {exc}{hint}") from None
    for known in DEFAULT_LISTINGS:
        if (known.service, known.operation) == (service, py_name):
            return _with_params(known, given, config.get("limit_key"))
    result_key = config.get("result_key")
    if isinstance(result_key, list):
        result_key = result_key[0]
    if not result_key:
        raise ValueError(f"{service}.{py_name} has no result key to take resources from")
    listing = _listing(
        service,
        py_name,
        result_key,
        _guess_id,
        scope="global" if is_global_service(service) else "regional",
        page_size="limit_key" in config,
    )
    return _with_params(listing, given, config.get("limit_key"))


def _with_params(listing: Listing, params: Mapping[str, Any], limit_key: str | None) -> Listing:
    if not params:
        return listing
    page_size = listing.page_size and limit_key not in params
    return replace(listing, params=MappingProxyType(dict(params)), page_size=page_size)


def is_global_service(service: str) -> bool:
    """True for services botocore's endpoint data marks as not regionalized (IAM…)."""
    loader = botocore.session.get_session().get_component("data_loader")
    partitions = loader.load_data("endpoints")["partitions"]
    data = partitions[0]["services"].get(service, {})
    return data.get("isRegionalized") is False


class SourceKey(NamedTuple):
    """The label of one fan-out source: a listing in one region (or ``"global"``).

    ``account`` is the AWS account id the source lists, or ``""`` for the caller's own
    account when no accounts were given (a plain single-account inventory).
    """

    service: str
    region: str
    operation: str
    account: str = ""

    @property
    def stored(self) -> SourceId:
        """How the store names it: (account, region, service, operation)."""
        return (self.account, self.region, self.service, self.operation)


class RangeSource(NamedTuple):
    """The fan-out label of one key range of a source split over ranges (``Listing.ranges``)."""

    key: SourceKey
    range: KeyRange


Label = SourceKey | RangeSource


def _source_of(label: Label) -> SourceKey:
    """The source a fan-out label lists: itself, or the source a key range is of."""
    return label.key if isinstance(label, RangeSource) else label


@dataclass(frozen=True, slots=True)
class Target:
    """A source to list: its key, its listing and the region its client is made for."""

    key: SourceKey
    listing: Listing
    client_region: str


def plan_targets(
    listings: Iterable[Listing],
    regions: Mapping[str, Sequence[str]],
    *,
    home_region: str,
    accounts: Sequence[str] = ("",),
) -> list[Target]:
    """One target per (account, listing, region of ``regions[service]``); global ones once.

    A global listing is requested once per account through ``home_region``'s endpoint and
    labelled :data:`GLOBAL_REGION`. Targets come in account order, then listing order, then
    region order. ``accounts`` are account ids (``""``: the caller's own, unnamed).
    """
    listings = list(listings)
    targets: list[Target] = []
    for account in accounts:
        for listing in listings:
            if listing.scope == "global":
                key = SourceKey(listing.service, GLOBAL_REGION, listing.operation, account)
                targets.append(Target(key, listing, home_region))
                continue
            for region in regions.get(listing.service, ()):
                key = SourceKey(listing.service, region, listing.operation, account)
                targets.append(Target(key, listing, region))
    return targets


@dataclass(frozen=True, slots=True)
class SourceState:
    """Where one source stands: for the progress display and the summary."""

    key: SourceKey
    status: Status
    items: int
    """Resources written (EC2: instances, not reservations)."""
    statistics: PageStatistics
    seconds: float
    error: str | None = None
    """Why the source failed or was skipped, in one line."""
    pages_before: int = 0
    """Pages earlier attempts at this run stored (``--resume``), not in ``statistics``."""

    @property
    def finished(self) -> bool:
        return self.status in FINISHED

    @property
    def pages(self) -> int:
        """Pages of the whole run, as ``items`` counts its resources: earlier attempts too."""
        return self.pages_before + self.statistics.pages


Record = dict[str, Any]


def record_head(key: SourceKey) -> dict[str, str]:
    """The fields a record of ``key``'s resources starts with, in order, before ``id``.

    ``{"account", "service", "region", "operation"}``, ``account`` only when the source
    names one (a plain single-account inventory has none).
    """
    named = {"account": key.account} if key.account else {}
    return {**named, "service": key.service, "region": key.region, "operation": key.operation}


def settled_before(
    key: SourceKey, stored: Mapping[SourceId, StoredSource], unavailable: Mapping[str, str]
) -> tuple[Status, str | None] | None:
    """How ``key`` is settled before a run lists anything, with why; ``None`` if it is not.

    ``skipped`` with the reason if its account is unavailable (AssumeRole denied); else
    as an earlier attempt at the run ended it (``--resume``), if that attempt finished it.
    """
    if key.account in unavailable:
        return "skipped", unavailable[key.account]
    before = stored.get(key.stored)
    if before is not None and before.finished:
        return before.status, before.error  # type: ignore[return-value]
    return None


class JsonLinesWriter:
    """Writes inventory records as JSON Lines (compact); counts what it wrote.

    Datetimes become ISO 8601 strings, bytes base64, decimals numbers. Text stays as it is
    on a UTF-8 stream and is escaped (``\\u00e9``) on any other.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        encoding = (getattr(stream, "encoding", None) or "").lower().replace("-", "")
        self._ascii = encoding != "utf8"
        self._encoder = json_encoder(ensure_ascii=self._ascii)
        self.records = 0

    def write(self, records: Sequence[Record]) -> None:
        """Write ``records`` and flush, so that a reader sees each page as it arrives."""
        for record in records:
            self._stream.write(self._encoder.encode(record) + "\n")
        self._stream.flush()
        self.records += len(records)

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write records already encoded as compact JSON (one per line, UTF-8 text), and flush.

        What worker processes send back (:mod:`asyncpage._distribute`): the same lines
        :meth:`write` would have made, escaped here if the stream is not UTF-8.
        """
        for line in lines:
            if self._ascii and not line.isascii():
                line = self._encoder.encode(json.loads(line))
            self._stream.write(line + "\n")
        self._stream.flush()
        self.records += len(lines)


class Inventory:
    """One run of the inventory: every target listed concurrently through one fan-out.

    Args:
        targets: what to list (see :func:`plan_targets`).
        pool: makes (and closes) the clients, one per (account, service, region); a
            client is released when the last source that needs it has ended.
        write: called with the records of each page as it arrives, one record per
            resource: ``{"account", "service", "region", "operation", "id", "item"}``
            (``account`` only when the source names one), where ``item`` is the
            resource, or what ``query`` made of it.
        page_size: ``PageSize`` for listings that accept one.
        query: a compiled JMESPath expression applied to each resource.
        retry: asyncpage's page retry policy.
        concurrency, per_endpoint: fan-out limits (sources listed at once, overall and
            per (account, service, region)).
        store: an open :class:`~asyncpage._store.Store` whose run has begun: each page's
            records and its source's next token are committed there together.
        stored: what an earlier attempt at this run stored (``Store.begin``'s
            ``sources``): finished sources are not listed again, the others continue from
            their token.
        unavailable: accounts that cannot be listed (``{account id: reason}``, say an
            AssumeRole that was denied): each of their sources is ``skipped`` with the
            reason, and nothing is requested for them.

    A source whose listing has ``ranges`` (S3 objects) is planned before the fan-out starts
    (:func:`~asyncpage._s3.plan_ranges`: its first page and a few probes) and listed as
    one fan-out source per key range (labelled :class:`RangeSource`), under the same
    limits as every other source. It stays one source for the store, the states and the
    records: its resume token is :func:`~asyncpage._s3.encode_ranges` of the ranges left,
    each with its own token, committed with each page of any of them; ``stored`` such a
    token resumes each unfinished range from its own token, with no new plan. A first page
    refused with a skip code (``AccessDenied``) skips the source, as the fan-out skips a
    source whose first page is refused; any other failure to plan (a probe or a folder
    listing refused) fails it: a refused probe is never a reason to skip keys.

    :meth:`run` may be cancelled; :meth:`states` stays readable during and after it.
    """

    def __init__(
        self,
        targets: Sequence[Target],
        *,
        pool: ClientPool,
        write: Callable[[list[Record]], None] | None = None,
        page_size: int | None = None,
        query: ParsedResult | None = None,
        retry: Retry | None = None,
        concurrency: int = 8,
        per_endpoint: int = 4,
        store: Store | None = None,
        stored: Mapping[SourceId, StoredSource] | None = None,
        unavailable: Mapping[str, str] | None = None,
    ) -> None:
        self._targets = {target.key: target for target in targets}
        self._pool = pool
        self._write = write
        self._page_size = page_size
        self._query = query
        self._retry = retry if retry is not None else Retry()
        self._concurrency = concurrency
        self._per_endpoint = per_endpoint
        self._store = store
        self._stored = dict(stored or {})
        self._unavailable = dict(unavailable or {})
        self._items = {
            key: (self._stored[key.stored].items if key.stored in self._stored else 0)
            for key in self._targets
        }
        self._settled = {
            key: settled
            for key in self._targets
            if (settled := settled_before(key, self._stored, self._unavailable)) is not None
        }
        # How many unfinished sources use each client, to close it after the last one.
        self._users: dict[tuple[str, str, str], int] = {}
        self._open: set[Label] = set()
        self._outcomes: Mapping[Label, Outcome] = {}
        # Sources split over key ranges: each range's starting token (planned or stored),
        # the plans made, and the sources being planned or whose plan failed.
        self._ranges: dict[SourceKey, dict[KeyRange, str | None]] = {}
        self._plans: dict[SourceKey, ListingPlan] = {}
        self._planning: set[SourceKey] = set()
        self._unplanned: dict[SourceKey, tuple[Status, str]] = {}
        self._started: float | None = None
        self._finished: float | None = None

    @property
    def keys(self) -> list[SourceKey]:
        """Every source, in plan order."""
        return list(self._targets)

    @property
    def outcomes(self) -> Mapping[Label, Outcome]:
        """The fan-out's :class:`Outcome` of every source it ran, resume tokens included.

        Empty before :meth:`run`; sources settled before it (finished, unavailable) have
        none; a source split over key ranges has one per range, labelled
        :class:`RangeSource`. :mod:`asyncpage._tasks` reads it to hand each source's token
        back.
        """
        return self._outcomes

    @property
    def plans(self) -> Mapping[SourceKey, ListingPlan]:
        """How each source split over key ranges was planned in this run (not resumed ones)."""
        return MappingProxyType(self._plans)

    @property
    def elapsed(self) -> float:
        """Seconds since :meth:`run` started listing (0 before), until it ended."""
        if self._started is None:
            return 0.0
        end = self._finished if self._finished is not None else time.monotonic()
        return end - self._started

    async def run(self) -> None:
        """List every target; return when all are done (ok, skipped or failed).

        A source that fails does not stop the others: its state says why. Cancelling
        cancels every request in flight and closes every iterator; with a store, every
        page already received is committed, and each source's state is recorded.
        """
        self._started = time.monotonic()
        try:
            first_pages = await self._plan_ranges()
            sources: dict[Label, Callable[[], Awaitable[AsyncPageIterator]]] = {}
            for key, target in self._targets.items():
                if key in self._settled or key in self._unplanned:
                    continue
                starts = self._ranges.get(key)
                if starts is None:
                    sources[key] = self._source(target)
                    continue
                plan = self._plans.get(key)
                estimates = dict(zip(plan.ranges, plan.estimates, strict=False)) if plan else {}
                for key_range, token in starts.items():
                    part = RangeSource(key, key_range)
                    sources[part] = self._range_source(
                        part, token, first_pages.get(part), estimates.get(key_range)
                    )
            for label in sources:
                client_key = self._client_key(label)
                self._users[client_key] = self._users.get(client_key, 0) + 1
            for key in self._unplanned:
                # Its client was opened to plan; no range of it will release it.
                if self._users.get(self._client_key(key), 0) == 0:
                    await self._release(self._client_key(key))
            async with fan_out(
                sources,
                concurrency=self._concurrency,
                per_endpoint=self._per_endpoint,
                order="completed",
                on_error="continue",
            ) as merged:
                self._outcomes = merged.outcomes
                async for tagged in merged:
                    await self._deliver(tagged.source, tagged.value, merged.outcomes)
                    await self._release_ended(merged.outcomes)
                self._outcomes = dict(merged.outcomes)
        finally:
            self._finished = time.monotonic()
            with anyio.CancelScope(shield=True):
                await self._record_ends()

    def _client_key(self, label: Label) -> tuple[str, str, str]:
        key = _source_of(label)
        return (key.account, key.service, self._targets[key].client_region)

    def _client(self, key: SourceKey) -> Awaitable[Any]:
        target = self._targets[key]
        return self._pool.client(
            target.listing.service, target.client_region, account=key.account or None
        )

    async def _release(self, client_key: tuple[str, str, str]) -> None:
        account, service, region = client_key
        await self._pool.release(service, region, account=account or None)

    async def _plan_ranges(self) -> dict[RangeSource, dict[str, Any]]:
        """Split the sources whose listing has ``ranges``: from their stored token of
        ranges (``--resume``), else by a plan; a source resumed from a plain token stays
        one chain. Plans are made at once, at most ``concurrency`` at a time. Returns the
        first pages the plans fetched, for the ranges they begin."""
        first_pages: dict[RangeSource, dict[str, Any]] = {}
        to_plan: list[SourceKey] = []
        for key, target in self._targets.items():
            if key in self._settled:
                continue
            before = self._stored.get(key.stored)
            token = before.resume_token if before is not None else None
            try:
                stored = decode_ranges(token) if token is not None else None
            except ValueError as exc:  # a store edited by hand: say so, list nothing
                self._unplanned[key] = ("failed", str(exc))
                continue
            if stored is not None:
                self._ranges[key] = stored
            elif target.listing.ranges and target.listing.splits and token is None:
                to_plan.append(key)
        if not to_plan:
            return first_pages
        limiter = anyio.CapacityLimiter(self._concurrency)

        async def plan(key: SourceKey) -> None:
            listing = self._targets[key].listing
            async with limiter:
                self._planning.add(key)
                try:
                    client = await self._client(key)
                    made, first = await plan_ranges(
                        client,
                        shards=listing.ranges,
                        page_size=self._range_page_size(listing),
                        retry=self._retry,
                        **self._range_params(listing),
                    )
                except FirstPageError as exc:
                    # The listing's own first page: judged as the fan-out judges a first
                    # page (AccessDenied: not here, skipped), not as a refused probe.
                    ending = judge(
                        exc, delivered=0, skip_codes=DEFAULT_SKIP_CODES, resume_token=None
                    )
                    if ending.status == "skipped" and ending.reason is not None:
                        self._unplanned[key] = ("skipped", ending.reason)
                    else:
                        self._unplanned[key] = ("failed", describe_error(exc))
                    return
                except (PageFetchError, BotoCoreError, ClientError) as exc:
                    why = f"planning the key ranges: {describe_error(exc)}"
                    self._unplanned[key] = ("failed", why)
                    return
                finally:
                    self._planning.discard(key)
            self._plans[key] = made
            self._ranges[key] = dict.fromkeys(made.ranges)
            for key_range, page in first.items():
                first_pages[RangeSource(key, key_range)] = page

        async with anyio.create_task_group() as tasks:
            for key in to_plan:
                tasks.start_soon(plan, key)
        return first_pages

    def _range_page_size(self, listing: Listing) -> int:
        if self._page_size is not None and listing.page_size:
            return self._page_size
        given = listing.params.get("MaxKeys")
        return given if isinstance(given, int) and given > 0 else PAGE_SIZE

    @staticmethod
    def _range_params(listing: Listing) -> dict[str, Any]:
        # MaxKeys is the ranges' page size; a range sets StartAfter itself.
        return {name: value for name, value in listing.params.items() if name != "MaxKeys"}

    def _range_source(
        self,
        label: RangeSource,
        token: str | None,
        first: dict[str, Any] | None,
        estimate: int | None,
    ) -> Callable[[], Awaitable[AsyncPageIterator]]:
        async def open_range() -> AsyncPageIterator:
            listing = self._targets[label.key].listing
            client = await self._client(label.key)
            self._open.add(label)
            return range_iterator(
                client,
                label.range,
                token=token,
                first_page=first,
                estimate=estimate,
                page_size=self._range_page_size(listing),
                retry=self._retry,
                **self._range_params(listing),
            )

        return open_range

    def _ranges_left(
        self, key: SourceKey, outcomes: Mapping[Label, Outcome]
    ) -> dict[KeyRange, str | None]:
        """The ranges of ``key`` not listed to the end, each with the token to go on from."""
        left: dict[KeyRange, str | None] = {}
        for key_range, start in self._ranges[key].items():
            outcome = outcomes.get(RangeSource(key, key_range))
            if outcome is not None and outcome.status == "ok":
                continue
            # No page yet (or refused before its first): from where this run started it.
            token = outcome.resume_token if outcome is not None else None
            left[key_range] = token if token is not None else start
        return left

    def _source(self, target: Target) -> Callable[[], Awaitable[AsyncPageIterator]]:
        # A factory: the fan-out calls it when the source may start, so a client is
        # opened only for sources that run.
        async def open_source() -> AsyncPageIterator:
            listing = target.listing
            key = target.key
            client = await self._client(key)
            self._open.add(key)
            config: dict[str, Any] = {}
            if self._page_size is not None and listing.page_size:
                config["PageSize"] = self._page_size
            before = self._stored.get(key.stored)
            if before is not None and before.resume_token is not None:
                config["StartingToken"] = before.resume_token
            return paginate(
                client, listing.operation, PaginationConfig=config, **listing.params
            ).with_options(retry=self._retry)

        return open_source

    async def _release_ended(self, outcomes: Mapping[Label, Outcome]) -> None:
        """Close the clients whose every source has ended (at most ``concurrency`` looked at)."""
        for label in [label for label in self._open if outcomes[label].status != "pending"]:
            self._open.discard(label)
            client_key = self._client_key(label)
            self._users[client_key] -= 1
            if self._users[client_key] == 0:
                await self._release(client_key)

    async def _deliver(
        self, label: Label, page: Mapping[str, Any], outcomes: Mapping[Label, Outcome]
    ) -> None:
        key = _source_of(label)
        listing = self._targets[key].listing
        found = listing.items.search(page)
        resources = found if isinstance(found, list) else [] if found is None else [found]
        query = self._query
        head = record_head(key)
        records = [
            {
                **head,
                "id": listing.resource_id(resource),
                "item": resource if query is None else query.search(resource),
            }
            for resource in resources
        ]
        if self._store is not None:
            # The page and the token of the page after it, in one transaction; for a
            # range, the token of every range of its source not listed to the end.
            if isinstance(label, RangeSource):
                left = self._ranges_left(key, outcomes)
                token = encode_ranges(left) if left else None
                done = not left
            else:
                outcome = outcomes[key]
                token, done = outcome.resume_token, outcome.status == "ok"
            await self._store.commit_page(
                key.stored,
                [(record["id"], record["item"]) for record in records],
                resume_token=token,
                done=done,
            )
        if self._write is not None:
            self._write(records)
        self._items[key] += len(resources)

    async def _record_ends(self) -> None:
        store = self._store
        if store is None:
            return
        for state in self.states():
            before = self._stored.get(state.key.stored)
            if state.status in ("ok", "skipped", "failed") and not (
                before is not None and before.finished
            ):
                await store.end_source(state.key.stored, state.status, error=state.error)
        await store.finish()

    def states(self) -> list[SourceState]:
        """Every source's state now, in plan order."""
        return [self._state(key) for key in self._targets]

    def _state(self, key: SourceKey) -> SourceState:
        before = self._stored.get(key.stored)
        pages_before = before.pages if before is not None else 0
        settled = self._settled.get(key)
        if settled is not None:
            status, error = settled
            return SourceState(
                key, status, self._items[key], PageStatistics(), 0.0, error, pages_before
            )
        if key in self._unplanned:
            status, error = self._unplanned[key]
            return SourceState(
                key, status, self._items[key], PageStatistics(), 0.0, error, pages_before
            )
        if key in self._ranges:
            return self._ranges_state(key, pages_before)
        if key in self._planning:
            status = "cancelled" if self._finished is not None else "running"
            return SourceState(key, status, 0, PageStatistics(), 0.0, None, pages_before)
        outcome = self._outcomes.get(key)
        if outcome is None:
            status = "cancelled" if self._finished is not None else "waiting"
            return SourceState(
                key, status, self._items[key], PageStatistics(), 0.0, None, pages_before
            )
        statistics = outcome.statistics
        if outcome.status == "pending":
            started = statistics.requests > 0 or outcome.seconds > 0
            if self._finished is not None:
                status = "cancelled"
            else:
                status = "running" if started else "waiting"
        else:
            status = outcome.status
        reason = outcome.reason if outcome.status == "skipped" else None
        error = describe_error(outcome.error) if outcome.error is not None else reason
        return SourceState(
            key, status, self._items[key], statistics, outcome.seconds, error, pages_before
        )

    def _ranges_state(self, key: SourceKey, pages_before: int) -> SourceState:
        """A source split over key ranges, as one: its ranges' statistics summed."""
        outcomes = [self._outcomes.get(RangeSource(key, r)) for r in self._ranges[key]]
        statistics = PageStatistics()
        for outcome in outcomes:
            if outcome is not None:
                statistics = statistics + outcome.statistics
        seconds = max((o.seconds for o in outcomes if o is not None), default=0.0)
        ended = [o for o in outcomes if o is not None and o.status != "pending"]
        error: str | None = None
        status: Status
        if len(ended) < len(outcomes):
            if self._finished is not None:
                status = "cancelled"
            else:
                started = any(o is not None and o.seconds > 0 for o in outcomes)
                status = "running" if started or statistics.requests else "waiting"
        elif all(o.status == "ok" for o in ended):
            status = "ok"
        else:
            # A range refused (even one the fan-out would skip) leaves keys unlisted.
            wrong = [o for o in ended if o.status in ("failed", "skipped")]
            if wrong:
                status = "failed"
                first = wrong[0]
                why = describe_error(first.error) if first.error is not None else first.reason
                error = f"{len(wrong)} of {len(outcomes)} key ranges failed: {why}"
            else:
                status = "cancelled"
        items = self._items[key]
        return SourceState(key, status, items, statistics, seconds, error, pages_before)


def describe_error(error: BaseException) -> str:
    """One line saying why a source failed: the AWS error code and message if there is one."""
    cause = error.error if isinstance(error, PageFetchError) else error
    code = error_code(cause)
    message = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
    return message if code is None or code in message else f"{code}: {message}"
