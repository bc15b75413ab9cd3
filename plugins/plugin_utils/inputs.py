# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The playbooks' input vocabulary, checked on the controller before any node is audited or touched.

One shape for a certificate everywhere (``tlsfleet_certificates`` entries, ``tlsfleet_rollout_certificate``, the
``cert_deploy`` role's deployments): ``certificate``, ``key`` and an optional ``chain`` - paths on the controller -
or ``lineage``, a certbot live directory standing for its ``cert.pem``, ``privkey.pem`` and ``chain.pem``; plus
``name`` and ``hosts`` (the inventory hosts and groups that may receive the key).

``certificate_entry`` checks the shape only and is used by every filter that takes a certificate, so a lineage
works wherever a certificate is accepted. ``check_certificate`` also reads the files: they exist and are readable,
the key belongs to the certificate (public keys compared; key material is never part of a message), and the chain
parses. ``check_variables`` checks the scalar inputs by name, accepting the strings an AWX survey passes.

Every problem is one sentence that names the input and the entry, e.g.
``tlsfleet_certificates[1] (shop): key /x/privkey.pem does not match certificate /x/cert.pem``.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import difflib
import math
import os
import re

import yaml  # ansible-core depends on PyYAML
from ansible.module_utils.parsing.convert_bool import BOOLEANS_FALSE, BOOLEANS_TRUE

from ansible_collections.tlsfleet.stapling.plugins.module_utils import public_pem, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import TlsfleetError

# certbot's live directory: what each key of the entry stands for (fullchain.pem is cert.pem + chain.pem).
LINEAGE_FILES = {"certificate": "cert.pem", "key": "privkey.pem", "chain": "chain.pem"}
CERTIFICATE_KEYS = ("name", "certificate", "key", "chain", "lineage", "hosts")
SEVERITIES = ("critical", "error", "warning", "info", "never")
_EXCERPT = re.compile(r"\s*\(starts with .*\)$")


class InputProblem(ValueError):
    """Wrong inputs: ``problems`` holds one sentence for each, the message all of them."""

    def __init__(self, *problems):
        self.problems = list(problems)
        super().__init__("; ".join(problems))


def controller_path(path: str) -> str:
    """``path`` absolute on the controller: ``~`` expanded, a relative path joined to the directory the run starts
    in (the same base as the report directories)."""
    return os.path.normpath(os.path.abspath(os.path.expanduser(path.strip())))


def _label(label: str, entry) -> str:
    name = entry.get("name") if isinstance(entry, dict) else None
    return "%s (%s)" % (label, name) if isinstance(name, str) and name else label


def certificate_entry(entry, label: str = "certificate entry", strict: bool = False) -> dict:
    """The entry in its one shape: ``certificate``, ``key``, ``chain`` (None when not given) as absolute controller
    paths, ``name``, ``hosts`` (kept as given when absent: the planner refuses an entry without it by name) and, for
    a lineage, ``lineage``. Other keys are kept (``labctl renew`` and pipelines add ``serial``, ``sha256``); with
    ``strict``, one that looks like a misspelt key is refused, since a ``chian`` would otherwise go unnoticed.
    Reads no file."""
    if not isinstance(entry, dict):
        raise InputProblem(
            "%s must be a mapping with certificate and key (or lineage), not %s" % (label, type(entry).__name__)
        )
    where = _label(label, entry)
    if strict:
        misspelt = {
            str(key): close[0]
            for key in entry
            if key not in CERTIFICATE_KEYS
            for close in [difflib.get_close_matches(str(key), CERTIFICATE_KEYS, n=1, cutoff=0.75)]
            if close
        }
        if misspelt:
            raise InputProblem(
                "%s: unknown key %s"
                % (where, ", ".join("%s (did you mean %s?)" % item for item in sorted(misspelt.items())))
            )
    name = entry.get("name")
    if name is not None and not isinstance(name, str):
        raise InputProblem("%s: name must be a string, not %s" % (where, type(name).__name__))
    for key in ("certificate", "key", "chain", "lineage"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise InputProblem("%s: %s must be a path (a string), not %s" % (where, key, type(value).__name__))
    given = {key for key in ("certificate", "key", "chain") if (entry.get(key) or "").strip()}
    lineage = (entry.get("lineage") or "").strip()
    result = dict(entry)
    if lineage:
        if given:
            raise InputProblem(
                "%s gives both lineage and %s: give either lineage (a certbot live directory) or certificate and "
                "key (and optionally chain)" % (where, " and ".join(sorted(given)))
            )
        directory = controller_path(lineage)
        result["lineage"] = directory
        result.update({key: os.path.join(directory, filename) for key, filename in LINEAGE_FILES.items()})
    else:
        missing = [key for key in ("certificate", "key") if key not in given]
        if missing:
            raise InputProblem(
                "%s needs %s (paths on the controller), or lineage (a certbot live directory)"
                % (where, " and ".join(missing))
            )
        result["certificate"] = controller_path(entry["certificate"])
        result["key"] = controller_path(entry["key"])
        result["chain"] = controller_path(entry["chain"]) if "chain" in given else None
        result.pop("lineage", None)
    hosts = entry.get("hosts")
    if hosts is not None and (
        not isinstance(hosts, (list, tuple)) or not all(isinstance(host, str) and host for host in hosts)
    ):
        raise InputProblem("%s: 'hosts' must be a list of inventory host or group names, not %r" % (where, hosts))
    if hosts is not None:
        result["hosts"] = list(hosts)
    return result


def check_certificate(entry, label: str, strict: bool = True) -> dict:
    """``certificate_entry`` plus the files: each exists and is readable, the certificate and chain parse, and the
    key belongs to the certificate. Returns the normalised entry with what is safe to print about it
    (``subject``, ``sha256``, ``san_dns``)."""
    result = certificate_entry(entry, label, strict=strict)
    where = _label(label, result)

    def read(description, path):
        try:
            return x509.read_input_file(path, description)
        except TlsfleetError as error:
            raise InputProblem("%s: %s" % (where, str(error).rstrip("."))) from None

    try:
        leaf = x509.load_certificates(
            read("certificate", result["certificate"]), "certificate %s" % result["certificate"]
        )[0]
        if result.get("chain"):
            x509.load_certificates(read("chain", result["chain"]), "chain %s" % result["chain"])
        key = x509.load_private_key(read("key", result["key"]), "key %s" % result["key"])
    except InputProblem:
        raise
    except TlsfleetError as error:
        # The loaders quote the start of a text file; here the file may be a key given in the wrong place.
        message = _EXCERPT.sub("", str(error).rstrip("."))
        raise InputProblem("%s: %s" % (where, message)) from None
    if not x509.public_key_matches(leaf, key):
        raise InputProblem("%s: key %s does not match certificate %s" % (where, result["key"], result["certificate"]))
    result.update(
        subject=x509.name_string(leaf.subject), sha256=x509.fingerprint(leaf), san_dns=x509.san_dns_names(leaf)
    )
    return result


def check_certificates(entries, label: str = "tlsfleet_certificates") -> list:
    """Each entry of a list checked with ``check_certificate``; the problems of all entries, not just the first,
    are raised together (one sentence each)."""
    if entries is None:
        return []
    if not isinstance(entries, (list, tuple)):
        raise InputProblem("%s must be a list of entries, not %s" % (label, type(entries).__name__))
    checked, problems = [], []
    for index, entry in enumerate(entries):
        try:
            checked.append(check_certificate(entry, "%s[%d]" % (label, index)))
        except InputProblem as problem:
            problems.extend(problem.problems)
    if problems:
        raise InputProblem(*problems)
    return checked


# --------------------------------------------------------------------------------------------------------------
# A preflight candidate (tlsfleet_preflight_certificate): the rollout certificate's shape without its key.

CANDIDATE_KEYS = ("name", "certificate", "chain", "lineage", "hosts", "key")
_PEM_START = "-----BEGIN"


def _candidate_text(value: str, what: str, where: str) -> tuple:
    """(PEM text, controller path or None) of the candidate's ``what`` (certificate or chain): PEM content as
    given, or the content of the file at that path. Only certificate PEM blocks pass (public_pem.py): a private
    key, in the text or in the file, is refused without repeating any of it."""
    path = None
    if value.lstrip().startswith(_PEM_START):
        text = value
    else:
        path = controller_path(value)
        try:
            data = x509.read_input_file(path, "%s file" % what)
        except TlsfleetError as error:
            raise InputProblem("%s: %s" % (where, str(error).rstrip("."))) from None
        text = data.decode("utf-8", "replace")
    found = public_pem.problem(text, what)
    if found:
        found = found.rstrip(".")
        if path:
            found = found.replace("the preflight %s" % what, "the preflight %s file %s" % (what, path), 1)
        raise InputProblem("%s: %s" % (where, found))
    return text.strip() + "\n", path


def check_candidate(entry, label: str = "tlsfleet_preflight_certificate") -> dict:
    """A preflight candidate: ``certificate`` and optionally ``chain`` (each a path on the controller or PEM
    content), or ``lineage`` (a certbot live directory: its cert.pem and chain.pem; privkey.pem is never read),
    ``hosts`` (the inventory hosts and groups it is judged on; a list or one comma-separated string) and ``name``.

    A ``key`` is never read nor sent anywhere: it is ignored, and ``ignored`` says so, so that the variable of a
    rollout can be reused as it is. A mapping given as YAML or JSON text (an AWX textarea) is read first.
    Returns what the playbook sends to the nodes - ``certificate_pem``, ``chain_pem`` (certificate PEM blocks
    only) - and what is safe to print about it."""
    if isinstance(entry, str):
        text = entry.strip()
        if not text:
            raise InputProblem("%s is empty: give certificate (and chain) or lineage, and hosts" % label)
        if text.startswith(_PEM_START):
            raise InputProblem(
                "%s must be a mapping with certificate (a path or PEM text), optionally chain, and hosts - not the "
                "PEM text alone (the hosts it is judged on are needed too)" % label
            )
        try:
            entry = yaml.safe_load(text)
        except yaml.YAMLError:  # the message below says what is expected
            entry = None
        if not isinstance(entry, dict):
            raise InputProblem(
                "%s must be a mapping with certificate (or lineage) and hosts, or that mapping as YAML or JSON text"
                % label
            )
    if not isinstance(entry, dict):
        raise InputProblem(
            "%s must be a mapping with certificate (or lineage) and hosts, not %s" % (label, type(entry).__name__)
        )
    where = _label(label, entry)
    unknown = sorted(str(key) for key in entry if key not in CANDIDATE_KEYS)
    if unknown:
        hints = []
        for key in unknown:
            close = difflib.get_close_matches(key, CANDIDATE_KEYS, n=1, cutoff=0.75)
            hints.append("%s (did you mean %s?)" % (key, close[0]) if close else key)
        raise InputProblem(
            "%s: unknown key %s; a candidate has certificate, chain, lineage, hosts and name"
            % (where, ", ".join(hints))
        )
    for key in ("name", "certificate", "chain", "lineage"):
        value = entry.get(key)
        if value is not None and not isinstance(value, str):
            raise InputProblem("%s: %s must be a string, not %s" % (where, key, type(value).__name__))
    given = [key for key in ("certificate", "chain") if (entry.get(key) or "").strip()]
    lineage = (entry.get("lineage") or "").strip()
    result = {"name": entry.get("name") or None, "lineage": None, "ignored": []}
    if entry.get("key") not in (None, ""):
        result["ignored"].append(
            "%s: key is ignored - a preflight compares public keys only, and no key is read or sent" % where
        )
    if lineage:
        if given:
            raise InputProblem(
                "%s gives both lineage and %s: give either lineage (a certbot live directory) or certificate (and "
                "optionally chain)" % (where, " and ".join(given))
            )
        directory = controller_path(lineage)
        result["lineage"] = directory
        sources = {what: os.path.join(directory, LINEAGE_FILES[what]) for what in ("certificate", "chain")}
    elif "certificate" not in given:
        raise InputProblem(
            "%s needs certificate (a path on the controller or PEM text), or lineage (a certbot live directory)" % where
        )
    else:
        sources = {what: entry[what] for what in given}
    result["certificate_pem"], result["certificate"] = _candidate_text(sources["certificate"], "certificate", where)
    result["chain_pem"], result["chain"] = (None, None)
    if sources.get("chain"):
        result["chain_pem"], result["chain"] = _candidate_text(sources["chain"], "chain", where)
    try:
        leaf = x509.load_certificates(result["certificate_pem"].encode("utf-8"), "certificate")[0]
        if result["chain_pem"]:
            x509.load_certificates(result["chain_pem"].encode("utf-8"), "chain")
    except TlsfleetError as error:
        raise InputProblem("%s: %s" % (where, _EXCERPT.sub("", str(error).rstrip(".")))) from None
    hosts = entry.get("hosts")
    if isinstance(hosts, str):
        hosts = as_list(hosts, "%s: hosts" % where)
    if not hosts or not isinstance(hosts, (list, tuple)) or not all(isinstance(h, str) and h.strip() for h in hosts):
        raise InputProblem(
            "%s: hosts must list the inventory hosts and groups to judge the candidate on (a list, or one "
            "comma-separated string), not %r" % (where, entry.get("hosts"))
        )
    info = x509.describe(leaf)
    result.update(
        hosts=[host.strip() for host in hosts],
        subject=info.subject,
        sha256=info.sha256,
        serial=info.serial,
        san_dns=list(info.san_dns),
        not_before=info.not_before,
        not_after=info.not_after,
        ocsp_urls=list(info.ocsp_urls),
        must_staple=bool(info.must_staple),
    )
    return result


def candidate_of(checked: dict) -> dict:
    """The preflight candidate of a certificate ``check_certificate`` accepted (the rollout's): the same entry
    without its key, through ``check_candidate``. Only the certificates of its files are taken (PEM written again
    from what parsed), so a certificate file that also holds the key - which the rollout accepts - never passes
    anything else on."""
    # Imported when used, as x509.py does: the controller has cryptography (validate_inputs requires it).
    from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

    label = _label("tlsfleet_rollout_certificate", checked)
    entry = {key: checked.get(key) for key in ("name", "hosts") if checked.get(key)}
    for what in ("certificate", "chain"):
        if checked.get(what):
            try:
                found = x509.load_certificates(x509.read_input_file(checked[what], "%s file" % what), what)
            except TlsfleetError as error:
                raise InputProblem("%s: %s" % (label, _EXCERPT.sub("", str(error).rstrip(".")))) from None
            entry[what] = "".join(cert.public_bytes(serialization.Encoding.PEM).decode("ascii") for cert in found)
    result = check_candidate(entry, label)
    result.update(certificate=checked.get("certificate"), chain=checked.get("chain"))
    return result


def as_time(value, name: str):
    """An ISO 8601 time (``Z``, an offset, or UTC when none), normalised; blank means not given (None: now)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise InputProblem("%s must be an ISO 8601 time such as 2026-12-20T02:00:00Z, not %r" % (name, value))
    try:
        return x509.format_time(x509.parse_time(value, name))
    except TlsfleetError:
        raise InputProblem(
            "%s must be an ISO 8601 time such as 2026-12-20T02:00:00Z (blank: now), not %r" % (name, value)
        ) from None


# --------------------------------------------------------------------------------------------------------------
# Scalar inputs. AWX surveys and -e key=value pass strings: "true"/"false", "3", "a, b" where lists are meant.


def as_bool(value, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower() if isinstance(value, (str, int)) else None
    if text in BOOLEANS_TRUE:
        return True
    if text in BOOLEANS_FALSE:
        return False
    raise InputProblem("%s must be true or false (or yes/no, on/off, 1/0), not %r" % (name, value))


def as_opt_in(value, name: str) -> bool:
    """An opt-in flag: as_bool, where a blank answer (an AWX survey left empty) means not opted in."""
    return False if is_blank(value) else as_bool(value, name)


def as_int(value, name: str, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)) or not str(value).strip().lstrip("-").isdigit():
        raise InputProblem("%s must be a whole number, not %r" % (name, value))
    number = int(str(value).strip())
    if number < minimum:
        raise InputProblem("%s must be %d or more, not %d" % (name, minimum, number))
    return number


def is_blank(value) -> bool:
    """An empty survey answer: AWX passes "" for an integer or float field left empty."""
    return value is None or (isinstance(value, str) and not value.strip())


def as_optional_bool(value, name: str):
    """as_bool, where a blank answer is None: not given, the module's default applies."""
    return None if is_blank(value) else as_bool(value, name)


def as_optional_list(value, name: str):
    """as_list, where a blank answer is None: not given, the module's default applies."""
    return None if is_blank(value) else as_list(value, name)


def as_optional_value(value, name: str):
    """Any value, where a blank answer is None: not given (the module checks the value itself)."""
    del name
    return None if is_blank(value) else value


def as_optional_evidence(value, name: str):
    """node_audit's evidence detail (compact or full); a blank answer is None: not given."""
    if is_blank(value):
        return None
    if isinstance(value, str) and value.strip() in ("compact", "full"):
        return value.strip()
    raise InputProblem("%s must be compact or full, not %r" % (name, value))


def as_count(value, name: str):
    """A whole number, 0 or more; a blank answer is None: not given, the module's default applies."""
    return None if is_blank(value) else as_int(value, name)


def as_seconds(value, name: str):
    """A number of seconds, more than 0; a blank answer is None: not given, the module's default applies."""
    if is_blank(value):
        return None
    try:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ValueError(value)
        number = float(str(value).strip())
        if not math.isfinite(number):
            raise ValueError(value)
    except ValueError:
        raise InputProblem("%s must be a number of seconds, not %r" % (name, value)) from None
    if number <= 0:
        raise InputProblem("%s must be more than 0 seconds, not %s" % (name, value))
    return number


def as_list(value, name: str) -> list:
    """A list of strings; one string is split at commas, new lines and blanks (an AWX text or textarea answer)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part for part in re.split(r"[,\s]+", value) if part]
    if isinstance(value, (list, tuple)) and all(isinstance(item, str) and item.strip() for item in value):
        return [item.strip() for item in value]
    raise InputProblem("%s must be a list of strings or one comma-separated string, not %r" % (name, value))


def as_path(value, name: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InputProblem("%s must be a path (a non-empty string), not %r" % (name, value))
    return controller_path(value)


def as_severity(value, name: str) -> str:
    if not isinstance(value, str) or value.strip().lower() not in SEVERITIES:
        raise InputProblem("%s must be one of %s, not %r" % (name, ", ".join(SEVERITIES), value))
    return value.strip().lower()


def as_host_pattern(value, name: str):
    if isinstance(value, str) and value.strip():
        return value.strip()
    if isinstance(value, (list, tuple)) and value and all(isinstance(item, str) and item for item in value):
        return list(value)
    raise InputProblem("%s must be a host pattern (a string or a list of host and group names), not %r" % (name, value))


def as_certificate_files(value, name: str) -> list:
    """Controller files that must each hold at least one certificate (trust anchors)."""
    paths = [controller_path(path) for path in as_list(value, name)]
    for path in paths:
        try:
            x509.load_certificates_from_path(path, "%s: file" % name)
        except TlsfleetError as error:
            raise InputProblem(str(error).rstrip(".")) from None
    return paths


def as_pem_list(value, name: str) -> list:
    """PEM texts that must each hold at least one certificate (further intermediates)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise InputProblem("%s must be a list of PEM texts, not %s" % (name, type(value).__name__))
    for index, text in enumerate(value):
        try:
            x509.load_certificates(text.encode("utf-8"), "%s[%d]" % (name, index))
        except TlsfleetError as error:
            raise InputProblem(str(error).rstrip(".")) from None
    return list(value)


# The playbooks' scalar inputs, by name: how each is read.
VARIABLES = {
    "tlsfleet_become": as_bool,
    "tlsfleet_cert_fetch_issuers": as_bool,
    "tlsfleet_external_check": as_opt_in,  # blank: no external probe, the role's default
    "tlsfleet_audit_use_proxy": as_optional_bool,
    "tlsfleet_stapling_sunset": as_opt_in,
    "tlsfleet_rollout_preflight_gate": as_bool,
    "tlsfleet_preflight_at": as_time,
    "tlsfleet_fail_severity": as_severity,
    "tlsfleet_report_dir": as_path,
    "tlsfleet_remediate_report_dir": as_path,
    "tlsfleet_hosts": as_host_pattern,
    "tlsfleet_nginx_resolver": as_list,
    "tlsfleet_rollout_batch_size": as_int,
    "tlsfleet_cert_trust_anchors": as_certificate_files,
    "tlsfleet_intermediates": as_pem_list,
    # node_audit's numeric options as the diagnose role passes them; a blank answer means node_audit's default.
    "tlsfleet_audit_handshake_timeout": as_seconds,
    "tlsfleet_audit_responder_timeout": as_seconds,
    "tlsfleet_audit_staple_warning_seconds": as_count,
    "tlsfleet_audit_cert_warning_days": as_count,
    "tlsfleet_audit_crl_max_bytes": as_count,
    # a survey's boolean, choice or text field left empty arrives as "" too: node_audit's default
    "tlsfleet_audit_crl_check": as_optional_bool,
    "tlsfleet_audit_evidence": as_optional_evidence,
    "tlsfleet_audit_servers": as_optional_list,
    "tlsfleet_audit_trust_anchor_paths": as_optional_list,
    "tlsfleet_audit_extra_endpoints": as_optional_value,
}


def check_variables(variables: dict, inventory_hosts=None) -> dict:
    """The given variables (name -> value; None means not set) read by their rule in ``VARIABLES``; every problem
    is raised together. ``tlsfleet_rollout_canary`` must name an inventory host (``inventory_hosts``) when set."""
    checked, problems = {}, []
    for name, value in sorted((variables or {}).items()):
        if value is None:
            continue
        try:
            if name == "tlsfleet_rollout_canary":
                canary = str(value).strip()
                if canary and inventory_hosts is not None and canary not in inventory_hosts:
                    raise InputProblem("tlsfleet_rollout_canary %s is not a host of the inventory" % canary)
                checked[name] = canary or None
            elif name in VARIABLES:
                read = VARIABLES[name](value, name)
                if read is not None:  # None: a blank answer, not given (the default applies)
                    checked[name] = read
            else:
                raise InputProblem("%s is not an input the playbooks know" % name)
        except InputProblem as problem:
            problems.extend(problem.problems)
    if problems:
        raise InputProblem(*problems)
    return checked
