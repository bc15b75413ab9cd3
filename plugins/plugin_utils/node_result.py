# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The controller's check of one node's ``node_audit`` result, before the report or the planner uses it.

A node answers with whatever it likes: a compromised or broken node may send NaN, infinities, wrong types, huge
lists or control characters. ``SCHEMA`` (a subset of JSON Schema 2020-12, published as
docs/node-audit-result-schema.json) is the single description of what the controller accepts;
``validate_node_result`` checks a result against it and returns a clean copy (plain Python types, every string
sanitised) or a message naming the first field that is wrong. Beyond the schema, every value anywhere in the
result must be JSON data (no NaN, no infinity, string keys) within the size limits below.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import math
import re

# Size limits for one node's result. Generous: a real node with hundreds of sites sends well under 10 MiB.
MAX_STRING = 65536  # characters in any one string (a log line, a PEM subject, a path)
MAX_KEY = 1024  # characters in any one dictionary key (hostnames are keys of ``served``)
MAX_ITEMS = 20000  # entries in any one list or dictionary
MAX_DEPTH = 32  # nesting of lists and dictionaries
MAX_VALUES = 2_000_000  # values (leaves and containers) in the whole result
MAX_TEXT = 64 * 1024 * 1024  # characters of all strings in the whole result
MAX_SITES = 5000  # entries of evidence.sites
MAX_NODE_HOSTNAMES = 20000  # (site, hostname) pairs served by one node
MAX_FINDINGS = 20000
MAX_EVIDENCE_LINES = 1000  # lines of evidence of one finding
MAX_NAME = 1024  # hostnames, sites, servers in findings
MAX_SECONDS = 100 * 366 * 86400  # |seconds_left|: a century either way

_NAME = {"type": ["string", "null"], "maxLength": MAX_NAME}
_NULLABLE_TEXT = {"type": ["string", "null"], "maxLength": MAX_STRING}
_FLAG = {"type": ["boolean", "null"]}
_SHA256 = {"type": ["string", "null"], "pattern": "^[0-9A-Fa-f:]{1,200}$"}
_CERTIFICATES = {
    "type": ["array", "null"],
    "maxItems": 64,
    "items": {"type": "object", "properties": {"sha256": _SHA256}},
}
_PROTOCOL = {"type": ["object", "null"], "properties": {"presented": _CERTIFICATES}}
_SERVED = {
    "type": "object",
    "description": "What the node served for one hostname of the site (tls_endpoint_info's endpoint).",
    "properties": {
        "reachable": _FLAG,
        "leaf_sha256": _SHA256,
        "summary": {
            "type": ["object", "null"],
            "properties": {
                "staple_state": _NAME,
                "staple_states": {
                    "type": ["object", "null"],
                    "maxProperties": 16,
                    "additionalProperties": _NAME,
                },
                "seconds_left": {"type": ["number", "null"], "minimum": -MAX_SECONDS, "maximum": MAX_SECONDS},
            },
        },
        "protocols": {
            "type": ["object", "null"],
            "maxProperties": 16,
            "additionalProperties": _PROTOCOL,
        },
    },
}
_SITE = {
    "type": "object",
    "properties": {
        "site": _NAME,
        "server": _NAME,
        "key": _NAME,
        "hostnames": {
            "type": ["array", "null"],
            "maxItems": MAX_ITEMS,
            "items": {"type": "string", "maxLength": MAX_NAME},
        },
        "served": {
            "type": ["object", "null"],
            "maxProperties": MAX_ITEMS,
            "propertyNames": {"maxLength": MAX_NAME},
            "additionalProperties": _SERVED,
        },
    },
}
_FINDING = {
    "type": "object",
    "required": ["code"],
    "properties": {
        "code": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
        # An unknown severity or a single evidence string is taken as the report has always taken it.
        "severity": {"type": ["string", "null"], "maxLength": 32},
        "server": _NAME,
        "site": _NAME,
        "hostname": _NAME,
        "evidence": {"type": ["array", "string", "null"], "maxItems": MAX_EVIDENCE_LINES, "items": {"type": "string"}},
        "remediation": _NULLABLE_TEXT,
        "fixed_by": {"type": ["string", "null"], "pattern": "^[a-z0-9_]{1,64}$"},
        "details": {"type": ["object", "null"]},
    },
}
SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://galaxy.ansible.com/tlsfleet/stapling/node-audit-result-schema.json",
    "title": "tlsfleet.stapling node_audit result, as the controller accepts it",
    "description": (
        "Generated from plugins/plugin_utils/node_result.py (SCHEMA); see docs/report.md. Beyond this schema, every "
        "value must be JSON data: numbers finite, dictionary keys strings of at most %d characters, strings at most "
        "%d characters, lists and dictionaries at most %d entries, nesting at most %d deep, at most %d values and "
        "%d characters of text in all, at most %d (site, hostname) pairs."
        % (MAX_KEY, MAX_STRING, MAX_ITEMS, MAX_DEPTH, MAX_VALUES, MAX_TEXT, MAX_NODE_HOSTNAMES)
    ),
    "type": "object",
    "properties": {
        "failed": _FLAG,
        "unreachable": _FLAG,
        "skipped": _FLAG,
        "msg": _NULLABLE_TEXT,
        "skip_reason": _NULLABLE_TEXT,
        "findings": {"type": "array", "maxItems": MAX_FINDINGS, "items": _FINDING},
        "summary": {"type": ["object", "null"]},
        "evidence": {
            "type": "object",
            "properties": {
                "servers": {
                    "type": ["array", "null"],
                    "maxItems": 64,
                    "items": {"type": "object", "properties": {"type": _NAME}},
                },
                "sites": {"type": ["array", "null"], "maxItems": MAX_SITES, "items": _SITE},
                "errors": {"type": ["array", "null"], "maxItems": MAX_ITEMS, "items": {"type": "string"}},
            },
        },
    },
}

