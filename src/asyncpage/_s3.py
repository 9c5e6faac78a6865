"""parallel_list_objects: one S3 ``ListObjectsV2`` listing split over key ranges.

One listing is one token chain: page N+1 cannot be asked for before page N arrives. S3
keys are sorted, and ``StartAfter`` starts a listing anywhere, so the key space can be cut
into contiguous ranges ``(after, through]`` listed at once, each a
:func:`~asyncpage.fan_out` source (retries, limits, outcomes and resume tokens apply)::

    async with asyncpage.parallel_list_objects(s3, Bucket="logs", shards=16) as listing:
        async for obj in listing.items():       # the dicts of list_objects_v2's Contents
            ...
    failed = {r: o.resume_token for r, o in listing.outcomes.items() if o.status == "failed"}
    # later: parallel_list_objects(s3, Bucket="logs", resume=failed)

How the key space is split (the plan, made when the listing is entered):

1. The first page is asked for as one chain would. If it is the only page, that is the
   whole listing: one request. Its keys must be in order (a directory bucket's are not):
   if they are not, the listing is one chain.
2. Otherwise the first page is a range of its own, ``(None, last key]``, served from
   memory. Without a ``Delimiter`` (or ``StartAfter``), the bucket's ``/`` folders are
   listed first, level by level (``Delimiter="/"``, a page of names each), until there are
   ``2 * shards`` of them past the first page; five are counted, and if they hold about as
   many keys each (log buckets: ``logs/YYYY/DD/HH/``; partitioned tables), the ranges are
   runs of folders of about equal total, cut at folder names: no estimate of the key line
   is needed. A counted folder of more than a page with no folders inside (one flat
   folder holding most of the bucket) is sampled inside as in step 2b and cut where its
   estimates say, the others being taken to be of the small counted ones' size. A bucket
   with too few folders, or counted folders of very different sizes otherwise, goes to
   step 2b.
2b. The rest is sampled with small *probes* (``StartAfter=x, MaxKeys=20``), in
   rounds, all probes of a round at once. Probe points are spread over the key space as
   the sampled keys' alphabet sees it; a probe whose keys stop short of the next point
   gives a density, one that reaches it an exact count. Ranges estimated to be large are
   probed again inside, both evenly and geometrically close to the keys already seen (so
   that most keys under one prefix are found in one round, not in twenty). A probe that
   returns a key at or before its ``StartAfter`` means the endpoint ignores it: the
   listing is then one chain, from the first page's token.
3. The sampled intervals are grouped into ``shards`` ranges of about equal estimated size
   (fewer when the listing is small: a range is at least about a page).

A range stops at its end without reading past it: its pages are cut at ``through`` and
the cut page is its last. Its requests ask for no more keys than the plan's estimate says
are left (plus 10% and 50 keys; whole pages once past the estimate), so the last page
does not read a page of the next range only to drop it. The estimate is only as good as
the sample: ``benchmarks/README.md`` measures how even the ranges come out.

With a ``Delimiter``, every range boundary is a string with no delimiter after the
``Prefix``: a group of keys rolled up into one ``CommonPrefixes`` entry is then wholly on
one side of it, so each prefix is listed once, by one range.

Labels are :class:`KeyRange` values, in key order: ``ordered=True`` yields ranges one after
another, in global key order. ``resume`` takes ``{KeyRange: token}`` from the outcomes and
lists only those ranges, each from its token, with no new plan.
"""

from __future__ import annotations

import json
import math
from bisect import bisect_left, bisect_right
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import pairwise
from types import TracebackType
from typing import Any, Final, Literal, Self

import anyio

from ._errors import InvalidPaginationError, InvalidPaginationTypeError, PageFetchError
from ._fanout import FanOut, OnError, Tagged, fan_out
from ._iterator import AsyncPageIterator, PageStatistics, paginate
from ._outcome import Outcome
from ._retry import Retry

__all__ = [
    "KeyRange",
    "ListingPlan",
    "ObjectListing",
    "FirstPageError",
    "decode_ranges",
    "encode_ranges",
    "parallel_list_objects",
    "plan_ranges",
    "range_iterator",
]

_OPERATION: Final = "list_objects_v2"
_DEFAULT_RETRY: Final = Retry()
#: The folder separator a plan follows when the listing gives no Delimiter.
_FOLDER: Final = "/"
#: Folder levels a plan may list beyond ``probe_rounds``.
_EXTRA_LEVELS: Final = 3
#: ListObjectsV2's largest (and default) MaxKeys.
PAGE_SIZE: Final = 1000
#: Keys a probe asks for: enough for a density, little to parse.
PROBE_KEYS: Final = 20
#: Probes in flight at once while planning.
PROBE_CONCURRENCY: Final = 64
#: A range's requests ask for its estimated size times this, plus _SLACK, in all.
_MARGIN: Final = 1.1
_SLACK: Final = 50
#: Characters of a key (after the prefix) that place it in the key space.
_DEPTH: Final = 512
#: The most an interval's estimate may exceed its probe's keys by (a float's range).
_MAX_RATIO: Final = 10**9
#: The longest boundary sent as StartAfter, in UTF-8 bytes (S3 keys have at most 1,024).
_MAX_BOUNDARY: Final = 1000

PlanMethod = Literal["one page", "folders", "split", "unordered", "start-after ignored", "resumed"]


