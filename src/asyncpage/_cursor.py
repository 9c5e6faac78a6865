"""Cursor: an immutable position in a listing, and its botocore-compatible token.

A cursor holds the service tokens of the next page to request and how many items of
that page were already delivered (``skip``, botocore's ``boto_truncate_amount``). Its
token is byte-for-byte what botocore's paginator gives as ``NextToken``/``resume_token``
for the same position, encoded with botocore's own :class:`~botocore.paginate.TokenEncoder`,
so tokens move freely between asyncpage, boto3 and aiobotocore.
"""

from __future__ import annotations

import binascii
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.paginate import TokenDecoder, TokenEncoder

from ._errors import InvalidStartingTokenError, InvalidStartingTokenTypeError

__all__ = ["MAX_TOKEN_DEPTH", "Cursor"]

#: The deepest nesting of lists and maps a StartingToken may hold. DynamoDB keys, the
#: deepest service tokens, are a few levels deep (its attribute values at most 32); a
#: deeper value would make encoding, validating and sending it recurse past Python's limit.
MAX_TOKEN_DEPTH = 100
_TRUNCATE_KEY = "boto_truncate_amount"
_encoder = TokenEncoder()
_decoder = TokenDecoder()


@dataclass(frozen=True, slots=True)
class Cursor:
    """Where the next page starts: service tokens (in input-token order) and items to skip."""

    tokens: tuple[tuple[str, Any], ...]
    skip: int = 0

    @classmethod
    def start(cls, input_tokens: tuple[str, ...]) -> Cursor:
        return cls(tokens=tuple((name, None) for name in input_tokens))

    @property
    def token_dict(self) -> dict[str, Any]:
        return dict(self.tokens)

    @property
    def at_start(self) -> bool:
        return self.skip == 0 and all(value is None for _, value in self.tokens)

    def encode(self) -> str | None:
        """The botocore ``NextToken`` for this position; ``None`` at the very beginning."""
        if self.at_start:
            return None
        token = self.token_dict
        if self.skip:
            token[_TRUNCATE_KEY] = self.skip
        return str(_encoder.encode(token))

    @classmethod
    def decode(cls, token: object, input_tokens: tuple[str, ...]) -> Cursor:
        """Parse a ``StartingToken``; raise :class:`InvalidStartingTokenError` if it is not one.

        Accepted: tokens from botocore/boto3/aiobotocore paginators and from asyncpage for an
        operation with the same input tokens. Rejected: anything else, including a raw
        service token (pass that as the operation's own parameter instead, e.g.
        ``ContinuationToken=...``).
        """
        if not isinstance(token, str):
            raise InvalidStartingTokenTypeError(
                f"StartingToken must be a str from a previous NextToken, not {type(token).__name__}"
            )
        try:
            decoded = _decoder.decode(token)
        except (binascii.Error, UnicodeError, json.JSONDecodeError, ValueError, TypeError):
            decoded = None
        except (KeyError, IndexError, AttributeError):  # malformed boto_encoded_keys
            decoded = None
        except RecursionError:
            raise InvalidStartingTokenError(
                "StartingToken is nested too deeply to decode: it is not a paginator token"
            ) from None
        if not isinstance(decoded, dict):
            raise InvalidStartingTokenError(_explain(token, input_tokens))
        if _too_deep(decoded):
            raise InvalidStartingTokenError(
                f"StartingToken nests more than {MAX_TOKEN_DEPTH} levels deep: no service "
                "token does (a DynamoDB key is a few levels deep)"
            )
        skip = decoded.pop(_TRUNCATE_KEY, 0)
        if sorted(decoded) != sorted(input_tokens):
            raise InvalidStartingTokenError(
                f"StartingToken holds {sorted(decoded)}, but this operation pages with "
                f"{list(input_tokens)}: it belongs to another operation"
            )
        if isinstance(skip, bool) or not isinstance(skip, int) or skip < 0:
            raise InvalidStartingTokenError(
                f"StartingToken has an invalid {_TRUNCATE_KEY}: {skip!r}"
            )
        # Keep the token's own key order: botocore re-encodes the decoded dict as it is,
        # and equal tokens must stay equal strings.
        return cls(tokens=tuple(decoded.items()), skip=skip)


def _too_deep(value: Any) -> bool:
    pending: list[tuple[Any, int]] = [(value, 1)]
    while pending:
        current, depth = pending.pop()
        if depth > MAX_TOKEN_DEPTH:
            return True
        children = current.values() if isinstance(current, dict) else current
        pending.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


def _explain(token: str, input_tokens: tuple[str, ...]) -> str:
    shown = token if len(token) <= 40 else token[:37] + "..."
    names = ", ".join(input_tokens)
    return (
        f"StartingToken {shown!r} is not a paginator token (base64 JSON from a previous "
        f"NextToken). If it is the service's own token, pass it as the operation's "
        f"parameter ({names}) instead of PaginationConfig['StartingToken']"
    )


def token_key(tokens: Mapping[str, Any]) -> bytes:
    """An order-independent 16-byte digest of a set of service tokens (for cycle checks).

    A digest, not the token itself: tokens can run to kilobytes, and a listing remembers
    the last thousand of them.
    """
    encoded = str(_encoder.encode(dict(sorted(tokens.items())))).encode()
    return hashlib.blake2b(encoded, digest_size=16).digest()
