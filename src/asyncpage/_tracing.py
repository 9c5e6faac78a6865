"""OpenTelemetry spans for listings and fan-out sources, when opentelemetry-api is installed.

Tracing instruments such as opentelemetry-instrumentation-botocore and aiobotocore-otel
make a span per AWS call. asyncpage adds their parent: a span per listing (one iteration of
an :class:`~asyncpage.AsyncPageIterator`) and, in a fan-out, one per source, so that the
calls of one listing hang together. A span carries::

    rpc.system "aws-api"    rpc.service "S3"    rpc.method "ListObjectsV2"
    cloud.region            asyncpage.source (a fan-out source's label, as str)
    asyncpage.pages         asyncpage.items     asyncpage.retries
    asyncpage.outcome       "ok" | "failed" | "cancelled" | "skipped" (fan-out)
    asyncpage.skip_reason   error.type (the AWS error code, or the exception's class)

and an event per backoff wait: ``asyncpage.backoff`` (the retry number, the wait the
policy chose, the error's kind and type) or ``asyncpage.gate_wait`` (time spent at a
shared :class:`~asyncpage.BackoffGate`). Nothing is recorded about parameters, tokens or
items, and exceptions are not recorded: their messages may hold any of them.

The span of a listing starts when its iteration does and ends when the iteration ends:
its last page delivered ("ok"), an error raised ("failed"), or left early by ``break``,
leaving ``async with`` or cancellation ("cancelled"). A fan-out source's listing *is* the
source's span, ended with the source's verdict (a source skipped for AccessDenied has
outcome "skipped", not "failed").

Nothing here imports OpenTelemetry until a listing starts: ``import asyncpage`` never
does. Then ``opentelemetry.trace`` is imported if it is installed (whether a tracer
provider is configured can only be asked of it); without it, nothing is traced and
nothing is imported again. A span that would not be recorded (no SDK, or not sampled)
costs one check per listing and nothing per page.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from types import ModuleType
from typing import TYPE_CHECKING, Any, Final

import anyio

if TYPE_CHECKING:
    from opentelemetry.trace import Span

    from ._model import PagingModel

__all__ = ["Listing", "SourceTrace", "listing", "source"]

_INSTRUMENTATION: Final = "asyncpage"

#: ``opentelemetry.trace`` once imported, ``False`` when it is not installed.
_api: ModuleType | bool | None = None
_tracer: Any = None

#: The fan-out source whose task this is: its listing becomes the source's span.
_source: contextvars.ContextVar[SourceTrace | None] = contextvars.ContextVar(
    "asyncpage_source", default=None
)


def _trace_api() -> ModuleType | None:
    global _api, _tracer
    if _api is None:
        try:
            from opentelemetry import trace
        except ImportError:
            _api = False
        else:
            from . import __version__

            _tracer = trace.get_tracer(_INSTRUMENTATION, __version__)
            _api = trace
    return _api if isinstance(_api, ModuleType) else None


class Listing:
    """The span of one listing, and what it counts until it ends."""

    __slots__ = ("_deferred", "_ended", "_last", "_span", "items", "pages", "retries")

    def __init__(self, span: Span, *, deferred: bool) -> None:
        self._span = span
        self._deferred = deferred  # a fan-out source's: the source ends it
        self._ended = False
        self._last = False
        self.pages = self.items = self.retries = 0

    def current(self) -> contextlib.AbstractContextManager[Any]:
        """The span as the current one, for an AWS call: its span becomes our child."""
        api = _trace_api()
        assert api is not None
        return api.use_span(  # type: ignore[no-any-return]
            self._span, end_on_exit=False, record_exception=False, set_status_on_exception=False
        )

    def page(self, items: int, *, last: bool) -> None:
        """A page went out: ``items`` items under its primary result key."""
        self.pages += 1
        self.items += items
        self._last = last

    def backoff(self, retry: int, seconds: float, kind: str, error: BaseException) -> None:
        """A page request failed and will be repeated after ``seconds``."""
        self.retries += 1
        self._span.add_event(
            "asyncpage.backoff",
            {
                "asyncpage.retry": retry,
                "asyncpage.wait_seconds": seconds,
                "asyncpage.error_kind": kind,
                "error.type": error_type(error),
            },
        )

    def gate_wait(self, seconds: float) -> None:
        """A request waited ``seconds`` at a gate another listing closed."""
        self._span.add_event("asyncpage.gate_wait", {"asyncpage.wait_seconds": seconds})

    def end(self, error: BaseException | None = None) -> None:
        """The iteration is over: by its end (or MaxItems), by ``error``, or left early."""
        if self._ended or self._deferred:
            return
        if error is not None:
            self.finish("failed", error)
        else:
            self.finish("ok" if self._last else "cancelled")

    def finish(
        self, outcome: str, error: BaseException | None = None, reason: str | None = None
    ) -> None:
        if self._ended:
            return
        self._ended = True
        span = self._span
        span.set_attributes(
            {
                "asyncpage.pages": self.pages,
                "asyncpage.items": self.items,
                "asyncpage.retries": self.retries,
                "asyncpage.outcome": outcome,
            }
        )
        if reason is not None:
            span.set_attribute("asyncpage.skip_reason", reason)
        if outcome == "failed" and error is not None:
            api = _trace_api()
            assert api is not None
            kind = error_type(error)
            span.set_attribute("error.type", kind)
            span.set_status(api.Status(api.StatusCode.ERROR, kind))
        span.end()

    @property
    def last(self) -> bool:
        return self._last


def listing(model: PagingModel, client: Any) -> Listing | None:
    """A span for a listing that starts now, or ``None`` when nothing would record it."""
    if _trace_api() is None:
        return None
    slot = _source.get()
    owned = slot is not None and slot.listing is None
    meta = client.meta
    attributes: dict[str, Any] = {
        "rpc.system": "aws-api",
        "rpc.service": str(meta.service_model.service_id),
        "rpc.method": model.operation_name,
    }
    if meta.region_name:
        attributes["cloud.region"] = meta.region_name
    if owned:
        assert slot is not None
        attributes["asyncpage.source"] = str(slot.label)
    name = f"paginate {attributes['rpc.service']}.{model.operation_name}"
    span = _tracer.start_span(name, attributes=attributes)
    if not span.is_recording():
        return None
    traced = Listing(span, deferred=owned)
    if owned:
        assert slot is not None
        slot.listing = traced
    return traced


class SourceTrace:
    """A fan-out source being run: its listing's span waits for :meth:`settle`."""

    __slots__ = ("label", "listing", "settled")

    def __init__(self, label: object) -> None:
        self.label = label
        self.listing: Listing | None = None
        self.settled = False

    def settle(
        self, status: str, error: BaseException | None = None, reason: str | None = None
    ) -> None:
        """The source ended with ``status`` ("ok", "skipped", "failed", "cancelled")."""
        self.settled = True
        listing = self.listing
        if listing is None:
            return
        if status == "cancelled" and listing.last:
            # Its last page was delivered: the fan-out stopped a task that had nothing
            # left to do but notice the end (its outcome is "ok" too).
            status = "ok"
        listing.finish(status, error, reason)


class _Untraced(SourceTrace):
    __slots__ = ()

    def settle(
        self, status: str, error: BaseException | None = None, reason: str | None = None
    ) -> None:
        pass


_UNTRACED: Final = _Untraced(None)


@contextlib.contextmanager
def source(label: object) -> Iterator[SourceTrace]:
    """Around a fan-out source's run: the listing it starts is this source's span."""
    if _trace_api() is None:
        yield _UNTRACED
        return
    slot = SourceTrace(label)
    token = _source.set(slot)
    try:
        yield slot
    except BaseException as exc:
        if not slot.settled:
            cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
            slot.settle("cancelled" if cancelled else "failed", None if cancelled else exc)
        raise
    finally:
        _source.reset(token)
        if not slot.settled:
            slot.settle("cancelled")


def error_type(error: BaseException) -> str:
    """The AWS error code of ``error`` (or of the error it wraps), else its class name."""
    cause = getattr(error, "error", None) or error
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(cause).__qualname__
