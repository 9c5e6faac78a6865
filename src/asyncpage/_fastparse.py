"""Response parsers that walk the hottest listing responses with plans compiled from the model.

botocore parses a response by walking its output shape for every element: a regular
expression strips each tag's namespace, a dict of the children is built per structure, and
every member is looked up by name whether present or not. Here each output shape of
:data:`FAST_OUTPUTS` is compiled once, from the very model botocore is using, into nested
functions that walk the XML tree (or the ``json.loads`` result) child by child. For
rest-xml a scanner goes further and reads the plain XML S3 sends with one regular
expression per record, without building an element tree (see ``_Scanner``).

A plan only takes responses it fully understands. An element or JSON key that is no
member of its shape (a field newer than this botocore), a member repeated where the model
has no list, a value of the wrong JSON type, any error at all: the plan gives way and
botocore's own parser parses the response from the start, so the result, or the exception,
is botocore's. Shapes with features the compiler does not handle (XML maps and
attributes, tagged unions in XML, event streams, payload members) get no plan.

The parser classes subclass aiobotocore's and override one step each: the body payload of
rest-xml, ``_do_parse`` of query and ec2, the JSON body of json. Everything else — status
codes, errors, headers, ``ResponseMetadata`` — is botocore's code.
"""

from __future__ import annotations

import contextlib
import json
import re
from collections.abc import Callable, Mapping
from typing import Any, Final

from aiobotocore.parsers import (
    PROTOCOL_PARSERS,
    AioEC2QueryParser,
    AioJSONParser,
    AioQueryParser,
    AioResponseParserFactory,
    AioRestXMLParser,
)

__all__ = ["FAST_OUTPUTS", "FastParserFactory", "S3ErrorCheck", "statistics"]

Convert = Callable[[Any], Any]

# Output shapes given a plan, by protocol: exact names, or "Prefix*" rules. The compiler
# is generic; this table says which outputs get a plan. S3, DynamoDB Scan and the JSON
# protocol's listings (ListBackups) are measured in benchmarks/parsing.py; EC2 and
# query-protocol listings use the same compiler, unmeasured.
FAST_OUTPUTS: Final[Mapping[str, frozenset[str]]] = {
    "rest-xml": frozenset({"ListObjectsV2Output", "ListObjectVersionsOutput", "ListObjectsOutput"}),
    "json": frozenset({"ScanOutput", "QueryOutput", "Describe*", "List*"}),
    "ec2": frozenset({"Describe*"}),
    "query": frozenset({"Describe*", "List*"}),
}

# The locations botocore's XML structure walk skips (they come from headers or the status).
_KNOWN_LOCATIONS = frozenset({"statusCode", "header", "headers"})
# Elements of an EC2 response's root that botocore reads as metadata, not as members.
_EC2_ROOT_METADATA = frozenset({"requestId"})
_TAG_CACHE_LIMIT = 256

_counts = {"fast": 0, "scanned": 0, "gave_way": 0}


def statistics() -> dict[str, int]:
    """Responses the plans parsed (``fast``; ``scanned``: of them, without an element
    tree) and gave to botocore's parser (``gave_way``), since the process started."""
    return dict(_counts)


class _GiveWay(Exception):
    """This response holds something the plan does not know: botocore's parser takes it."""


class _Uncompilable(Exception):
    """The shape uses a feature the compiler leaves to botocore."""


def _wanted(protocol: str, shape_name: str) -> bool:
    for rule in FAST_OUTPUTS.get(protocol, ()):
        if rule.endswith("*"):
            if shape_name.startswith(rule[:-1]):
                return True
        elif shape_name == rule:
            return True
    return False


def _shape_key(shape: Any) -> tuple[Any, str]:
    """A structure's name within its own service model, the key of a compiled structure.

    One factory (a session's) serves every service, and one name can mean different
    shapes in two services (``ListTagsForResourceResponse`` has 19 definitions across the
    JSON services; ``ErrorDetails`` is a union in DMS and a plain structure in AppStream),
    so a name alone would hand one service's plan to another's shape. botocore's shapes
    know their service's shape resolver (one per service model) but do not say so
    publicly: without it, no plan.
    """
    resolver = getattr(shape, "_shape_resolver", None)
    if resolver is None:
        raise _Uncompilable(f"{shape.name}: no service model to tell it from others")
    return (resolver, shape.name)


