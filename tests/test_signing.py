"""CursorSigner: cursors round-trip, rotate keys, and refuse tampering, expiry and misuse."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import struct
import time
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

import asyncpage
from asyncpage._signing import (
    CursorBinding,
    CursorError,
    CursorExpiredError,
    CursorMismatchError,
    CursorSigner,
    CursorTamperedError,
)

SECRET = "kJ3v9QmZx7LpR2tWb8NcY4hF6sDgA1eU"
OTHER_SECRET = "Zq8Lw2Nx5Rt7Vb1Mc4Kd6Pf9Hg3Js0Ya"
# A real botocore token: base64 JSON of the service's own tokens.
TOKEN = "eyJDb250aW51YXRpb25Ub2tlbiI6IG51bGwsICJib3RvX3RydW5jYXRlX2Ftb3VudCI6IDN9"
BINDING = CursorBinding("s3", "list_objects_v2", "us-east-1", {"Bucket": "a", "Prefix": "x/"})
NOW = 1_700_000_000.0


class Clock:
    """A settable clock, in POSIX seconds."""

    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_round_trip() -> None:
    signer = CursorSigner(SECRET)
    cursor = signer.sign(TOKEN, BINDING)
    assert signer.verify(cursor, BINDING) == TOKEN
    assert set(cursor) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    assert signer.verify(signer.sign("", BINDING), BINDING) == ""


def test_the_layout_is_the_documented_one() -> None:
    """An independent opening of a cursor, from the module docstring's layout alone."""
    cursor = CursorSigner(SECRET, clock=Clock()).sign(TOKEN, BINDING, purpose="p")
    raw = _raw(cursor)
    assert raw[0] == 2
    salt, sealed = raw[1:17], raw[17:]
    material = HKDF(
        algorithm=hashes.SHA256(), length=44, salt=salt, info=b"asyncpage cursor v2"
    ).derive(SECRET.encode())
    plaintext = AESGCM(material[:32]).decrypt(
        material[32:], sealed, b"asyncpage-cursor" + bytes([2]) + b"p"
    )
    assert plaintext == (
        struct.pack(">Q", int(NOW)) + hashlib.sha256(BINDING.canonical()).digest() + TOKEN.encode()
    )
    assert len(raw) == 1 + 16 + 8 + 32 + len(TOKEN) + 16


def test_a_cursor_shows_neither_token_nor_binding() -> None:
    alice = CursorBinding("dynamodb", "scan", "us-east-1", {"TableName": "t"}, principal="alice")
    raw = _raw(CursorSigner(SECRET).sign(TOKEN, alice))
    for visible in (
        TOKEN.encode(),
        b"alice",
        b"dynamodb",
        hashlib.sha256(alice.canonical()).digest(),
    ):
        assert visible not in raw


def test_cursors_of_one_listing_cannot_be_linked() -> None:
    """Same listing, same token, same second: every byte but the version is fresh.

    A binding tag in clear (as in format 1) would be a run of bytes shared by every cursor
    of the listing, enough for anyone holding two cursors to tell they belong together.
    """
    signer = CursorSigner(SECRET, clock=Clock())
    raws = [_raw(signer.sign(TOKEN, BINDING)) for _ in range(40)]
    assert len({len(raw) for raw in raws}) == 1
    shared = [i for i in range(len(raws[0])) if len({raw[i] for raw in raws}) == 1]
    assert shared == [0]


def test_key_rotation() -> None:
    old = CursorSigner(OTHER_SECRET)
    rotated = CursorSigner([SECRET, OTHER_SECRET])
    new_only = CursorSigner(SECRET)
    from_old = old.sign(TOKEN, BINDING)
    assert rotated.verify(from_old, BINDING) == TOKEN
    # The newest secret seals, so the new cursor outlives the old secret's retirement.
    from_rotated = rotated.sign(TOKEN, BINDING)
    assert new_only.verify(from_rotated, BINDING) == TOKEN
    with pytest.raises(CursorTamperedError):
        old.verify(from_rotated, BINDING)
    with pytest.raises(CursorTamperedError):
        new_only.verify(from_old, BINDING)


def test_a_purpose_opens_only_its_own_cursors() -> None:
    signer = CursorSigner(SECRET)
    cursor = signer.sign(TOKEN, BINDING, purpose="objects")
    assert signer.verify(cursor, BINDING, purpose="objects") == TOKEN
    # Another Pager (or app) with the same secret and an equal binding: not its cursor.
    for other in ("", "objects ", "Objects", "tables"):
        with pytest.raises(CursorTamperedError, match="another purpose"):
            signer.verify(cursor, BINDING, purpose=other)
    with pytest.raises(CursorTamperedError):
        signer.verify(signer.sign(TOKEN, BINDING), BINDING, purpose="objects")


def test_cursors_of_the_first_format_are_refused() -> None:
    """No downgrade: a format-1 cursor, signed-only or encrypted, is not accepted."""
    for flags in (0, 1):
        cursor = _format_1_cursor(SECRET, TOKEN, BINDING, flags=flags)
        with pytest.raises(CursorTamperedError, match="not one this service issued"):
            CursorSigner(SECRET).verify(cursor, BINDING)
    # Nor a genuine cursor whose version byte is set back.
    raw = bytearray(_raw(CursorSigner(SECRET).sign(TOKEN, BINDING)))
    raw[0] = 1
    with pytest.raises(CursorTamperedError):
        CursorSigner(SECRET).verify(_encode(bytes(raw)), BINDING)


