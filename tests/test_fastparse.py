"""Generated responses of every protocol parse exactly as botocore parses them.

Hypothesis writes response bodies from botocore's own output shapes — every member
optional, lists of 0 to 3, scalars valid and not (bad numbers, every timestamp form, bad
base64, control characters), members out of model order, repeated, unknown, null — in
rest-xml, query, ec2, json and rest-json, and each body is parsed by botocore's parser, by
botocore's parser with asyncpage's timestamps, and by the fast path (``_parsing.py``):
the outcomes must be identical, exceptions included. The parsers are pure, so these run
outside an event loop; ``test_speedups.py`` covers responses recorded on both loops.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from xml.sax.saxutils import escape

import botocore.session
import pytest
from aiobotocore.parsers import AioResponseParserFactory
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from _parsing import assert_identical, assert_same_outcomes, parse_now
from asyncpage._fastparse import FastParserFactory

_SESSION = botocore.session.get_session()

TIMESTAMPS = [
    "2009-10-12T17:50:30.000Z",
    "2009-10-12T17:50:30Z",
    "2009-10-12T17:50:30.123456789+02:00",
    "2009-10-12T17:50:30-00:00",
    "2009-10-12T17:50:30",
    "Wed, 12 Oct 2009 17:50:00 GMT",
    "1255369830",
    "2009-02-30T00:00:00Z",
    "soon",
    "",
]
MAX_DEPTH = 4

_clean = st.text(st.characters(exclude_categories=["Cs", "Cc"]), max_size=6)
# Control characters make XML malformed: now and then, to compare the failures too.
text = st.one_of(_clean, _clean, _clean, _clean, st.text(max_size=3))


def _rarely(data: st.DataObject, odds: int) -> bool:
    """True once in ``odds + 1`` draws; shrinks to False (hypothesis favours small integers)."""
    return data.draw(st.sampled_from([False] * odds + [True]))


def _scalar_text(data: st.DataObject, kind: str) -> str:
    junk = _rarely(data, 14)
    if kind in ("integer", "long"):
        if junk:
            return data.draw(st.sampled_from(["", "1x", " 1", "1_0", "+1"]))
        return data.draw(st.integers(-(2**63), 2**63).map(str))
    if kind in ("float", "double"):
        if junk:
            return data.draw(st.sampled_from(["1e3", "nan", "x", "", "inf"]))
        return data.draw(st.floats().map(repr))
    if kind == "boolean":
        return data.draw(st.sampled_from(["true", "false", "True", ""]))
    if kind == "timestamp":
        return data.draw(st.sampled_from(TIMESTAMPS if junk else TIMESTAMPS[:7]))
    if kind == "blob":
        return data.draw(st.binary(max_size=6).map(lambda b: base64.b64encode(b).decode()) | text)
    return data.draw(text)


def _xml_children(data: st.DataObject, shape: Any, depth: int) -> str:
    """The children of a structure's element, mostly in model order."""
    parts: list[str] = []
    for name, member in shape.members.items():
        serialization = member.serialization
        if serialization.get("location") or _rarely(data, 2):
            continue
        kind = member.type_name
        if kind in ("structure", "list", "map") and depth >= MAX_DEPTH:
            continue
        xml_name = serialization.get("name", name)
        if kind == "list" and serialization.get("flattened"):
            item_name = member.member.serialization.get("name", xml_name)
            for _ in range(data.draw(st.integers(1, 3))):
                parts.append(_xml_element(data, item_name, member.member, depth + 1))
        else:
            parts.append(_xml_element(data, xml_name, member, depth + 1))
    if parts and _rarely(data, 9):
        parts.append(data.draw(st.sampled_from(parts)))  # a repeat
    if parts and _rarely(data, 9):
        parts.reverse()  # out of model order
    if _rarely(data, 19):
        parts.insert(
            data.draw(st.integers(0, len(parts))), "<NewerThanBotocore>1</NewerThanBotocore>"
        )
    return "".join(parts)


def _xml_element(data: st.DataObject, tag: str, shape: Any, depth: int) -> str:
    kind = shape.type_name
    if kind == "structure":
        inner = _xml_children(data, shape, depth)
    elif kind == "list":
        item = shape.member.serialization.get("name", "member")
        inner = "".join(
            _xml_element(data, item, shape.member, depth + 1)
            for _ in range(data.draw(st.integers(0, 3)))
        )
    elif kind == "map":
        inner = "".join(
            f"<entry><key>{escape(data.draw(text))}</key>"
            f"{_xml_element(data, 'value', shape.value, depth + 1)}</entry>"
            for _ in range(data.draw(st.integers(0, 2)))
        )
    else:
        inner = escape(_scalar_text(data, kind))
    if not inner and data.draw(st.booleans()):
        return f"<{tag}/>"
    return f"<{tag}>{inner}</{tag}>"


def _json_value(data: st.DataObject, shape: Any, depth: int) -> Any:
    kind = shape.type_name
    if _rarely(data, 59):
        return data.draw(st.sampled_from([None, "wrong", 7, [], {}]))
    if kind == "structure":
        if depth >= MAX_DEPTH:
            return {}
        value: dict[str, Any] = {}
        for name, member in shape.members.items():
            if not _rarely(data, 2):
                value[member.serialization.get("name", name)] = _json_value(data, member, depth + 1)
        if _rarely(data, 19):
            value["NewerThanBotocore"] = 1
        return value
    if kind == "list":
        if depth >= MAX_DEPTH:
            return []
        return [
            _json_value(data, shape.member, depth + 1) for _ in range(data.draw(st.integers(0, 3)))
        ]
    if kind == "map":
        if depth >= MAX_DEPTH:
            return {}
        return {
            data.draw(text): _json_value(data, shape.value, depth + 1)
            for _ in range(data.draw(st.integers(0, 2)))
        }
    if kind in ("integer", "long"):
        return data.draw(st.integers())
    if kind in ("float", "double"):
        return data.draw(st.floats(allow_nan=False))
    if kind == "boolean":
        return data.draw(st.booleans())
    if kind == "timestamp":
        return data.draw(st.sampled_from([1255369830, 1255369830.5, *TIMESTAMPS]))
    return _scalar_text(data, kind)


