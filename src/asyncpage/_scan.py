"""parallel_scan: one DynamoDB ``Scan`` split into segments, paginated concurrently.

DynamoDB divides a table into ``TotalSegments`` disjoint segments; scanning each one with
its ``Segment`` number and merging the results gives every item exactly once.
:func:`parallel_scan` runs one :func:`~asyncpage.paginate` per segment through
:func:`~asyncpage.fan_out`, labelled by segment number::

    async with asyncpage.parallel_scan(ddb, TableName="orders", segments=8) as scan:
        async for tagged in scan.items():       # Tagged(source=segment, value=item)
            ...
    failed = {s: o.resume_token for s, o in scan.outcomes.items() if o.status == "failed"}
    # later: parallel_scan(ddb, TableName="orders", segments=8, resume=failed)
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from typing import Any, Final

from ._errors import InvalidPaginationError, InvalidPaginationTypeError
from ._fanout import FanOut, OnError, Order, fan_out
from ._iterator import AsyncPageIterator, paginate
from ._retry import Retry

__all__ = ["MAX_SEGMENTS", "parallel_scan"]

#: DynamoDB's upper bound for ``TotalSegments``.
MAX_SEGMENTS: Final = 1_000_000
#: Segments scanned at once when ``concurrency`` is not given: all of them, up to this.
DEFAULT_CONCURRENCY: Final = 64
_DEFAULT_RETRY: Final = Retry()


def parallel_scan(
    client: Any,
    /,
    *,
    segments: int = 4,
    concurrency: int | None = None,
    prefetch: int = 1,
    retry: Retry | None = _DEFAULT_RETRY,
    order: Order = "completed",
    on_error: OnError = "continue",
    buffer: int = 1,
    resume: Mapping[int, str | None] | None = None,
    **params: Any,
) -> FanOut[int]:
    """Scan a DynamoDB table in ``segments`` concurrent segments; a :class:`FanOut` to enter.

    ``params`` are ``Scan``'s (``TableName`` required; ``PaginationConfig`` may set
    ``PageSize``). Labels are segment numbers ``0 .. segments-1``; ``scan.items()``
    yields every item once. Every error is a failure (nothing is "skipped"); a failed
    segment's outcome carries the ``resume_token`` of the page it could not fetch.

    Args:
        segments: ``TotalSegments``, 1 to 1,000,000.
        concurrency: segments scanned at once; default all of them, up to 64.
        prefetch, retry: for each segment's :func:`~asyncpage.paginate`.
        order, on_error, buffer: as for :func:`~asyncpage.fan_out`.
        resume: ``{segment: resume_token}``: scan only these segments, each from its
            token (``None``: from its start), with the same ``segments`` as before.

    Raises:
        InvalidPaginationError: (a ``ValueError``; for a wrong type also a ``TypeError``)
            bad arguments, ``TableName`` missing, ``Segment``/``TotalSegments`` given (they
            are set per segment), or ``MaxItems``/``StartingToken`` in ``PaginationConfig``
            (use ``resume``). Checked before any request.
    """
    if isinstance(segments, bool) or not isinstance(segments, int):
        raise InvalidPaginationTypeError(f"segments must be an int, not {segments!r}")
    if not 1 <= segments <= MAX_SEGMENTS:
        raise InvalidPaginationError(
            f"segments must be between 1 and {MAX_SEGMENTS:,} (DynamoDB's TotalSegments), "
            f"not {segments}"
        )
    given = sorted({"Segment", "TotalSegments"} & params.keys())
    if given:
        raise InvalidPaginationError(
            f"parallel_scan sets {' and '.join(given)} for each segment; do not pass them"
        )
    if "TableName" not in params:
        raise InvalidPaginationError("parallel_scan needs TableName=")
    config = params.pop("PaginationConfig", None)
    if config is None:
        config = {}
    if not isinstance(config, Mapping):
        raise InvalidPaginationTypeError(f"PaginationConfig must be a dict, not {config!r}")
    for key in ("MaxItems", "StartingToken"):
        if key in config:
            hint = "use resume={segment: token}" if key == "StartingToken" else "it is per segment"
            raise InvalidPaginationError(f"parallel_scan does not take {key} ({hint})")
    if resume is None:
        starts: dict[int, str | None] = dict.fromkeys(range(segments))
    elif not isinstance(resume, Mapping):
        raise InvalidPaginationTypeError(
            f"resume must be a mapping of segment number to token, not {resume!r}"
        )
    else:
        starts = dict(resume)
        bad = [
            s
            for s in starts
            if isinstance(s, bool) or not isinstance(s, int) or s not in range(segments)
        ]
        if bad or not starts:
            raise InvalidPaginationError(
                f"resume must map segment numbers 0..{segments - 1} to tokens; got {resume!r}"
            )
    if concurrency is None:
        concurrency = min(len(starts), DEFAULT_CONCURRENCY)

    def segment(number: int) -> AsyncPageIterator:
        token = starts[number]
        segment_config = dict(config) if token is None else {**config, "StartingToken": token}
        return paginate(
            client,
            "scan",
            Segment=number,
            TotalSegments=segments,
            PaginationConfig=segment_config,
            **params,
        ).with_options(prefetch=prefetch, retry=retry)

    sources: dict[int, AsyncPageIterator | partial[AsyncPageIterator]] = {
        number: partial(segment, number) for number in starts
    }
    # Made now, so that bad parameters and tokens raise here, before any request.
    for number in starts if resume is not None else [next(iter(starts))]:
        sources[number] = segment(number)
    return fan_out(
        sources,
        concurrency=concurrency,
        per_endpoint=None,
        order=order,
        on_error=on_error,
        skip_codes=(),
        buffer=buffer,
    )
