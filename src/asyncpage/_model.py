"""PagingModel: what botocore's ``paginators-1.json`` says about one operation.

The model is data, read through the client exactly as botocore's ``get_paginator`` reads
it, so one paging loop serves every operation botocore can paginate.
"""

from __future__ import annotations

import json
import numbers
import reprlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import jmespath
from jmespath.parser import ParsedResult

from ._errors import (
    InvalidPaginationConfigError,
    InvalidPaginationConfigTypeError,
    OperationNotPaginatedError,
    OperationNotPaginatedTypeError,
)
from ._validation import require_client

__all__ = ["PagingModel", "paginated_operations"]


@dataclass(frozen=True, slots=True)
class PagingModel:
    """The paging facts of one operation, compiled once and shared."""

    service_name: str
    operation_name: str
    py_name: str
    input_tokens: tuple[str, ...]
    output_tokens: tuple[ParsedResult, ...]
    more_results: ParsedResult | None
    result_keys: tuple[ParsedResult, ...]
    non_aggregate_keys: tuple[ParsedResult, ...]
    limit_key: str | None
    limit_is_string: bool

    @property
    def primary_result_key(self) -> ParsedResult:
        return self.result_keys[0]

    def primary_value(self, page: Mapping[str, Any]) -> Any:
        """The value under the primary result key, as it is (a list, or a string for
        operations such as rds ``download_db_log_file_portion``), or ``None``."""
        return self.result_keys[0].search(page) if self.result_keys else None

    def items_of(self, page: Mapping[str, Any]) -> list[Any]:
        """The items of ``page`` under the primary result key, as botocore counts them."""
        if not self.result_keys:
            return []
        found = self.result_keys[0].search(page)
        return found if isinstance(found, list) else [] if found is None else list(found)

    @classmethod
    def for_client(cls, client: Any, py_name: str) -> PagingModel:
        """Read the model of ``client``'s operation ``py_name`` (``"list_objects_v2"``).

        Raises :class:`OperationNotPaginatedError` (a ``ValueError``) when the client has no
        such operation or botocore has no paginator for it; the message lists the
        operations of this client that are paginated. Raises
        :class:`~asyncpage.InvalidPaginationTypeError` when ``client`` is not a botocore
        or aiobotocore client.
        """
        require_client(client)
        if not isinstance(py_name, str):
            raise OperationNotPaginatedTypeError(
                f"operation_name must be a str such as 'list_objects_v2', not {py_name!r}",
                operation_name=repr(py_name),
                paginated=paginated_operations(client),
            )
        service_model = client.meta.service_model
        mapping: Mapping[str, str] = client.meta.method_to_api_mapping
        api_name = mapping.get(py_name)
        if api_name is None or not client.can_paginate(py_name):
            paginated = paginated_operations(client)
            what = "has no operation" if api_name is None else "cannot paginate"
            raise OperationNotPaginatedError(
                f"{service_model.service_name} client {what} {py_name!r}; "
                f"its paginated operations are: {', '.join(paginated) or '(none)'}",
                operation_name=py_name,
                paginated=paginated,
            )
        # botocore's own paging model of this client, read as its get_paginator() reads it.
        config = client._cache["page_config"][api_name]  # noqa: SLF001
        return _compile(
            service_model.service_name,
            api_name,
            py_name,
            config,
            service_model.operation_model(api_name).input_shape,
        )

    def page_size_param(self, page_size: object) -> int | str:
        """Validate ``PageSize`` and convert it to the limit key's wire type."""
        if self.limit_key is None:
            raise InvalidPaginationConfigError(
                f"PageSize is not supported by {self.py_name}: the operation has no limit "
                "parameter; drop PageSize (MaxItems still works)"
            )
        value = positive_int("PageSize", page_size)
        return str(value) if self.limit_is_string else value


def positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1, accepting what botocore's ``int(value)`` takes unchanged.

    That is ints, numeric strings, and whole floats, Decimals or Fractions; a value
    ``int()`` would truncate (``Decimal("5.5")``) or cannot convert (infinity, NaN) is a
    bad value, and a bool, bytes, list... a bad type.
    """
    if isinstance(value, bool) or not isinstance(value, str | numbers.Real | Decimal):
        raise InvalidPaginationConfigTypeError(
            f"{name} must be a positive integer, not {reprlib.repr(value)} ({type(value).__name__})"
        )
    try:
        number = int(value)  # type: ignore[arg-type]  # a Real that is not SupportsInt
    except TypeError:
        raise InvalidPaginationConfigTypeError(
            f"{name} must be a positive integer, not {reprlib.repr(value)}"
        ) from None
    except (ValueError, OverflowError):  # "abc", "2.5", NaN, infinity
        raise InvalidPaginationConfigError(
            f"{name} must be a positive integer, not {reprlib.repr(value)}"
        ) from None
    if not isinstance(value, int | str) and value != number:
        raise InvalidPaginationConfigError(f"{name} must be a whole number, not {value!r}")
    if number < 1:
        raise InvalidPaginationConfigError(f"{name} must be at least 1, not {reprlib.repr(value)}")
    return number


def paginated_operations(client: Any) -> tuple[str, ...]:
    """The operation names (snake_case) ``client`` can paginate, sorted."""
    require_client(client)
    mapping: Mapping[str, str] = client.meta.method_to_api_mapping
    return tuple(sorted(name for name in mapping if client.can_paginate(name)))


#: Compiled models, keyed by everything they are compiled from: two clients of one service
#: with different paging models (a custom or newer model, a test double) never share one.
_compiled: dict[tuple[str, str, str, str, bool], PagingModel] = {}


def _compile(
    service_name: str, api_name: str, py_name: str, config: Mapping[str, Any], input_shape: Any
) -> PagingModel:
    limit_key = config.get("limit_key")
    limit_is_string = False
    if limit_key is not None and input_shape is not None:
        member = input_shape.members.get(limit_key)
        limit_is_string = member is not None and member.type_name == "string"
    key = (service_name, api_name, py_name, json.dumps(config, sort_keys=True), limit_is_string)
    model = _compiled.get(key)
    if model is None:
        model = PagingModel(
            service_name=service_name,
            operation_name=api_name,
            py_name=py_name,
            input_tokens=tuple(_as_list(config["input_token"])),
            output_tokens=tuple(jmespath.compile(e) for e in _as_list(config["output_token"])),
            more_results=(
                jmespath.compile(config["more_results"]) if "more_results" in config else None
            ),
            result_keys=tuple(jmespath.compile(e) for e in _as_list(config.get("result_key"))),
            non_aggregate_keys=tuple(
                jmespath.compile(e) for e in config.get("non_aggregate_keys", ())
            ),
            limit_key=limit_key,
            limit_is_string=limit_is_string,
        )
        _compiled[key] = model
    return model


def _as_list(value: str | Sequence[str] | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)
