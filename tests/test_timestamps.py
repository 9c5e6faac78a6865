"""asyncpage.speedups.parse_timestamp against botocore's parse_timestamp, value by value.

Equal means: the same result type, the same instant (or the same naive datetime), the same
wall-clock fields, and a tzinfo of the same class with the same offset — or the same
exception type and message.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import time
from collections.abc import Iterator
from typing import Any, cast

import pytest
from botocore.utils import parse_timestamp as botocore_parse_timestamp
from hypothesis import example, given, settings
from hypothesis import strategies as st

from asyncpage.speedups import parse_timestamp


def outcome(parse: Any, value: Any) -> tuple[str, Any]:
    try:
        result = parse(value)
    except Exception as error:  # the exception is the outcome being compared
        return "raised", (type(error), str(error))
    return "parsed", result


def assert_same(value: Any) -> None:
    ours, theirs = outcome(parse_timestamp, value), outcome(botocore_parse_timestamp, value)
    assert ours[0] == theirs[0], (value, ours, theirs)
    if ours[0] == "raised":
        assert ours == theirs
        return
    mine, expected = ours[1], theirs[1]
    assert type(mine) is type(expected)
    assert repr(mine) == repr(expected)
    assert type(mine.tzinfo) is type(expected.tzinfo)
    # dateutil accepts offsets of 24 hours, which datetime cannot compute with.
    offset = outcome(datetime.datetime.utcoffset, mine)
    assert offset == outcome(datetime.datetime.utcoffset, expected)
    if offset[0] == "parsed":
        assert mine == expected


@contextlib.contextmanager
def in_zone(zone: str) -> Iterator[str]:
    """Run under the local time zone ``zone``: dateutil's choice of tzinfo depends on it."""
    before = os.environ.get("TZ")
    os.environ["TZ"] = zone
    time.tzset()
    try:
        yield zone
    finally:
        if before is None:
            del os.environ["TZ"]
        else:
            os.environ["TZ"] = before
        time.tzset()


@pytest.fixture(params=["UTC", "Europe/London", "America/New_York", "Asia/Kolkata"])
def local_zone(request: pytest.FixtureRequest) -> Iterator[str]:
    with in_zone(request.param) as zone:
        yield zone


ISO_FORMS = [
    "2009-10-12T17:50:30.000Z",
    "2009-10-12T17:50:30Z",
    "2009-10-12T17:50:30z",
    "2009-10-12T17:50:30.123456Z",
    "2009-10-12T17:50:30.1234567891Z",
    "2009-10-12T17:50:30.1Z",
    "2009-10-12T17:50:30+00:00",
    "2009-10-12T17:50:30-00:00",
    "2009-10-12T17:50:30.5+05:30",
    "2009-10-12T17:50:30-08:00",
    "2009-10-12T17:50:30+24:00",
    "2009-10-12T17:50:30+01:75",
    "2009-10-12T17:50:30",
    "2009-10-12T17:50:30.250",
    "0999-01-01T00:00:00Z",
    "0050-01-01T00:00:00Z",
    "9999-12-31T23:59:59.999999Z",
]
OTHER_FORMS = [
    # RFC 822 (S3 headers), other ISO spellings, epoch seconds as text and as numbers.
    "Wed, 12 Oct 2009 17:50:00 GMT",
    "Mon, 01 Jan 2024 00:00:00 +0000",
    "2009-10-12 17:50:30Z",
    "20091012T175030Z",
    "2009-10-12T17:50:30+0100",
    "2009-10-12T17:50:30+01",
    "2009-10-12",
    "1700000000",
    "1700000000.125",
    1700000000,
    1700000000.125,
    0,
    # Epochs as the JSON protocols send them: before 1970, fractions that round (to the
    # microsecond, half to even), the last second datetime can hold, True (an int to
    # isinstance: botocore's way for it).
    -1,
    -1.5,
    -62135596800,
    1e-7,
    1700000000.0000005,
    1700000000.9999996,
    1700000000.123456789,
    2**31,
    253402300799,
    253402300799.999999,
    True,
]
MALFORMED = [
    "",
    "not a date",
    "2009-02-30T00:00:00Z",
    "2009-10-12T24:00:00Z",
    "2009-10-12T23:59:60Z",
    "2009-13-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "2009-10-12T17:50:30.Z",
    "2009-10-12T17:50:30+01:30:15",
    "2009-10-12T17:50:30Zjunk",
    None,
    b"2009-10-12T17:50:30Z",
    1e300,
    -1e300,
    253402300800,
    -62135596801,
    2**80,
    float("inf"),
    float("nan"),
]


