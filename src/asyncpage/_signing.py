"""Sealed, bound, expiring cursors that wrap a pagination token for untrusted clients.

A botocore ``NextToken`` is readable base64 JSON (for DynamoDB it holds primary-key
values) that a client can edit or replay against another table or tenant. A cursor made
by :class:`CursorSigner` wraps such a token so that it is:

* **sealed** with AES-256-GCM (``cryptography``'s ``AESGCM``): the token cannot be read,
  and no bit of the cursor can be changed unnoticed;
* **bound** to a :class:`CursorBinding`: service, operation, region, the request
  parameters (``PaginationConfig`` excluded) and, optionally, a principal. The binding is
  recomputed from the request, never readable from the cursor: two cursors share nothing
  but their first byte, so a client cannot tell (or show) that they belong to one listing;
* **for one purpose**: the ``purpose`` each :class:`~asyncpage.fastapi.Pager` names is
  associated data, so two Pagers (or two apps) sharing a secret refuse each other's cursors;
* **expiring**: it records when it was issued, and is refused ``ttl`` seconds later.

Layout (URL-safe base64 without padding)::

    version (1, = 2) | salt (16, random)
    | AES-256-GCM( issued_at (8, POSIX seconds, big-endian) | binding digest (32) | token )
    | GCM tag (16)

    associated data: b"asyncpage-cursor" | version | purpose (UTF-8)
    key (32) and nonce (12): HKDF-SHA256(secret, salt=salt, info=b"asyncpage cursor v2")
    binding digest: SHA-256 of CursorBinding.canonical()

Each cursor has a key of its own, derived from a fresh 128-bit salt, so the 96-bit GCM
nonce never repeats under one key, however many cursors a secret seals (random nonces
under a single key would be safe for only about 2**32 cursors).

The binding's digest travels inside the ciphertext rather than as associated data so that
a genuine cursor presented for another listing can be told apart from an altered one
(``cursor_mismatch`` against ``cursor_tampered``); sealed, it is as unreadable and as
unlinkable as associated data would be. There is one format and no unsealed mode: a
cursor of any other version is refused, so nothing can be downgraded.

Several secrets may be given: the first seals, all open (key rotation). A cursor is
checked in this order, each failure raising its own :class:`CursorError`: not a cursor
sealed with one of the secrets for this purpose (:class:`CursorTamperedError`), made for
another request (:class:`CursorMismatchError`), too old (:class:`CursorExpiredError`).

A secret must be at least 32 bytes with at least 8 distinct byte values, and must not be
a shorter block repeated (``"ab" * 16``); :meth:`CursorSigner.generate_secret` makes one.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import hmac
import json
import re
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from secrets import token_bytes, token_urlsafe
from typing import Any, ClassVar, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from ._errors import AsyncPageError

__all__ = [
    "CursorBinding",
    "CursorError",
    "CursorExpiredError",
    "CursorMismatchError",
    "CursorSigner",
    "CursorTamperedError",
]

_VERSION: Final = 2
_SALT_SIZE: Final = 16
_KEY_SIZE: Final = 32
_NONCE_SIZE: Final = 12
_TAG_SIZE: Final = 16
_ISSUED: Final = struct.Struct(">Q")
_DIGEST_SIZE: Final = 32
_MINIMUM_SIZE: Final = 1 + _SALT_SIZE + _ISSUED.size + _DIGEST_SIZE + _TAG_SIZE
_KDF_INFO: Final = b"asyncpage cursor v2"
_AAD_LABEL: Final = b"asyncpage-cursor"
_MIN_SECRET_BYTES: Final = 32
_MIN_DISTINCT_BYTES: Final = 8
_MAX_CURSOR_CHARS: Final = 16_384
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


class CursorError(AsyncPageError, ValueError):
    """A cursor from a client cannot be used; nothing was sent to AWS.

    ``code`` names the reason in HTTP error bodies (``"cursor_tampered"``, …).
    """

    code: ClassVar[str] = "cursor_invalid"


class CursorTamperedError(CursorError):
    """Not a cursor sealed with one of the signer's secrets for this purpose.

    Edited, truncated, garbage, of another format, or issued by another Pager.
    """

    code: ClassVar[str] = "cursor_tampered"


class CursorMismatchError(CursorError):
    """A genuine cursor, made for another operation, region, parameters or principal."""

    code: ClassVar[str] = "cursor_mismatch"


class CursorExpiredError(CursorError):
    """A genuine cursor for this request, issued more than ``ttl`` seconds ago."""

    code: ClassVar[str] = "cursor_expired"

    def __init__(self, message: str, *, issued_at: float, expired_at: float) -> None:
        super().__init__(message)
        #: When the cursor was issued and when it stopped being valid (POSIX seconds).
        self.issued_at = issued_at
        self.expired_at = expired_at


@dataclass(frozen=True, slots=True)
class CursorBinding:
    """What a cursor belongs to; a cursor opens only against an equal binding.

    ``params`` are the operation's parameters as passed to :func:`asyncpage.paginate`;
    ``PaginationConfig`` is ignored, so a cursor stays valid when the client changes its
    page limit. The order of keys does not matter. Values may be what botocore accepts:
    JSON types, ``bytes``, ``datetime``/``date``, ``Decimal``, sets.

    Example::

        CursorBinding("s3", "list_objects_v2", "us-east-1", {"Bucket": "logs"}, principal="u1")
    """

    service: str
    operation: str
    region: str
    params: Mapping[str, Any] = field(default_factory=dict)
    principal: str | None = None

    @classmethod
    def for_client(
        cls,
        client: Any,
        operation: str,
        params: Mapping[str, Any],
        *,
        principal: str | None = None,
    ) -> CursorBinding:
        """The binding of ``operation`` on an aiobotocore ``client`` (its service and region)."""
        meta = client.meta
        return cls(
            service=str(meta.service_model.service_name),
            operation=operation,
            region=str(meta.region_name),
            params=params,
            principal=principal,
        )

    def canonical(self) -> bytes:
        """The binding as canonical bytes: equal bindings, and only those, give equal bytes.

        ASCII JSON in which every parameter value carries its type (``["s", "x"]`` for a
        string, ``["y", <base64>]`` for bytes, ``["m", [[key, value], ...]]`` for a mapping,
        sorted), so values of different types never coincide: ``b"x"`` and the mapping
        ``{"$bytes": "eA=="}`` differ, as do ``1``, ``1.0``, ``True`` and ``"1"``.

        Raises ``TypeError`` for a parameter value of a type it cannot represent.
        """
        params = {key: value for key, value in self.params.items() if key != "PaginationConfig"}
        document = [
            "asyncpage-binding-v2",
            self.service,
            self.operation,
            self.region,
            self.principal,
            _typed(params),
        ]
        return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def _typed(value: object) -> list[Any]:
    """``value`` as ``[type tag, payload]``: a one-to-one image of the value in JSON."""
    # bool before int, datetime before date: each is a subclass of the other.
    if value is None:
        return ["z"]
    if isinstance(value, bool):
        return ["b", value]
    if isinstance(value, int):
        return ["i", str(value)]
    if isinstance(value, float):
        return ["f", value.hex()]
    if isinstance(value, str):
        return ["s", value]
    if isinstance(value, bytes | bytearray | memoryview):
        return ["y", base64.b64encode(bytes(value)).decode("ascii")]
    if isinstance(value, dt.datetime):
        return ["t", value.isoformat()]
    if isinstance(value, dt.date):
        return ["d", value.isoformat()]
    if isinstance(value, Decimal):
        return ["n", str(value)]
    if isinstance(value, Mapping):
        pairs = [[_typed(key), _typed(item)] for key, item in value.items()]
        return ["m", sorted(pairs, key=_json)]
    if isinstance(value, list | tuple):
        return ["l", [_typed(item) for item in value]]
    if isinstance(value, set | frozenset):
        return ["e", sorted((_typed(item) for item in value), key=_json)]
    raise TypeError(f"cannot bind a cursor to a parameter of type {type(value).__name__}")


def _json(value: object) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)


class _Key:
    """One secret, ready to seal and open cursors."""

    __slots__ = ("_secret",)

    def __init__(self, secret: bytes) -> None:
        self._secret = secret

    def aead(self, salt: bytes) -> tuple[AESGCM, bytes]:
        """The cipher and nonce of the cursor with this ``salt``."""
        material = HKDF(
            algorithm=hashes.SHA256(),
            length=_KEY_SIZE + _NONCE_SIZE,
            salt=salt,
            info=_KDF_INFO,
        ).derive(self._secret)
        return AESGCM(material[:_KEY_SIZE]), material[_KEY_SIZE:]


class CursorSigner:
    """Makes and checks opaque cursors around pagination tokens.

    Args:
        secrets: one secret or several (str or bytes; at least 32 bytes, at least 8
            distinct byte values, not a shorter block repeated). The first seals; every one
            opens, so rotate by putting a new secret first and dropping the old one after
            ``ttl``.
        ttl: seconds a cursor stays valid after it was issued.
        clock: returns the current POSIX time; replace it in tests.

    Raises ``ValueError`` for a secret that breaks the rule above (``TypeError`` if not
    str or bytes).

    Example::

        signer = CursorSigner(os.environ["CURSOR_SECRET"], ttl=900)
        binding = CursorBinding.for_client(s3, "list_objects_v2", {"Bucket": "logs"})
        cursor = signer.sign(iterator.resume_token, binding, purpose="objects")
        token = signer.verify(cursor, binding, purpose="objects")  # or a CursorError
    """

    def __init__(
        self,
        secrets: str | bytes | Sequence[str | bytes],
        *,
        ttl: float = 3600.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        given = [secrets] if isinstance(secrets, str | bytes) else list(secrets)
        if not given:
            raise ValueError("CursorSigner needs at least one secret")
        keys: list[_Key] = []
        for secret in given:
            raw = secret.encode() if isinstance(secret, str) else secret
            if not isinstance(raw, bytes):
                raise TypeError(f"a secret must be str or bytes, not {type(secret).__name__}")
            _check_secret(raw)
            keys.append(_Key(raw))
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            raise ValueError(f"ttl must be a number of seconds > 0, not {ttl!r}")
        self._keys = tuple(keys)
        self.ttl = float(ttl)
        self._clock = clock

    @staticmethod
    def generate_secret() -> str:
        """A new random secret (256 bits, URL-safe text) for a configuration file."""
        return token_urlsafe(32)

    def sign(self, token: str, binding: CursorBinding, *, purpose: str = "") -> str:
        """Seal a pagination ``token`` (a ``NextToken``/``resume_token``) in a cursor.

        ``purpose`` names who issues it (a :class:`~asyncpage.fastapi.Pager` passes its
        own): only :meth:`verify` with the same purpose opens the cursor.
        """
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, not {type(token).__name__}")
        salt = token_bytes(_SALT_SIZE)
        cipher, nonce = self._keys[0].aead(salt)
        plaintext = _ISSUED.pack(int(self._clock())) + _digest(binding) + token.encode()
        sealed = cipher.encrypt(nonce, plaintext, _associated_data(purpose))
        raw = bytes([_VERSION]) + salt + sealed
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")

    def verify(self, cursor: str, binding: CursorBinding, *, purpose: str = "") -> str:
        """Return the token inside ``cursor`` if it was made for ``binding`` and is still valid.

        Raises :class:`CursorTamperedError`, :class:`CursorMismatchError` or
        :class:`CursorExpiredError` (all :class:`CursorError`, also ``ValueError``).
        """
        raw = _decode(cursor)
        if raw is None or len(raw) < _MINIMUM_SIZE:
            raise CursorTamperedError("the cursor is not one this service issued")
        if raw[0] != _VERSION:
            raise CursorTamperedError(
                f"the cursor is not one this service issued (format version {raw[0]})"
            )
        salt, sealed = raw[1 : 1 + _SALT_SIZE], raw[1 + _SALT_SIZE :]
        plaintext = self._open(salt, sealed, _associated_data(purpose))
        if plaintext is None:
            raise CursorTamperedError(
                "the cursor was altered, or issued with another secret or for another purpose"
            )
        (issued,) = _ISSUED.unpack_from(plaintext)
        bound = plaintext[_ISSUED.size : _ISSUED.size + _DIGEST_SIZE]
        if not hmac.compare_digest(bound, _digest(binding)):
            raise CursorMismatchError(
                "the cursor belongs to another listing (operation, region, parameters or "
                "principal differ); start this listing without a cursor"
            )
        now = self._clock()
        expired_at = issued + self.ttl
        if now >= expired_at:
            raise CursorExpiredError(
                f"the cursor expired {now - expired_at:.0f}s ago (valid for {self.ttl:.0f}s); "
                "start the listing again without a cursor",
                issued_at=float(issued),
                expired_at=expired_at,
            )
        try:
            return plaintext[_ISSUED.size + _DIGEST_SIZE :].decode()
        except UnicodeDecodeError:  # pragma: no cover - we sealed a str
            raise CursorTamperedError("the cursor holds no readable token") from None

    def _open(self, salt: bytes, sealed: bytes, associated_data: bytes) -> bytes | None:
        # Which secret opened a cursor is no secret (its holder cannot use the fact), so
        # the first that opens it wins.
        for key in self._keys:
            cipher, nonce = key.aead(salt)
            try:
                return cipher.decrypt(nonce, sealed, associated_data)
            except InvalidTag:
                continue
        return None


def _check_secret(secret: bytes) -> None:
    """Refuse secrets too short or too regular to be keys (a typo'd env var, a placeholder)."""
    problem = None
    if len(secret) < _MIN_SECRET_BYTES:
        problem = f"is {len(secret)} bytes; it needs at least {_MIN_SECRET_BYTES}"
    elif len(set(secret)) < _MIN_DISTINCT_BYTES:
        problem = (
            f"uses only {len(set(secret))} distinct byte values; it needs at least "
            f"{_MIN_DISTINCT_BYTES}"
        )
    elif any(secret[period:] == secret[:-period] for period in range(1, len(secret) // 2 + 1)):
        problem = "is a shorter block repeated"
    if problem is not None:
        raise ValueError(
            f"a cursor secret {problem}: make one with CursorSigner.generate_secret() "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )


def _associated_data(purpose: str) -> bytes:
    if not isinstance(purpose, str):
        raise TypeError(f"purpose must be a str, not {type(purpose).__name__}")
    return _AAD_LABEL + bytes([_VERSION]) + purpose.encode()


def _digest(binding: CursorBinding) -> bytes:
    return hashlib.sha256(binding.canonical()).digest()


def _decode(cursor: object) -> bytes | None:
    """The bytes of a canonical unpadded URL-safe base64 string; ``None`` if it is not one."""
    if not isinstance(cursor, str) or len(cursor) > _MAX_CURSOR_CHARS:
        return None
    if not _BASE64URL.fullmatch(cursor):
        return None
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
    except (binascii.Error, ValueError):
        return None
    # Two strings must not decode to the same cursor (unused low bits of the last character).
    if base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii") != cursor:
        return None
    return raw