@dataclass(frozen=True, slots=True)
class KeyRange:
    """The keys ``after < key <= through`` of a listing (``None``: no bound on that side).

    The label of a range's source; plain data, so it pickles and can be stored.
    """

    after: str | None
    through: str | None

    def __repr__(self) -> str:
        return f"KeyRange({self.after!r}, {self.through!r})"


@dataclass(frozen=True, slots=True)
class ListingPlan:
    """How a listing was split, and what deciding it cost."""

    method: PlanMethod
    """``"one page"`` (the first page was all), ``"folders"`` (split along the bucket's
    ``/`` folders), ``"split"`` (by sampling), ``"unordered"`` (keys not in order: one
    chain), ``"start-after ignored"`` (one chain), ``"resumed"`` (no plan)."""
    ranges: tuple[KeyRange, ...]
    requests: int = 0
    """Requests made to plan: the first page and the probes."""
    rounds: int = 0
    """Probe rounds."""
    estimated_keys: int = 0
    """The sampled estimate of keys (and common prefixes) in the listing."""
    estimates: tuple[int, ...] = field(default=(), repr=False)
    """The estimate for each range, in the order of ``ranges``."""


def parallel_list_objects(
    client: Any,
    /,
    *,
    shards: int = 8,
    ordered: bool = False,
    concurrency: int | None = None,
    retry: Retry | None = _DEFAULT_RETRY,
    on_error: OnError = "continue",
    buffer: int = 1,
    resume: Mapping[KeyRange, str | None] | None = None,
    probe_rounds: int = 3,
    **params: Any,
) -> ObjectListing:
    """List ``Bucket``/``Prefix`` over ``shards`` key ranges at once; enter the result.

    ``params`` are ``ListObjectsV2``'s (``Bucket`` required; ``Prefix``, ``Delimiter``,
    ``StartAfter``, ``FetchOwner``...; ``PaginationConfig`` may set ``PageSize``). The
    listing holds exactly the objects (and ``CommonPrefixes``) of one chain, each once;
    within a range in key order, and with ``ordered=True`` in global key order.

    Args:
        shards: ranges the listing is split into (at most; fewer when it is small), and
            ranges listed at once unless ``concurrency`` says otherwise. The first page
            is a range of its own on top.
        ordered: yield range after range, in key order (the later ranges are fetched
            ahead, ``buffer`` pages each).
        concurrency: ranges listed at once (default: ``shards + 1``).
        retry: the page-level :class:`Retry` of every request (probes included).
        on_error, buffer: as for :func:`~asyncpage.fan_out` (errors are never skipped).
        resume: ``{KeyRange: token}`` from a listing's outcomes: list only these ranges,
            each from its token (``None``: from the range's start). No plan is made.
        probe_rounds: sampling rounds at most (0: split on the first page's keys only).

    Raises:
        InvalidPaginationError: (a ``ValueError``; a ``TypeError`` too for a wrong type)
            bad arguments, ``Bucket`` missing, ``ContinuationToken`` or ``MaxKeys`` given
            (use ``resume`` and ``PageSize``), ``MaxItems``/``StartingToken`` in
            ``PaginationConfig``. Checked before any request.

    A request refused while planning (``AccessDenied`` on a probe, say) is raised from
    ``async with`` as :class:`~asyncpage.PageFetchError`: it is the caller's error, and no
    key is skipped because of it.
    """
    for name, value in (("shards", shards), ("probe_rounds", probe_rounds)):
        if isinstance(value, bool) or not isinstance(value, int):
            raise InvalidPaginationTypeError(f"{name} must be an int, not {value!r}")
    if shards < 1:
        raise InvalidPaginationError(f"shards must be at least 1, not {shards}")
    if probe_rounds < 0:
        raise InvalidPaginationError(f"probe_rounds must be at least 0, not {probe_rounds}")
    if "Bucket" not in params:
        raise InvalidPaginationError("parallel_list_objects needs Bucket=")
    given = sorted({"ContinuationToken", "MaxKeys"} & params.keys())
    if given:
        raise InvalidPaginationError(
            f"parallel_list_objects does not take {' or '.join(given)} "
            "(use resume={range: token} and PaginationConfig={'PageSize': n})"
        )
    config = params.pop("PaginationConfig", None) or {}
    if not isinstance(config, Mapping):
        raise InvalidPaginationTypeError(f"PaginationConfig must be a dict, not {config!r}")
    for key in ("MaxItems", "StartingToken"):
        if key in config:
            hint = "use resume={range: token}" if key == "StartingToken" else "it is per range"
            raise InvalidPaginationError(f"parallel_list_objects does not take {key} ({hint})")
    page_size = config.get("PageSize", PAGE_SIZE)
    if isinstance(page_size, bool) or not isinstance(page_size, int) or page_size < 1:
        raise InvalidPaginationError(f"PageSize must be an int >= 1, not {page_size!r}")
    starts: dict[KeyRange, str | None] | None = None
    if resume is not None:
        if not isinstance(resume, Mapping):
            raise InvalidPaginationTypeError(
                f"resume must be a mapping of KeyRange to token, not {resume!r}"
            )
        if not resume or not all(isinstance(r, KeyRange) for r in resume):
            raise InvalidPaginationError(
                f"resume must map KeyRange values (the outcomes' labels) to tokens; got {resume!r}"
            )
        starts = dict(resume)
    if concurrency is not None and (
        isinstance(concurrency, bool) or not isinstance(concurrency, int) or concurrency < 1
    ):
        raise InvalidPaginationError(f"concurrency must be an int >= 1, not {concurrency!r}")
    # Made now so that a bad client or parameter raises here, before any request.
    paginate(client, _OPERATION, **params).with_options(prefetch=0, retry=retry)
    return ObjectListing(
        client,
        params,
        page_size=page_size,
        shards=shards,
        ordered=ordered,
        concurrency=concurrency,
        retry=retry,
        on_error=on_error,
        buffer=buffer,
        resume=starts,
        probe_rounds=probe_rounds,
    )


