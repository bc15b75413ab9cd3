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

import datetime
import math
import re

from ansible_collections.tlsfleet.stapling.plugins.module_utils import preflight_terms
from ansible_collections.tlsfleet.stapling.plugins.module_utils.evidence import VERSION as EVIDENCE_VERSION

# Size limits for one node's result. Generous: a real node with hundreds of sites sends well under 10 MiB.
MAX_STRING = 65536  # characters in any one string (a log line, a PEM subject, a path)
MAX_KEY = 1024  # characters in any one dictionary key (hostnames are keys of ``served``)
MAX_ITEMS = 20000  # entries in any one list or dictionary
MAX_DEPTH = 32  # nesting of lists and dictionaries
MAX_VALUES = 2_000_000  # values (leaves and containers) in the whole result
MAX_TEXT = 64 * 1024 * 1024  # characters of all strings in the whole result
MAX_DROPPED = 1000  # records a result may have left out (x-dropWhenInvalid) before the node is refused
MAX_NOTES = 20  # of them named one by one in evidence.errors; one line counts the rest
MAX_SITES = 5000  # entries of evidence.sites
MAX_NODE_HOSTNAMES = 20000  # (site, hostname) pairs served by one node
MAX_FINDINGS = 20000
MAX_EVIDENCE_LINES = 1000  # lines of evidence of one finding
MAX_NAME = 1024  # hostnames, sites, servers in findings
# |seconds_left|, |seconds_until_next_update|: any time a certificate, CRL or OCSP response can name, either way
# (GeneralizedTime 99991231235959Z is RFC 5280's "no expiry", so a node may rightly count ~8000 years).
MAX_SECONDS = 10000 * 366 * 86400
# A serial in hex: RFC 5280 allows 20 octets, real CAs issued longer and negative ones; 40 octets and a sign fit all.
MAX_SERIAL_OCTETS = 40
# A node record marked with this keyword that does not meet its schema is left out (and the omission noted in
# evidence.errors) instead of refusing the whole node: one odd CRL or one odd entry of it is not the node's all.
DROP_INVALID = "x-dropWhenInvalid"