# --------------------------------------------------------------------------------------------------------------
# The sanitiser: one rule for every node string the controller renders


# C0 (but tab and newline), DEL, C1, lone surrogates (cannot be encoded), and the Unicode non-characters.
_BAD = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff]")
REPLACEMENT = "\ufffd"


def _plane_end(char: str) -> bool:
    return (ord(char) & 0xFFFE) == 0xFFFE


def sanitise(text, keep_newlines: bool = True) -> str:
    """``text`` as a string with every control character (but tab and, with ``keep_newlines``, newline), DEL,
    C1 control, lone surrogate and Unicode non-character replaced by U+FFFD. Carriage returns are replaced too."""
    text = "" if text is None else str(text)
    if _BAD.search(text) or (text and max(text) >= "\U0001fffe" and any(_plane_end(c) for c in text)):
        text = _BAD.sub(REPLACEMENT, text)
        text = "".join(REPLACEMENT if ord(c) >= 0x1FFFE and _plane_end(c) else c for c in text)
    if not keep_newlines and ("\n" in text or "\t" in text):
        text = text.replace("\n", " ").replace("\t", " ")
    return text


# --------------------------------------------------------------------------------------------------------------
# The validator


class Malformed(ValueError):
    """A node result that does not meet SCHEMA; the message names the field."""


_TYPES = {
    "object": lambda value: isinstance(value, dict),
    "array": lambda value: isinstance(value, (list, tuple)),
    "string": lambda value: isinstance(value, str),
    "boolean": lambda value: isinstance(value, bool),
    "null": lambda value: value is None,
    "integer": lambda value: isinstance(value, int) and not isinstance(value, bool),
    "number": lambda value: isinstance(value, (int, float)) and not isinstance(value, bool),
}
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _path_key(path: str, key: str) -> str:
    if _IDENTIFIER.match(key):
        return "%s.%s" % (path, key) if path else key
    shown = sanitise(key[:80] + ("..." if len(key) > 80 else ""), keep_newlines=False)
    return "%s[%r]" % (path, shown)


def _describe(value) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, (list, tuple)):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (int, float)):
        return "a number"
    return "a %s" % type(value).__name__