class ObjectListing:
    """A listing split over key ranges; made by :func:`parallel_list_objects`. Enter it.

    Iterate it once, one way: ``items()`` (``Contents``), ``common_prefixes()``
    (``CommonPrefixes``), or ``async for tagged in listing`` (pages, each cut to its range
    and tagged with its :class:`KeyRange`).
    """

    def __init__(
        self,
        client: Any,
        params: dict[str, Any],
        *,
        page_size: int,
        shards: int,
        ordered: bool,
        concurrency: int | None,
        retry: Retry | None,
        on_error: OnError,
        buffer: int,
        resume: dict[KeyRange, str | None] | None,
        probe_rounds: int,
    ) -> None:
        self._client = client
        self._params = params
        self._page_size = page_size
        self._shards = shards
        self._ordered = ordered
        self._concurrency = concurrency
        self._retry = retry
        self._on_error: OnError = on_error
        self._buffer = buffer
        self._resume = resume
        self._probe_rounds = probe_rounds
        self._plan: ListingPlan | None = None
        self._fan_out: FanOut[KeyRange] | None = None

    @property
    def plan(self) -> ListingPlan:
        """How the listing was split (known once entered)."""
        if self._plan is None:
            raise RuntimeError("the listing is planned when entered: use `async with`")
        return self._plan

    @property
    def outcomes(self) -> Mapping[KeyRange, Outcome]:
        """Each range's :class:`~asyncpage.Outcome` (with its ``resume_token``), in key order."""
        return self._entered().outcomes

    def statistics(self) -> PageStatistics:
        """The ranges' iterators' statistics, summed (planning requests not included)."""
        return self._entered().statistics()

    def _entered(self) -> FanOut[KeyRange]:
        if self._fan_out is None:
            raise RuntimeError("enter the listing first: `async with parallel_list_objects(...)`")
        return self._fan_out

    async def __aenter__(self) -> Self:
        if self._resume is not None:
            first: dict[KeyRange, dict[str, Any]] = {}
            self._plan = ListingPlan("resumed", tuple(self._resume))
            starts = self._resume
        else:
            self._plan, first = await plan_ranges(
                self._client,
                shards=self._shards,
                page_size=self._page_size,
                retry=self._retry,
                probe_rounds=self._probe_rounds,
                **self._params,
            )
            starts = dict.fromkeys(self._plan.ranges)
        plan = self._plan
        estimates = dict(zip(plan.ranges, plan.estimates, strict=False))
        sources = {
            key_range: _source_factory(
                self._client,
                self._params,
                key_range,
                token,
                first.get(key_range),
                estimates.get(key_range),
                self._page_size,
                self._retry,
            )
            for key_range, token in starts.items()
        }
        concurrency = self._concurrency or self._shards + 1
        self._fan_out = fan_out(
            sources,
            concurrency=concurrency,
            per_endpoint=None,
            order="source" if self._ordered else "completed",
            on_error=self._on_error,
            skip_codes=(),
            buffer=self._buffer,
        )
        await self._fan_out.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool | None:
        if self._fan_out is not None:
            await self._fan_out.__aexit__(exc_type, exc, tb)
        return None

    def __aiter__(self) -> AsyncIterator[Tagged[KeyRange, dict[str, Any]]]:
        return self._entered().__aiter__()

    def items(self) -> AsyncIterator[dict[str, Any]]:
        """Every object (a ``Contents`` dict), each once; resume tokens exact to the item."""
        return self._entered().item_values()

    def common_prefixes(self) -> AsyncIterator[dict[str, Any]]:
        """Every ``CommonPrefixes`` entry (with a ``Delimiter``), each once."""
        # A page without CommonPrefixes searches to None (botocore's search()): skip it.
        return _Untag(self._entered().search("CommonPrefixes"), skip_none=True)


class _Untag:
    """The values of a fan-out's tagged stream."""

    __slots__ = ("_skip_none", "_tagged")

    def __init__(self, tagged: AsyncIterator[Tagged[Any, Any]], *, skip_none: bool = False) -> None:
        self._tagged = tagged
        self._skip_none = skip_none

    def __aiter__(self) -> Self:
        return self

    async def __anext__(self) -> Any:
        while True:
            value = (await self._tagged.__anext__()).value
            if value is not None or not self._skip_none:
                return value


def _source_factory(
    client: Any,
    params: Mapping[str, Any],
    key_range: KeyRange,
    token: str | None,
    first: dict[str, Any] | None,
    estimate: int | None,
    page_size: int,
    retry: Retry | None,
) -> Callable[[], AsyncPageIterator]:
    return partial(
        range_iterator,
        client,
        key_range,
        token=token,
        first_page=first,
        estimate=estimate,
        page_size=page_size,
        retry=retry,
        **params,
    )