_NAME = {"type": ["string", "null"], "maxLength": MAX_NAME}
_NULLABLE_TEXT = {"type": ["string", "null"], "maxLength": MAX_STRING}
_FLAG = {"type": ["boolean", "null"]}
_SHA256 = {"type": ["string", "null"], "pattern": "^[0-9A-Fa-f:]{1,200}$"}
_FINGERPRINT = {"type": "string", "pattern": "^[0-9A-Fa-f:]{1,200}$"}
# The evidence names certificates by fingerprint (docs/evidence-schema.json): the report and the drift check read
# the presented fingerprints of a verdict, the planner the configured leaf's record in ``certificates``.
_PROTOCOL = {"type": ["object", "null"], "properties": {"verdict": {"type": ["integer", "null"], "minimum": 0}}}
_VERDICT = {
    "type": "object",
    "properties": {
        "protocols": {"type": ["array", "null"], "maxItems": 16, "items": {"type": "string", "maxLength": MAX_NAME}},
        "presented": {"type": ["array", "null"], "maxItems": 64, "items": _FINGERPRINT},
    },
}
_CERTIFICATE = {
    "type": "object",
    "required": ["sha256"],
    "properties": {
        "sha256": _FINGERPRINT,
        "public_key_sha256": _SHA256,
        "ocsp_urls": {"type": ["array", "null"]},
        "key_type": _NAME,
    },
}
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
        "verdicts": {"type": ["array", "null"], "maxItems": 16, "items": _VERDICT},
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
        # What the remediation planner reads as mappings: the server's stapling facts (servers/<type>/facts.py),
        # where the site is served, and the trusted file of its configuration.
        "stapling": {"type": ["object", "null"]},
        "endpoint": {
            "type": ["object", "null"],
            "properties": {"host": _NAME, "port": {"type": ["integer", "null"], "minimum": 0, "maximum": 65535}},
        },
        "configured": {
            "type": ["object", "null"],
            "properties": {"leaf": _SHA256, "trusted": {"type": ["object", "null"], "properties": {"path": _NAME}}},
        },
    },
}
# A CRL the node fetched (plugins/module_utils/crl.py), keyed by distribution point URL: closed stage names,
# bounded text, a bounded table of the node's certificates looked up in it. The report renders it as text only.
MAX_CRL_PROBLEMS = 64
_TIME = {
    "type": ["string", "null"],
    "format": "date-time",
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z$",
}
_CRL = {
    "type": "object",
    DROP_INVALID: True,
    "properties": {
        "url": {"type": ["string", "null"], "maxLength": 4096},
        "reachable": _FLAG,
        "failed_stage": {"type": ["string", "null"], "pattern": "^(dns|connect|timeout|proxy|http|crl)$"},
        "error": {"type": ["string", "null"], "maxLength": 4096},
        "issuer_sha256": _SHA256,
        "valid": _FLAG,
        "signature_valid": _FLAG,
        "fresh": _FLAG,
        "this_update": _TIME,
        "next_update": _TIME,
        "seconds_until_next_update": {"type": ["integer", "null"], "minimum": -MAX_SECONDS, "maximum": MAX_SECONDS},
        "revoked_count": {"type": ["integer", "null"], "minimum": 0, "maximum": 2**40},
        "problems": {
            "type": ["array", "null"],
            "maxItems": MAX_CRL_PROBLEMS,
            "items": {"type": "string", "maxLength": 4096},
        },
        "certificates": {
            "type": ["object", "null"],
            "maxProperties": MAX_ITEMS,
            "propertyNames": {"maxLength": 200},
            "additionalProperties": {
                "type": "object",
                DROP_INVALID: True,
                "properties": {
                    "serial": {"type": ["string", "null"], "pattern": "^-?[0-9a-f]{1,%d}$" % (2 * MAX_SERIAL_OCTETS)},
                    "revoked": _FLAG,
                    "revocation_time": _TIME,
                    "reason": {"type": ["string", "null"], "pattern": "^[a-z_]{1,32}$"},
                },
            },
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
# node_audit's preflight (plugins/module_utils/preflight.py): per site a verdict from a closed set, checks from a
# closed set, sentences bounded; the report renders them as text only.
MAX_PREFLIGHT_LINES = 64  # sentences of one check, or reasons, warnings, changes of one site
_PREFLIGHT_LINES = {
    "type": ["array", "null"],
    "maxItems": MAX_PREFLIGHT_LINES,
    "items": {"type": "string", "maxLength": 4096},
}
_PREFLIGHT_CHANGE = {
    "type": "object",
    "required": ["by", "action"],
    "properties": {
        "by": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
        "action": {"type": "string", "pattern": "^[a-z0-9_]{1,64}$"},
        "path": _NAME,
        "text": {"type": ["string", "null"], "maxLength": 4096},
    },
}
_PREFLIGHT_SITE = {
    "type": "object",
    "required": ["verdict"],
    "properties": {
        "key": _NAME,
        "site": _NAME,
        "server": _NAME,
        "hostnames": {
            "type": ["array", "null"],
            "maxItems": MAX_ITEMS,
            "items": {"type": "string", "maxLength": MAX_NAME},
        },
        "verdict": {"type": "string", "pattern": "^(%s)$" % "|".join(preflight_terms.VERDICTS)},
        "reasons": _PREFLIGHT_LINES,
        "warnings": _PREFLIGHT_LINES,
        "changes": {"type": ["array", "null"], "maxItems": MAX_PREFLIGHT_LINES, "items": _PREFLIGHT_CHANGE},
        "checks": {
            "type": ["array", "null"],
            "maxItems": 16,
            "items": {
                "type": "object",
                "required": ["name", "status"],
                "properties": {
                    "name": {"type": "string", "pattern": "^(%s)$" % "|".join(preflight_terms.CHECKS)},
                    "status": {"type": "string", "pattern": "^(%s)$" % "|".join(preflight_terms.STATUSES)},
                    "evidence": _PREFLIGHT_LINES,
                    "changes": {"type": ["array", "null"], "maxItems": MAX_PREFLIGHT_LINES, "items": _PREFLIGHT_CHANGE},
                },
            },
        },
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
        "%d characters of text in all, at most %d (site, hostname) pairs. A string of format date-time must be a real "
        "date and time (years 0001 to 9999). An object marked %s that breaks its schema (not a limit of the whole "
        "result) is left out, and evidence.errors says so, instead of refusing the whole result."
        % (MAX_KEY, MAX_STRING, MAX_ITEMS, MAX_DEPTH, MAX_VALUES, MAX_TEXT, MAX_NODE_HOSTNAMES, DROP_INVALID)
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
        "preflight": {"type": ["array", "null"], "maxItems": MAX_SITES, "items": _PREFLIGHT_SITE},
        "preflight_summary": {
            "type": ["object", "null"],
            "required": ["verdict"],
            "properties": {
                "verdict": {"type": "string", "pattern": "^(%s)$" % "|".join(preflight_terms.NODE_VERDICTS)},
                "sites": {"type": ["integer", "null"], "minimum": 0, "maximum": MAX_SITES},
                "msg": {"type": ["string", "null"], "maxLength": 4096},
            },
        },
        "evidence": {
            "type": "object",
            "description": "node_audit's evidence; docs/evidence-schema.json describes it in full.",
            "required": ["version"],
            "properties": {
                "version": {"type": "integer", "minimum": EVIDENCE_VERSION, "maximum": EVIDENCE_VERSION},
                "certificates": {
                    "type": ["object", "null"],
                    "propertyNames": {"maxLength": 200},
                    "additionalProperties": _CERTIFICATE,
                },
                "servers": {
                    "type": ["array", "null"],
                    "maxItems": 64,
                    "items": {"type": "object", "properties": {"type": _NAME}},
                },
                "sites": {"type": ["array", "null"], "maxItems": MAX_SITES, "items": _SITE},
                "crls": {
                    "type": ["object", "null"],
                    "maxProperties": MAX_SITES,
                    "propertyNames": {"maxLength": MAX_KEY},
                    "additionalProperties": _CRL,
                },
                "errors": {"type": ["array", "null"], "maxItems": MAX_ITEMS, "items": {"type": "string"}},
            },
        },
    },
}

# --------------------------------------------------------------------------------------------------------------
# The sanitiser: one rule for every node string the controller renders


# C0 (but tab and newline), DEL, C1, lone surrogates (they cannot be encoded) and the Unicode non-characters
# (U+FDD0..U+FDEF and the last two code points of every plane).
_BAD = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff%s]"
    % "".join(chr(plane << 16 | 0xFFFE) + chr(plane << 16 | 0xFFFF) for plane in range(1, 17))
)
_BAD_ASCII = re.compile("[\x00-\x08\x0b-\x1f\x7f]")  # the same for ASCII text, ten times faster to search
REPLACEMENT = "\ufffd"


def _dirty(text: str) -> bool:
    """Whether ``text`` holds a character ``sanitise`` replaces (isprintable() is false for each of them)."""
    if text.isprintable():
        return False
    return (_BAD_ASCII if text.isascii() else _BAD).search(text) is not None


def sanitise(text, keep_newlines: bool = True) -> str:
    """``text`` as a string with every control character (but tab and, with ``keep_newlines``, newline), DEL,
    C1 control, lone surrogate and Unicode non-character replaced by U+FFFD. Carriage returns are replaced too;
    without ``keep_newlines``, newline and tab become spaces."""
    text = "" if text is None else text if isinstance(text, str) else str(text)
    if _dirty(text):
        text = _BAD.sub(REPLACEMENT, text)
    if not keep_newlines and ("\n" in text or "\t" in text):
        text = text.replace("\n", " ").replace("\t", " ")
    return text


# --------------------------------------------------------------------------------------------------------------
# The validator


class Malformed(ValueError):
    """A node result that does not meet SCHEMA. ``where`` holds the path to the field, innermost key first."""

    def __init__(self, problem: str):
        super().__init__(problem)
        self.problem = problem
        self.where: list = []
        self.about_the_object = False  # a problem of an object's keys: named by the object's own path

    def __str__(self) -> str:
        return "%s %s" % (_show_path(reversed(self.where)), self.problem)


_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _show_path(keys) -> str:
    """``evidence.sites[0].served['www.x'].summary`` (or "the result" for the result itself)."""
    text = ""
    for key in keys:
        if isinstance(key, int):
            text += "[%d]" % key
        elif _IDENTIFIER.match(key):
            text += ".%s" % key if text else key
        else:
            text += "[%r]" % sanitise(key[:80] + ("..." if len(key) > 80 else ""), keep_newlines=False)
    return text or "the result"


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


def _kind(value) -> str | None:
    """The JSON Schema type of ``value`` (None: not JSON data)."""
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, dict):
        return "object"
    if isinstance(value, (list, tuple)):
        return "array"
    return "null" if value is None else None


