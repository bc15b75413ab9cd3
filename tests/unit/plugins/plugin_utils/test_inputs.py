# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The input vocabulary: one certificate shape (certificate/key/chain or a certbot lineage), files checked on the
controller, scalar inputs as AWX surveys pass them; every problem one sentence naming the input."""

from __future__ import annotations

import os

import pytest

from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import inputs, remediation
from ansible_collections.tlsfleet.stapling.tests.unit.pki import Pki

KEY_MARKER = "PRIVATE KEY"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A certbot-like live directory for shop.test, and a second certificate with another key."""
    pki = Pki()
    root, (intermediate,), leaf = pki.chain(dns=["shop.test", "www.shop.test"])
    other = pki.leaf(intermediate, cn="other.test")
    live = tmp_path_factory.mktemp("live") / "shop.test"
    live.mkdir()
    (live / "cert.pem").write_bytes(leaf.pem)
    (live / "chain.pem").write_bytes(intermediate.pem)
    (live / "fullchain.pem").write_bytes(leaf.pem + intermediate.pem)
    (live / "privkey.pem").write_bytes(leaf.key_pem())
    (live / "other-key.pem").write_bytes(other.key_pem())
    (live / "root.pem").write_bytes(root.pem)
    (live / "garbage.pem").write_bytes(b"-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
    return live, leaf


def entry(live, **changes):
    base = {
        "name": "shop",
        "certificate": str(live / "cert.pem"),
        "key": str(live / "privkey.pem"),
        "chain": str(live / "chain.pem"),
        "hosts": ["web"],
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def problem(call, *args, **kwargs) -> str:
    with pytest.raises(inputs.InputProblem) as caught:
        call(*args, **kwargs)
    assert KEY_MARKER not in str(caught.value)  # key material is never part of a message
    return str(caught.value)


def test_a_good_entry_is_normalised_with_what_is_safe_to_print(files):
    live, leaf = files
    checked = inputs.check_certificate(entry(live), "tlsfleet_certificates[0]")
    assert checked["certificate"] == str(live / "cert.pem")
    assert checked["key"] == str(live / "privkey.pem") and checked["chain"] == str(live / "chain.pem")
    assert checked["hosts"] == ["web"] and checked["san_dns"] == ["shop.test", "www.shop.test"]
    assert checked["sha256"] == remediation.x509.fingerprint(leaf.cert)
    assert all(KEY_MARKER not in str(value) for value in checked.values())


def test_keys_other_tools_add_are_kept(files):
    live, _other = files
    checked = inputs.check_certificate(entry(live, serial="1f", sha256="ab" * 32, not_after="2027"), "x")
    assert checked["serial"] == "1f" and checked["not_after"] == "2027"


def test_chain_is_optional_for_real(files):
    live, _other = files
    checked = inputs.check_certificate(entry(live, chain=None), "tlsfleet_rollout_certificate")
    assert checked["chain"] is None
    assert inputs.check_certificate(entry(live, chain=""), "x")["chain"] is None


def test_a_lineage_stands_for_certbots_files(files):
    live, _other = files
    checked = inputs.check_certificate({"name": "shop", "lineage": str(live), "hosts": ["web"]}, "x")
    assert checked["certificate"] == str(live / "cert.pem")
    assert checked["key"] == str(live / "privkey.pem")
    assert checked["chain"] == str(live / "chain.pem")
    assert checked["lineage"] == str(live)


def test_relative_paths_resolve_against_the_directory_the_run_starts_in(files, monkeypatch):
    live, _other = files
    monkeypatch.chdir(live.parent)
    checked = inputs.check_certificate({"lineage": "shop.test/", "hosts": ["web"]}, "x")
    assert checked["certificate"] == str(live / "cert.pem")
    shape = inputs.certificate_entry({"certificate": "c.pem", "key": "~/k.pem"}, "x")
    assert shape["certificate"] == str(live.parent / "c.pem")
    assert shape["key"] == os.path.join(os.path.expanduser("~"), "k.pem")


def test_lineage_and_certificate_together_are_refused(files):
    live, _other = files
    message = problem(
        inputs.check_certificate, {"name": "shop", "lineage": str(live), "key": "/k.pem"}, "tlsfleet_certificates[2]"
    )
    assert message == (
        "tlsfleet_certificates[2] (shop) gives both lineage and key: give either lineage (a certbot live "
        "directory) or certificate and key (and optionally chain)"
    )


def test_a_missing_file_is_named(files):
    live, _other = files
    message = problem(inputs.check_certificate, entry(live, key=str(live / "nope.pem")), "tlsfleet_certificates[0]")
    assert message == "tlsfleet_certificates[0] (shop): key %s does not exist" % (live / "nope.pem")
    message = problem(inputs.check_certificate, {"lineage": str(live / "missing")}, "tlsfleet_rollout_certificate")
    assert message == "tlsfleet_rollout_certificate: certificate %s does not exist" % (live / "missing/cert.pem")


def test_an_unreadable_file_is_named(files, tmp_path, monkeypatch):
    live, _other = files
    locked = tmp_path / "privkey.pem"
    locked.write_bytes((live / "privkey.pem").read_bytes())
    locked.chmod(0)
    if os.geteuid() == 0:  # root reads any file: refuse the open as the kernel would refuse another user
        real_open = os.open
        monkeypatch.setattr(
            os, "open", lambda path, *a, **k: _denied(path) if str(path) == str(locked) else real_open(path, *a, **k)
        )
    message = problem(inputs.check_certificate, entry(live, key=str(locked)), "tlsfleet_certificates[1]")
    assert message == "tlsfleet_certificates[1] (shop): key %s cannot be read: permission denied" % locked


def _denied(path):
    raise PermissionError(13, "Permission denied", str(path))


def test_a_key_that_does_not_match_is_one_sentence(files):
    live, _other = files
    message = problem(
        inputs.check_certificate, entry(live, key=str(live / "other-key.pem")), "tlsfleet_certificates[1]"
    )
    assert message == "tlsfleet_certificates[1] (shop): key %s does not match certificate %s" % (
        live / "other-key.pem",
        live / "cert.pem",
    )


def test_files_that_do_not_parse_are_named(files):
    live, _other = files
    garbage = str(live / "garbage.pem")
    assert "chain %s" % garbage in problem(inputs.check_certificate, entry(live, chain=garbage), "x")
    assert "certificate %s" % garbage in problem(inputs.check_certificate, entry(live, certificate=garbage), "x")
    # a key without its PEM armour where the certificate belongs: the loader's excerpt of the file is left out
    armourless = live.parent / "armourless.pem"
    armourless.write_text("".join((live / "privkey.pem").read_text().splitlines()[1:-1]))
    message = problem(inputs.check_certificate, entry(live, certificate=str(armourless)), "x")
    assert message == "x (shop): certificate %s is text, not a PEM or DER certificate" % armourless
    # a certificate where the key belongs
    message = problem(inputs.check_certificate, entry(live, key=str(live / "cert.pem")), "x")
    assert message.startswith("x (shop): key %s " % (live / "cert.pem"))


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("shop", "x must be a mapping with certificate and key (or lineage), not str"),
        ({"name": "s", "certificate": 3, "key": "/k"}, "x (s): certificate must be a path (a string), not int"),
        ({"certificate": "/c"}, "x needs key (paths on the controller), or lineage (a certbot live directory)"),
        ({"certificate": "/c", "key": "/k", "hosts": "web"}, "x: 'hosts' must be a list of inventory host or group"),
        ({"certificate": "/c", "key": "/k", "chian": "/x"}, "x: unknown key chian (did you mean chain?)"),
        ({"certificate": "/c", "key": "/k", "host": ["w"]}, "x: unknown key host (did you mean hosts?)"),
        ({"certificate": "/c", "key": "/k", "name": ["a"]}, "x: name must be a string, not list"),
    ],
)
def test_wrong_types_are_named(given, expected):
    assert problem(inputs.check_certificate, given, "x").startswith(expected)


