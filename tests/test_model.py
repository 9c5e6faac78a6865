"""PagingModel reads botocore's paginator data exactly as botocore's own Paginator does."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import botocore.session
import pytest

import asyncpage
from asyncpage._model import PagingModel


def test_every_paginated_operation_botocore_models_compiles_identically() -> None:
    session = botocore.session.get_session()
    checked = 0
    for service in session.get_available_services():
        client = session.create_client(
            service, region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
        )
        for py_name in client.meta.method_to_api_mapping:
            if not client.can_paginate(py_name):
                continue
            # Any: what is compared is botocore's private state, which no stub declares.
            theirs: Any = client.get_paginator(py_name)
            ours = PagingModel.for_client(client, py_name)
            assert list(ours.input_tokens) == theirs._input_token, (service, py_name)
            assert [e.expression for e in ours.output_tokens] == [
                e.expression for e in theirs._output_token
            ], (service, py_name)
            assert [e.expression for e in ours.result_keys] == [
                e.expression for e in theirs.result_keys
            ], (service, py_name)
            assert [e.expression for e in ours.non_aggregate_keys] == [
                e.expression for e in theirs._non_aggregate_keys
            ], (service, py_name)
            assert ours.limit_key == theirs._limit_key, (service, py_name)
            more = theirs._more_results
            assert (ours.more_results is None) == (more is None), (service, py_name)
            if more is not None and ours.more_results is not None:
                assert ours.more_results.expression == more.expression
            checked += 1
    # botocore 1.43 models over 3,000 paginated operations; a sweep that saw few is broken.
    assert checked > 3000


def test_unknown_and_unpaginated_operations_name_the_paginated_ones() -> None:
    client = botocore.session.get_session().create_client(
        "dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x"
    )
    with pytest.raises(asyncpage.OperationNotPaginatedError) as caught:
        PagingModel.for_client(client, "get_item")
    assert "list_backups" in str(caught.value) and "scan" in caught.value.paginated
    with pytest.raises(ValueError, match="has no operation"):
        PagingModel.for_client(client, "list_bakcups")


def test_clients_of_one_service_with_different_paging_models_each_keep_their_own(
    tmp_path: Path,
) -> None:
    # A custom (or newer) paginators-1.json for DynamoDB: ListTables without a limit key.
    service = botocore.session.get_session()
    version = service.get_component("data_loader").list_api_versions("dynamodb", "service-2")[-1]
    custom_dir = tmp_path / "dynamodb" / version
    custom_dir.mkdir(parents=True)
    custom = {
        "pagination": {
            "ListTables": {
                "input_token": "ExclusiveStartTableName",
                "output_token": "LastEvaluatedTableName",
                "result_key": "TableNames",
            }
        }
    }
    (custom_dir / "paginators-1.json").write_text(json.dumps(custom))
    custom_session = botocore.session.get_session()
    custom_session.get_component("data_loader").search_paths.insert(0, str(tmp_path))
    keys: dict[str, Any] = {
        "region_name": "us-east-1",
        "aws_access_key_id": "x",
        "aws_secret_access_key": "x",
    }
    stock = service.create_client("dynamodb", **keys)
    changed = custom_session.create_client("dynamodb", **keys)
    theirs: Any = changed.get_paginator("list_tables")
    assert theirs._limit_key is None  # botocore reads it

    # Either order: the first client's model must not serve the second.
    assert PagingModel.for_client(stock, "list_tables").limit_key == "Limit"
    assert PagingModel.for_client(changed, "list_tables").limit_key is None
    assert PagingModel.for_client(stock, "list_tables").limit_key == "Limit"
    # What paginate() does with PageSize for each: sent as Limit, or refused.
    assert PagingModel.for_client(stock, "list_tables").page_size_param(2) == 2
    with pytest.raises(asyncpage.InvalidPaginationConfigError, match="no limit parameter"):
        PagingModel.for_client(changed, "list_tables").page_size_param(2)
