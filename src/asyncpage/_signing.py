"""Signed, bound, expiring cursors that wrap a pagination token for untrusted clients.

A botocore ``NextToken`` is readable base64 JSON (for DynamoDB it holds primary-key
values) that a client can edit or replay against another table or tenant. A cursor made
by :class:`CursorSigner` wraps such a token so that it is:

* **signed**: HMAC-SHA256 over every byte, checked with :func:`hmac.compare_digest`;
* **bound** to a :class:`CursorBinding`: service, operation, region, a canonical hash of
  the request parameters (``PaginationConfig`` excluded) and, optionally, a principal;
* **expiring**: it records when it was issued, and is refused ``ttl`` seconds later;
* **encrypted** (by default, with the optional ``cryptography`` package): AES-256-CTR,
  encrypt-then-MAC, so the token inside cannot be read either.

Layout (before URL-safe base64 without padding)::

    version (1) | flags (1) | issued_at (4, seconds, big-endian) | binding (16)
    | body (token, or nonce (16) + AES-256-CTR(token) when flag bit 0 is set) | mac (32)

``binding`` is HMAC-SHA256 of the canonical binding (truncated), so the cursor tells no one
which table, parameters or principal it belongs to. Several secrets may be given: the first
signs, all verify (key rotation). Keys for MAC, binding and encryption are derived from each
secret with HMAC-SHA256 under distinct labels.

A cursor is checked in this order, each failure raising its own :class:`CursorError`:
not a cursor made with one of the secrets (:class:`CursorTamperedError`), made for another
request (:class:`CursorMismatchError`), too old (:class:`CursorExpiredError`).
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
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

from ._errors import AsyncPageError

__all__ = [
    "CursorBinding",
    "CursorError",
    "CursorExpiredError",
    "CursorMismatchError",
    "CursorSigner",
    "CursorTamperedError",
]

_VERSION: Final = 1
_FLAG_ENCRYPTED: Final = 0x01
_HEADER: Final = struct.Struct(">BBI")
_BINDING_SIZE: Final = 16
_NONCE_SIZE: Final = 16
_MAC_SIZE: Final = 32
_MIN_SECRET_BYTES: Final = 32
_MAX_CURSOR_CHARS: Final = 16_384
_BASE64URL: Final = re.compile(r"[A-Za-z0-9_-]+")


class CursorError(AsyncPageError, ValueError):
    """A cursor from a client cannot be used; nothing was sent to AWS.

    ``code`` names the reason in HTTP error bodies (``"cursor_tampered"``, …).
    """

    code: ClassVar[str] = "cursor_invalid"


class CursorTamperedError(CursorError):
    """Not a cursor made with any of the signer's secrets: edited, truncated or garbage."""

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
    """What a cursor belongs to; a cursor verifies only against an equal binding.

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
        """Canonical JSON of the binding: sorted keys, no spaces, tagged non-JSON values.

        Raises ``TypeError`` for a parameter value of a type it cannot represent.
        """
        params = {key: value for key, value in self.params.items() if key != "PaginationConfig"}
        document = {
            "operation": self.operation,
            "params": params,
            "principal": self.principal,
            "region": self.region,
            "service": self.service,
        }
        return json.dumps(
            document,
            sort_keys=True,
            separators=(",", ":"),
            ensure_ascii=False,
            allow_nan=False,
            default=_tag,
        ).encode()


def _tag(value: object) -> Any:
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, dt.datetime | dt.date):
        return {"$datetime": value.isoformat()}
    if isinstance(value, Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, set | frozenset):
        return {"$set": sorted(json.dumps(v, sort_keys=True, default=_tag) for v in value)}
    raise TypeError(f"cannot bind a cursor to a parameter of type {type(value).__name__}")


class _Key:
    """The three keys derived from one secret."""

    __slots__ = ("binding", "encryption", "mac")

    def __init__(self, secret: bytes) -> None:
        self.mac = _derive(secret, b"asyncpage cursor v1 mac")
        self.binding = _derive(secret, b"asyncpage cursor v1 binding")
        self.encryption = _derive(secret, b"asyncpage cursor v1 encryption")

    def bind(self, binding: CursorBinding) -> bytes:
        return hmac.digest(self.binding, binding.canonical(), "sha256")[:_BINDING_SIZE]


def _derive(secret: bytes, label: bytes) -> bytes:
    return hmac.digest(secret, label, "sha256")


class CursorSigner:
    """Makes and checks opaque cursors around pagination tokens.

    Args:
        secrets: one secret or several (str or bytes, at least 32 bytes each). The first
            signs; every one verifies, so rotate by putting a new secret first and dropping
            the old one after ``ttl``.
        ttl: seconds a cursor stays valid after it was issued.
        encrypt: hide the token inside the cursor (AES-256-CTR, then HMAC). Needs the
            ``cryptography`` package (in the ``fastapi`` extra); ``False`` signs only, and
            a client who decodes the cursor can read (not change) the token.
        clock: returns the current POSIX time; replace it in tests.

    Example::

        signer = CursorSigner(os.environ["CURSOR_SECRET"], ttl=900)
        binding = CursorBinding.for_client(s3, "list_objects_v2", {"Bucket": "logs"})
        cursor = signer.sign(iterator.resume_token, binding)
        token = signer.verify(cursor, binding)  # raises a CursorError if unusable
    """

    def __init__(
        self,
        secrets: str | bytes | Sequence[str | bytes],
        *,
        ttl: float = 3600.0,
        encrypt: bool = True,
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
            if len(raw) < _MIN_SECRET_BYTES:
                raise ValueError(
                    f"a cursor secret must be at least {_MIN_SECRET_BYTES} bytes, not {len(raw)}; "
                    "make one with CursorSigner.generate_secret()"
                )
            keys.append(_Key(raw))
        if isinstance(ttl, bool) or not isinstance(ttl, int | float) or not ttl > 0:
            raise ValueError(f"ttl must be a number of seconds > 0, not {ttl!r}")
        if encrypt:
            _require_cryptography()
        self._keys = tuple(keys)
        self.ttl = float(ttl)
        self.encrypt = encrypt
        self._clock = clock

    @staticmethod
    def generate_secret() -> str:
        """A new random secret (256 bits, URL-safe text) for a configuration file."""
        return token_urlsafe(32)

    def sign(self, token: str, binding: CursorBinding) -> str:
        """Wrap a pagination ``token`` (a ``NextToken``/``resume_token``) in a cursor."""
        if not isinstance(token, str):
            raise TypeError(f"token must be a str, not {type(token).__name__}")
        key = self._keys[0]
        issued = int(self._clock())
        flags = _FLAG_ENCRYPTED if self.encrypt else 0
        body = token.encode()
        if self.encrypt:
            nonce = token_bytes(_NONCE_SIZE)
            body = nonce + _aes_ctr(key.encryption, nonce, body)
        signed = _HEADER.pack(_VERSION, flags, issued) + key.bind(binding) + body
        mac = hmac.digest(key.mac, signed, "sha256")
        return base64.urlsafe_b64encode(signed + mac).rstrip(b"=").decode("ascii")

    def verify(self, cursor: str, binding: CursorBinding) -> str:
        """Return the token inside ``cursor`` if it was made for ``binding`` and is still valid.

        Raises :class:`CursorTamperedError`, :class:`CursorMismatchError` or
        :class:`CursorExpiredError` (all :class:`CursorError`, also ``ValueError``).
        """
        raw = _decode(cursor)
        minimum = _HEADER.size + _BINDING_SIZE + _MAC_SIZE
        if raw is None or len(raw) < minimum:
            raise CursorTamperedError("the cursor is not one this service issued")
        signed, mac = raw[:-_MAC_SIZE], raw[-_MAC_SIZE:]
        key = self._key_for(signed, mac)
        if key is None:
            raise CursorTamperedError("the cursor's signature does not match: it was altered")
        version, flags, issued = _HEADER.unpack_from(signed)
        if version != _VERSION or flags & ~_FLAG_ENCRYPTED:
            # Signed by us, so a newer format this version cannot read.
            raise CursorTamperedError(f"the cursor has an unknown format (version {version})")
        offset = _HEADER.size
        bound = signed[offset : offset + _BINDING_SIZE]
        if not hmac.compare_digest(bound, key.bind(binding)):
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
        body = signed[offset + _BINDING_SIZE :]
        if flags & _FLAG_ENCRYPTED:
            if len(body) < _NONCE_SIZE:
                raise CursorTamperedError("the cursor is truncated")
            _require_cryptography()
            body = _aes_ctr(key.encryption, body[:_NONCE_SIZE], body[_NONCE_SIZE:])
        try:
            return body.decode()
        except UnicodeDecodeError:
            raise CursorTamperedError("the cursor holds no readable token") from None

    def _key_for(self, signed: bytes, mac: bytes) -> _Key | None:
        found: _Key | None = None
        for key in self._keys:
            # Check every key, so timing does not tell which secret matched.
            if hmac.compare_digest(hmac.digest(key.mac, signed, "sha256"), mac) and found is None:
                found = key
        return found


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


def _require_cryptography() -> None:
    try:
        import cryptography.hazmat.primitives.ciphers  # noqa: F401
    except ImportError:
        raise ImportError(
            "encrypted cursors need the 'cryptography' package: pip install "
            "'asyncpage[fastapi]' (or pass encrypt=False to sign without encrypting)"
        ) from None


def _aes_ctr(key: bytes, nonce: bytes, data: bytes) -> bytes:
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    cipher = Cipher(algorithms.AES(key), modes.CTR(nonce))
    encryptor = cipher.encryptor()
    return encryptor.update(data) + encryptor.finalize()