def test_every_wrong_entry_of_a_list_is_reported_together(files):
    live, _other = files
    entries = [entry(live), entry(live, name="bad", key=str(live / "other-key.pem")), {"name": "half"}]
    with pytest.raises(inputs.InputProblem) as caught:
        inputs.check_certificates(entries)
    assert len(caught.value.problems) == 2
    assert caught.value.problems[0].startswith("tlsfleet_certificates[1] (bad): key ")
    assert caught.value.problems[1].startswith("tlsfleet_certificates[2] (half) needs certificate and key")
    assert problem(inputs.check_certificates, {"certificate": "/c"}) == (
        "tlsfleet_certificates must be a list of entries, not dict"
    )
    assert inputs.check_certificates(None) == []


def test_the_planner_accepts_a_lineage_and_names_the_key_key(files):
    live, _other = files
    (source,) = remediation.certificate_sources([{"name": "shop", "lineage": str(live), "hosts": ["web"]}])
    assert source["key"] == str(live / "privkey.pem") and source["chain"] == str(live / "chain.pem")
    assert remediation.certificate_names([{"lineage": str(live)}]) == [["shop.test", "www.shop.test"]]
    with pytest.raises(ValueError, match="gives both lineage and certificate"):
        remediation.certificate_sources([{"lineage": str(live), "certificate": "/c", "key": "/k"}])


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("tlsfleet_become", "false", False),
        ("tlsfleet_become", "True", True),
        ("tlsfleet_become", "yes", True),
        ("tlsfleet_external_check", "0", False),
        ("tlsfleet_cert_fetch_issuers", True, True),
        ("tlsfleet_fail_severity", "Warning", "warning"),
        ("tlsfleet_rollout_batch_size", "3", 3),
        ("tlsfleet_rollout_batch_size", 0, 0),
        ("tlsfleet_nginx_resolver", "9.9.9.9, 1.1.1.1\n8.8.8.8", ["9.9.9.9", "1.1.1.1", "8.8.8.8"]),
        ("tlsfleet_nginx_resolver", ["9.9.9.9"], ["9.9.9.9"]),
        ("tlsfleet_hosts", "web:&eu", "web:&eu"),
        ("tlsfleet_rollout_canary", "web-1", "web-1"),
        ("tlsfleet_rollout_canary", "", None),
        ("tlsfleet_stapling_sunset", "true", True),
        ("tlsfleet_stapling_sunset", "false", False),
        ("tlsfleet_stapling_sunset", "", False),
        ("tlsfleet_stapling_sunset", "  ", False),
        ("tlsfleet_stapling_sunset", True, True),
    ],
)
def test_survey_strings_are_read(name, value, expected):
    assert inputs.check_variables({name: value}, inventory_hosts={"web-1"}) == {name: expected}


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("tlsfleet_become", "maybe", "tlsfleet_become must be true or false (or yes/no, on/off, 1/0), not 'maybe'"),
        ("tlsfleet_become", ["true"], "tlsfleet_become must be true or false"),
        ("tlsfleet_stapling_sunset", "sometimes", "tlsfleet_stapling_sunset must be true or false"),
        ("tlsfleet_stapling_sunset", ["true"], "tlsfleet_stapling_sunset must be true or false"),
        ("tlsfleet_fail_severity", "fatal", "tlsfleet_fail_severity must be one of critical, error, warning, info"),
        ("tlsfleet_rollout_batch_size", "two", "tlsfleet_rollout_batch_size must be a whole number, not 'two'"),
        ("tlsfleet_rollout_batch_size", "-1", "tlsfleet_rollout_batch_size must be 0 or more, not -1"),
        ("tlsfleet_report_dir", "", "tlsfleet_report_dir must be a path (a non-empty string), not ''"),
        ("tlsfleet_nginx_resolver", {"a": 1}, "tlsfleet_nginx_resolver must be a list of strings"),
        ("tlsfleet_rollout_canary", "web-9", "tlsfleet_rollout_canary web-9 is not a host of the inventory"),
        ("tlsfleet_intermediates", ["junk"], "tlsfleet_intermediates[0]"),
        ("tlsfleet_nonsense", 1, "tlsfleet_nonsense is not an input the playbooks know"),
    ],
)
def test_wrong_scalars_are_named(name, value, expected):
    assert problem(inputs.check_variables, {name: value}, {"web-1"}).startswith(expected)