def _local_name(tag: str) -> str:
    # botocore strips "{namespace}" with the regular expression "{.*}".
    return tag.rpartition("}")[2] if tag[:1] == "{" else tag


class _XMLCompiler:
    """Compiles a botocore shape into a function of an ElementTree element."""

    def __init__(self, timestamp_parser: Convert, blob_parser: Convert) -> None:
        self._timestamp_parser = timestamp_parser
        self._blob_parser = blob_parser
        self._done: dict[tuple[Any, str], Convert] = {}

    def compile(self, shape: Any, *, ignore: frozenset[str] = frozenset()) -> Convert:
        return self._structure(shape, ignore)

    def _convert(self, shape: Any) -> Convert:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape, frozenset())
        if kind == "list":
            return self._list(shape)
        if kind in ("string", "character"):
            return _xml_string
        if kind in ("integer", "long"):
            return _xml_integer
        if kind in ("float", "double"):
            return _xml_float
        if kind == "boolean":
            return _xml_boolean
        if kind == "timestamp":
            parse_timestamp = self._timestamp_parser
            return lambda node: parse_timestamp(node.text or "")
        if kind == "blob":
            parse_blob = self._blob_parser
            return lambda node: parse_blob(node.text or "")
        raise _Uncompilable(kind)

    def _list(self, shape: Any) -> Convert:
        convert = self._convert(shape.member)
        # Like botocore, the items of a wrapped list are its children, whatever their tag.
        return lambda node: [convert(item) for item in node]

    def _structure(self, shape: Any, ignore: frozenset[str]) -> Convert:
        key = _shape_key(shape) if not ignore else None
        if key is not None and key in self._done:
            return self._done[key]
        if (
            shape.metadata.get("exception")
            or shape.is_tagged_union
            or shape.is_document_type
            or shape.serialization.get("eventstream")
        ):
            raise _Uncompilable(shape.name)
        by_local: dict[str, tuple[int, str, Convert, bool] | None] = dict.fromkeys(ignore)
        names: list[str] = []
        by_tag: dict[str, tuple[int, str, Convert, bool] | None] = {}

        def structure(node: Any) -> dict[str, Any]:
            parsed: dict[str, Any] = {}
            last = -1
            ordered = True
            for child in node:
                tag = child.tag
                try:
                    entry = by_tag[tag]
                except KeyError:
                    entry = learn(tag)
                if entry is None:
                    continue
                index, name, convert, repeats = entry
                if repeats:
                    items = parsed.get(name)
                    if items is None:
                        parsed[name] = [convert(child)]
                    else:
                        items.append(convert(child))
                elif name in parsed:
                    raise _GiveWay(name)
                else:
                    parsed[name] = convert(child)
                if index < last:
                    ordered = False
                last = index
            if not ordered:
                # botocore's results follow the model's member order.
                return {name: parsed[name] for name in names if name in parsed}
            return parsed

        def learn(tag: str) -> tuple[int, str, Convert, bool] | None:
            local = _local_name(tag)
            if local not in by_local:
                raise _GiveWay(local)
            entry = by_local[local]
            if len(by_tag) < _TAG_CACHE_LIMIT:
                by_tag[tag] = entry
            return entry

        if key is not None:
            self._done[key] = structure
        for index, (name, member) in enumerate(shape.members.items()):
            serialization = member.serialization
            if serialization.get("location") in _KNOWN_LOCATIONS or serialization.get(
                "eventheader"
            ):
                continue
            if serialization.get("xmlAttribute") or member.type_name == "map":
                raise _Uncompilable(name)
            flattened = member.type_name == "list" and bool(serialization.get("flattened"))
            xml_name = serialization.get("name", name)
            if flattened:
                xml_name = member.member.serialization.get("name", xml_name)
                convert = self._convert(member.member)
            else:
                convert = self._convert(member)
            if xml_name in by_local:
                raise _Uncompilable(xml_name)
            by_local[xml_name] = (index, name, convert, flattened)
            names.append(name)
        return structure


def _xml_string(node: Any) -> str:
    return node.text or ""


def _xml_integer(node: Any) -> int:
    return int(node.text or "")


def _xml_float(node: Any) -> float:
    return float(node.text or "")


def _xml_boolean(node: Any) -> bool:
    return bool(node.text == "true")


