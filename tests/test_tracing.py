"""Tracing: a span per listing and per fan-out source, the parent of each AWS call's span.

The spans are recorded by the OpenTelemetry SDK's in-memory exporter, over HTTP against
moto (through the fault proxy where a test needs throttling). The AWS calls' own spans come
from a stand-in for opentelemetry-instrumentation-botocore/aiobotocore-otel, made the way
they are (a span per API call, started in the task that makes the call) through botocore's
public ``before-call``/``after-call`` events: aiobotocore-otel 1.9 requires aiobotocore
< 3.10, and botocore's own instrumentation patches the synchronous client only.

Without opentelemetry-api, asyncpage must page as before and import nothing of it: that
runs in a subprocess whose import system refuses ``opentelemetry``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from collections.abc import Iterator, Sequence
from typing import Any

import anyio
import pytest

pytest.importorskip("opentelemetry.sdk", reason="opentelemetry-sdk is in the test extra")

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import Decision, Sampler, SamplingResult
from opentelemetry.trace import StatusCode

import asyncpage
from _tables import create_table

pytestmark = pytest.mark.anyio

TABLE = "orders"
ITEMS = 23
PAGE = 5
PAGES = -(-ITEMS // PAGE)


class _Switch(Sampler):
    """Records only while a test of this module asks: the global provider outlives it."""

    on = False

    def should_sample(
        self,
        parent_context: Any,
        trace_id: int,
        name: str,
        kind: Any = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        decision = Decision.RECORD_AND_SAMPLE if self.on else Decision.DROP
        return SamplingResult(decision, attributes)

    def get_description(self) -> str:
        return "asyncpage tests: on while a tracing test runs"


_SWITCH = _Switch()
_EXPORTER = InMemorySpanExporter()


@pytest.fixture(scope="module")
def provider() -> TracerProvider:
    """The process's tracer provider (OpenTelemetry lets it be set only once)."""
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider(sampler=_SWITCH)
        current.add_span_processor(SimpleSpanProcessor(_EXPORTER))
        trace.set_tracer_provider(current)
    assert trace.get_tracer_provider() is current
    assert current.sampler is _SWITCH, "another tracer provider was set in this process"
    return current


@pytest.fixture
def spans(provider: TracerProvider) -> Iterator[InMemorySpanExporter]:
    _EXPORTER.clear()
    _SWITCH.on = True
    try:
        yield _EXPORTER
    finally:
        _SWITCH.on = False
        _EXPORTER.clear()


def instrument(client: Any) -> None:
    """A span per AWS call, as the botocore/aiobotocore instrumentations make them."""
    tracer = trace.get_tracer("aws-calls")

    def before(model: Any, context: dict[str, Any], **_: Any) -> None:
        span = tracer.start_span(f"aws {model.name}")
        context["test_span"] = span

    def after(context: dict[str, Any], **_: Any) -> None:
        context.pop("test_span").end()

    client.meta.events.register("before-call", before)
    client.meta.events.register("after-call", after)


@pytest.fixture
async def ddb(make_client: Any, moto_endpoint: str) -> Any:
    client = await make_client("dynamodb", moto_endpoint)
    await create_table(client, TABLE, ITEMS, prefix="order")
    instrument(client)
    return client


def listings(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("paginate ")]


def calls(exporter: InMemorySpanExporter) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name.startswith("aws ")]


def parent_of(span: ReadableSpan) -> int | None:
    return None if span.parent is None else span.parent.span_id


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    found: int = span.context.span_id
    return found


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})


def recorded_text(spans: Sequence[ReadableSpan]) -> str:
    """Everything asyncpage's spans say, as text: names, attributes, events, statuses."""
    said: list[Any] = []
    for span in spans:
        said += [span.name, span.status.description, *attributes(span).values()]
        for event in span.events:
            said += [event.name, *(event.attributes or {}).values()]
    return json.dumps(said, default=str)


def scan(client: Any, **config: Any) -> asyncpage.AsyncPageIterator:
    return asyncpage.paginate(
        client, "scan", TableName=TABLE, PaginationConfig={"PageSize": PAGE, **config}
    )


