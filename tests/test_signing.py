"""CursorSigner: cursors round-trip, rotate keys, and refuse tampering, expiry and misuse."""

from __future__ import annotations

import base64
import datetime as dt
from decimal import Decimal

import pytest

import asyncpage
from asyncpage._signing import (
    CursorBinding,
    CursorError,
    CursorExpiredError,
    CursorMismatchError,
    CursorSigner,
    CursorTamperedError,
)

SECRET = "s" * 32
OTHER_SECRET = "o" * 32
# A real botocore token: base64 JSON of the service's own tokens.
TOKEN = "eyJDb250aW51YXRpb25Ub2tlbiI6IG51bGwsICJib3RvX3RydW5jYXRlX2Ftb3VudCI6IDN9"
BINDING = CursorBinding("s3", "list_objects_v2", "us-east-1", {"Bucket": "a", "Prefix": "x/"})


class Clock:
    """A settable clock, in POSIX seconds."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=[True, False], ids=["encrypted", "signed-only"])
def encrypt(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


def test_round_trip(encrypt: bool) -> None:
    signer = CursorSigner(SECRET, encrypt=encrypt)
    cursor = signer.sign(TOKEN, BINDING)
    assert signer.verify(cursor, BINDING) == TOKEN
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def test_encrypted_cursor_does_not_show_the_token() -> None:
    signed_only = CursorSigner(SECRET, encrypt=False).sign(TOKEN, BINDING)
    encrypted = CursorSigner(SECRET, encrypt=True).sign(TOKEN, BINDING)
    assert TOKEN.encode() in _raw(signed_only)
    assert TOKEN.encode() not in _raw(encrypted)
    # A fresh nonce per cursor: the same token never gives the same cursor twice.
    assert CursorSigner(SECRET).sign(TOKEN, BINDING) != encrypted


def test_key_rotation(encrypt: bool) -> None:
    old = CursorSigner(OTHER_SECRET, encrypt=encrypt)
    rotated = CursorSigner([SECRET, OTHER_SECRET], encrypt=encrypt)
    new_only = CursorSigner(SECRET, encrypt=encrypt)
    from_old = old.sign(TOKEN, BINDING)
    assert rotated.verify(from_old, BINDING) == TOKEN
    # The newest secret signs, so the new cursor outlives the old secret's retirement.
    from_rotated = rotated.sign(TOKEN, BINDING)
    assert new_only.verify(from_rotated, BINDING) == TOKEN
    with pytest.raises(CursorTamperedError):
        old.verify(from_rotated, BINDING)
    with pytest.raises(CursorTamperedError):
        new_only.verify(from_old, BINDING)


@pytest.mark.parametrize("position", [0, 1, 7, 30, -40, -1])
def test_any_changed_character_is_tampering(encrypt: bool, position: int) -> None:
    signer = CursorSigner(SECRET, encrypt=encrypt)
    cursor = signer.sign(TOKEN, BINDING)
    index = position % len(cursor)
    for replacement in "AQgw_-":
        if replacement == cursor[index]:
            continue
        altered = cursor[:index] + replacement + cursor[index + 1 :]
        with pytest.raises(CursorTamperedError):
            signer.verify(altered, BINDING)


def test_every_flipped_bit_is_tampering() -> None:
    signer = CursorSigner(SECRET)
    raw = _raw(signer.sign(TOKEN, BINDING))
    for bit in range(len(raw) * 8):
        flipped = bytearray(raw)
        flipped[bit // 8] ^= 1 << (bit % 8)
        with pytest.raises(CursorTamperedError):
            signer.verify(_encode(bytes(flipped)), BINDING)


@pytest.mark.parametrize(
    "garbage",
    [
        "",
        "x",
        "not a cursor",
        "====",
        "AAAA",
        "A" * 120,
        TOKEN,  # a raw botocore token
        TOKEN + "==",
        "ü" * 80,
        "A" * 20_000,
    ],
)
def test_garbage_is_tampering(garbage: str) -> None:
    with pytest.raises(CursorTamperedError, match=r"not one this service issued|altered"):
        CursorSigner(SECRET).verify(garbage, BINDING)


def test_truncated_and_extended_cursors_are_tampering() -> None:
    signer = CursorSigner(SECRET)
    cursor = signer.sign(TOKEN, BINDING)
    for altered in (cursor[:-1], cursor[:-4], cursor[4:], cursor + "A", cursor + "AAAA"):
        with pytest.raises(CursorTamperedError):
            signer.verify(altered, BINDING)


def test_expiry() -> None:
    clock = Clock()
    signer = CursorSigner(SECRET, ttl=600, clock=clock)
    cursor = signer.sign(TOKEN, BINDING)
    clock.now += 599
    assert signer.verify(cursor, BINDING) == TOKEN
    clock.now += 1
    with pytest.raises(CursorExpiredError) as caught:
        signer.verify(cursor, BINDING)
    assert caught.value.issued_at == 1_700_000_000
    assert caught.value.expired_at == 1_700_000_600
    # A longer TTL configured later applies to cursors already issued.
    assert CursorSigner(SECRET, ttl=601, clock=clock).verify(cursor, BINDING) == TOKEN


@pytest.mark.parametrize(
    "other",
    [
        CursorBinding("s3", "list_objects_v2", "us-east-1", {"Bucket": "b", "Prefix": "x/"}),
        CursorBinding("s3", "list_objects_v2", "us-east-1", {"Bucket": "a"}),
        CursorBinding("s3", "list_objects_v2", "eu-west-1", {"Bucket": "a", "Prefix": "x/"}),
        CursorBinding("s3", "list_objects", "us-east-1", {"Bucket": "a", "Prefix": "x/"}),
        CursorBinding("s3control", "list_objects_v2", "us-east-1", {"Bucket": "a", "Prefix": "x/"}),
        CursorBinding(
            "s3", "list_objects_v2", "us-east-1", {"Bucket": "a", "Prefix": "x/"}, principal="u1"
        ),
    ],
    ids=["params", "missing-param", "region", "operation", "service", "principal"],
)
def test_mismatch(other: CursorBinding) -> None:
    signer = CursorSigner(SECRET)
    with pytest.raises(CursorMismatchError):
        signer.verify(signer.sign(TOKEN, BINDING), other)


def test_principal_binding() -> None:
    signer = CursorSigner(SECRET)
    alice = CursorBinding("dynamodb", "scan", "us-east-1", {"TableName": "t"}, principal="alice")
    bob = CursorBinding("dynamodb", "scan", "us-east-1", {"TableName": "t"}, principal="bob")
    anyone = CursorBinding("dynamodb", "scan", "us-east-1", {"TableName": "t"})
    cursor = signer.sign(TOKEN, alice)
    assert signer.verify(cursor, alice) == TOKEN
    for other in (bob, anyone):
        with pytest.raises(CursorMismatchError):
            signer.verify(cursor, other)
    # The principal is not readable from the cursor, even signed-only.
    assert b"alice" not in _raw(CursorSigner(SECRET, encrypt=False).sign(TOKEN, alice))


def test_binding_ignores_parameter_order_and_pagination_config() -> None:
    first = CursorBinding(
        "dynamodb",
        "scan",
        "us-east-1",
        {
            "TableName": "t",
            "ExpressionAttributeValues": {":a": {"S": "x"}, ":b": {"N": "1"}},
            "FilterExpression": "a = :a AND b = :b",
        },
    )
    second = CursorBinding(
        "dynamodb",
        "scan",
        "us-east-1",
        {
            "FilterExpression": "a = :a AND b = :b",
            "ExpressionAttributeValues": {":b": {"N": "1"}, ":a": {"S": "x"}},
            "TableName": "t",
            "PaginationConfig": {"MaxItems": 5},
        },
    )
    assert first.canonical() == second.canonical()
    signer = CursorSigner(SECRET)
    assert signer.verify(signer.sign(TOKEN, first), second) == TOKEN


def test_binding_distinguishes_values_of_other_types() -> None:
    def canonical(value: object) -> bytes:
        return CursorBinding("s", "op", "r", {"P": value}).canonical()

    values = [
        b"\x00\x01",
        b"\x00\x02",
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 1, 2, tzinfo=dt.UTC),
        Decimal("1.0"),
        Decimal("1.00"),
        "1.0",
        1,
        [1, 2],
        [2, 1],
    ]
    assert len({canonical(v) for v in values}) == len(values)
    assert canonical({"b", "a"}) == canonical({"a", "b"})
    with pytest.raises(TypeError, match="object"):
        canonical(object())


def test_errors_are_asyncpage_errors_with_codes() -> None:
    codes = {
        CursorTamperedError: "cursor_tampered",
        CursorExpiredError: "cursor_expired",
        CursorMismatchError: "cursor_mismatch",
    }
    for error, code in codes.items():
        assert issubclass(error, CursorError)
        assert issubclass(error, asyncpage.AsyncPageError)
        assert issubclass(error, ValueError)
        assert error.code == code


def test_secrets_are_checked() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        CursorSigner("short")
    with pytest.raises(ValueError, match="at least one secret"):
        CursorSigner([])
    with pytest.raises(ValueError, match="ttl"):
        CursorSigner(SECRET, ttl=0)
    generated = CursorSigner.generate_secret()
    assert generated != CursorSigner.generate_secret()
    assert CursorSigner(generated).verify(CursorSigner(generated).sign("t", BINDING), BINDING)


def test_a_bytes_secret_equals_its_text() -> None:
    cursor = CursorSigner(SECRET).sign(TOKEN, BINDING)
    assert CursorSigner(SECRET.encode()).verify(cursor, BINDING) == TOKEN


def _raw(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