class _JSONCompiler:
    """Compiles a botocore shape into a function of a ``json.loads`` value (None: as is)."""

    def __init__(self, timestamp_parser: Convert, blob_parser: Convert) -> None:
        self._timestamp_parser = timestamp_parser
        self._blob_parser = blob_parser
        self._done: dict[tuple[Any, str], Convert] = {}

    def compile(self, shape: Any) -> Convert:
        convert = self._convert(shape)
        assert convert is not None
        return convert

    def _convert(self, shape: Any) -> Convert | None:
        kind = shape.type_name
        if kind == "structure":
            return self._structure(shape)
        if kind == "list":
            return self._list(shape)
        if kind == "map":
            return self._map(shape)
        if kind == "timestamp":
            return self._timestamp_parser
        if kind == "blob":
            return self._blob_parser
        if kind in ("string", "character", "integer", "long", "float", "double", "boolean"):
            return None
        raise _Uncompilable(kind)

    def _list(self, shape: Any) -> Convert:
        convert = self._convert(shape.member)

        def as_list(value: Any) -> list[Any]:
            if type(value) is not list:
                raise _GiveWay("list")
            if convert is None:
                return value
            return [None if item is None else convert(item) for item in value]

        return as_list

    def _map(self, shape: Any) -> Convert:
        if self._convert(shape.key) is not None:
            raise _Uncompilable("map key")
        convert = self._convert(shape.value)

        def as_map(value: Any) -> dict[Any, Any]:
            if type(value) is not dict:
                raise _GiveWay("map")
            if convert is None:
                return value
            # botocore hands a null value to the value's handler, as here.
            return {key: convert(item) for key, item in value.items()}

        return as_map

    def _structure(self, shape: Any) -> Convert:
        key = _shape_key(shape)
        if key in self._done:
            return self._done[key]
        if shape.is_document_type or shape.serialization.get("eventstream"):
            raise _Uncompilable(shape.name)
        union = bool(shape.is_tagged_union)
        by_key: dict[str, tuple[int, str, Convert | None]] = {}
        names: list[str] = []

        def structure(value: Any) -> dict[str, Any] | None:
            if type(value) is not dict:
                if value is None:
                    return None
                raise _GiveWay("structure")
            if union and len(value) != 1:
                raise _GiveWay("union")
            parsed: dict[str, Any] = {}
            last = -1
            ordered = True
            for key, raw in value.items():
                entry = by_key.get(key)
                if entry is None:
                    raise _GiveWay(key)
                if raw is None:
                    if union:
                        raise _GiveWay("union")
                    continue
                index, name, convert = entry
                parsed[name] = raw if convert is None else convert(raw)
                if index < last:
                    ordered = False
                last = index
            if not ordered:
                return {name: parsed[name] for name in names if name in parsed}
            return parsed

        self._done[key] = structure
        for index, (name, member) in enumerate(shape.members.items()):
            json_name = member.serialization.get("name", name)
            if json_name in by_key or member.serialization.get("location"):
                raise _Uncompilable(json_name)
            by_key[json_name] = (index, name, self._convert(member))
            names.append(name)
        return structure


# -- rest-xml: one regular expression per record, no element tree --------------------------
#
# Building an ElementTree costs about 7 µs per S3 key, a tenth of botocore's whole parse.
# For the plain XML that S3 sends, a record (one <Contents>) is matched by one regular
# expression compiled from its shape: members in model order, each at most once, text of
# characters XML allows (no "\r", which XML rewrites; no ">", to stay clear of "]]>")
# with only the five named entities. Anything else — a comment, CDATA, an attribute, a
# character reference, whitespace between elements, an empty-element tag, another order —
# matches nothing, and the element-tree plan (then botocore) parses the response.

# Possessive (*+, ++): a text that does not match fails at once, with no backtracking.
_TEXT = r"((?:[^<&>\x00-\x08\x0b\x0c\x0e-\x1f\r\ufffe\uffff]++|&(?:amp|lt|gt|quot|apos);)*+)"
_NAME = r"[A-Za-z][A-Za-z0-9]*"
_PROLOG = re.compile(
    r'(?:<\?xml version="1\.0" encoding="(?:UTF|utf)-8"\?>[ \t\n]*)?'
    rf'<({_NAME})(?: xmlns="[^"<&>\x00-\x1f]*")?>'
)
_OPEN_TAG = re.compile(rf"<({_NAME})>")
_LEAF = re.compile(rf"<({_NAME})>{_TEXT}</\1>")
_EMPTY_LEAF = re.compile(rf"<({_NAME})/>")