def test_unset_variables_are_skipped_and_trust_anchors_are_read(files):
    live, _other = files
    assert inputs.check_variables({"tlsfleet_become": None}) == {}
    anchors = inputs.check_variables({"tlsfleet_cert_trust_anchors": [str(live / "root.pem")]})
    assert anchors == {"tlsfleet_cert_trust_anchors": [str(live / "root.pem")]}
    message = problem(inputs.check_variables, {"tlsfleet_cert_trust_anchors": [str(live / "none.pem")]})
    assert message == "tlsfleet_cert_trust_anchors: file %s does not exist" % (live / "none.pem")


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("tlsfleet_audit_cert_warning_days", "", None),
        ("tlsfleet_audit_cert_warning_days", "  ", None),
        ("tlsfleet_audit_cert_warning_days", "30", 30),
        ("tlsfleet_audit_cert_warning_days", 0, 0),
        ("tlsfleet_audit_staple_warning_seconds", "", None),
        ("tlsfleet_audit_staple_warning_seconds", " 900 ", 900),
        ("tlsfleet_audit_handshake_timeout", "", None),
        ("tlsfleet_audit_handshake_timeout", "2.5", 2.5),
        ("tlsfleet_audit_responder_timeout", 3, 3.0),
        ("tlsfleet_audit_responder_timeout", "", None),
        ("tlsfleet_audit_crl_max_bytes", "", None),
        ("tlsfleet_audit_crl_max_bytes", "1048576", 1048576),
        ("tlsfleet_audit_crl_check", "", None),
        ("tlsfleet_audit_crl_check", " ", None),
        ("tlsfleet_audit_crl_check", "false", False),
        ("tlsfleet_audit_crl_check", True, True),
    ],
)
def test_a_blank_numeric_survey_answer_means_the_default(name, value, expected):
    """AWX passes "" for an integer or float survey field left empty: that means node_audit's default (the name is
    left out of what is checked, so the role omits the option), not a failure on every node."""
    checked = inputs.check_variables({name: value})
    if expected is None:
        assert name not in checked
    else:
        assert checked[name] == expected and type(checked[name]) is type(expected)


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("tlsfleet_audit_cert_warning_days", "soon", "tlsfleet_audit_cert_warning_days must be a whole number"),
        ("tlsfleet_audit_cert_warning_days", "-1", "must be 0 or more"),
        ("tlsfleet_audit_crl_max_bytes", "big", "tlsfleet_audit_crl_max_bytes must be a whole number"),
        ("tlsfleet_audit_crl_check", "maybe", "tlsfleet_audit_crl_check must be true or false"),
        ("tlsfleet_audit_handshake_timeout", "fast", "tlsfleet_audit_handshake_timeout must be a number of seconds"),
        ("tlsfleet_audit_handshake_timeout", "0", "more than 0"),
        ("tlsfleet_audit_responder_timeout", "nan", "must be a number of seconds"),
        ("tlsfleet_audit_responder_timeout", True, "must be a number of seconds"),
    ],
)
def test_a_wrong_numeric_audit_option_is_named_once_on_the_controller(name, value, expected):
    with pytest.raises(inputs.InputProblem) as raised:
        inputs.check_variables({name: value})
    assert expected in str(raised.value)