class _Walker:
    def __init__(self):
        self.values = 0
        self.text = 0

    def clean(self, value, schema, path: str, depth: int = 0):
        """A sanitised plain copy of ``value``, checked against ``schema`` (None: any JSON data)."""
        self.values += 1
        if self.values > MAX_VALUES:
            raise Malformed("%s: the result holds more than %d values" % (path or "the result", MAX_VALUES))
        where = path or "the result"
        if isinstance(value, float) and math.isnan(value):
            raise Malformed("%s is NaN" % where)
        if isinstance(value, float) and math.isinf(value):
            raise Malformed("%s is infinite" % where)
        schema = schema or {}
        wanted = schema.get("type")
        if wanted is not None:
            kinds = wanted if isinstance(wanted, list) else [wanted]
            if not any(_TYPES[kind](value) for kind in kinds):
                raise Malformed("%s is %s, expected %s" % (where, _describe(value), " or ".join(kinds)))
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, int):
            if abs(value) > 2**63:
                raise Malformed("%s is out of range" % where)
            self._range(value, schema, where)
            return int(value)
        if isinstance(value, float):
            self._range(value, schema, where)
            return float(value)
        if isinstance(value, str):
            limit = min(schema.get("maxLength", MAX_STRING), MAX_STRING)
            if len(value) > limit:
                raise Malformed("%s is longer than %d characters" % (where, limit))
            self.text += len(value)
            if self.text > MAX_TEXT:
                raise Malformed("%s: the result holds more than %d characters of text" % (where, MAX_TEXT))
            if "pattern" in schema and not re.search(schema["pattern"], value):
                raise Malformed("%s is not of the form %s" % (where, schema["pattern"]))
            return sanitise(value)
        if depth >= MAX_DEPTH:
            raise Malformed("%s is nested deeper than %d levels" % (where, MAX_DEPTH))
        if isinstance(value, (list, tuple)):
            limit = min(schema.get("maxItems", MAX_ITEMS), MAX_ITEMS)
            if len(value) > limit:
                raise Malformed("%s has %d entries, more than %d" % (where, len(value), limit))
            items = schema.get("items")
            return [self.clean(item, items, "%s[%d]" % (path, index), depth + 1) for index, item in enumerate(value)]
        if isinstance(value, dict):
            return self._object(value, schema, path, where, depth)
        raise Malformed("%s is %s, which is not JSON data" % (where, _describe(value)))

    @staticmethod
    def _range(value, schema, where):
        if "minimum" in schema and value < schema["minimum"]:
            raise Malformed("%s is %s, below %s" % (where, value, schema["minimum"]))
        if "maximum" in schema and value > schema["maximum"]:
            raise Malformed("%s is %s, above %s" % (where, value, schema["maximum"]))

    def _object(self, value: dict, schema: dict, path: str, where: str, depth: int) -> dict:
        limit = min(schema.get("maxProperties", MAX_ITEMS), MAX_ITEMS)
        if len(value) > limit:
            raise Malformed("%s has %d entries, more than %d" % (where, len(value), limit))
        for name in schema.get("required", ()):
            if name not in value:
                raise Malformed("%s is missing" % _path_key(path, name))
        properties = schema.get("properties", {})
        key_limit = min(schema.get("propertyNames", {}).get("maxLength", MAX_KEY), MAX_KEY)
        clean = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise Malformed("%s has a key that is %s, not a string" % (where, _describe(key)))
            if len(key) > key_limit:
                raise Malformed("%s has a key longer than %d characters" % (where, key_limit))
            self.text += len(key)
            child = properties.get(key, schema.get("additionalProperties"))
            clean_key = sanitise(key)
            if clean_key in clean:
                raise Malformed("%s has two keys that read the same once sanitised" % _path_key(path, clean_key))
            clean[clean_key] = self.clean(item, child, _path_key(path, key), depth + 1)
        return clean


def _pairs(result: dict) -> int:
    sites = (result.get("evidence") or {}).get("sites") or []
    return sum(len(site.get("served") or {}) for site in sites)


def validate_node_result(host, result) -> tuple[dict | None, str | None]:
    """``(clean, None)`` when ``result`` meets SCHEMA and the limits, else ``(None, message naming the field)``.

    ``clean`` is a copy of ``result`` made of plain dicts, lists, strings, numbers, booleans and None, with every
    string sanitised (``sanitise``). Never raises for any input.
    """
    host = sanitise(host, keep_newlines=False)[:MAX_NAME]
    if not isinstance(result, dict):
        return None, "no node_audit result for %s (got %s)" % (host, _describe(result))
    try:
        clean = _Walker().clean(result, SCHEMA, "")
        if isinstance(clean.get("evidence"), dict) and _pairs(clean) > MAX_NODE_HOSTNAMES:
            raise Malformed("evidence.sites serves more than %d (site, hostname) pairs" % MAX_NODE_HOSTNAMES)
    except Malformed as error:
        return None, "malformed node_audit result from %s: %s" % (host, error)
    except RecursionError:
        return None, "malformed node_audit result from %s: nested too deeply" % host
    except Exception as error:  # a node's answer must never stop the run for every host
        return None, "malformed node_audit result from %s: %s" % (host, sanitise(error, keep_newlines=False)[:300])
    return clean, None
