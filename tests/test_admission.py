"""fan_out's admission alone: global and per-endpoint caps, released as sources end."""

from __future__ import annotations

import anyio
import pytest

from asyncpage._admission import Admission, Endpoint

pytestmark = pytest.mark.anyio

# (account, service, region); no account: the caller's own.
EAST: Endpoint = (None, "dynamodb", "us-east-1")
WEST: Endpoint = (None, "dynamodb", "us-west-2")


async def test_caps_hold_globally_and_per_endpoint() -> None:
    admission = Admission(concurrency=3, per_endpoint=2)
    assert admission.has_room_at(EAST)
    admission.start("a", EAST)
    admission.start("b", EAST)
    assert not admission.has_room_at(EAST)  # this endpoint is full...
    assert admission.has_room_at(WEST)  # ...another is not
    admission.start("c", WEST)
    assert not admission.has_room  # three running in all
    assert not admission.has_room_at(WEST)
    admission.end("a", EAST)
    assert admission.has_room_at(EAST)
    assert admission.has_room_at(WEST)


async def test_no_per_endpoint_cap() -> None:
    admission = Admission(concurrency=2, per_endpoint=None)
    admission.start("a", EAST)
    admission.start("b", EAST)
    assert not admission.has_room
    admission.end("b", EAST)
    assert admission.has_room_at(EAST)


async def test_waiting_for_room_wakes_when_a_source_ends_and_misses_no_end() -> None:
    admission = Admission(concurrency=1, per_endpoint=None)
    admission.start("a", EAST)
    seen = admission.ended
    admission.end("a", EAST)  # ended before the wait began: the wait must not block
    with anyio.fail_after(5):
        await admission.wait_for_room(seen)
    admission.start("b", EAST)
    seen = admission.ended
    async with anyio.create_task_group() as tg:
        tg.start_soon(admission.wait_for_room, seen)
        await anyio.wait_all_tasks_blocked()
        admission.end("b", EAST)
    assert admission.ended == seen + 1