_EXACT_KIND = {str: "string", bool: "boolean", int: "integer", float: "number", dict: "object", list: "array"}
_EXACT_KIND[type(None)] = "null"


def _compile_pattern(source: str) -> re.Pattern:
    """A SCHEMA pattern as JSON Schema (ECMA-262) reads it: a final ``$`` ends the string. Python's ``$`` also
    matches before a trailing newline, which would let ``"ready\\n"`` through a closed set."""
    if source.endswith("$") and not source.endswith("\\$"):
        source = source[:-1] + r"\Z"
    return re.compile(source)


class _Rule:
    """One SCHEMA node, prepared for checking (the validator never reads SCHEMA's dicts in its inner loop)."""

    def __init__(self, schema: dict):
        kinds = schema.get("type")
        self.kinds = None if kinds is None else frozenset([kinds] if isinstance(kinds, str) else kinds)
        self.max_length = min(schema.get("maxLength", MAX_STRING), MAX_STRING)
        self.max_items = min(schema.get("maxItems", schema.get("maxProperties", MAX_ITEMS)), MAX_ITEMS)
        self.max_key = min(schema.get("propertyNames", {}).get("maxLength", MAX_KEY), MAX_KEY)
        self.pattern = _compile_pattern(schema["pattern"]) if "pattern" in schema else None
        self.minimum = schema.get("minimum")
        self.maximum = schema.get("maximum")
        self.required = tuple(schema.get("required", ()))
        self.properties = {name: _Rule(sub) for name, sub in schema.get("properties", {}).items()}
        self.additional = _Rule(schema["additionalProperties"]) if "additionalProperties" in schema else None
        self.items = _Rule(schema["items"]) if "items" in schema else None
        self.date_time = schema.get("format") == "date-time"
        self.drop_invalid = bool(schema.get(DROP_INVALID))
        children = [*self.properties.values(), self.additional, self.items]
        # Whether a record below may be left out: only then does the walker keep track of where it is.
        self.drops_below = any(child is not None and (child.drop_invalid or child.drops_below) for child in children)