# --------------------------------------------------------------------------------------------------------------
# The preflight candidate: the rollout certificate's shape without its key


def test_a_candidate_from_paths_carries_its_pem_and_never_the_key(files):
    live, leaf = files
    checked = inputs.check_candidate(entry(live), "tlsfleet_preflight_certificate")
    assert checked["certificate"] == str(live / "cert.pem") and checked["chain"] == str(live / "chain.pem")
    assert checked["certificate_pem"] == (live / "cert.pem").read_text()
    assert checked["chain_pem"] == (live / "chain.pem").read_text()
    assert checked["sha256"] == remediation.x509.fingerprint(leaf.cert)
    assert checked["hosts"] == ["web"] and checked["san_dns"] == ["shop.test", "www.shop.test"]
    assert checked["ignored"] == [
        "tlsfleet_preflight_certificate (shop): key is ignored - a preflight compares public keys only, and no key is "
        "read or sent"
    ]
    assert "key" not in checked
    assert all(KEY_MARKER not in str(value) for value in checked.values())


def test_a_candidate_from_a_lineage_reads_cert_and_chain_only(files):
    live, _leaf = files
    checked = inputs.check_candidate({"lineage": str(live), "hosts": "web, db"}, "c")
    assert checked["lineage"] == str(live) and checked["certificate"] == str(live / "cert.pem")
    assert checked["chain"] == str(live / "chain.pem") and checked["ignored"] == []
    assert checked["hosts"] == ["web", "db"]  # a survey's comma-separated answer


def test_a_candidate_as_pem_text_and_as_yaml_text(files):
    live, _leaf = files
    pem = (live / "cert.pem").read_text()
    checked = inputs.check_candidate({"certificate": pem, "chain": (live / "chain.pem").read_text(), "hosts": ["w"]})
    assert checked["certificate"] is None and checked["certificate_pem"] == pem and checked["chain_pem"]
    text = '{"certificate": "%s", "hosts": ["w"]}' % (live / "cert.pem")
    assert inputs.check_candidate(text)["certificate"] == str(live / "cert.pem")