def _unescape(text: str) -> str:
    # S3 writes every ETag as &quot;...&quot;: that one first, the rest only if left.
    text = text.replace("&quot;", '"')
    if "&" not in text:
        return text
    for entity, character in (("&lt;", "<"), ("&gt;", ">"), ("&apos;", "'")):
        text = text.replace(entity, character)
    return text.replace("&amp;", "&")


_Field = tuple[str, int, Any, str]  # member name, group, convert or sub-fields, kind


class _Scanner:
    """A rest-xml body parsed with regular expressions, or _GiveWay."""

    def __init__(self, shape: Any, timestamp_parser: Convert, blob_parser: Convert) -> None:
        self._timestamp_parser = timestamp_parser
        self._blob_parser = blob_parser
        self._order: list[str] = []
        # local name -> (index, member name, kind, convert or record pattern and fields)
        self._members: dict[str, tuple[int, str, str, Any]] = {}
        for index, (name, member) in enumerate(shape.members.items()):
            serialization = member.serialization
            if serialization.get("location") in _KNOWN_LOCATIONS:
                continue
            self._order.append(name)
            xml_name = serialization.get("name", name)
            if member.type_name == "list" and serialization.get("flattened"):
                item = member.member
                xml_name = item.serialization.get("name", xml_name)
                if item.type_name == "structure":
                    pattern, fields = self._record(item, 1)
                    regex = re.compile(f"<{re.escape(xml_name)}>{pattern}</{re.escape(xml_name)}>")
                    self._members[xml_name] = (index, name, "records", (regex, fields))
                else:
                    self._members[xml_name] = (index, name, "values", self._scalar(item))
            elif member.type_name in ("structure", "list", "map"):
                continue  # the element-tree plan takes responses that hold one
            else:
                self._members[xml_name] = (index, name, "value", self._scalar(member))

    def _scalar(self, shape: Any) -> Convert | None:
        """How to read a text: None for a string (its entities replaced), else a function.

        Numbers and booleans read the raw text: an entity in one makes a number fail (and
        botocore then parses the response) and a boolean false, as botocore reads them.
        """
        kind = shape.type_name
        if kind in ("string", "character"):
            return None
        if kind in ("integer", "long"):
            return int
        if kind in ("float", "double"):
            return float
        if kind == "boolean":
            return _is_true
        if kind == "timestamp":
            parse_timestamp = self._timestamp_parser
            return lambda text: parse_timestamp(_unescape(text) if "&" in text else text)
        if kind == "blob":
            parse_blob = self._blob_parser
            return lambda text: parse_blob(_unescape(text))
        raise _Uncompilable(kind)

    def _record(self, shape: Any, group: int) -> tuple[str, list[_Field]]:
        """The pattern of a structure's children, and how to read its groups."""
        if shape.metadata.get("exception") or shape.is_tagged_union:
            raise _Uncompilable(shape.name)
        parts: list[str] = []
        fields: list[_Field] = []
        for name, member in shape.members.items():
            serialization = member.serialization
            if serialization.get("location") in _KNOWN_LOCATIONS or serialization.get(
                "xmlAttribute"
            ):
                raise _Uncompilable(name)
            xml_name = serialization.get("name", name)
            kind = "value"
            target = member
            if member.type_name == "list":
                if not serialization.get("flattened"):
                    raise _Uncompilable(name)
                target = member.member
                xml_name = target.serialization.get("name", xml_name)
                kind = "list"  # a single item: a second one matches nothing
            tag = re.escape(xml_name)
            if target.type_name == "structure":
                inner, sub_fields = self._record(target, group + 1)
                parts.append(f"(<{tag}>{inner}</{tag}>)?")
                fields.append((name, group, sub_fields, kind + "-structure"))
                group += 1 + _groups(sub_fields)
            else:
                parts.append(f"(?:<{tag}>{_TEXT}</{tag}>)?")
                fields.append((name, group, self._scalar(target), kind))
                group += 1
        return "".join(parts), fields

    def __call__(self, body: bytes) -> dict[str, Any]:
        text = body.decode("utf-8")
        start = _PROLOG.match(text)
        if start is None:
            raise _GiveWay("prolog")
        end = f"</{start[1]}>"
        content = len(text.rstrip(" \t\n"))
        if not text.endswith(end, 0, content):
            raise _GiveWay("end")
        stop = content - len(end)
        position = start.end()
        members = self._members
        parsed: dict[str, Any] = {}
        last: tuple[str, Any, list[_Field]] | None = None
        while position < stop:
            if last is not None:
                # Records come in runs (<Contents> after <Contents>): try the last one first.
                match = last[1].match(text, position)
                if match is not None:
                    parsed[last[0]].append(_read(match.groups(), last[2]))
                    position = match.end()
                    continue
                last = None
            opening = _OPEN_TAG.match(text, position)
            if opening is None:
                opening = _EMPTY_LEAF.match(text, position)
                if opening is None:
                    raise _GiveWay("not an element")
            found = members.get(opening[1])
            if found is None:
                raise _GiveWay(opening[1])
            _, name, kind, how = found
            if opening[0][-2] == "/":  # <Prefix/>: an empty text, as botocore reads it
                if kind == "records":
                    raise _GiveWay(name)
                match = opening
                value = "" if how is None else how("")
                if kind == "values":
                    parsed.setdefault(name, []).append(value)
                elif name in parsed:
                    raise _GiveWay(name)
                else:
                    parsed[name] = value
            elif kind == "records":
                regex, fields = how
                match = regex.match(text, position)
                if match is None:
                    raise _GiveWay(name)
                records = parsed.get(name)
                if records is None:
                    records = parsed[name] = []
                records.append(_read(match.groups(), fields))
                last = (name, regex, fields)
            else:
                match = _LEAF.match(text, position)
                if match is None:
                    raise _GiveWay(name)
                value = match[2]
                if how is not None:
                    value = how(value)
                elif "&" in value:
                    value = _unescape(value)
                if kind == "values":
                    parsed.setdefault(name, []).append(value)
                elif name in parsed:
                    raise _GiveWay(name)
                else:
                    parsed[name] = value
            position = match.end()
        if position != stop:
            raise _GiveWay("end")
        return {name: parsed[name] for name in self._order if name in parsed}