@pytest.mark.parametrize("loop", ["async with", "plain"])
async def test_a_listing_is_one_span_the_parent_of_its_aws_calls(
    ddb: Any, spans: InMemorySpanExporter, loop: str
) -> None:
    it = scan(ddb).with_options(prefetch=2)
    with trace.get_tracer("app").start_as_current_span("job") as job:
        if loop == "async with":
            async with it:
                pages = [page async for page in it]
        else:
            pages = [page async for page in it]
    assert len(pages) == PAGES

    (listing,) = listings(spans)
    assert listing.name == "paginate DynamoDB.Scan"
    assert parent_of(listing) == job.get_span_context().span_id
    assert attributes(listing) == {
        "rpc.system": "aws-api",
        "rpc.service": "DynamoDB",
        "rpc.method": "Scan",
        "cloud.region": "us-east-1",
        "asyncpage.pages": PAGES,
        "asyncpage.items": ITEMS,
        "asyncpage.retries": 0,
        "asyncpage.outcome": "ok",
    }
    assert listing.status.status_code == StatusCode.UNSET
    # Every request of the listing, read ahead in another task or not, is its child.
    aws = calls(spans)
    assert len(aws) == it.statistics().requests == PAGES
    assert {parent_of(call) for call in aws} == {span_id(listing)}
    assert "order-" not in recorded_text([listing])  # no key of any item


async def test_each_iteration_is_a_listing_and_leaving_early_is_cancelled(
    ddb: Any, spans: InMemorySpanExporter
) -> None:
    it = scan(ddb)
    async for _ in it:
        break
    assert [attributes(s)["asyncpage.outcome"] for s in listings(spans)] == ["cancelled"]
    assert attributes(listings(spans)[0])["asyncpage.pages"] == 1
    async with scan(ddb, MaxItems=7) as cut:
        assert sum([len(page["Items"]) async for page in cut]) == 7
    # MaxItems reached is a listing that did what it was asked: ok, with its 7 items.
    last = listings(spans)[-1]
    assert (attributes(last)["asyncpage.outcome"], attributes(last)["asyncpage.items"]) == (
        "ok",
        7,
    )
    items = [item async for item in scan(ddb).items()]
    assert len(items) == ITEMS
    assert len(listings(spans)) == 3


async def test_backoff_waits_are_events_and_a_failure_says_what_not_which(
    make_client: Any, moto_endpoint: str, fault_proxy: Any, spans: InMemorySpanExporter
) -> None:
    await create_table(await make_client("dynamodb", moto_endpoint), TABLE, ITEMS)
    client = await make_client("dynamodb", fault_proxy.endpoint_url)
    instrument(client)
    fault_proxy.fail_next(2, "throttle")
    retried = scan(client).with_options(retry=asyncpage.Retry(attempts=3))
    assert len([page async for page in retried]) == PAGES

    (listing,) = listings(spans)
    assert attributes(listing)["asyncpage.retries"] == 2
    assert attributes(listing)["asyncpage.outcome"] == "ok"
    backoffs = [e for e in listing.events if e.name == "asyncpage.backoff"]
    assert [dict(e.attributes or {})["asyncpage.retry"] for e in backoffs] == [1, 2]
    for event in backoffs:
        assert dict(event.attributes or {})["error.type"] == "ThrottlingException"
        assert dict(event.attributes or {})["asyncpage.error_kind"] == "throttling"
    # The two throttled attempts and every page were AWS calls under the listing.
    assert len(calls(spans)) == PAGES + 2
    assert {parent_of(call) for call in calls(spans)} == {span_id(listing)}

    spans.clear()
    first = scan(client, MaxItems=PAGE + 1)
    assert len([page async for page in first]) == 2
    token = first.resume_token  # in the middle of the second page
    assert token is not None
    fault_proxy.fail_next(1, "throttle")
    resumed = scan(client, StartingToken=token).with_options(retry=None)
    with pytest.raises(asyncpage.PageFetchError) as caught:
        async for _ in resumed:
            pass
    assert caught.value.resume_token == token
    failed = listings(spans)[-1]
    assert attributes(failed)["asyncpage.outcome"] == "failed"
    assert attributes(failed)["error.type"] == "ThrottlingException"
    assert failed.status.status_code == StatusCode.ERROR
    assert failed.status.description == "ThrottlingException"
    # Nothing is recorded about tokens, parameters or items.
    said = recorded_text(listings(spans))
    for secret in (token, TABLE, "pk", "order-"):
        assert secret not in said