@pytest.mark.parametrize(
    ("candidate", "expected"),
    [
        ("", "tlsfleet_preflight_certificate is empty: give certificate (and chain) or lineage, and hosts"),
        ("  ", "tlsfleet_preflight_certificate is empty"),
        ("true", "must be a mapping with certificate (or lineage) and hosts, or that mapping as YAML or JSON text"),
        ("-----BEGIN CERTIFICATE-----", "not the PEM text alone"),
        (["a"], "must be a mapping with certificate (or lineage) and hosts, not list"),
        ({"hosts": ["w"]}, "needs certificate (a path on the controller or PEM text), or lineage"),
        ({"certificate": "{live}/cert.pem"}, "hosts must list the inventory hosts and groups"),
        ({"certificate": "{live}/cert.pem", "hosts": ""}, "hosts must list the inventory hosts and groups"),
        ({"certificate": "{live}/cert.pem", "hosts": [1]}, "hosts must list the inventory hosts and groups"),
        ({"certificate": "{live}/cert.pem", "chian": "x", "hosts": ["w"]}, "unknown key chian (did you mean chain?)"),
        ({"certificate": "{live}/cert.pem", "lineage": "{live}", "hosts": ["w"]}, "gives both lineage and certificate"),
        ({"certificate": "{live}/missing.pem", "hosts": ["w"]}, "missing.pem"),
        ({"certificate": "{live}/garbage.pem", "hosts": ["w"]}, "tlsfleet_preflight_certificate: "),
        ({"certificate": "{live}/privkey.pem", "hosts": ["w"]}, "certificate file {live}/privkey.pem must hold"),
        ({"certificate": "{live}/cert.pem", "chain": "{live}/privkey.pem", "hosts": ["w"]}, "chain file"),
        ({"certificate": 3, "hosts": ["w"]}, "certificate must be a string, not int"),
    ],
)
def test_a_wrong_candidate_is_one_clear_sentence(files, candidate, expected):
    live, _leaf = files
    if isinstance(candidate, dict):
        candidate = {k: v.replace("{live}", str(live)) if isinstance(v, str) else v for k, v in candidate.items()}
    message = problem(inputs.check_candidate, candidate)
    assert expected.replace("{live}", str(live)) in message
    assert "Traceback" not in message


def test_a_private_key_pasted_as_the_candidate_is_refused_and_not_repeated(files):
    live, _leaf = files
    key = (live / "privkey.pem").read_text()
    for candidate in ({"certificate": key, "hosts": ["w"]}, {"certificate": (live / "cert.pem").read_text() + key}):
        message = problem(inputs.check_candidate, dict(candidate, hosts=["w"]))
        assert "certificate PEM blocks only" in message and key.splitlines()[1] not in message


def test_the_rollout_certificate_becomes_a_candidate_without_its_key(files):
    live, _leaf = files
    checked = inputs.candidate_of(inputs.check_certificate({"lineage": str(live), "hosts": ["web"]}, "x"))
    assert checked["ignored"] == [] and checked["certificate"] == str(live / "cert.pem")
    assert checked["chain_pem"] == (live / "chain.pem").read_text()


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("", None),
        ("  ", None),
        ("2026-12-20T02:00:00Z", "2026-12-20T02:00:00Z"),
        ("2026-12-20 03:00+01:00", "2026-12-20T02:00:00Z"),
    ],
)
def test_the_planned_time_as_a_survey_gives_it(value, expected):
    # a blank answer is not given: the key is left out and the playbook's default (now) applies
    assert inputs.check_variables({"tlsfleet_preflight_at": value}).get("tlsfleet_preflight_at") == expected


def test_a_wrong_planned_time_and_gate_are_named():
    message = problem(
        inputs.check_variables, {"tlsfleet_preflight_at": "next week", "tlsfleet_rollout_preflight_gate": "maybe"}
    )
    assert (
        "tlsfleet_preflight_at must be an ISO 8601 time such as 2026-12-20T02:00:00Z (blank: now), not 'next week'"
        in message
    )
    assert "tlsfleet_rollout_preflight_gate must be true or false" in message
    assert inputs.check_variables({"tlsfleet_rollout_preflight_gate": "false"}) == {
        "tlsfleet_rollout_preflight_gate": False
    }


def test_a_rollout_certificate_file_that_holds_its_key_gives_a_candidate_of_certificates_only(files, tmp_path):
    live, _leaf = files
    combined = tmp_path / "combined.pem"
    combined.write_bytes((live / "cert.pem").read_bytes() + (live / "privkey.pem").read_bytes())
    checked = inputs.check_certificate({"certificate": str(combined), "key": str(combined), "hosts": ["web"]}, "x")
    candidate = inputs.candidate_of(checked)
    assert KEY_MARKER not in candidate["certificate_pem"] and "BEGIN CERTIFICATE" in candidate["certificate_pem"]
    assert candidate["certificate"] == str(combined) and candidate["sha256"] == checked["sha256"]