def _groups(fields: list[_Field]) -> int:
    return sum(1 + _groups(how) if kind.endswith("-structure") else 1 for _, _, how, kind in fields)


def _read(groups: tuple[Any, ...], fields: list[_Field]) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for name, group, how, kind in fields:
        value = groups[group - 1]
        if value is None:
            continue
        if kind == "value":
            if how is not None:
                parsed[name] = how(value)
            else:
                parsed[name] = _unescape(value) if "&" in value else value
        elif kind == "list":
            if how is not None:
                value = how(value)
            elif "&" in value:
                value = _unescape(value)
            parsed[name] = [value]
        elif kind == "value-structure":
            parsed[name] = _read(groups, how)
        else:
            parsed[name] = [_read(groups, how)]
    return parsed


def _is_true(text: str) -> bool:
    return text == "true"


class _RestXMLPlan:
    """The scanner where it can, the element-tree plan where it cannot."""

    def __init__(self, scanner: _Scanner | None, tree: Convert) -> None:
        self.scanner = scanner
        self.tree = tree


def _compile_rest_xml(
    compiler: _XMLCompiler, shape: Any, timestamp_parser: Convert, blob_parser: Convert
) -> Any:
    tree = compiler.compile(shape)
    try:
        scanner: _Scanner | None = _Scanner(shape, timestamp_parser, blob_parser)
    except _Uncompilable:
        scanner = None
    return _RestXMLPlan(scanner, tree)


class _Plans:
    """One parser's compiled plans, by output shape (None: botocore parses it)."""

    def __init__(self, protocol: str, compile_shape: Callable[[Any], Any]) -> None:
        self._protocol = protocol
        self._compile = compile_shape
        self._plans: dict[Any, Any] = {}

    def get(self, shape: Any) -> Any:
        try:
            return self._plans[shape]
        except KeyError:
            pass
        plan = None
        if shape is not None and _wanted(self._protocol, shape.name):
            try:
                plan = self._compile(shape)
            except _Uncompilable:
                plan = None
        self._plans[shape] = plan
        return plan


_PlanCache = dict[tuple[str, Any, Any], _Plans]


def _shared_plans(
    plans: _PlanCache,
    protocol: str,
    timestamp_parser: Any,
    blob_parser: Any,
    compile_plans: Callable[[], Callable[[Any], Any]],
) -> _Plans:
    """The factory's plans for one protocol and pair of value parsers, made on first use
    (aiobotocore makes a parser per response; the compiled plans outlive them)."""
    key = (protocol, timestamp_parser, blob_parser)
    found = plans.get(key)
    if found is None:
        found = plans[key] = _Plans(protocol, compile_plans())
    return found