def range_iterator(
    client: Any,
    key_range: KeyRange,
    /,
    *,
    token: str | None = None,
    first_page: dict[str, Any] | None = None,
    estimate: int | None = None,
    page_size: int = PAGE_SIZE,
    retry: Retry | None = _DEFAULT_RETRY,
    **params: Any,
) -> AsyncPageIterator:
    """The pages of one range of a listing, from its start or from ``token``.

    For a runner that keeps ranges and tokens itself (the inventory's store): a range's
    ``resume_token`` continues it here. ``first_page`` is the plan's cached first page
    (used once, only from the range's start); ``estimate`` its planned size.
    """
    source_params = dict(params)
    if key_range.after is not None:
        source_params["StartAfter"] = key_range.after
    config: dict[str, Any] = {"PageSize": page_size}
    if token is not None:
        config["StartingToken"] = token
    call = _RangeCall(
        client,
        key_range.through,
        first_page if token is None else None,
        estimate if token is None else None,
    )
    return AsyncPageIterator(
        client,
        _OPERATION,
        {**source_params, "PaginationConfig": config},
        prefetch=0,
        retry=retry,
        call=call,
    )


async def plan_ranges(
    client: Any,
    /,
    *,
    shards: int = 8,
    page_size: int = PAGE_SIZE,
    retry: Retry | None = _DEFAULT_RETRY,
    probe_rounds: int = 3,
    **params: Any,
) -> tuple[ListingPlan, dict[KeyRange, dict[str, Any]]]:
    """The plan of :func:`parallel_list_objects`, and the first pages it already fetched
    (by range), for a runner that lists the ranges itself with :func:`range_iterator`."""
    return await _Planner(client, params, page_size, shards, retry).plan(probe_rounds)


class _RangeCall:
    """``list_objects_v2`` for one range: the first page from memory if planning fetched
    it, and every page cut at the range's end (the cut page is the range's last).

    With the plan's estimate of the range's size, a request asks for no more than the
    estimate says is left (and a margin), so that the last page does not read a whole page
    of the next range only to drop it.
    """

    __slots__ = ("_estimate", "_first", "_method", "_seen", "_through")

    def __init__(
        self,
        client: Any,
        through: str | None,
        first: dict[str, Any] | None,
        estimate: int | None,
    ) -> None:
        self._method = client.list_objects_v2
        self._through = through
        self._first = first
        self._estimate = estimate
        self._seen = 0

    async def __call__(self, **params: Any) -> dict[str, Any]:
        first, self._first = self._first, None
        if first is not None and "ContinuationToken" not in params:
            page = first
        else:
            if self._estimate is not None and self._through is not None:
                left = int(self._estimate * _MARGIN) + _SLACK - self._seen
                page_size = params.get("MaxKeys", PAGE_SIZE)
                params["MaxKeys"] = min(page_size, left) if left > 0 else page_size
            page = await self._method(**params)
        self._seen += page.get("KeyCount", 0) or 0
        if self._through is not None:
            cut_page(page, self._through)
        return page


#: What a token of several ranges says it is (:func:`encode_ranges`).
_RANGES_FORMAT: Final = "asyncpage.ranges/1"


def encode_ranges(ranges: Mapping[KeyRange, str | None]) -> str:
    """One token for the unfinished ranges of a listing: ``{range: its token}``.

    A range's token is its own ``resume_token`` (``None``: from the range's start). What
    the inventory's store keeps for a listing split over ranges; :func:`decode_ranges`
    reads it back. JSON, so that ``sqlite3`` shows what is left::

        {"format":"asyncpage.ranges/1","ranges":[["k0999","k1999","eyJ..."],["k1999",null,null]]}
    """
    listed = [[key_range.after, key_range.through, token] for key_range, token in ranges.items()]
    return json.dumps(
        {"format": _RANGES_FORMAT, "ranges": listed}, ensure_ascii=False, separators=(",", ":")
    )


def decode_ranges(token: str) -> dict[KeyRange, str | None] | None:
    """The ranges of a token :func:`encode_ranges` made; ``None`` for any other token.

    botocore's own tokens are base64 text, never a JSON object, so the two cannot be
    mistaken for each other. Raises :class:`ValueError` for a token that says it is one
    of ours but is not well formed (a store edited by hand, say).
    """
    if not token.startswith("{"):
        return None
    try:
        data = json.loads(token)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("format") != _RANGES_FORMAT:
        return None
    listed = data.get("ranges")

    def bound(value: object) -> bool:
        return value is None or isinstance(value, str)

    if not isinstance(listed, list) or not all(
        isinstance(entry, list) and len(entry) == 3 and all(map(bound, entry)) for entry in listed
    ):
        raise ValueError(f"not a well-formed token of key ranges: {token[:200]!r}")
    ranges = {KeyRange(after, through): resume for after, through, resume in listed}
    if not ranges or any(
        r.after is not None and r.through is not None and r.after >= r.through for r in ranges
    ):
        # encode_ranges never writes one: a finished listing has no token at all.
        raise ValueError(f"not a well-formed token of key ranges: {token[:200]!r}")
    return ranges