async def test_a_fan_out_source_is_one_span_with_the_sources_verdict(
    make_client: Any, moto_endpoint: str, fault_proxy: Any, spans: InMemorySpanExporter
) -> None:
    await create_table(await make_client("dynamodb", moto_endpoint), TABLE, ITEMS)
    ddb = await make_client("dynamodb", fault_proxy.endpoint_url)
    logs = await make_client("logs", fault_proxy.endpoint_url, region="eu-west-1")
    instrument(ddb)
    instrument(logs)
    fault_proxy.fail_next(1, "throttle", code="AccessDeniedException", only_service="logs")
    sources = {
        "orders": scan(ddb),
        ("logs", "eu-west-1"): asyncpage.paginate(logs, "describe_log_groups"),
        "missing": asyncpage.paginate(ddb, "scan", TableName="missing"),
    }
    with trace.get_tracer("app").start_as_current_span("inventory") as job:
        async with asyncpage.fan_out(sources) as merged:
            async for _ in merged:
                pass
    assert {k: o.status for k, o in merged.outcomes.items()} == {
        "orders": "ok",
        ("logs", "eu-west-1"): "skipped",
        "missing": "failed",
    }

    # One span per source, each the fan-out's caller's child: no nested listing span.
    by_source = {attributes(s)["asyncpage.source"]: s for s in listings(spans)}
    assert len(listings(spans)) == 3
    assert set(by_source) == {"orders", "('logs', 'eu-west-1')", "missing"}
    assert {parent_of(s) for s in by_source.values()} == {job.get_span_context().span_id}

    orders = attributes(by_source["orders"])
    assert (orders["asyncpage.outcome"], orders["asyncpage.pages"]) == ("ok", PAGES)
    assert orders["asyncpage.items"] == ITEMS
    skipped = by_source["('logs', 'eu-west-1')"]
    assert skipped.name == "paginate CloudWatch Logs.DescribeLogGroups"
    assert attributes(skipped)["cloud.region"] == "eu-west-1"
    assert attributes(skipped)["asyncpage.outcome"] == "skipped"
    assert attributes(skipped)["asyncpage.skip_reason"] == "AccessDeniedException"
    assert skipped.status.status_code == StatusCode.UNSET  # not an error: not offered here
    missing = by_source["missing"]
    assert attributes(missing)["asyncpage.outcome"] == "failed"
    assert attributes(missing)["error.type"] == "ResourceNotFoundException"
    assert missing.status.status_code == StatusCode.ERROR

    # Each AWS call is the child of its own source's span.
    for source, span in by_source.items():
        children = [c for c in calls(spans) if parent_of(c) == span_id(span)]
        expected = PAGES if source == "orders" else 1
        assert len(children) == expected, source
    assert len(calls(spans)) == PAGES + 2