# The fast parsers extend aiobotocore's through botocore's protected parser steps, which
# botocore's type stubs do not declare: seen as Any, with or without the stubs installed.
_RestXMLBase: Any = AioRestXMLParser
_QueryBase: Any = AioQueryParser
_EC2QueryBase: Any = AioEC2QueryParser
_JSONBase: Any = AioJSONParser
_FactoryBase: Any = AioResponseParserFactory


class FastRestXMLParser(_RestXMLBase):  # type: ignore[misc]
    """aiobotocore's rest-xml parser, whose body walk takes a plan where one exists."""

    def __init__(
        self, timestamp_parser: Any = None, blob_parser: Any = None, *, plans: _PlanCache
    ) -> None:
        super().__init__(timestamp_parser, blob_parser)
        parse_timestamp, parse_blob = self._timestamp_parser, self._blob_parser

        def compile_plans() -> Callable[[Any], Any]:
            compiler = _XMLCompiler(parse_timestamp, parse_blob)
            return lambda shape: _compile_rest_xml(compiler, shape, parse_timestamp, parse_blob)

        self._fast_plans = _shared_plans(
            plans, "rest-xml", timestamp_parser, blob_parser, compile_plans
        )

    def _parse_payload(
        self, response: Any, shape: Any, member_shapes: Any, final_parsed: dict[str, Any]
    ) -> None:
        plan = self._fast_plans.get(shape)
        body = response["body"]
        if plan is not None and body and "payload" not in shape.serialization:
            try:
                parsed = None
                if plan.scanner is not None:
                    with contextlib.suppress(_GiveWay):
                        parsed = plan.scanner(body)
                        _counts["scanned"] += 1
                if parsed is None:
                    parsed = plan.tree(self._parse_xml_string_to_dom(body))
            except Exception:  # botocore's parser decides what any error means
                _counts["gave_way"] += 1
            else:
                _counts["fast"] += 1
                final_parsed.update(parsed)
                return
        super()._parse_payload(response, shape, member_shapes, final_parsed)


class FastQueryParser(_QueryBase):  # type: ignore[misc]
    """aiobotocore's query parser, with plans for :data:`FAST_OUTPUTS`."""

    _FAST_PROTOCOL = "query"
    _ROOT_METADATA: frozenset[str] = frozenset()

    def __init__(
        self, timestamp_parser: Any = None, blob_parser: Any = None, *, plans: _PlanCache
    ) -> None:
        super().__init__(timestamp_parser, blob_parser)
        parse_timestamp, parse_blob, ignore = (
            self._timestamp_parser,
            self._blob_parser,
            self._ROOT_METADATA,
        )

        def compile_plans() -> Callable[[Any], Any]:
            compiler = _XMLCompiler(parse_timestamp, parse_blob)
            return lambda shape: compiler.compile(shape, ignore=ignore)

        self._fast_plans = _shared_plans(
            plans, self._FAST_PROTOCOL, timestamp_parser, blob_parser, compile_plans
        )

    def _do_parse(self, response: Any, shape: Any) -> Any:
        plan = self._fast_plans.get(shape)
        if plan is not None:
            # QueryParser._parse_body_as_xml, with the plan as the body walk.
            try:
                root = self._parse_xml_string_to_dom(response["body"])
                start = root
                wrapper = shape.serialization.get("resultWrapper")
                if wrapper is not None:
                    start = self._find_result_wrapped_shape(wrapper, root)
                    if isinstance(start, list):
                        raise _GiveWay(wrapper)
                parsed = plan(start)
                self._inject_response_metadata(root, parsed)
            except Exception:  # botocore's parser decides what any error means
                _counts["gave_way"] += 1
            else:
                _counts["fast"] += 1
                return parsed
        return super()._do_parse(response, shape)


class FastEC2QueryParser(_EC2QueryBase, FastQueryParser):  # type: ignore[misc]
    """aiobotocore's ec2 parser, with plans for :data:`FAST_OUTPUTS`."""

    _FAST_PROTOCOL = "ec2"
    _ROOT_METADATA = _EC2_ROOT_METADATA