@pytest.mark.parametrize("position", [0, 1, 7, 30, -40, -1])
def test_any_changed_character_is_tampering(position: int) -> None:
    signer = CursorSigner(SECRET)
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
        "Ag" + "A" * 118,  # format 2, all zeros after the version
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
    assert caught.value.issued_at == NOW
    assert caught.value.expired_at == NOW + 600
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
    empty = CursorBinding("dynamodb", "scan", "us-east-1", {"TableName": "t"}, principal="")
    cursor = signer.sign(TOKEN, alice)
    assert signer.verify(cursor, alice) == TOKEN
    for other in (bob, anyone):
        with pytest.raises(CursorMismatchError):
            signer.verify(cursor, other)
    with pytest.raises(CursorMismatchError):
        signer.verify(signer.sign(TOKEN, anyone), empty)


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


def test_the_canonical_form_is_unambiguous() -> None:
    """Values that differ in type or content never share a canonical form."""

    def canonical(value: object) -> bytes:
        return CursorBinding("s", "op", "r", {"P": value}).canonical()

    values = [
        b"\x00\x01",
        b"\x00\x02",
        {"$bytes": base64.b64encode(b"\x00\x01").decode()},  # format 1 took it for bytes
        base64.b64encode(b"\x00\x01").decode(),
        dt.datetime(2024, 1, 1, tzinfo=dt.UTC),
        dt.datetime(2024, 1, 1),
        dt.date(2024, 1, 1),
        {"$datetime": "2024-01-01T00:00:00+00:00"},
        "2024-01-01",
        Decimal("1.0"),
        Decimal("1.00"),
        {"$decimal": "1.0"},
        "1.0",
        1,
        1.0,
        True,
        "1",
        "true",
        None,
        "None",
        [1, 2],
        [2, 1],
        [[1, 2]],
        {"a": 1},
        [["a", 1]],
        {"a": "1"},
        {"b"},
        ["b"],
        {"$set": ['"b"']},
        "",
        [],
        {},
        set(),
    ]
    forms = [canonical(v) for v in values]
    assert len(set(forms)) == len(values)
    assert canonical({"b", "a"}) == canonical({"a", "b"})
    assert canonical((1, 2)) == canonical([1, 2])
    assert canonical(bytearray(b"\x00\x01")) == canonical(b"\x00\x01")
    # Text outside ASCII and lone surrogates are escaped, never an encoding error.
    assert canonical("ü").isascii()
    assert canonical("\ud800") != canonical("\ud801")
    with pytest.raises(TypeError, match="object"):
        canonical(object())
    # The other fields are positional: none can pass for another.
    assert (
        CursorBinding("s", "op", "r", {}, principal="x").canonical()
        != CursorBinding("s", "op", "x", {}, principal="r").canonical()
    )


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


@pytest.mark.parametrize(
    ("secret", "problem"),
    [
        ("short", "is 5 bytes; it needs at least 32"),
        ("A" * 32, "only 1 distinct byte values"),
        ("A" * 64, "only 1 distinct byte values"),
        ("password" * 4, "only 7 distinct byte values"),
        ("0123456789abcdef" * 2, "a shorter block repeated"),
        ("kJ3v9QmZx7Lp" * 3, "a shorter block repeated"),
        (b"\x00" * 32, "only 1 distinct byte values"),
    ],
)
def test_weak_secrets_are_refused(secret: str | bytes, problem: str) -> None:
    with pytest.raises(ValueError, match="generate_secret") as caught:
        CursorSigner(secret)
    assert problem in str(caught.value)
    # In a rotation list too, whatever its place.
    with pytest.raises(ValueError, match="generate_secret"):
        CursorSigner([SECRET, secret])


def test_strong_secrets_are_accepted() -> None:
    for secret in (
        CursorSigner.generate_secret(),
        "f3a9c01d7be24e6895ad1c3f0b7e5d28",  # 128 bits of hex
        bytes(range(32)),
        SECRET,
    ):
        signer = CursorSigner(secret)
        assert signer.verify(signer.sign("t", BINDING), BINDING) == "t"
    assert CursorSigner.generate_secret() != CursorSigner.generate_secret()


def test_signer_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="at least one secret"):
        CursorSigner([])
    with pytest.raises(ValueError, match="ttl"):
        CursorSigner(SECRET, ttl=0)
    with pytest.raises(TypeError, match="secret must be str or bytes"):
        CursorSigner([SECRET, 42])  # type: ignore[list-item]
    with pytest.raises(TypeError, match="purpose"):
        CursorSigner(SECRET).sign(TOKEN, BINDING, purpose=None)  # type: ignore[arg-type]


def test_a_bytes_secret_equals_its_text() -> None:
    cursor = CursorSigner(SECRET).sign(TOKEN, BINDING)
    assert CursorSigner(SECRET.encode()).verify(cursor, BINDING) == TOKEN


def _format_1_cursor(secret: str, token: str, binding: CursorBinding, *, flags: int) -> str:
    """A cursor in asyncpage's first format: HMAC-SHA256, the binding tag in clear.

    With ``flags=1`` the token was AES-256-CTR encrypted; the test only needs the frame, so
    the body stays the plain token either way (its MAC is still genuine).
    """
    key = secret.encode()
    mac_key = hmac.digest(key, b"asyncpage cursor v1 mac", "sha256")
    binding_key = hmac.digest(key, b"asyncpage cursor v1 binding", "sha256")
    canonical = _format_1_canonical(binding)
    tag = hmac.digest(binding_key, canonical, "sha256")[:16]
    body = token.encode() if flags == 0 else bytes(16) + token.encode()
    signed = struct.pack(">BBI", 1, flags, int(time.time())) + tag + body
    return _encode(signed + hmac.digest(mac_key, signed, "sha256"))


def _format_1_canonical(binding: CursorBinding) -> bytes:
    import json

    document = {
        "operation": binding.operation,
        "params": dict(binding.params),
        "principal": binding.principal,
        "region": binding.region,
        "service": binding.service,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _raw(cursor: str) -> bytes:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