class _Walker:
    """Checks a result and returns it sanitised: an unchanged part is returned as it is (nothing is copied for a
    clean result, so a large fleet is not held twice); a part with a string to sanitise or a tuple is rebuilt."""

    def __init__(self):
        self.values = 0
        self.text = 0
        self.dropped: list = []  # (Malformed, number of its keys inside the record left out)

    def plain(self, value, depth: int):
        """``clean`` for a dict or list SCHEMA says nothing about (any JSON data): the same checks in a tighter
        loop, as most of a result is evidence the report only passes on."""
        if depth >= MAX_DEPTH:
            raise Malformed("is nested deeper than %d levels" % MAX_DEPTH)
        if len(value) > MAX_ITEMS:
            raise Malformed("has %d entries, more than %d" % (len(value), MAX_ITEMS))
        self.values += len(value)
        if self.values > MAX_VALUES:
            raise Malformed("makes the result hold more than %d values" % MAX_VALUES)
        is_dict = _EXACT_KIND.get(type(value)) == "object"
        rebuilt = None
        key = index = None
        try:
            for index, pair in enumerate(value.items() if is_dict else value):
                key, item = pair if is_dict else (index, pair)
                clean_key = key
                if is_dict:
                    if key.__class__ is not str:
                        raise _about_object("has a key that is %s, not a string" % _describe(key))
                    if len(key) > MAX_KEY:
                        raise _about_object("has a key longer than %d characters" % MAX_KEY)
                    self.text += len(key)
                    if not key.isprintable() and _dirty(key):
                        clean_key = _BAD.sub(REPLACEMENT, key)
                kind = type(item)
                if kind is str:
                    if len(item) > MAX_STRING:
                        raise Malformed("is longer than %d characters" % MAX_STRING)
                    self.text += len(item)
                    cleaned = item if item.isprintable() or not _dirty(item) else _BAD.sub(REPLACEMENT, item)
                elif kind is bool or item is None:
                    cleaned = item
                elif kind is dict or kind is list:
                    cleaned = self.plain(item, depth + 1)
                else:
                    self.values -= 1  # clean() counts it
                    cleaned = self.clean(item, None, depth + 1)
                if rebuilt is None and (cleaned is not item or clean_key is not key):
                    rebuilt = dict(list(value.items())[:index]) if is_dict else list(value[:index])
                if rebuilt is not None:
                    if not is_dict:
                        rebuilt.append(cleaned)
                    elif clean_key in rebuilt:
                        raise _about_object("has two keys that read the same once sanitised")
                    else:
                        rebuilt[clean_key] = cleaned
        except Malformed as error:
            if error.about_the_object:
                error.about_the_object = False
            else:
                error.where.append(key)
            raise
        if self.text > MAX_TEXT:
            raise Malformed("makes the result hold more than %d characters of text" % MAX_TEXT)
        return value if rebuilt is None else rebuilt

    def clean(self, value, rule: _Rule | None, depth: int = 0):
        if rule is None and type(value) in (dict, list):
            return self.plain(value, depth)
        self.values += 1
        if self.values > MAX_VALUES:
            raise Malformed("makes the result hold more than %d values" % MAX_VALUES)
        if value.__class__ is str and (rule is None or rule.kinds is None or "string" in rule.kinds):
            return self._string(value, rule)  # the commonest value first
        kind = _EXACT_KIND.get(type(value)) or _kind(value)
        if kind is None:
            raise Malformed("is %s, which is not JSON data" % _describe(value))
        if kind == "number" and not math.isfinite(value):
            raise Malformed("is NaN" if math.isnan(value) else "is infinite")
        wrong = rule is not None and rule.kinds is not None and kind not in rule.kinds
        if wrong and not (kind == "integer" and "number" in rule.kinds):
            raise Malformed("is %s, expected %s" % (_describe(value), " or ".join(sorted(rule.kinds))))
        if kind == "string":
            return self._string(value, rule)
        if kind in ("null", "boolean"):
            return value
        if kind == "integer" and abs(value) > 2**63:
            raise Malformed("is out of range")
        if kind in ("number", "integer"):
            return self._number(value, rule)
        if depth >= MAX_DEPTH:
            raise Malformed("is nested deeper than %d levels" % MAX_DEPTH)
        if kind == "array":
            return self._array(value, rule, depth)
        return self._object(value, rule, depth)

    @staticmethod
    def _number(value, rule):
        if rule is not None:
            if rule.minimum is not None and value < rule.minimum:
                raise Malformed("is %s, below %s" % (value, rule.minimum))
            if rule.maximum is not None and value > rule.maximum:
                raise Malformed("is %s, above %s" % (value, rule.maximum))
        return value

    def _string(self, value: str, rule):
        limit = MAX_STRING if rule is None else rule.max_length
        if len(value) > limit:
            raise Malformed("is longer than %d characters" % limit)
        self.text += len(value)
        if self.text > MAX_TEXT:
            raise Malformed("makes the result hold more than %d characters of text" % MAX_TEXT)
        if rule is not None and rule.pattern is not None and not rule.pattern.search(value):
            raise Malformed("is not of the form %s" % rule.pattern.pattern)
        if rule is not None and rule.date_time and not _is_date_time(value):
            raise Malformed("is not a real date and time")
        return value if value.isprintable() or not _dirty(value) else _BAD.sub(REPLACEMENT, value)

    def _array(self, value, rule, depth: int) -> list:
        limit = MAX_ITEMS if rule is None else rule.max_items
        if len(value) > limit:
            raise Malformed("has %d entries, more than %d" % (len(value), limit))
        items = None if rule is None else rule.items
        rebuilt = None if value.__class__ is list else []  # a tuple or a subclass becomes a plain list
        index = 0
        try:
            for index, item in enumerate(value):
                cleaned = self.clean(item, items, depth + 1)
                if rebuilt is None and cleaned is not item:
                    rebuilt = list(value[:index])
                if rebuilt is not None:
                    rebuilt.append(cleaned)
        except Malformed as error:
            error.where.append(index)
            raise
        return value if rebuilt is None else rebuilt

    def _object(self, value: dict, rule, depth: int) -> dict:
        limit = MAX_ITEMS if rule is None else rule.max_items
        if len(value) > limit:
            raise Malformed("has %d entries, more than %d" % (len(value), limit))
        properties = {} if rule is None else rule.properties
        additional = None if rule is None else rule.additional
        key_limit = MAX_KEY if rule is None else rule.max_key
        for name in () if rule is None else rule.required:
            if name not in value:
                error = Malformed("is missing")
                error.where.append(name)
                raise error
        rebuilt = None if value.__class__ is dict else {}  # a subclass becomes a plain dict
        key = None
        try:
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _about_object("has a key that is %s, not a string" % _describe(key))
                if len(key) > key_limit:
                    raise _about_object("has a key longer than %d characters" % key_limit)
                self.text += len(key)
                clean_key = key if key.isprintable() or not _dirty(key) else _BAD.sub(REPLACEMENT, key)
                child = properties.get(key, additional)
                kind = type(item)
                if child is not None and rule.drops_below:
                    cleaned = self._tolerant(item, child, depth + 1, key)
                    if cleaned is _LEFT_OUT:
                        if rebuilt is None:
                            rebuilt = {}
                            for done, done_item in value.items():
                                if done is key:
                                    break
                                rebuilt[done] = done_item
                        continue
                elif child is not None:
                    cleaned = self.clean(item, child, depth + 1)
                elif kind is bool or item is None:
                    self.values += 1
                    cleaned = item
                elif kind is str:
                    self.values += 1
                    cleaned = self._string(item, None)
                elif kind is dict or kind is list:
                    self.values += 1
                    cleaned = self.plain(item, depth + 1)
                else:
                    cleaned = self.clean(item, None, depth + 1)
                if rebuilt is None and (cleaned is not item or clean_key is not key):
                    rebuilt = {}
                    for done, done_item in value.items():
                        if done is key:
                            break
                        rebuilt[done] = done_item
                if rebuilt is not None:
                    if clean_key in rebuilt:
                        raise _about_object("has two keys that read the same once sanitised")
                    rebuilt[clean_key] = cleaned
        except Malformed as error:
            if error.about_the_object:
                error.about_the_object = False
            else:
                error.where.append(key)
            raise
        return value if rebuilt is None else rebuilt

    def _tolerant(self, value, rule: _Rule, depth: int, key):
        """``clean`` of an object's member on the way to (or at) a record that may be left out: ``_LEFT_OUT``
        when it is such a record and breaks its schema; a record left out deeper down gets ``key`` in its path."""
        before = len(self.dropped)
        try:
            cleaned = self.clean(value, rule, depth)
        except Malformed as error:
            # Past MAX_DROPPED records left out the node is refused: a result made mostly of bad records would
            # otherwise cost the controller a note and an exception each.
            if (
                not rule.drop_invalid
                or self.values > MAX_VALUES
                or self.text > MAX_TEXT
                or len(self.dropped) >= MAX_DROPPED
            ):
                raise
            self.dropped.append((error, len(error.where)))
            cleaned = _LEFT_OUT
        for error, _inside in self.dropped[before:]:
            error.where.append(key)
        return cleaned