def cut_page(page: dict[str, Any], through: str) -> None:
    """Keep the keys and prefixes ``<= through``; if the page reaches past, end the listing."""
    done = False
    for name, field_name in (("Contents", "Key"), ("CommonPrefixes", "Prefix")):
        entries = page.get(name)
        if not entries:
            continue
        if entries[-1][field_name] >= through:
            done = True
            keep = bisect_right([e[field_name] for e in entries], through)
            if keep < len(entries):
                if keep:
                    page[name] = entries[:keep]
                else:
                    del page[name]
    if done:
        page["IsTruncated"] = False
        page.pop("NextContinuationToken", None)
        page["KeyCount"] = len(page.get("Contents", ())) + len(page.get("CommonPrefixes", ()))


# -- planning ------------------------------------------------------------------------


class _StartAfterIgnored(Exception):
    pass


class FirstPageError(PageFetchError):
    """The listing's first page was refused while planning: the listing was not begun.

    A :class:`~asyncpage.PageFetchError` like any other; a runner may judge it as it
    judges a source's first page (``AccessDenied`` there means "not here", while a refused
    probe after it is a failure)."""


@dataclass(slots=True)
class _Probe:
    after: str
    starts: list[str]  # keys and prefixes after ``after``, in order
    truncated: bool


def _starts(page: Mapping[str, Any]) -> tuple[list[str], bool]:
    """The page's keys and prefixes merged in order, and whether each kind was in order."""
    keys = [c["Key"] for c in page.get("Contents", ())]
    prefixes = [p["Prefix"] for p in page.get("CommonPrefixes", ())]
    in_order = all(a < b for a, b in pairwise(keys)) and all(a < b for a, b in pairwise(prefixes))
    return sorted(keys + prefixes), in_order


class _Keyspace:
    """Keys placed on a line: the characters after ``prefix`` as digits of the sampled
    alphabet, exactly (integers of ``_DEPTH`` digits), so that keys which share a long
    beginning still get places of their own."""

    def __init__(self, prefix: str, samples: Iterable[str]) -> None:
        chars = {ch for s in samples for ch in s[len(prefix) : len(prefix) + _DEPTH]}
        chars.update("/0a")  # a floor for tiny samples
        self._base = prefix
        self._alphabet = sorted(chars)
        # Digit 0 is "the key ended"; an unknown character sits between its neighbours
        # (digits are doubled to make room for that half step).
        self._radix = 2 * len(self._alphabet) + 2
        self.end: int = self._radix**_DEPTH

    def place(self, key: str) -> int:
        alphabet, base = self._alphabet, self._base
        if not key.startswith(base):
            return 0 if key < base else self.end
        place = 0
        tail = key[len(base) : len(base) + _DEPTH]
        for ch in tail:
            i = bisect_left(alphabet, ch)
            known = i < len(alphabet) and alphabet[i] == ch
            place = place * self._radix + (2 * i + 2 if known else 2 * i + 1)
        scale: int = self._radix ** (_DEPTH - len(tail))
        return place * scale

    def key_at(self, place: int) -> str:
        """A string at (about) ``place``: the inverse of :meth:`place`."""
        alphabet, radix = self._alphabet, self._radix
        digits = []
        for _ in range(_DEPTH):
            place, digit = divmod(place, radix)
            digits.append(digit)
        chars = []
        for digit in reversed(digits):
            if digit == 0:
                break  # the key ends here
            i = digit // 2
            if digit % 2 == 0:
                chars.append(alphabet[i - 1])
                continue
            # Between alphabet[i - 1] and alphabet[i]: a character in between if any.
            lower = alphabet[i - 1] if i else None
            between = chr(ord(lower) + 1) if lower is not None else None
            # Printable only: a boundary is echoed in XML, where control characters fail.
            if (
                between is not None
                and between.isprintable()
                and (i == len(alphabet) or between < alphabet[i])
            ):
                chars.append(between)
            else:
                chars.append(lower if lower is not None else alphabet[0])
        key = self._base + "".join(chars)
        while len(key.encode()) > _MAX_BOUNDARY:
            key = key[:-1]
        return key