@pytest.mark.parametrize("value", ISO_FORMS + OTHER_FORMS + MALFORMED)
def test_every_form_botocore_accepts_or_rejects_parses_the_same(
    local_zone: str, value: Any
) -> None:
    assert_same(value)


def test_the_aws_form_is_not_handed_to_botocore(
    monkeypatch: pytest.MonkeyPatch, local_zone: str
) -> None:
    import asyncpage._timestamps as timestamps

    def refuse(value: Any) -> Any:
        raise AssertionError(f"botocore asked to parse {value!r}")

    monkeypatch.setattr(timestamps, "_botocore_parse_timestamp", refuse)
    assert parse_timestamp("2009-10-12T17:50:30.000Z") == datetime.datetime(
        2009, 10, 12, 17, 50, 30, tzinfo=datetime.UTC
    )


@pytest.mark.parametrize("value", [1700000000.125, 1700000000, -1.5])
def test_epochs_in_a_zone_of_one_offset_are_not_handed_to_botocore(
    monkeypatch: pytest.MonkeyPatch, local_zone: str, value: float
) -> None:
    import asyncpage._timestamps as timestamps

    expected = botocore_parse_timestamp(cast(Any, value))  # the stubs say str: not so
    handed: list[Any] = []

    def record(given: Any) -> Any:
        handed.append(given)
        return botocore_parse_timestamp(given)

    monkeypatch.setattr(timestamps, "_botocore_parse_timestamp", record)
    parsed = parse_timestamp(value)
    assert repr(parsed) == repr(expected)
    # Zones with daylight saving are dateutil's to resolve, date by date.
    assert handed == ([value] if time.daylight and time.altzone != time.timezone else [])


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(["UTC", "Asia/Kolkata", "Europe/London", "Pacific/Chatham"]),
    st.integers(-(2**40), 2**40) | st.floats(-1e12, 1e12) | st.floats(),
)
def test_generated_epochs_parse_as_botocore_parses_them(zone: str, value: float) -> None:
    with in_zone(zone):
        assert_same(value)


@st.composite
def iso_like(draw: st.DrawFn) -> str:
    """Timestamps near the fast path's form, valid and not: digits, fractions, zones."""
    moment = draw(st.datetimes(min_value=datetime.datetime(1, 1, 1)))
    text = moment.strftime("%Y-%m-%dT%H:%M:%S").rjust(19, "0")
    if draw(st.booleans()):
        text += "." + draw(st.text("0123456789", min_size=0, max_size=12))
    text += draw(
        st.sampled_from(["", "Z", "z", "+00:00", "-00:00"])
        | st.from_regex(r"[+-][0-9]{2}:[0-9]{2}", fullmatch=True)
        | st.from_regex(r"[+-Z ][0-9:]{0,6}", fullmatch=True)
    )
    if draw(st.integers(0, 9)) == 0:
        index = draw(st.integers(0, len(text)))
        text = text[:index] + draw(st.characters(codec="ascii")) + text[index + 1 :]
    return text


@settings(max_examples=600, deadline=None)
@given(iso_like())
@example("2009-10-12T17:50:30.000Z")
def test_generated_timestamps_parse_as_botocore_parses_them(value: str) -> None:
    assert_same(value)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=30) | st.integers() | st.floats(allow_nan=False))
def test_arbitrary_values_parse_or_fail_as_botocore(value: Any) -> None:
    assert_same(value)