_LEFT_OUT = object()


def _is_date_time(text: str) -> bool:
    try:
        datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        return False
    return True


def _about_object(problem: str) -> Malformed:
    error = Malformed(problem)
    error.about_the_object = True
    return error


_RULE = _Rule(SCHEMA)


def _pairs(result: dict) -> int:
    sites = (result.get("evidence") or {}).get("sites") or []
    return sum(len(site.get("served") or {}) for site in sites)


def _note_left_out(clean: dict, dropped: list) -> dict:
    """``clean`` with a sentence in evidence.errors for each record left out, the first MAX_NOTES of them and one
    line counting the rest, within the list's MAX_ITEMS (the lists are new, never the node's)."""
    notes = []
    for error, inside in dropped[:MAX_NOTES]:
        keys = list(reversed(error.where))
        notes.append("the controller left out %s: %s" % (_show_path(keys[: len(keys) - inside]), error))
    if len(dropped) > MAX_NOTES:
        notes.append("the controller left out %d more records that break the schema" % (len(dropped) - MAX_NOTES))
    evidence = dict(clean["evidence"])
    errors = list(evidence.get("errors") or [])
    evidence["errors"] = [*errors[: MAX_ITEMS - len(notes)], *notes]
    return dict(clean, evidence=evidence)