class FastJSONParser(_JSONBase):  # type: ignore[misc]
    """aiobotocore's json parser, whose body walk takes a plan where one exists."""

    def __init__(
        self, timestamp_parser: Any = None, blob_parser: Any = None, *, plans: _PlanCache
    ) -> None:
        super().__init__(timestamp_parser, blob_parser)
        parse_timestamp, parse_blob = self._timestamp_parser, self._blob_parser
        self._fast_plans = _shared_plans(
            plans,
            "json",
            timestamp_parser,
            blob_parser,
            lambda: _JSONCompiler(parse_timestamp, parse_blob).compile,
        )

    def _handle_json_body(self, raw_body: Any, shape: Any) -> Any:
        plan = self._fast_plans.get(shape)
        if plan is not None and raw_body:
            try:
                # The same decoding and json.loads call as botocore's _parse_body_as_json.
                parsed = plan(json.loads(raw_body.decode(self.DEFAULT_ENCODING)))
                if parsed is None:
                    raise _GiveWay("null")
            except Exception:  # botocore's parser decides what any error means
                _counts["gave_way"] += 1
            else:
                _counts["fast"] += 1
                return parsed
        return super()._handle_json_body(raw_body, shape)


_FAST_PARSERS: Final[Mapping[str, type]] = {
    "rest-xml": FastRestXMLParser,
    "query": FastQueryParser,
    "ec2": FastEC2QueryParser,
    "json": FastJSONParser,
}


class FastParserFactory(_FactoryBase):  # type: ignore[misc]
    """aiobotocore's parser factory, creating the fast parsers for their protocols.

    aiobotocore creates a parser per response; the compiled plans live here, one set per
    (protocol, timestamp parser, blob parser), for the life of the session.
    """

    def __init__(self) -> None:
        super().__init__()
        self._plans: _PlanCache = {}

    def create_parser(self, protocol_name: str) -> Any:
        parser_cls = _FAST_PARSERS.get(protocol_name)
        if parser_cls is None:
            parser: Any = PROTOCOL_PARSERS[protocol_name]
            return parser(**self._defaults)
        return parser_cls(plans=self._plans, **self._defaults)


# S3 listings whose 200 responses the whole-document check below may vouch for.
_CHECKED_LISTINGS: Final = frozenset({"ListObjectsV2", "ListObjectVersions", "ListObjects"})
# The scanner's opening of a document (_PROLOG), over bytes, after optional whitespace.
_WHOLE_DOCUMENT: Final = re.compile(rb"[ \t\n]*" + _PROLOG.pattern.encode("ascii"))


class S3ErrorCheck:
    """botocore's S3 "200 with an error in the body" check, without parsing listings twice.

    botocore's ``before-parse.s3.*`` handler builds an element tree of every S3 response
    body to see whether its root is ``<Error>`` (S3's error inside a 200) or whether the
    body is cut short (a partial response): either makes the status a 500, which is then
    retried. For a 1,000-key listing that is a second full parse, a quarter of the client's
    CPU with the fast path. For a listing's 200 response whose body opens with an element
    that is not ``Error`` and ends with that element's closing tag (neither an error nor
    cut short), this check answers at the cost of a prefix match; any other response —
    another operation, another status, an ``<Error>`` root, a body it cannot vouch for — goes
    to botocore's handler, unchanged. What it does not look for is malformed XML *inside*
    a well-framed body (which botocore would also call a 500): the parser then raises
    botocore's parse error instead of a retry.
    """

    __slots__ = ("_original",)

    def __init__(self, original: Callable[..., Any]) -> None:
        self._original = original

    def __call__(
        self, operation_model: Any = None, response_dict: Any = None, **kwargs: Any
    ) -> Any:
        if (
            response_dict
            and response_dict.get("status_code") == 200
            and getattr(operation_model, "name", None) in _CHECKED_LISTINGS
        ):
            body = response_dict.get("body")
            if isinstance(body, bytes) and _whole_document(body):
                return None
        return self._original(
            operation_model=operation_model, response_dict=response_dict, **kwargs
        )


def _whole_document(body: bytes) -> bool:
    """True when ``body`` opens with a root element other than ``Error`` and ends closing it."""
    opening = _WHOLE_DOCUMENT.match(body)
    if opening is None or opening[1] == b"Error":
        return False
    end = len(body)
    while end and body[end - 1] in b" \t\n":  # no copy of the body, as rstrip would make
        end -= 1
    return body.endswith(b"</" + opening[1] + b">", 0, end)