async def test_a_bug_while_a_source_runs_is_raised_and_ends_its_span_failed(
    ddb: Any, spans: InMemorySpanExporter, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Not an AWS, botocore or asyncpage error: fan_out raises it from `async for` instead of
    # filing an outcome; the source's span still ends, with the bug as its verdict.
    buggy = scan(ddb)
    real_steps = buggy.steps

    class AfterOnePage:
        def __init__(self, steps: Any) -> None:
            self._steps = steps

        def __aiter__(self) -> AfterOnePage:
            return self

        async def __anext__(self) -> Any:
            await anext(self._steps)  # the listing has started, and fetched its first page
            raise KeyError("a bug")

    def steps(**kwargs: Any) -> AfterOnePage:
        return AfterOnePage(real_steps(**kwargs))

    monkeypatch.setattr(buggy, "steps", steps)
    with pytest.raises(KeyError):
        async with asyncpage.fan_out({"buggy": buggy}) as merged:
            async for _ in merged:
                pass
    (span,) = listings(spans)
    assert attributes(span)["asyncpage.source"] == "buggy"
    assert attributes(span)["asyncpage.outcome"] == "failed"
    assert attributes(span)["error.type"] == "KeyError"
    assert span.status.status_code == StatusCode.ERROR


async def test_leaving_a_fan_out_early_cancels_the_sources_spans(
    ddb: Any, spans: InMemorySpanExporter
) -> None:
    sources = {n: scan(ddb, PageSize=1) for n in ("a", "b")}
    async with asyncpage.fan_out(sources) as merged:
        async for _ in merged:
            break
    outcomes = {attributes(s)["asyncpage.source"]: s for s in listings(spans)}
    assert set(outcomes) == {"a", "b"}
    assert {attributes(s)["asyncpage.outcome"] for s in outcomes.values()} == {"cancelled"}


async def test_a_wait_at_a_shared_gate_is_an_event(
    make_client: Any, moto_endpoint: str, fault_proxy: Any, spans: InMemorySpanExporter
) -> None:
    asyncpage.set_testing(False)  # real waits: the gate is what is traced (restored after)
    await create_table(await make_client("dynamodb", moto_endpoint), TABLE, 12)
    east = await make_client("dynamodb", fault_proxy.endpoint_url)
    fault_proxy.configure(retry_after=0.2)
    fault_proxy.fail_next(1, "throttle", only_operation="ListTables")
    policy = asyncpage.Retry(wait_initial=0.01, wait_max=0.2)
    sources = {
        "throttled": asyncpage.paginate(east, "list_tables").with_options(retry=policy),
        "sibling": scan(east, PageSize=1).with_options(retry=policy),
    }
    with anyio.fail_after(30):
        async with asyncpage.fan_out(sources) as merged:
            async for _ in merged:
                pass
    by_source = {attributes(s)["asyncpage.source"]: s for s in listings(spans)}
    throttled = [e.name for e in by_source["throttled"].events]
    assert throttled == ["asyncpage.backoff"]
    waits = [e for e in by_source["sibling"].events if e.name == "asyncpage.gate_wait"]
    assert waits
    assert all(float(str(dict(e.attributes or {})["asyncpage.wait_seconds"])) > 0 for e in waits)
    assert merged.outcomes["sibling"].statistics.seconds_waited > 0


async def test_no_span_is_current_after_a_listing(ddb: Any, spans: InMemorySpanExporter) -> None:
    before = otel_context.get_current()
    async with scan(ddb) as it:
        async for _ in it:
            assert trace.get_current_span() is trace.INVALID_SPAN  # the caller's, unchanged
    assert otel_context.get_current() == before


# -- without OpenTelemetry, and before a span is needed ---------------------------------------

_WITHOUT = """
import importlib.abc, sys

class Absent(importlib.abc.MetaPathFinder):
    # opentelemetry-api is not installed, as far as this process can tell.
    def find_spec(self, name, path=None, target=None):
        if name == "opentelemetry" or name.startswith("opentelemetry."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Absent())
"""

_LISTING = """
import json, sys
import anyio
from aiobotocore.session import get_session
import asyncpage

endpoint = sys.argv[1]
otel = lambda: sorted(m for m in sys.modules if m.split(".")[0] == "opentelemetry")
assert otel() == [], otel()

async def main():
    async with get_session().create_client(
        "dynamodb", region_name="us-east-1", endpoint_url=endpoint,
        aws_access_key_id="testing", aws_secret_access_key="testing",
    ) as ddb:
        await ddb.create_table(
            TableName="t",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        for i in range(7):
            await ddb.put_item(TableName="t", Item={"pk": {"S": f"k{i}"}})
        pages = asyncpage.paginate(ddb, "scan", TableName="t", PaginationConfig={"PageSize": 2})
        items = [item async for item in pages.items()]
        sources = {"t": asyncpage.paginate(ddb, "scan", TableName="t")}
        async with asyncpage.fan_out(sources) as merged:
            tagged = [t async for t in merged.items()]
        return len(items), len(tagged), merged.outcomes["t"].status

print(json.dumps({"listed": list(anyio.run(main)), "opentelemetry": otel()}))
"""


def run_python(code: str, endpoint: str) -> dict[str, Any]:
    """Run ``code`` in a new interpreter (this one's environment, AWS credentials included)."""
    done = subprocess.run(
        [sys.executable, "-c", code, endpoint],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    said: dict[str, Any] = json.loads(done.stdout)
    return said


def test_without_opentelemetry_asyncpage_pages_and_imports_none_of_it(moto_endpoint: str) -> None:
    said = run_python(textwrap.dedent(_WITHOUT) + textwrap.dedent(_LISTING), moto_endpoint)
    assert said == {"listed": [7, 7, "ok"], "opentelemetry": []}


def test_with_opentelemetry_it_is_imported_only_once_a_listing_starts(
    moto_endpoint: str,
) -> None:
    # The same program, opentelemetry-api importable: ``import asyncpage`` still imports
    # none of it (the program asserts that first); a listing then asks the API whether
    # anything records, and nothing of the SDK is imported.
    said = run_python(textwrap.dedent(_LISTING), moto_endpoint)
    assert said["listed"] == [7, 7, "ok"]
    assert "opentelemetry.trace" in said["opentelemetry"]
    assert not any(m.startswith("opentelemetry.sdk") for m in said["opentelemetry"])