class _Planner:
    def __init__(
        self,
        client: Any,
        params: Mapping[str, Any],
        page_size: int,
        shards: int,
        retry: Retry | None,
    ) -> None:
        self._client = client
        self._params = dict(params)
        self._page_size = page_size
        self._shards = shards
        self._retry = retry
        self._base: str = params.get("Prefix", "") or ""
        self._delimiter: str | None = params.get("Delimiter") or None
        self.requests = 0

    async def _page(self, start_after: str | None, size: int, **more: Any) -> dict[str, Any]:
        params = {**self._params, **more}
        if start_after is not None:
            params["StartAfter"] = start_after
        self.requests += 1
        iterator = paginate(
            self._client, _OPERATION, PaginationConfig={"PageSize": size}, **params
        ).with_options(prefetch=0, retry=self._retry)
        try:
            async for page in iterator:
                result: dict[str, Any] = page
                return result
        finally:
            await iterator.aclose()
        raise AssertionError("a listing has at least one page")  # pragma: no cover

    async def plan(self, rounds: int) -> tuple[ListingPlan, dict[KeyRange, dict[str, Any]]]:
        try:
            head = await self._page(None, self._page_size)
        except PageFetchError as exc:
            raise FirstPageError(
                str(exc), error=exc.error, resume_token=exc.resume_token, attempts=exc.attempts
            ) from exc.error
        everything = KeyRange(None, None)
        starts, in_order = _starts(head)
        if not in_order:
            return ListingPlan("unordered", (everything,), self.requests), {everything: head}
        if not head.get("IsTruncated") or not starts:
            return (
                ListingPlan("one page", (everything,), self.requests, 0, len(starts)),
                {everything: head},
            )
        head_end = self._boundary(
            starts[-1], exact=bool(head.get("Contents")) and _is_key(head, starts[-1])
        )
        method: PlanMethod = "split"
        try:
            folders = None
            folder_plan = self._shards > 1 and self._delimiter is None
            if rounds and folder_plan and "StartAfter" not in self._params:
                folders = await self._folders(starts, head_end, rounds)
            if folders is not None:
                method = "folders"
                boundaries, estimates, done_rounds = folders
            else:
                probes, done_rounds = await self._sample(head_end, starts, rounds)
                boundaries, estimates = self._group(head_end, probes, starts)
        except _StartAfterIgnored:
            return (
                ListingPlan("start-after ignored", (everything,), self.requests),
                {everything: head},
            )
        ranges = [KeyRange(None, head_end)]
        head_count = bisect_right(starts, head_end)
        previous = head_end
        for boundary in boundaries:
            ranges.append(KeyRange(previous, boundary))
            previous = boundary
        ranges.append(KeyRange(previous, None))
        plan = ListingPlan(
            method,
            tuple(ranges),
            self.requests,
            done_rounds,
            head_count + sum(estimates),
            (head_count, *estimates),
        )
        return plan, {ranges[0]: head}

    async def _children(self, prefix: str) -> tuple[list[str], list[str], bool]:
        """One ``Delimiter="/"`` page under ``prefix``: its folders, its keys, truncated?"""
        page = await self._page(None, PAGE_SIZE, Prefix=prefix, Delimiter=_FOLDER)
        folders = [p["Prefix"] for p in page.get("CommonPrefixes", ())]
        keys = [c["Key"] for c in page.get("Contents", ())]
        return folders, keys, bool(page.get("IsTruncated"))

    async def _folders(
        self, head_starts: list[str], head_end: str, rounds: int
    ) -> tuple[list[str], list[int], int] | None:
        """Boundaries along the bucket's ``/`` folders, or ``None`` if it has too few.

        Folders are listed level by level (``Delimiter="/"``, all of a level at once)
        until there are ``2 * shards`` of them past the first page (and the first page is
        not inside one of them), and five of them are counted: folders of one level are
        taken to be of about one size (log buckets, partitioned tables), which no sampling
        of the key line sees as well. Where that is not so, nothing is guessed: a bucket
        with too few folders, counted folders of very different sizes (one holding most of
        the bucket, say), or a level too wide to list in a round is left to the sampler.

        One exception: counted folders that are each more than a page and hold no folders
        of their own (one flat folder with most of a bucket: ``hot/``) beside counted
        folders of about one size. Those are sampled inside, as the sampler samples a
        listing, and cut where their estimates say; the others are taken to be of the
        small ones' size.
        """
        head_first = head_starts[0]
        units: list[tuple[str, bool]] = [(self._base, True)]  # (folder or key, is folder)
        done = 0

        def ahead(unit: str, folder: bool) -> bool:
            # Past the first page (a folder the first page ends inside counts).
            return unit > head_end or (folder and head_end.startswith(unit))

        def folders_ahead() -> list[str]:
            return [u for u, folder in units if folder and ahead(u, folder)]

        def head_inside(folders: list[str]) -> bool:
            # The first page lies inside the first folder: how big is that folder?
            return (
                bool(folders)
                and head_first.startswith(folders[0])
                and head_end.startswith(folders[0])
            )

        # Levels to descend: a few more than the sampler's rounds (folders are cheap to
        # list: a page of names), as deep as log buckets' year/month/day/hour.
        while done < rounds + _EXTRA_LEVELS:
            folders = folders_ahead()
            if len(folders) >= 2 * self._shards and not head_inside(folders):
                break
            if not folders or len(folders) > PROBE_CONCURRENCY:
                break
            listed = await self._list_children(folders)
            done += 1
            deeper: list[tuple[str, bool]] = []
            for unit, folder in units:
                found = listed.get(unit) if folder else None
                if found is None or found[2] or not found[0]:
                    deeper.append((unit, folder))  # a key, a leaf, or too many to see
                    continue
                deeper += sorted([(f, True) for f in found[0]] + [(k, False) for k in found[1]])
            if deeper == units:
                break
            units = deeper
        folders = folders_ahead()
        if len(folders) < 2 or folders[0] == self._base:
            return None
        # How many keys a folder holds: a few counted, spread over the folders, the one
        # the first page ends in included (it may be most of the bucket).
        sample = list(dict.fromkeys(folders[round(j * (len(folders) - 1) / 4)] for j in range(5)))
        # And one probe past the first page, as the ranges will ask: an endpoint that
        # ignores StartAfter must be found out here, as the sampler finds it out.
        counted: dict[str, tuple[list[str], list[str], bool]] = {}

        async def count() -> None:
            counted.update(await self._list_children(sample))

        await _at_once([partial(self._probe_all, [head_end]), count])
        done += 1
        big = {f for f, (found, _, truncated) in counted.items() if truncated and not found}
        sizes = [
            2 * PAGE_SIZE if truncated else len(keys) + PAGE_SIZE * len(found) // 2
            for f, (found, keys, truncated) in counted.items()
            if f not in big
        ]
        if not sizes or (max(sizes) > 4 * min(sizes) and max(sizes) >= self._page_size):
            return None  # folders of very different sizes: the sampler measures them
        if len(folders) < self._shards and not big:
            return None  # too few to make the ranges asked for, and none to cut inside
        size = max(1.0, sum(sizes) / len(sizes))
        # Each big flat folder sampled inside: (weight, boundary after it) for its pieces.
        pieces: dict[str, list[tuple[float, str]]] = {}
        for name in sorted(big):
            pieces[name], used = await self._inside(
                name, counted[name][1], head_starts, head_end, rounds
            )
            done = max(done, 1 + used)
        # The units past the first page, weighed: (weight, where a boundary may follow it).
        ahead_units = [(u, f) for u, f in units if ahead(u, f)]
        weighed: list[tuple[float, str | None]] = []
        for (unit, folder), following in zip(ahead_units, [*ahead_units[1:], None], strict=True):
            cut = _cut_after(unit, folder, following)
            if folder and unit in pieces:
                inner = pieces[unit]
                weighed += inner[:-1]
                weighed.append((inner[-1][0], cut))
            else:
                weighed.append((size if folder else 1.0, cut))
        total = sum(w for w, _ in weighed)
        shards = max(1, min(self._shards, round(total / self._page_size)))
        target = total / shards
        boundaries: list[str] = []
        estimates: list[int] = []
        passed = cut_at = 0.0  # the weight before this unit, and at the last boundary
        for (weight, cut), (following_weight, _) in pairwise(weighed):
            passed += weight
            # Cut where the running total is nearest the next multiple of the target (no
            # drift: the last range is not left what early cuts did not take).
            if len(boundaries) == shards - 1 or passed + following_weight / 2 < target * (
                len(boundaries) + 1
            ):
                continue
            if cut is not None and cut > head_end:
                boundaries.append(cut)
                estimates.append(round(passed - cut_at))
                cut_at = passed
        estimates.append(round(total - cut_at))
        return boundaries, estimates, done

    async def _inside(
        self,
        folder: str,
        first_keys: list[str],
        head_starts: list[str],
        head_end: str,
        rounds: int,
    ) -> tuple[list[tuple[float, str]], int]:
        """A big flat folder cut by the sampler: its pieces past the first page, each
        (estimated keys, the boundary it ends at; the last one's is the folder's end).

        The folder's first keys (its count) are its "first page"; if the listing's first
        page ends inside it, sampling starts there instead.
        """
        inner = _Planner(
            self._client, {**self._params, "Prefix": folder}, PAGE_SIZE, self._shards, self._retry
        )
        if head_end.startswith(folder):
            start, starts = head_end, [k for k in head_starts if k.startswith(folder)]
            first: list[tuple[float, str]] = []
        else:
            start, starts = first_keys[-1], first_keys
            first = [(float(len(first_keys)), start)]
        probes, used = await inner._sample(start, starts, rounds)
        self.requests += inner.requests
        boundaries, estimates = inner._group(start, probes, starts)
        ends = [*boundaries, folder]  # the last piece ends with the folder
        return first + [(float(e), end) for e, end in zip(estimates, ends, strict=True)], used

    async def _list_children(
        self, folders: Sequence[str]
    ) -> dict[str, tuple[list[str], list[str], bool]]:
        listed: dict[str, tuple[list[str], list[str], bool]] = {}

        async def list_one(folder: str) -> None:
            listed[folder] = await self._children(folder)

        await _at_once(partial(list_one, folder) for folder in folders)
        return listed

    def _boundary(self, key: str, *, exact: bool) -> str:
        """A range boundary at (or just before) ``key``: with a Delimiter, cut before the
        first delimiter after the prefix, so no rolled-up group straddles it."""
        delimiter = self._delimiter
        if delimiter is None or exact:
            return key
        at = key.find(delimiter, len(self._base))
        return key if at < 0 else key[:at]

    async def _probe_all(self, points: Sequence[str]) -> list[_Probe]:
        results: dict[str, _Probe] = {}

        async def probe(after: str) -> None:
            page = await self._page(after, PROBE_KEYS)
            starts, in_order = _starts(page)
            if not in_order or (starts and starts[0] <= after):
                raise _StartAfterIgnored
            results[after] = _Probe(after, starts, bool(page.get("IsTruncated")))

        await _at_once(partial(probe, point) for point in points)
        return [results[p] for p in points]

    async def _sample(
        self, head_end: str, head_starts: list[str], rounds: int
    ) -> tuple[list[_Probe], int]:
        """Probe the key space after ``head_end`` in up to ``rounds`` rounds."""
        space = _Keyspace(self._base, [*head_starts, head_end])
        low = space.place(head_end)
        count = min(2 * self._shards, PROBE_CONCURRENCY) if rounds else 1
        points = {head_end}
        for place in _spread(low, space.end, count):
            points.add(self._boundary(space.key_at(place), exact=False))
        probes = await self._probe_all(sorted(p for p in points if p >= head_end))
        done = 1
        while done < rounds:
            space = _Keyspace(self._base, [*head_starts, *(s for p in probes for s in p.starts)])
            intervals = _estimate(probes, space)
            total = sum(e for e, _ in intervals)
            target = max(total / self._shards, self._page_size)
            big = sorted(
                (
                    i
                    for i, (e, known) in enumerate(intervals)
                    if known is not None and e > 1.5 * target
                ),
                key=lambda i: -intervals[i][0],
            )[: self._shards]
            new: set[str] = set()
            for i in big:
                estimate, known = intervals[i]
                assert known is not None
                lo = space.place(known)
                hi = space.place(probes[i + 1].after) if i + 1 < len(probes) else space.end
                if hi <= lo:
                    continue
                parts = min(16, math.ceil(estimate / target) + 1)
                for place in _spread(lo, hi, parts):
                    point = self._boundary(space.key_at(place), exact=False)
                    if point > known:
                        new.add(point)
            new -= {p.after for p in probes}
            if not new:
                break
            probes = sorted([*probes, *await self._probe_all(sorted(new))], key=lambda p: p.after)
            done += 1
        return probes, done

    def _group(
        self, head_end: str, probes: list[_Probe], head_starts: list[str]
    ) -> tuple[list[str], list[int]]:
        """Boundaries grouping the sampled intervals into ranges of about equal estimate.

        An interval estimated larger than a range is cut, evenly on the key line, between
        the last key its probe saw and its end: boundaries need not have been probed.
        """
        space = _Keyspace(self._base, [*head_starts, *(s for p in probes for s in p.starts)])
        intervals = _estimate(probes, space)
        total = sum(e for e, _ in intervals)
        shards = max(1, min(self._shards, round(total / self._page_size)))
        target = total / shards
        pieces: list[tuple[str | None, float]] = []  # (end of the piece, its estimate)
        for i, (estimate, known) in enumerate(intervals):
            end = probes[i + 1].after if i + 1 < len(probes) else None
            parts = math.ceil(estimate / target - 0.25) if known is not None else 1
            if parts > 1:
                assert known is not None
                low = space.place(known)
                high = space.place(end) if end is not None else space.end
                previous = known
                for j in range(1, parts):
                    cut = self._boundary(space.key_at(low + (high - low) * j // parts), exact=False)
                    if cut > previous and (end is None or cut < end):
                        pieces.append((cut, estimate / parts))
                        previous = cut
                pieces.append((end, estimate - estimate / parts * (len(pieces) and parts - 1)))
            else:
                pieces.append((end, estimate))
        boundaries: list[str] = []
        estimates: list[int] = []
        running = 0.0
        for end, estimate in pieces:
            running += estimate
            if end is not None and running >= target * 0.9 and len(boundaries) < shards - 1:
                boundaries.append(end)
                estimates.append(round(running))
                running = 0.0
        estimates.append(round(running))
        return boundaries, estimates


async def _at_once(calls: Iterable[Callable[[], Awaitable[object]]]) -> None:
    """Await ``calls`` at once, at most :data:`PROBE_CONCURRENCY` in flight; then raise
    the first error, as it is (outside the task group: never an ``ExceptionGroup``), an
    endpoint's error before the verdict that it ignores ``StartAfter``."""
    errors: list[Exception] = []
    limiter = anyio.CapacityLimiter(PROBE_CONCURRENCY)

    async def run(call: Callable[[], Awaitable[object]]) -> None:
        async with limiter:
            try:
                await call()
            except Exception as exc:  # raised below
                errors.append(exc)

    async with anyio.create_task_group() as group:
        for call in calls:
            group.start_soon(run, call)
    for error in errors:
        if not isinstance(error, _StartAfterIgnored):
            raise error
    if errors:
        raise errors[0]


def _cut_after(unit: str, folder: bool, following: tuple[str, bool] | None) -> str | None:
    """Where a range may end after ``unit`` (a folder or a key) of a folder plan: a string
    every key of the unit is at or before and every later key after. The next folder's
    name, or the key itself; none after a folder followed by a key, or after the last."""
    if following is None:
        return None
    if following[1]:
        return following[0]
    return None if folder else unit


def _spread(low: int, high: int, count: int) -> list[int]:
    """``count - 1`` places between ``low`` and ``high``: half evenly spaced, half closing in
    on ``low`` geometrically (keys cluster: most of a bucket may sit under one prefix, a
    sliver of the line just above the keys already seen)."""
    span = high - low
    if count < 2 or span < 2:
        return []
    even = [low + span * j // count for j in range(1, count)]
    close = [low + span // 16**j for j in range(1, 13) if span // 16**j]
    return sorted(set(even + close))


def _is_key(page: Mapping[str, Any], start: str) -> bool:
    contents: list[dict[str, Any]] = page.get("Contents") or []
    return bool(contents) and contents[-1]["Key"] == start


def _estimate(probes: list[_Probe], space: _Keyspace) -> list[tuple[float, str | None]]:
    """For the interval after each probe point: (estimated entries, last entry seen if the
    probe did not reach the interval's end, else None: the count is exact)."""
    out: list[tuple[float, str | None]] = []
    for i, probe in enumerate(probes):
        end = probes[i + 1].after if i + 1 < len(probes) else None
        starts = probe.starts
        inside = len(starts) if end is None else bisect_right(starts, end)
        if not probe.truncated or inside < len(starts):
            out.append((float(inside), None))
            continue
        start = space.place(probe.after)
        seen = space.place(starts[-1]) - start
        whole = (space.place(end) if end is not None else space.end) - start
        # Places are integers of hundreds of digits: keep the ratio within a float.
        ratio = (whole / seen if whole // seen < _MAX_RATIO else _MAX_RATIO) if seen > 0 else 50
        estimate = len(starts) * ratio
        out.append((max(estimate, float(len(starts)) + 1), starts[-1]))
    return out
