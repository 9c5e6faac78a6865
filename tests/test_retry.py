"""The page fetcher alone: the retry policy against a fake call, on trio's virtual clock.

Waits are real (``set_testing`` off) but cost no wall time: trio's ``MockClock`` jumps to
the next deadline whenever every task is blocked.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import trio.testing
from botocore.exceptions import ClientError

import asyncpage
from asyncpage._cursor import Cursor
from asyncpage._retry import PageFetcher

pytestmark = pytest.mark.anyio

CURSOR = Cursor((("NextToken", "abc"),))


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return "trio", {"clock": trio.testing.MockClock(autojump_threshold=0)}


@pytest.fixture(autouse=True)
def real_waits() -> Iterator[None]:
    asyncpage.set_testing(False)
    yield
    asyncpage.set_testing(True)


def throttled(retry_after_ms: int | None = None) -> ClientError:
    headers = {} if retry_after_ms is None else {"x-amz-retry-after": str(retry_after_ms)}
    # Only what classify() reads: botocore-stubs' response type wants every metadata key.
    response: Any = {
        "Error": {"Code": "ThrottlingException", "Message": "slow down"},
        "ResponseMetadata": {"HTTPStatusCode": 400, "HTTPHeaders": headers},
    }
    return ClientError(response, "ListThings")


class Calls:
    def __init__(self, *outcomes: BaseException | dict[str, Any]) -> None:
        self.outcomes = list(outcomes)
        self.at: list[float] = []

    async def __call__(self, params: dict[str, Any]) -> dict[str, Any]:
        self.at.append(trio.current_time())
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome


async def test_throttling_is_retried_with_capped_full_jitter_then_succeeds() -> None:
    calls = Calls(throttled(), throttled(), throttled(), {"Items": []})
    policy = asyncpage.Retry(attempts=5, wait_initial=1.0, wait_max=1.5, timeout=60)
    fetcher = PageFetcher(calls, policy, name="svc.op")
    assert await fetcher({}, CURSOR) == {"Items": []}
    gaps = [b - a for a, b in zip(calls.at, calls.at[1:], strict=False)]
    assert len(gaps) == 3
    assert all(0 <= gap <= cap for gap, cap in zip(gaps, (1.0, 1.5, 1.5), strict=True))
    assert (fetcher.requests, fetcher.retries, fetcher.throttles) == (4, 3, 3)
    assert fetcher.seconds_waited == pytest.approx(sum(gaps))


async def test_retry_after_raises_the_wait_within_the_cap() -> None:
    calls = Calls(throttled(retry_after_ms=2500), {"Items": []})
    fetcher = PageFetcher(calls, asyncpage.Retry(wait_initial=0.1, wait_max=5), name="svc.op")
    await fetcher({}, CURSOR)
    assert calls.at[1] - calls.at[0] >= 2.5


async def test_giving_up_keeps_the_cursor_of_the_page_not_fetched() -> None:
    calls = Calls(*[throttled() for _ in range(3)])
    fetcher = PageFetcher(calls, asyncpage.Retry(attempts=3, wait_initial=0.5), name="svc.op")
    with pytest.raises(asyncpage.PageFetchError) as caught:
        await fetcher({}, CURSOR)
    assert caught.value.attempts == 3
    assert caught.value.resume_token == CURSOR.encode()
    assert isinstance(caught.value.error, ClientError)


async def test_the_deadline_gives_up_before_a_wait_that_would_end_past_it() -> None:
    calls = Calls(*[throttled(retry_after_ms=4000) for _ in range(10)])
    policy = asyncpage.Retry(attempts=10, wait_initial=1, wait_max=5, timeout=10)
    fetcher = PageFetcher(calls, policy, name="svc.op")
    with pytest.raises(asyncpage.PageFetchError, match="gave up"):
        await fetcher({}, CURSOR)
    assert calls.at[-1] - calls.at[0] <= 10
    assert len(calls.at) == 3  # 0, 4, 8: a wait to 12 would end past the deadline


async def test_errors_that_are_not_retryable_fail_at_once() -> None:
    response: Any = {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}
    denied = ClientError(response, "Op")
    calls = Calls(denied)
    fetcher = PageFetcher(calls, asyncpage.Retry(), name="svc.op")
    with pytest.raises(asyncpage.PageFetchError, match="not retryable"):
        await fetcher({}, CURSOR)
    assert fetcher.requests == 1
    assert fetcher.retries == 0


async def test_a_shared_gate_holds_back_the_next_request_after_a_throttle() -> None:
    gate = asyncpage.BackoffGate()
    first = PageFetcher(Calls(throttled(), {"a": 1}), asyncpage.Retry(wait_initial=2), name="x")
    second_calls = Calls({"b": 1})
    second = PageFetcher(second_calls, asyncpage.Retry(), name="y")
    first.gate = second.gate = gate
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(first, {}, CURSOR)
        await trio.testing.wait_all_tasks_blocked()  # first is backing off, gate closed
        nursery.start_soon(second, {}, CURSOR)
    assert second_calls.at[0] - start == pytest.approx(first.seconds_waited, abs=1e-6)