def validate_node_result(host, result) -> tuple[dict | None, str | None]:
    """``(clean, None)`` when ``result`` meets SCHEMA and the limits, else ``(None, message naming the field)``.

    ``clean`` is made of dicts, lists, strings, numbers, booleans and None with every string, keys included,
    sanitised (``sanitise``): the parts of ``result`` that needed no change are shared, not copied (``result``
    itself when nothing changed). Never raises for any input.
    """
    host = sanitise(host, keep_newlines=False)[:MAX_NAME]
    if not isinstance(result, dict):
        return None, "no node_audit result for %s (got %s)" % (host, _describe(result))
    try:
        walker = _Walker()
        clean = walker.clean(result, _RULE)
        if isinstance(clean.get("evidence"), dict) and _pairs(clean) > MAX_NODE_HOSTNAMES:
            error = Malformed("serves more than %d (site, hostname) pairs" % MAX_NODE_HOSTNAMES)
            error.where = ["sites", "evidence"]
            raise error
        if walker.dropped:
            clean = _note_left_out(clean, walker.dropped)
    except Malformed as error:
        return None, "malformed node_audit result from %s: %s" % (host, error)
    except RecursionError:
        return None, "malformed node_audit result from %s: nested too deeply" % host
    except Exception as error:  # a node's answer must never stop the run for every host
        return None, "malformed node_audit result from %s: %s" % (host, sanitise(error, keep_newlines=False)[:300])
    return clean, None
