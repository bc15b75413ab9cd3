# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""HAProxy 2.8+ ``ocsp-update``, from recorded configuration and ``haproxy -vv`` output (fixtures/haproxy_*).

The lab runs HAProxy 2.6, which has no ocsp-update: this is the only place the 2.8+ behaviour is tested
(docs/servers.md says so). Discovery reads ocsp-update per certificate (crt-list line, crt-store, global mode; a
bind line takes none and is reported), the facts say HAProxy then fetches its own staple (no .ocsp file needed),
and the diagnosis reports a certificate without an OCSP URL under ocsp-update on as the error it is: HAProxy
refuses to load it.
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import diagnosis, x509
from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.module_utils.servers import facts_of, haproxy
from ansible_collections.tlsfleet.stapling.tests.unit.plugins.module_utils.servers.fakes import FakeRunner

FIXTURES = Path(__file__).parent / "fixtures"
VV_28 = (FIXTURES / "haproxy_vv_2_8.txt").read_text()
VV_26 = VV_28.replace("HAProxy version 2.8.16-1~bpo12+1 2026/09/30", "HAProxy version 2.6.12-1+deb12u4 2026/10/17")
URL = "http://ocsp.example.test/"


@pytest.fixture
def recorded(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    for name in ("sunset.pem", "still.pem", "static.pem", "api.pem"):
        (certs / name).write_text("-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n")
    (certs / "static.pem.ocsp").write_bytes(b"\x30\x03\x0a\x01\x00")
    (certs / "sunset.list").write_text((FIXTURES / "haproxy_2_8_sunset.list").read_text())
    config = tmp_path / "haproxy.cfg"
    config.write_text((FIXTURES / "haproxy_2_8_sunset.cfg").read_text().format(certs=certs))
    return config


def _inspect(config, version=VV_28):
    runner = FakeRunner(
        {("-vv",): (0, version, ""), ("-c", "-f", str(config)): (0, "Configuration file is valid\n", "")}
    )
    return haproxy.inspect(runner, "/usr/sbin/haproxy", [str(config)], env={})


def _certificates(info):
    return {Path(record["crt"]).name: record for site in info.sites for record in site.stapling["certificates"]}


def test_the_version_comes_from_the_recorded_vv_output(recorded):
    info = _inspect(recorded)
    assert info.version == "2.8.16"
    assert info.stapling_self_fetch is True
    assert all(site.stapling["ocsp_update_supported"] for site in info.sites)
    old = _inspect(recorded, VV_26)
    assert old.stapling_self_fetch is False
    assert not any(site.stapling["ocsp_update_supported"] for site in old.sites)


def test_ocsp_update_is_read_per_certificate_with_where_it_comes_from(recorded):
    records_ = _certificates(_inspect(recorded))
    assert {name: (r["ocsp_update"], r["ocsp_update_source"]) for name, r in records_.items()} == {
        "sunset.pem": ("on", "crt-list"),
        "still.pem": ("on", "crt-list"),
        "static.pem": ("off", "crt-list"),
        "api.pem": ("off", "global"),
    }


def test_ocsp_update_on_a_bind_line_sets_nothing_and_is_reported(recorded):
    """HAProxy has no bind keyword ocsp-update (only crt-list lines, crt-store 'load' lines and the global mode
    set it): the word on fe_api's bind line is not read as the certificate's mode, and discovery says that the
    configuration check rejects that line."""
    info = _inspect(recorded)
    api = _certificates(info)["api.pem"]
    assert (api["ocsp_update"], api["ocsp_update_explicit"]) == ("off", False)
    (sentence,) = [error for error in info.errors if "ocsp-update" in error]
    assert "not a bind keyword" in sentence and "rejects this line" in sentence


def test_ocsp_update_on_means_the_site_fetches_its_own_staple(recorded):
    facts = facts_of("haproxy")
    info = _inspect(recorded)
    for site in info.sites:
        for _crt, _key, stapling in facts.certificate_units(site):
            name = Path(stapling["crt"]).name
            if name == "api.pem":
                continue  # its ocsp-update is on a bind line, where it sets nothing (the test above)
            configured = {"staple_file": {"path": stapling["ocsp_file"], "exists": stapling["ocsp_exists"]}}
            assert facts.stapling_enabled(stapling, configured) is True, name
            assert facts.self_fetches(stapling) is (name != "static.pem")
            # No .ocsp file is no problem under ocsp-update on; static.pem staples its file.
            assert facts.stapling_problem(stapling, configured, site.to_dict(), name) is None
    # On 2.6 the same configuration fetches nothing: a certificate without a .ocsp file cannot be stapled.
    for site in _inspect(recorded, VV_26).sites:
        for _crt, _key, stapling in facts.certificate_units(site):
            configured = {"staple_file": {"path": stapling["ocsp_file"], "exists": stapling["ocsp_exists"]}}
            problem = facts.stapling_problem(stapling, configured, site.to_dict(), "x")
            assert (problem is None) is (Path(stapling["crt"]).name == "static.pem")


def _diagnose(pki, recorded, crt_name, ocsp_urls, version=VV_28, **leaf_kw):
    _root, (inter,), _leaf = pki.chain(ocsp_urls=[URL])
    leaf = pki.leaf(inter, cn="www.sunset.example", ocsp_urls=ocsp_urls, **leaf_kw)
    info = _inspect(recorded, version)
    facts = facts_of("haproxy")
    site, stapling = next(
        (site, unit)
        for site in info.sites
        for _crt, _key, unit in facts.certificate_units(site)
        if Path(unit["crt"]).name == crt_name
    )
    certificates = records.Certificates()
    fingerprint = certificates.add(x509.describe(leaf.cert).to_dict())
    typed = records.Site(
        key=site.site_id + "#0",
        server="haproxy",
        site=site.site_id,
        source=site.source,
        server_version=info.version,
        hostnames=[],
        stapling=stapling,
        configured=records.Configured.from_dict(
            {
                "certificate_file": stapling["crt"],
                "leaf": fingerprint,
                "key_matches": True,
                "staple_file": {"path": stapling["ocsp_file"], "exists": stapling["ocsp_exists"]},
            }
        ),
    )
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ev = records.Evidence(node={"checked_at": now}, certificates=certificates, sites=[typed])
    return diagnosis.diagnose(ev.to_dict())


def test_2_8_ocsp_update_on_a_certificate_without_url_is_an_error(pki, recorded):
    found = _diagnose(pki, recorded, "sunset.pem", [])
    assert [(f["code"], f["severity"]) for f in found] == [("stapling_without_ocsp", "error")]
    assert "HAProxy 2.8.16 has ocsp-update on for" in found[0]["evidence"][1]
    assert "refuses to load it" in found[0]["evidence"][1]
    # fe_api's bind-line ocsp-update sets nothing: stapling is off for api.pem, as it should be without a URL (the
    # line itself fails the configuration check, which a real node reports as config_test_failed)
    assert _diagnose(pki, recorded, "api.pem", []) == []


def test_a_must_staple_certificate_without_url_still_says_haproxy_will_not_load_it(pki, recorded):
    found = _diagnose(pki, recorded, "sunset.pem", [], must_staple=True)
    codes = {f["code"]: f for f in found}
    assert set(codes) == {"no_ocsp_url", "must_staple_unmet"}
    assert any("refuses to load it" in line for line in codes["no_ocsp_url"]["evidence"])


def test_2_8_ocsp_update_on_a_certificate_with_url_needs_no_staple_file(pki, recorded):
    assert _diagnose(pki, recorded, "still.pem", [URL]) == []


def test_ocsp_update_off_without_url_and_without_staple_file_is_fine(pki, recorded, tmp_path):
    (tmp_path / "certs" / "static.pem.ocsp").unlink()
    assert _diagnose(pki, recorded, "static.pem", []) == []


def test_a_staple_file_for_a_certificate_without_url_is_a_warning(pki, recorded):
    found = _diagnose(pki, recorded, "static.pem", [])
    assert [(f["code"], f["severity"]) for f in found] == [("stapling_without_ocsp", "warning")]
    assert "nothing will ever refresh it" in found[0]["evidence"][1]


def test_3_2_and_later_skip_a_certificate_without_uri_so_it_is_a_warning(pki, recorded):
    """HAProxy 3.2+ loads such a certificate and staples nothing for it (docs/servers.md)."""
    vv_32 = VV_28.replace("HAProxy version 2.8.16-1~bpo12+1 2026/09/30", "HAProxy version 3.2.4-1 2026/08/12")
    found = _diagnose(pki, recorded, "sunset.pem", [], version=vv_32)
    assert [(f["code"], f["severity"]) for f in found] == [("stapling_without_ocsp", "warning")]
    assert "staples nothing" in found[0]["evidence"][1]


def test_only_an_explicit_ocsp_update_on_is_refused_and_only_before_3_2():
    explicit = {"ocsp_update": "on", "ocsp_update_supported": True, "ocsp_update_explicit": True}
    assert facts_of("haproxy").refuses_without_uri(explicit, "2.8.16")
    assert facts_of("haproxy").refuses_without_uri(explicit, "3.1.9")
    assert not facts_of("haproxy").refuses_without_uri(explicit, "3.2.0")
    assert not facts_of("haproxy").refuses_without_uri(dict(explicit, ocsp_update_explicit=False), "2.8.16")
