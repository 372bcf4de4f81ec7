"""Coupa's default XML rendering (type attributes, nil, <errors>): coupa-api.md §2 and §6."""

from __future__ import annotations

import re
from typing import Any
from xml.etree import ElementTree as ET

from simulators.coupa.records import Record

_DECIMAL = re.compile(r"-?\d+\.\d+")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T")
# Root element names per resource (the PO list root is ``order-headers``, §4).
ROOTS = {
    "invoices": ("invoice-headers", "invoice-header"),
    "purchase_orders": ("order-headers", "order-header"),
    "suppliers": ("suppliers", "supplier"),
}


def _singular(name: str) -> str:
    if name.endswith("addresses"):
        return name[:-2]
    if name.endswith("ies"):
        return name[:-3] + "y"
    return name.removesuffix("s")


def _fill(element: ET.Element, value: Any) -> None:
    if value is None:
        element.set("nil", "true")
    elif isinstance(value, bool):
        element.set("type", "boolean")
        element.text = "true" if value else "false"
    elif isinstance(value, int):
        element.set("type", "integer")
        element.text = str(value)
    elif isinstance(value, float):
        element.set("type", "float")
        element.text = repr(value)
    elif isinstance(value, dict):
        for key, item in value.items():
            _fill(ET.SubElement(element, key), item)
    elif isinstance(value, list):
        element.set("type", "array")
        for item in value:
            _fill(ET.SubElement(element, _singular(element.tag)), item)
    else:
        text = str(value)
        if _DECIMAL.fullmatch(text):
            element.set("type", "decimal")
        elif _DATETIME.match(text):
            element.set("type", "dateTime")
        element.text = text


def _serialise(root: ET.Element) -> bytes:
    body: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return body


def render_record(resource: str, record: Record) -> bytes:
    """One record as ``<invoice-header>…</invoice-header>`` (or the resource's element)."""
    element = ET.Element(ROOTS[resource][1])
    _fill(element, record)
    return _serialise(element)


def render_list(resource: str, records: list[Record]) -> bytes:
    """A list under its plural root with ``type="array"``."""
    plural, singular = ROOTS[resource]
    root = ET.Element(plural, {"type": "array"})
    for record in records:
        _fill(ET.SubElement(root, singular), record)
    return _serialise(root)


def render_errors(messages: list[str]) -> bytes:
    """``<errors><error>…</error></errors>`` (§6, SPEC-NOTES)."""
    root = ET.Element("errors")
    for message in messages:
        ET.SubElement(root, "error").text = message
    return _serialise(root)