# (service, operation): every hot output, and one of each protocol the fast path leaves alone.
OPERATIONS = [
    ("s3", "ListObjectsV2"),
    ("s3", "ListObjectVersions"),
    ("s3", "ListObjects"),
    ("s3", "GetBucketAcl"),
    ("ec2", "DescribeInstances"),
    ("ec2", "DescribeVpcs"),
    ("ec2", "DescribeVolumes"),
    ("iam", "ListUsers"),
    ("iam", "ListRoles"),
    ("cloudformation", "DescribeStacks"),
    ("dynamodb", "Scan"),
    ("dynamodb", "Query"),
    ("dynamodb", "DescribeTable"),
    ("dynamodb", "ListBackups"),
    ("dynamodb", "ListTables"),
    ("logs", "DescribeLogGroups"),
    ("ssm", "DescribeParameters"),
    ("ecs", "ListServices"),
    ("apigateway", "GetRestApis"),
    ("lambda", "ListFunctions"),
]


def _response(data: st.DataObject, service: str, operation: str) -> tuple[str, Any, Any]:
    model = _SESSION.get_service_model(service)
    shape = model.operation_model(operation).output_shape
    protocol = model.resolved_protocol
    if protocol in ("json", "rest-json"):
        body = json.dumps(_json_value(data, shape, 0)).encode()
        headers = {"x-amzn-requestid": "r"}
    else:
        inner = _xml_children(data, shape, 0)
        namespace = ' xmlns="urn:generated"' if data.draw(st.booleans()) else ""
        if protocol == "rest-xml":
            assert shape is not None
            root = shape.serialization.get("name", "Root")
            prolog = data.draw(st.sampled_from(["", '<?xml version="1.0" encoding="UTF-8"?>\n']))
            xml = f"{prolog}<{root}{namespace}>{inner}</{root}>"
        elif protocol == "ec2":
            root = f"{operation}Response"
            xml = f"<{root}{namespace}><requestId>r</requestId>{inner}</{root}>"
        else:
            xml = (
                f"<{operation}Response{namespace}><{operation}Result>{inner}</{operation}Result>"
                "<ResponseMetadata><RequestId>r</RequestId></ResponseMetadata>"
                f"</{operation}Response>"
            )
        body = xml.encode()
        headers = {"x-amz-request-id": "r"}
    if _rarely(data, 19):
        body = body[: data.draw(st.integers(0, len(body)))]  # truncated
    return protocol, {"status_code": 200, "headers": headers, "body": body}, shape


@pytest.mark.parametrize(("service", "operation"), OPERATIONS)
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_generated_responses_parse_as_botocore_parses_them(
    service: str, operation: str, data: st.DataObject
) -> None:
    protocol, response, shape = _response(data, service, operation)
    assert_same_outcomes(protocol, response, shape)


# Pairs of services whose outputs reach a structure of the same name defined differently:
# one session's factory parses for every service, so each must get its own plan. The
# second body is the one a plan of the first service's shape would parse wrongly.
SAME_NAMES = [
    # Databases: a list of strings in redshift-data, of structures with a timestamp here.
    (
        ("redshift-data", "ListDatabases", '{"Databases": ["db"]}'),
        ("timestream-write", "ListDatabases", '{"Databases": [{"CreationTime": 1255369830}]}'),
    ),
    # ErrorDetails: a plain structure in AppStream, a tagged union (one member) in DMS.
    (
        ("appstream", "DescribeAppBlocks", '{"AppBlocks": [{"Name": "a", "Arn": "b"}]}'),
        ("dms", "DescribeMetadataModelImports", '{"Requests": [{"Error": {}}]}'),
    ),
    # DescribeClustersResponse: the same members in another model order.
    (
        ("cloudhsmv2", "DescribeClusters", '{"Clusters": [], "NextToken": "t"}'),
        ("memorydb", "DescribeClusters", '{"NextToken": "t", "Clusters": []}'),
    ),
]


@pytest.mark.parametrize("pair", SAME_NAMES, ids=[second[0] for _, second in SAME_NAMES])
def test_a_shape_name_two_services_define_differently_gets_a_plan_per_service(
    pair: tuple[tuple[str, str, str], tuple[str, str, str]],
) -> None:
    fast, plain = FastParserFactory(), AioResponseParserFactory()  # fast: one per session

    def parse(factory: Any, service: str, operation: str, body: str) -> Any:
        shape = _SESSION.get_service_model(service).operation_model(operation).output_shape
        response = {"status_code": 200, "headers": {}, "body": body.encode()}
        try:
            return "parsed", parse_now(factory.create_parser("json").parse(response, shape))
        except Exception as error:  # the exception is the outcome compared
            return "raised", (type(error), str(error))

    for service, operation, body in pair:
        ours, theirs = parse(fast, service, operation, body), parse(plain, service, operation, body)
        assert ours[0] == theirs[0], (service, ours, theirs)
        if ours[0] == "parsed":
            assert_identical(ours[1], theirs[1])
        else:
            assert ours == theirs
