# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""The remediation plan: which change answers which finding, and what is verified afterwards."""

from __future__ import annotations

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import remediation as rem

OLD, NEW = "aa" * 32, "bb" * 32
OCSP = ["http://ocsp.test/"]


def site(server, name, hostnames, port=443, stapling=None, leaf=None, configured=None, number=0):
    path = {
        "nginx": "/etc/nginx/sites-enabled/%s.conf" % name,
        "apache": "/etc/apache2/sites-enabled/%s.conf" % name,
        "haproxy": "/etc/haproxy/haproxy.cfg",
    }[server]
    line = 19 if server == "haproxy" else 2
    conf = {
        "certificate_file": "/etc/tls/%s.crt" % name if server != "haproxy" else "/etc/haproxy/certs/%s.pem" % name,
        "key_file": "/etc/tls/%s.key" % name if server != "haproxy" else "/etc/haproxy/certs/%s.pem" % name,
        "leaf": dict({"sha256": OLD, "ocsp_urls": OCSP, "must_staple": False}, **(leaf or {})),
    }
    conf.update(configured or {})
    default_stapling = {
        "nginx": {"ssl_stapling": True},
        "apache": {"SSLUseStapling": True, "SSLStaplingCache": "shmcb:x"},
        "haproxy": {"ocsp_file": conf["certificate_file"] + ".ocsp", "ocsp_exists": False, "ocsp_update": "off"},
    }[server]
    return {
        "site": "%s:%s:%d" % (server, path, line),
        "key": "%s:%s:%d#%d" % (server, path, line, number),
        "source": "%s:%d" % (path, line),
        "server": server,
        "hostnames": hostnames,
        "endpoint": {"host": "127.0.0.1", "port": port},
        "stapling": dict(default_stapling, **(stapling or {})),
        "configured": conf,
    }


def finding(code, entry, hostname=None, severity="error"):
    return {"code": code, "site": entry["site"], "hostname": hostname or entry["hostnames"][0], "severity": severity}


# What a certificate record holds beyond the fields a test chooses (sha256, ocsp_urls, must_staple, ...).
CERTIFICATE = {
    "subject": "CN=leaf",
    "issuer": "CN=int",
    "serial": "01",
    "sha1": "00" * 20,
    "not_before": "2026-01-01T00:00:00Z",
    "not_after": "2027-01-01T00:00:00Z",
}


def audit(sites, findings):
    """The node_audit result around ``sites``: evidence built through its records, each configured leaf
    described once in ``certificates`` and named by its fingerprint in the site."""
    certificates = records.Certificates()
    typed = []
    for entry in sites:
        leaf = entry["configured"].get("leaf")
        fingerprint = certificates.add(dict(CERTIFICATE, **leaf)) if leaf else None
        typed.append(records.Site.from_dict(dict(entry, configured=dict(entry["configured"], leaf=fingerprint))))
    return {"evidence": records.Evidence(certificates=certificates, sites=typed).to_dict(), "findings": findings}


def test_nginx_stapling_on_and_resolver_from_the_nodes_nameservers():
    static = site("nginx", "static", ["static.test"], stapling={"ssl_stapling": False})
    www = site("nginx", "www", ["www.test", "shop.test"])
    found = [
        finding("stapling_disabled", static, severity="warning"),
        finding("resolver_missing", www),
        finding("resolver_missing", www, "shop.test"),
    ]
    plan = rem.plan(audit([static, www], found), "n1", resolvers=["198.18.0.4"])
    by_path = {entry["path"]: entry for entry in plan["stapling"]}
    assert by_path[static["source"].rsplit(":", 1)[0]]["stapling"] == "on"
    assert by_path["/etc/nginx/sites-enabled/www.conf"] == {
        "site": www["site"],
        "key": www["key"],
        "server": "nginx",
        "path": "/etc/nginx/sites-enabled/www.conf",
        "line": 2,
        "codes": ["resolver_missing"],
        "resolver": ["198.18.0.4"],
        "stapling": "on",
    }
    assert plan["reload"] == ["nginx"] and plan["unfixable"] == []
    assert [(v["hostnames"], v["staple"], v["leaf_sha256"]) for v in plan["verify"]] == [
        (["static.test"], "good", OLD),
        (["www.test", "shop.test"], "good", OLD),
    ]
    without = rem.plan(audit([static, www], found), "n1")
    assert [u["code"] for u in without["unfixable"]] == ["resolver_missing", "resolver_missing"]
    assert "tlsfleet_nginx_resolver" in without["unfixable"][0]["reason"]


def test_a_failing_nginx_resolver_is_replaced_only_by_another_nameserver():
    www = site("nginx", "www", ["www.test"])
    www["resolver_checks"] = [{"server": "198.18.0.5", "port": 53, "name": "ocsp.test", "outcome": "timeout"}]
    found = [finding("resolver_failing", www)]
    plan = rem.plan(audit([www], found), "n1", resolvers=["198.18.0.5", "198.18.0.4"])
    assert [(e["codes"], e["resolver"]) for e in plan["stapling"]] == [(["resolver_failing"], ["198.18.0.4"])]
    assert plan["reload"] == ["nginx"] and plan["unfixable"] == []
    same = rem.plan(audit([www], found), "n1", resolvers=["198.18.0.5"])
    assert same["stapling"] == [] and [u["code"] for u in same["unfixable"]] == ["resolver_failing"]
    assert "tlsfleet_nginx_resolver" in same["unfixable"][0]["reason"]


def test_stapling_without_ocsp_turns_stapling_off_and_expects_no_staple():
    legacy = site("nginx", "legacy", ["legacy.test"], port=8443, leaf={"ocsp_urls": []})
    plan = rem.plan(audit([legacy], [finding("stapling_without_ocsp", legacy, severity="warning")]), "n1", sunset=True)
    assert plan["stapling"][0]["stapling"] == "off"
    assert plan["stapling"][0]["codes"] == ["stapling_without_ocsp"]
    assert plan["verify"] == [
        {
            "site": legacy["site"],
            "key": legacy["key"],
            "server": "nginx",
            "port": 8443,
            "host": "127.0.0.1",
            "hostnames": ["legacy.test"],
            "leaf_sha256": OLD,
            "staple": "none",
        }
    ]


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_stapling_without_ocsp_switches_off_only_that_site(server):
    sunset = site(server, "sunset", ["sunset.test"], leaf={"ocsp_urls": [], "sha256": "ab" * 32})
    still = site(server, "still", ["still.test"], number=1)
    plan = rem.plan(
        audit([sunset, still], [finding("stapling_without_ocsp", sunset, severity="warning")]), "n1", sunset=True
    )
    assert [(e["path"], e["stapling"]) for e in plan["stapling"]] == [(sunset["source"].rsplit(":", 1)[0], "off")]
    assert [v["hostnames"] for v in plan["verify"]] == [["sunset.test"]]
    assert plan["unfixable"] == []


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_stapling_without_ocsp_never_switches_off_a_block_that_also_serves_an_ocsp_certificate(server):
    """RSA + ECDSA in one block, only one with an OCSP URL: the directive is per block (found in review)."""
    rsa = site(server, "dual", ["dual.test"], leaf={"sha256": "aa" * 32, "subject": "CN=dual rsa"}, number=0)
    ecdsa = site(
        server,
        "dual",
        ["dual.test"],
        leaf={"sha256": "bb" * 32, "ocsp_urls": []},
        number=1,
        configured={"certificate_file": "/etc/tls/dual-ec.crt", "key_file": "/etc/tls/dual-ec.key"},
    )
    for pinned in (rsa, ecdsa):  # whichever entry the finding lands on
        found = [finding("stapling_without_ocsp", pinned, severity="warning")]
        plan = rem.plan(audit([rsa, ecdsa], found), "n1", sunset=True)
        assert plan["stapling"] == [] and plan["verify"] == [] and plan["reload"] == []
        assert [u["code"] for u in plan["unfixable"]] == ["stapling_without_ocsp"]
        assert "CN=dual rsa" in plan["unfixable"][0]["reason"]


def test_stapling_without_ocsp_leaves_an_nginx_static_staple_to_the_operator():
    """nginx must find the file ssl_stapling_file names; switching off would drop a response someone maintains."""
    legacy = site(
        "nginx", "legacy", ["legacy.test"], leaf={"ocsp_urls": []}, stapling={"ssl_stapling_file": "/etc/nginx/l.ocsp"}
    )
    plan = rem.plan(audit([legacy], [finding("stapling_without_ocsp", legacy, severity="warning")]), "n1", sunset=True)
    assert plan["stapling"] == [] and plan["reload"] == []
    assert [u["code"] for u in plan["unfixable"]] == ["stapling_without_ocsp"]
    assert "/etc/nginx/l.ocsp" in plan["unfixable"][0]["reason"]


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_without_the_sunset_opt_in_nothing_is_switched_off_and_the_plan_says_skipped(server):
    legacy = site(server, "legacy", ["legacy.test"], leaf={"ocsp_urls": []}, stapling={"ocsp_exists": True})
    plan = rem.plan(audit([legacy], [finding("stapling_without_ocsp", legacy, severity="warning")]), "n1")
    assert plan["stapling"] == [] and plan["staple_removals"] == [] and plan["reload"] == [] and plan["verify"] == []
    assert plan["unfixable"] == [] and plan["codes"] == []
    assert [(s["code"], s["site"], s["hostname"]) for s in plan["skipped"]] == [
        ("stapling_without_ocsp", legacy["site"], "legacy.test")
    ]
    reason = plan["skipped"][0]["reason"]
    assert reason.startswith("skipped (opt-in)") and "tlsfleet_stapling_sunset: true" in reason
    if server == "haproxy":
        assert "the staple file /etc/haproxy/certs/legacy.pem.ocsp would be removed" in reason
    else:
        assert "stapling would be switched off for this site only" in reason


def test_haproxy_sunset_removes_that_certificates_staple_file_only():
    legacy = site("haproxy", "lb", ["lb.test"], leaf={"ocsp_urls": [], "sha256": NEW}, stapling={"ocsp_exists": True})
    still = site("haproxy", "pay", ["pay.test"], number=1, stapling={"ocsp_exists": True})
    found = [finding("stapling_without_ocsp", legacy, severity="warning")]
    plan = rem.plan(audit([legacy, still], found), "lb", sunset=True)
    assert plan["staple_removals"] == [
        {
            "site": legacy["site"],
            "key": legacy["key"],
            "server": "haproxy",
            "certificate_path": "/etc/haproxy/certs/lb.pem",
            "dest": "/etc/haproxy/certs/lb.pem.ocsp",
            "codes": ["stapling_without_ocsp"],
        }
    ]
    assert plan["staple_files"] == [] and plan["unfixable"] == [] and plan["skipped"] == []
    assert plan["reload"] == ["haproxy"]
    assert [(v["hostnames"], v["leaf_sha256"], v["staple"]) for v in plan["verify"]] == [(["lb.test"], NEW, "none")]


def test_haproxy_sunset_with_ocsp_update_on_names_the_line_to_change():
    stapling = {"ocsp_update": "on", "ocsp_update_source": "crt-list", "source": "/etc/haproxy/crt-list.txt:3"}
    lb = site("haproxy", "lb", ["lb.test"], leaf={"ocsp_urls": []}, stapling=stapling)
    plan = rem.plan(audit([lb], [finding("stapling_without_ocsp", lb)]), "lb", sunset=True)
    assert plan["staple_removals"] == [] and plan["reload"] == []
    assert [u["code"] for u in plan["unfixable"]] == ["stapling_without_ocsp"]
    reason = plan["unfixable"][0]["reason"]
    assert "/etc/haproxy/crt-list.txt:3" in reason and "ocsp-update off" in reason and "crt-list" in reason


def test_haproxy_sunset_without_a_staple_file_removes_nothing():
    lb = site("haproxy", "lb", ["lb.test"], leaf={"ocsp_urls": []}, stapling={"ocsp_exists": False})
    plan = rem.plan(audit([lb], [finding("stapling_without_ocsp", lb, severity="warning")]), "lb", sunset=True)
    assert plan["staple_removals"] == [] and plan["reload"] == []
    assert "no staple file of this certificate to remove" in plan["unfixable"][0]["reason"]


def test_must_staple_without_url_is_not_switched_off():
    leaf = {"ocsp_urls": [], "must_staple": True}
    entry = site("nginx", "ms", ["ms.test"], leaf=leaf)
    found = [finding("no_ocsp_url", entry, severity="info"), finding("must_staple_unmet", entry, severity="critical")]
    plan = rem.plan(audit([entry], found), "n1")
    assert plan["stapling"] == [] and plan["reload"] == []
    assert sorted(u["code"] for u in plan["unfixable"]) == ["must_staple_unmet", "no_ocsp_url"]


def test_haproxy_staple_file_for_the_certificate_of_the_failing_hostname():
    www = site("haproxy", "www", ["www.test"], number=0)
    pay = site("haproxy", "pay", ["pay.test"], number=1, stapling={"ocsp_exists": True})
    plan = rem.plan(audit([www, pay], [finding("stapling_unsupported", www)]), "lb")
    assert [(f["certificate_path"], f["dest"]) for f in plan["staple_files"]] == [
        ("/etc/haproxy/certs/www.pem", "/etc/haproxy/certs/www.pem.ocsp")
    ]
    # The role's handler reloads the server each staple file names.
    assert [f["server"] for f in plan["staple_files"]] == ["haproxy"]
    assert plan["reload"] == ["haproxy"] and plan["verify"][0]["hostnames"] == ["www.test"]


def test_chain_rebuilt_in_place_but_not_when_the_key_shares_the_file():
    www = site("apache", "www", ["www.test"])
    plan = rem.plan(audit([www], [finding("chain_incomplete", www)]), "n1", fetch_issuers=False)
    assert plan["bundles"] == [
        {
            "site": www["site"],
            "key": www["key"],
            "server": "apache",
            "certificate_path": "/etc/tls/www.crt",
            "fullchain_dest": "/etc/tls/www.crt",
            "trusted_dest": None,
            "fetch_issuers": False,
            "codes": ["chain_incomplete"],
        }
    ]
    lb = site("haproxy", "www", ["www.test"])
    plan = rem.plan(audit([lb], [finding("chain_misordered", lb)]), "n1")
    assert plan["bundles"] == [] and plan["unfixable"][0]["code"] == "chain_misordered"
    assert "tlsfleet_certificates" in plan["unfixable"][0]["reason"]


def test_trusted_file_rebuilt_for_nginx():
    www = site("nginx", "www", ["www.test"], configured={"trusted": {"path": "/etc/tls/trusted.pem"}})
    plan = rem.plan(audit([www], [finding("trusted_cert_missing", www)]), "n1")
    (bundle,) = plan["bundles"]
    assert bundle["trusted_dest"] == "/etc/tls/trusted.pem" and bundle["fullchain_dest"] is None


def drift_finding(outliers, nodes, hostname="www.test"):
    return {
        "code": "node_drift",
        "host": None,
        "hostname": hostname,
        "site": None,
        "severity": "error",
        "details": {"nodes": nodes, "outliers": outliers},
    }


CERT = {
    "name": "www",
    "certificate": "/ca/www.crt",
    "key": "/ca/www.key",
    "san_dns": ["www.test", "shop.test", "*.sub.test"],
    "sha256": NEW,
    "public_key_sha256": "cc" * 32,
    "hosts": ["n1", "n2", "n3"],
}


def test_drift_deploys_the_certificate_that_covers_the_site_on_outliers_only():
    www = site("apache", "www", ["www.test", "shop.test"])
    drift = [drift_finding(["n3"], ["n1", "n2", "n3"]), drift_finding(["n3"], ["n1", "n2", "n3"], "shop.test")]
    plan = rem.plan(audit([www], []), "n3", drift=drift, certificates=[CERT])
    (deployment,) = plan["deployments"]
    assert deployment["key"] == "/ca/www.key" and deployment["fullchain_dest"] == "/etc/tls/www.crt"
    assert deployment["combined"] is False and plan["verify"][0]["leaf_sha256"] == NEW
    assert rem.plan(audit([www], []), "n1", drift=drift, certificates=[CERT])["deployments"] == []
    missing = rem.plan(audit([www], []), "n3", drift=drift, certificates=[])
    assert {u["code"] for u in missing["unfixable"]} == {"node_drift"} and missing["reload"] == []


def test_wildcards_cover_one_label_only():
    deep, one, apex = (site("nginx", n, [n]) for n in ("a.b.sub.test", "a.sub.test", "sub.test"))
    plan = rem.plan(
        audit([deep, one, apex], [finding("key_mismatch", s) for s in (deep, one, apex)]), "n1", certificates=[CERT]
    )
    assert [d["site"] for d in plan["deployments"]] == [one["site"]]
    assert sorted(u["hostname"] for u in plan["unfixable"]) == ["a.b.sub.test", "sub.test"]


def test_blocking_findings_are_unfixable_and_relax_the_staple_check():
    www = site("nginx", "www", ["www.test"], stapling={"ssl_stapling": False})
    alone = rem.plan(audit([www], [finding("responder_unreachable", www)]), "n1")
    assert alone["reload"] == [] and [u["code"] for u in alone["unfixable"]] == ["responder_unreachable"]
    both = rem.plan(
        audit([www], [finding("responder_unreachable", www), finding("stapling_disabled", www, severity="warning")]),
        "n1",
    )
    assert both["stapling"][0]["stapling"] == "on" and both["verify"][0]["staple"] == "any"
    revoked = rem.plan(audit([www], [finding("cert_revoked", www, severity="critical")]), "n1")
    assert revoked["reload"] == [] and "Replace the certificate" in revoked["unfixable"][0]["reason"]


def test_reload_is_the_remedy_for_a_stale_path_and_bad_input_plans_nothing():
    www = site("nginx", "www", ["www.test"])
    plan = rem.plan(audit([www], [finding("stale_cert_path", www)]), "n1")
    assert plan["reload"] == ["nginx"] and plan["stapling"] == [] and plan["verify"][0]["staple"] == "good"
    empty = rem.plan({"failed": True, "msg": "x"}, "n1")
    assert empty["reload"] == [] and empty["unfixable"] == []
    assert rem.plan(None, "n1")["verify"] == []


def test_verification_problems_name_each_mismatch():
    verify = [
        {
            "host": "127.0.0.1",
            "port": 443,
            "hostnames": ["a.test", "b.test", "c.test"],
            "leaf_sha256": NEW,
            "staple": "good",
        }
    ]
    assert rem.verify_endpoints(verify) == [
        {"host": "127.0.0.1", "port": 443, "server_name": name} for name in ("a.test", "b.test", "c.test")
    ]
    probed = [
        {
            "port": 443,
            "server_name": "a.test",
            "reachable": True,
            "leaf_sha256": NEW,
            "summary": {"staple_state": "good"},
        },
        {
            "port": 443,
            "server_name": "b.test",
            "reachable": True,
            "leaf_sha256": OLD,
            "summary": {"staple_state": "none"},
        },
        {"port": 443, "server_name": "c.test", "reachable": False},
    ]
    problems = rem.verification_problems(probed, verify)
    assert len(problems) == 3
    assert "b.test" in problems[0] and OLD in problems[0] and NEW in problems[0]
    assert "serves staple 'none', expected 'good'" in problems[1]
    assert "c.test" in problems[2] and "does not answer" in problems[2]
    assert rem.verification_problems(probed[:1], [dict(verify[0], hostnames=["a.test"])]) == []
    relaxed = [dict(verify[0], hostnames=["b.test"], leaf_sha256=OLD, staple="any")]
    assert rem.verification_problems(probed, relaxed) == []


def test_changed_files_records_a_removed_staple_file_with_its_backup():
    removed = {
        "changed": True,
        "reason": "removed",
        "removed": True,
        "written": False,
        "dest": "/c/x.pem.ocsp",
        "backup_file": "/c/x.pem.ocsp.1.2026~",
    }
    absent = {"changed": False, "reason": "absent", "removed": False, "written": False, "dest": "/c/y.pem.ocsp"}
    assert rem.changed_files({"results": [removed, absent]}) == [
        {"path": "/c/x.pem.ocsp", "backup": "/c/x.pem.ocsp.1.2026~", "created": False}
    ]


def test_changed_files_records_backups_and_created_files_only():
    results = {
        "results": [
            # site_stapling: the vhost changed (backup made); the server-wide cache file was created
            {
                "changed": True,
                "changes": ["x"],
                "path": "/etc/apache2/sites-available/a.conf",
                "backup_file": "/etc/apache2/sites-available/a.conf.1~",
                "cache_changed": True,
                "cache_created": True,
                "cache_file": "/etc/apache2/conf-enabled/cache.conf",
            },
            # site_stapling: only the existing cache file changed - the vhost must not be touched by a rollback
            {
                "changed": True,
                "changes": ["y"],
                "path": "/etc/apache2/sites-available/b.conf",
                "cache_changed": True,
                "cache_created": False,
                "cache_file": "/etc/apache2/conf-enabled/cache.conf",
                "cache_backup_file": "/etc/apache2/conf-enabled/cache.conf.2~",
            },
            {"changed": False, "changes": [], "path": "/etc/nginx/b.conf"},
            # ocsp_staple: a new staple file; a replaced one; one not written
            {
                "changed": True,
                "reason": "missing",
                "dest": "/etc/haproxy/x.pem.ocsp",
                "written": True,
                "previous": None,
            },
            {
                "changed": True,
                "reason": "refresh_window",
                "dest": "/etc/haproxy/y.pem.ocsp",
                "written": True,
                "previous": {"good": True},
                "backup_file": "/etc/haproxy/y.pem.ocsp.3~",
            },
            {"changed": True, "reason": "forced", "dest": "/etc/haproxy/z.pem.ocsp", "written": False},
            {"changed": True, "failed": True, "path": "/etc/z"},
            {"skipped": True},
        ]
    }
    assert rem.changed_files(results) == [
        {
            "path": "/etc/apache2/sites-available/a.conf",
            "backup": "/etc/apache2/sites-available/a.conf.1~",
            "created": False,
        },
        {"path": "/etc/apache2/conf-enabled/cache.conf", "backup": None, "created": True},
        {
            "path": "/etc/apache2/conf-enabled/cache.conf",
            "backup": "/etc/apache2/conf-enabled/cache.conf.2~",
            "created": False,
        },
        {"path": "/etc/haproxy/x.pem.ocsp", "backup": None, "created": True},
        {"path": "/etc/haproxy/y.pem.ocsp", "backup": "/etc/haproxy/y.pem.ocsp.3~", "created": False},
    ]
    bundle = {
        "changed": True,
        "files": {
            "fullchain": {"path": "/etc/tls/www.crt", "content_changed": True, "backup_file": "/etc/tls/www.crt.bak"},
            "trusted": {"path": "/etc/tls/t.pem", "content_changed": True, "created": True, "backup_file": None},
            # mode changed only: no backup, not created - a rollback must not delete it
            "chain": {"path": "/etc/tls/c.pem", "changed": True, "content_changed": False, "backup_file": None},
        },
    }
    key_mode_only = {"changed": True, "dest": "/etc/tls/www.key"}
    new_key = {"changed": True, "dest": "/etc/tls/new.key"}
    replaced_key = {"changed": True, "dest": "/etc/tls/old.key", "backup_file": "/etc/tls/old.key.4~"}
    existed = {"/etc/tls/www.key": True, "/etc/tls/new.key": False}
    assert rem.changed_files([bundle, key_mode_only, new_key, replaced_key], existed) == [
        {"path": "/etc/tls/www.crt", "backup": "/etc/tls/www.crt.bak", "created": False},
        {"path": "/etc/tls/t.pem", "backup": None, "created": True},
        {"path": "/etc/tls/new.key", "backup": None, "created": True},
        {"path": "/etc/tls/old.key", "backup": "/etc/tls/old.key.4~", "created": False},
    ]


def test_deployment_verification_follows_the_new_certificate_and_refreshes_haproxy_staples():
    lb = site("haproxy", "www", ["www.test"], stapling={"ocsp_exists": True})
    drift = [drift_finding(["n3"], ["n1", "n2", "n3"])]
    without_ocsp = dict(CERT, ocsp_urls=[])
    plan = rem.plan(audit([lb], []), "n3", drift=drift, certificates=[without_ocsp])
    assert plan["verify"][0]["staple"] == "none" and plan["staple_files"] == []
    plan = rem.plan(audit([lb], []), "n3", drift=drift, certificates=[dict(CERT, ocsp_urls=OCSP)])
    assert plan["verify"][0]["staple"] == "good"
    assert [f["dest"] for f in plan["staple_files"]] == ["/etc/haproxy/certs/www.pem.ocsp"]


def test_apache_without_a_key_file_counts_as_combined():
    www = site("apache", "www", ["www.test"], configured={"key_file": None})
    plan = rem.plan(audit([www], [finding("chain_incomplete", www)]), "n1")
    assert plan["bundles"] == [] and plan["unfixable"][0]["code"] == "chain_incomplete"


def test_rollout_order_canary_then_regions_in_batches():
    hostvars = {
        "eu1": {"tlsfleet_region": "eu"},
        "eu2": {"tlsfleet_region": "eu"},
        "us1": {"tlsfleet_region": "us"},
        "us2": {"tlsfleet_region": "us"},
        "us3": {"tlsfleet_region": "us"},
        "x": {},
    }
    hosts = ["us3", "eu2", "x", "us1", "eu1", "us2"]
    order = rem.rollout_order(hosts, hostvars, canary="us1")
    assert order["order"] == ["us1", "x", "eu1", "eu2", "us2", "us3"] and order["batches"] == [1, 1, 2, 2]
    assert order["groups"]["us1"] == "tlsfleet_rollout_batch_000"
    assert order["groups"]["us3"] == "tlsfleet_rollout_batch_003"
    split = rem.rollout_order(hosts, hostvars, canary="eu1", batch_size=2)
    assert split["order"] == ["eu1", "x", "eu2", "us1", "us2", "us3"] and split["batches"] == [1, 1, 1, 2, 1]
    assert rem.rollout_order(hosts, hostvars)["order"][0] == "us3"
    with pytest.raises(ValueError, match="canary nope"):
        rem.rollout_order(hosts, hostvars, canary="nope")


def test_rollout_plan_covers_the_sites_serving_the_names_and_refreshes_haproxy_staples():
    www = site("nginx", "www", ["www.test"])
    other = site("nginx", "other", ["other.example"])
    lb = site("haproxy", "www", ["www.test"], stapling={"ocsp_exists": True})
    cert = dict(CERT, ocsp_urls=OCSP)
    plan = rem.plan_rollout(audit([www, other, lb], []), cert, "n1")
    assert [d["fullchain_dest"] for d in plan["deployments"]] == ["/etc/tls/www.crt", "/etc/haproxy/certs/www.pem"]
    assert [d["combined"] for d in plan["deployments"]] == [False, True]
    assert plan["staple_files"][0]["dest"] == "/etc/haproxy/certs/www.pem.ocsp"
    assert plan["reload"] == ["haproxy", "nginx"]
    assert all(v["leaf_sha256"] == NEW and v["staple"] == "good" for v in plan["verify"])
    assert plan["served"] == {www["key"]: OLD, lb["key"]: OLD}
    summary = rem.rollout_summary(
        ["a", "b", "c"],
        {
            "a": {"tlsfleet_plan": plan, "tlsfleet_rollout_ok": True},
            "b": {"tlsfleet_plan": plan, "tlsfleet_rollout_restored": True},
            "c": {},
        },
        NEW,
    )
    assert summary["counts"] == {"verified": 1, "restored": 1, "untouched": 1}
    assert set(summary["nodes"]["a"]["sites"].values()) == {NEW} and set(summary["nodes"]["b"]["sites"].values()) == {
        OLD
    }


def test_rollout_summary_in_check_mode_says_planned_and_keeps_the_served_fingerprints():
    www = site("nginx", "www", ["www.test"])
    plan = rem.plan_rollout(audit([www], []), dict(CERT, ocsp_urls=OCSP), "n1")
    hostvars = {"a": {"tlsfleet_plan": plan, "tlsfleet_rollout_ok": True}, "b": {}}
    summary = rem.rollout_summary(["a", "b"], hostvars, NEW, check_mode=True)
    assert summary["counts"] == {"planned": 1, "untouched": 1}
    assert set(summary["nodes"]["a"]["sites"].values()) == {OLD}
    assert rem.rollout_summary(["a"], hostvars, NEW)["nodes"]["a"]["status"] == "verified"


def test_stashed_backups_mirror_the_path_under_the_backup_dir_once():
    changes = [
        {"path": "/etc/haproxy/certs/www.pem", "backup": "/etc/haproxy/certs/www.pem.12.2026-11-27@14:00:00~"},
        {"path": "/etc/nginx/sites-enabled/www", "backup": None, "created": True},
    ]
    moved = rem.stashed_backups(changes, "/var/backups/tlsfleet/")
    assert moved[0]["backup"] == "/var/backups/tlsfleet/etc/haproxy/certs/www.pem.12.2026-11-27@14:00:00~"
    assert moved[0]["stashed_from"] == changes[0]["backup"] and moved[0]["path"] == changes[0]["path"]
    assert moved[1] == changes[1]
    again = rem.stashed_backups(moved, "/var/backups/tlsfleet")  # already there: nothing to move again
    assert [e.get("stashed_from") for e in again] == [None, None] and again[0]["backup"] == moved[0]["backup"]
    assert rem.stashed_backups(changes, "") == changes
    with pytest.raises(ValueError, match="absolute"):
        rem.stashed_backups(changes, "backups")


# --------------------------------------------------------------------------------------------------------------
# Certificate scope: a key goes only where the entry's hosts (the controller's inventory) say


def mismatch(host="n1", entry=None, cert=None, groups=None, **site_args):
    www = entry or site("nginx", "www", ["www.test"], **site_args)
    return rem.plan(
        audit([www], [finding("key_mismatch", www)]), host, certificates=[cert or CERT], groups=groups or {}
    )


def test_scope_host_in_scope_gets_certificate_and_key():
    (deployment,) = mismatch("n2")["deployments"]
    assert deployment["key"] == "/ca/www.key" and deployment["deploy_key"] is True


def test_scope_host_out_of_scope_gets_nothing_and_the_refusal_names_the_entry():
    plan = mismatch("intruder")
    assert plan["deployments"] == [] and plan["reload"] == [] and plan["verify"] == []
    (refusal,) = plan["unfixable"]
    assert refusal["code"] == "key_mismatch"
    assert "certificate entry 'www' is not scoped to intruder" in refusal["reason"]


def test_scope_entry_without_hosts_is_deployed_nowhere():
    unscoped = {k: v for k, v in CERT.items() if k != "hosts"}
    for host in ("n1", "n2", "n3"):
        plan = mismatch(host, cert=unscoped)
        assert plan["deployments"] == []
        assert "certificate entry 'www' has no hosts: list, so it is deployed nowhere" in plan["unfixable"][0]["reason"]
    assert mismatch("n1", cert=dict(CERT, hosts=[]))["deployments"] == []


def test_scope_group_names_resolve_through_the_controllers_inventory_only():
    grouped = dict(CERT, hosts=["web"])
    groups = {"web": ["w1", "w2"], "db": ["d1"], "all": ["w1", "w2", "d1"]}
    assert len(mismatch("w2", cert=grouped, groups=groups)["deployments"]) == 1
    assert mismatch("d1", cert=grouped, groups=groups)["deployments"] == []
    # Without the inventory's groups, a group name is no host name: nothing is deployed.
    assert mismatch("w1", cert=grouped)["deployments"] == []
    assert rem.in_scope(dict(CERT, hosts=["all"]), "d1", groups)


def test_scope_in_scope_entry_is_chosen_over_an_earlier_covering_one():
    other = dict(CERT, name="other", hosts=["elsewhere"], key="/ca/other.key")
    www = site("nginx", "www", ["www.test"])
    plan = rem.plan(audit([www], [finding("key_mismatch", www)]), "n1", certificates=[other, CERT])
    assert [d["key"] for d in plan["deployments"]] == ["/ca/www.key"]


def test_scope_hostnames_must_be_covered_even_in_scope():
    www = site("nginx", "www", ["www.example"])
    plan = rem.plan(audit([www], [finding("key_mismatch", www)]), "n1", certificates=[CERT])
    assert plan["deployments"] == [] and "covers www.example" in plan["unfixable"][0]["reason"]


def test_same_key_deploys_the_certificate_and_chain_only():
    same = {"public_key_sha256": CERT["public_key_sha256"]}
    www = site("nginx", "www", ["www.test"], leaf=same, configured={"key_matches": True})
    drift = [drift_finding(["n3"], ["n1", "n2", "n3"])]
    (deployment,) = rem.plan(audit([www], []), "n3", drift=drift, certificates=[CERT])["deployments"]
    assert deployment["deploy_key"] is False
    # The key file does not match the leaf: the key is needed.
    wrong = site("nginx", "www", ["www.test"], leaf=same, configured={"key_matches": False})
    (deployment,) = rem.plan(audit([wrong], []), "n3", drift=drift, certificates=[CERT])["deployments"]
    assert deployment["deploy_key"] is True
    # HAProxy's combined file cannot be written without the key.
    lb = site("haproxy", "www", ["www.test"], leaf=same, configured={"key_matches": True})
    (deployment,) = rem.plan(audit([lb], []), "n3", drift=drift, certificates=[CERT])["deployments"]
    assert deployment["deploy_key"] is True and deployment["combined"] is True
    rollout = rem.plan_rollout(audit([www], []), CERT, "n1")
    assert [d["deploy_key"] for d in rollout["deployments"]] == [False]


def test_scope_entries_are_checked_for_their_shape():
    with pytest.raises(ValueError, match="'hosts' must be a list of inventory host or group names"):
        rem.certificate_sources([{"certificate": "/nonexistent", "key": "/k", "hosts": "web"}])
    with pytest.raises(ValueError, match="must be a list of entries"):
        rem.certificate_sources({"certificate": "/c", "key": "/k"})


def test_rollout_out_of_scope_plans_nothing_and_the_summary_says_refused():
    www = site("nginx", "www", ["www.test"])
    plan = rem.plan_rollout(audit([www], []), CERT, "intruder", {"web": ["n1"]})
    assert plan["deployments"] == [] and plan["verify"] == [] and plan["reload"] == []
    assert plan["refused"] == [
        "certificate entry 'www' is not scoped to intruder (its hosts: n1, n2, n3), so nothing of it is deployed there"
    ]
    unscoped = rem.plan_rollout(audit([www], []), {k: v for k, v in CERT.items() if k != "hosts"}, "n1")
    assert unscoped["deployments"] == [] and "no hosts: list" in unscoped["refused"][0]
    summary = rem.rollout_summary(["intruder"], {"intruder": {"tlsfleet_plan": plan, "tlsfleet_rollout_ok": True}})
    assert summary["counts"] == {"refused": 1}
    assert summary["nodes"]["intruder"]["refused"] == plan["refused"]


# --------------------------------------------------------------------------------------------------------------
# Drift is not authority


def test_drift_tie_plans_nothing_and_says_so():
    www = site("nginx", "www", ["www.test"])
    tie = dict(drift_finding(["n1", "n2"], ["n1", "n2"]))
    tie["details"] = dict(tie["details"], kind="leaf", fingerprints={OLD: ["n1"], "dd" * 32: ["n2"]})
    plan = rem.plan(audit([www], []), "n1", drift=[tie], certificates=[CERT])
    assert plan["deployments"] == [] and plan["reload"] == [] and plan["reload_always"] == []
    assert "no majority" in plan["unfixable"][0]["reason"] and "tie" in plan["unfixable"][0]["reason"]
    # Without fingerprints, every node named an outlier is a tie too.
    bare = rem.plan(audit([www], []), "n1", drift=[drift_finding(["n1", "n2"], ["n1", "n2"])], certificates=[CERT])
    assert bare["deployments"] == []


def test_drift_does_not_redeploy_a_node_that_already_holds_the_certificate():
    # A liar claims another certificate for www.test and outvotes; the honest node already serves CERT.
    honest = site("nginx", "www", ["www.test"], leaf={"sha256": NEW})
    drift = dict(drift_finding(["n1"], ["n1", "n2", "n3"]))
    drift["details"] = dict(drift["details"], kind="leaf", fingerprints={NEW: ["n1"], "dd" * 32: ["n2", "n3"]})
    plan = rem.plan(audit([honest], []), "n1", drift=[drift], certificates=[CERT])
    assert plan["deployments"] == [] and plan["reload"] == []
    assert "n1 already holds the certificate the controller would deploy" in plan["unfixable"][0]["reason"]


def test_reload_always_only_for_codes_whose_remedy_is_the_reload():
    www = site("nginx", "www", ["www.test"])
    stale = rem.plan(audit([www], [finding("stale_cert_path", www)]), "n1")
    assert stale["reload_always"] == ["nginx"]
    static = site("nginx", "static", ["static.test"], stapling={"ssl_stapling": False})
    edit = rem.plan(audit([static], [finding("stapling_disabled", static, severity="warning")]), "n1")
    assert edit["reload"] == ["nginx"] and edit["reload_always"] == []


# --------------------------------------------------------------------------------------------------------------
# Backups never leave the backup directory, and what a node reports as a backup is data, not an order

STAMP = ".12.2026-11-27@14:00:00~"


@pytest.mark.parametrize(
    "entry, refusal",
    [
        (
            {"path": "/etc/x", "backup": "../../etc/x" + STAMP},
            "the backup '../../etc/x.12.2026-11-27@14:00:00~' of '/etc/x' is not",
        ),
        ({"path": "/etc/x", "backup": "/etc/haproxy/../../../../etc/x" + STAMP}, "not an absolute file path"),
        ({"path": "/etc/x", "backup": "/var/backups/tlsfleet/.."}, "not an absolute file path"),
        ({"path": "/etc/x", "backup": "/etc/x\u009b" + STAMP}, "control characters"),
        ({"path": "/etc/x\u202e", "backup": "/etc/x" + STAMP}, "control characters"),
        ({"path": "/etc/x", "backup": "/etc/shadow"}, "the backup '/etc/shadow' of '/etc/x' is not named"),
        ({"path": "/etc/x", "backup": "/etc/x" + STAMP + "\n/etc/shadow"}, "control characters"),
        ({"path": "/etc/x", "backup": ["/etc/x" + STAMP]}, "is not a path"),
        ({"path": "etc/x", "backup": "/etc/x" + STAMP}, "the changed file 'etc/x' is not an absolute file path"),
        ({"path": "/", "backup": "/x" + STAMP}, "the changed file '/' is not"),
        ({"path": None, "backup": "/x" + STAMP}, "the changed file None is not a path"),
        ({"path": "/etc/" + "a" * 300, "backup": "/etc/shadow"}, "..."),
    ],
)
def test_an_implausible_backup_is_neither_stashed_nor_restored(entry, refusal):
    (kept,) = rem.stashed_backups([entry], "/var/backups/tlsfleet/")
    assert kept == entry and "stashed_from" not in kept  # left where the node says it is; the restore refuses it
    plan = rem.restore_plan([entry])
    assert plan["from_backup"] == [] and plan["created"] == []
    (reason,) = plan["refused"]
    assert refusal in reason and len(reason) < 260, reason
    assert "\n" not in reason


def test_the_restore_plan_copies_back_newest_first_and_removes_created_files():
    changes = [
        {"path": "/etc/ssl/a.pem", "backup": "/etc/ssl/a.pem" + STAMP, "created": False},
        {"path": "/etc/ssl/new.pem", "backup": None, "created": True},
        # certbot's live/ link: the backup lies beside the file the link names, stashed under the backup directory
        {
            "path": "/etc/letsencrypt/live/x/fullchain.pem",
            "backup": "/var/backups/tlsfleet/etc/letsencrypt/archive/x/fullchain3.pem" + STAMP,
        },
        {"path": "/etc/ssl/a.pem", "backup": "/etc/ssl/a.pem.13.2026-11-27@14:00:01~"},
        {"path": "/etc/passwd", "backup": None, "created": False},  # neither: nothing to do
        "/etc/shadow",
        {"path": "/", "created": True},
    ]
    plan = rem.restore_plan(changes)
    assert [e["backup"] for e in plan["from_backup"]] == [
        "/etc/ssl/a.pem.13.2026-11-27@14:00:01~",
        changes[2]["backup"],
        changes[0]["backup"],
    ]
    assert plan["created"] == ["/etc/ssl/new.pem"]
    assert plan["refused"] == [
        "the created file '/' is not an absolute file path (not /, no '..')",
        "'/etc/shadow' is not a file record",
    ]
    assert rem.restore_plan(None) == {"from_backup": [], "created": [], "refused": []}


def test_repeated_slashes_and_dots_are_harmless_and_cleaned():
    # roles given a directory with a trailing slash report such paths; the restore acts on the clean form
    entry = {"path": "/etc/nginx/tls//./www.pem", "backup": "//etc/nginx/tls/www.pem" + STAMP}
    plan = rem.restore_plan([entry, {"path": "/etc/nginx/tls/new.pem/", "created": True}])
    assert plan == {
        "from_backup": [{"path": "/etc/nginx/tls/www.pem", "backup": "/etc/nginx/tls/www.pem" + STAMP}],
        "created": ["/etc/nginx/tls/new.pem"],
        "refused": [],
    }
    (moved,) = rem.stashed_backups([entry], "/var/backups/tlsfleet")
    assert moved["backup"] == "/var/backups/tlsfleet/etc/nginx/tls/www.pem" + STAMP


def test_stashed_backups_normalise_the_backup_dir_and_pass_other_values_through():
    entry = {"path": "/etc/x", "backup": "/etc/x" + STAMP}
    assert rem.stashed_backups([entry], "/b/../c")[0]["backup"] == "/c/etc/x" + STAMP
    assert rem.stashed_backups(["/etc/shadow", 3, entry], "/c")[:2] == ["/etc/shadow", 3]


# --------------------------------------------------------------------------------------------------------------
# The sunset decides from the certificate served after the plan, and refuses what it cannot see (review of issue 16)


def deploying(server, ocsp_urls):
    """A site whose configured leaf has no OCSP URL and whose key mismatches: the planner deploys WWW_CERT."""
    www = site(server, "www", ["www.test"], leaf={"ocsp_urls": []}, stapling={"ocsp_exists": True})
    found = [finding("key_mismatch", www), finding("stapling_without_ocsp", www, severity="warning")]
    cert = dict(CERT, san_dns=["www.test"], ocsp_urls=ocsp_urls)
    return rem.plan(audit([www], found), "n1", certificates=[cert], sunset=True)


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_sunset_keeps_stapling_for_a_deployed_certificate_that_names_a_responder(server):
    plan = deploying(server, OCSP)
    assert [d["sha256"] for d in plan["deployments"]] == [NEW]
    assert [e.get("stapling") for e in plan["stapling"]] == []
    assert plan["staple_removals"] == [] and plan["unfixable"] == [] and plan["skipped"] == []
    assert "stapling_without_ocsp" in plan["codes"]
    assert [(v["leaf_sha256"], v["staple"]) for v in plan["verify"]] == [(NEW, "good")]
    if server == "haproxy":
        assert [f["dest"] for f in plan["staple_files"]] == ["/etc/haproxy/certs/www.pem.ocsp"]


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_sunset_of_a_deployed_certificate_without_a_responder_never_refreshes_what_it_removes(server):
    plan = deploying(server, [])
    assert [d["sha256"] for d in plan["deployments"]] == [NEW]
    refreshed = {f["dest"] for f in plan["staple_files"]}
    removed = {f["dest"] for f in plan["staple_removals"]}
    assert not refreshed & removed
    if server == "haproxy":
        assert removed == {"/etc/haproxy/certs/www.pem.ocsp"}
    else:
        assert [e["stapling"] for e in plan["stapling"]] == ["off"]
    assert [(v["leaf_sha256"], v["staple"]) for v in plan["verify"]] == [(NEW, "none")]


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_sunset_refuses_when_a_sibling_certificate_of_the_block_was_not_read(server):
    """RSA + ECDSA in one block (or a crt-list): a sibling not read may name a responder; stapling stays."""
    legacy = site(server, "dual", ["dual.test"], leaf={"ocsp_urls": []}, stapling={"ocsp_exists": True})
    unread = site(
        server,
        "dual",
        ["dual.test"],
        number=1,
        configured={"certificate_file": "/etc/tls/dual-ec.crt", "key_file": "/etc/tls/dual-ec.key", "leaf": None},
    )
    plan = rem.plan(audit([legacy, unread], [finding("stapling_without_ocsp", legacy)]), "n1", sunset=True)
    assert plan["stapling"] == [] and plan["staple_removals"] == [] and plan["reload"] == []
    (refusal,) = plan["unfixable"]
    assert refusal["code"] == "stapling_without_ocsp"
    assert "/etc/tls/dual-ec.crt" in refusal["reason"] and "not read" in refusal["reason"]


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_without_the_opt_in_a_deployment_that_names_a_responder_is_the_remedy_not_a_skip(server):
    www = site(server, "www", ["www.test"], leaf={"ocsp_urls": []}, stapling={"ocsp_exists": True})
    found = [finding("key_mismatch", www), finding("stapling_without_ocsp", www, severity="warning")]
    with_url = rem.plan(audit([www], found), "n1", certificates=[dict(CERT, san_dns=["www.test"], ocsp_urls=OCSP)])
    assert with_url["skipped"] == [] and "stapling_without_ocsp" in with_url["codes"]
    assert with_url["staple_removals"] == [] and [v["staple"] for v in with_url["verify"]] == ["good"]
    without = rem.plan(audit([www], found), "n1", certificates=[dict(CERT, san_dns=["www.test"], ocsp_urls=[])])
    assert [e.get("stapling") for e in without["stapling"]] == []
    if server == "haproxy":
        # the old certificate's .ocsp would fail the reload under the new one: it goes with the deployment
        assert [r["dest"] for r in without["staple_removals"]] == ["/etc/haproxy/certs/www.pem.ocsp"]
        assert without["skipped"] == [] and "stapling_without_ocsp" in without["codes"]
    else:
        assert [s["code"] for s in without["skipped"]] == ["stapling_without_ocsp"]
        assert without["staple_removals"] == []


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_a_deployed_certificate_without_a_responder_never_switches_stapling_on(server):
    """The configured leaf named a responder and stapling was off; the certificate deployed names none."""
    www = site(server, "www", ["www.test"], stapling={"ssl_stapling": False, "SSLUseStapling": False})
    found = [finding("key_mismatch", www), finding("stapling_disabled", www), finding("staple_missing", www)]
    plan = rem.plan(audit([www], found), "n1", certificates=[dict(CERT, san_dns=["www.test"], ocsp_urls=[])])
    assert [d["sha256"] for d in plan["deployments"]] == [NEW]
    assert [e.get("stapling") for e in plan["stapling"]] == [] and plan["staple_files"] == []
    assert plan["unfixable"] == []
    assert {"key_mismatch", "stapling_disabled", "staple_missing"} <= set(plan["codes"])
    assert [(v["leaf_sha256"], v["staple"]) for v in plan["verify"]] == [(NEW, "none")]


def test_haproxy_deployment_and_a_stale_staple_fetch_the_staple_file_once():
    www = site("haproxy", "www", ["www.test"], stapling={"ocsp_exists": True})
    found = [finding("key_mismatch", www), finding("staple_invalid", www)]
    plan = rem.plan(audit([www], found), "n1", certificates=[dict(CERT, san_dns=["www.test"], ocsp_urls=OCSP)])
    (fetch,) = plan["staple_files"]
    assert fetch["dest"] == "/etc/haproxy/certs/www.pem.ocsp" and fetch["force"] is True
    assert set(fetch["codes"]) == {"key_mismatch", "staple_invalid"}
    assert [(v["leaf_sha256"], v["staple"]) for v in plan["verify"]] == [(NEW, "good")]


def test_haproxy_deployment_without_a_responder_removes_the_old_certificates_staple_file():
    """HAProxy refuses a .ocsp whose certificate ID is another certificate's: the reload would fail."""
    www = site("haproxy", "www", ["www.test"], stapling={"ocsp_exists": True})
    found = [finding("key_mismatch", www), finding("staple_invalid", www)]
    plan = rem.plan(audit([www], found), "n1", certificates=[dict(CERT, san_dns=["www.test"], ocsp_urls=[])])
    assert plan["staple_files"] == []
    (removal,) = plan["staple_removals"]
    assert removal["dest"] == "/etc/haproxy/certs/www.pem.ocsp" and removal["codes"] == ["key_mismatch"]
    assert plan["unfixable"] == [] and {"key_mismatch", "staple_invalid"} <= set(plan["codes"])
    assert [(v["leaf_sha256"], v["staple"]) for v in plan["verify"]] == [(NEW, "none")]
    absent = site("haproxy", "www", ["www.test"], stapling={"ocsp_exists": False})
    plan = rem.plan(
        audit([absent], [finding("key_mismatch", absent)]),
        "n1",
        certificates=[dict(CERT, san_dns=["www.test"], ocsp_urls=[])],
    )
    assert plan["staple_removals"] == [] and plan["staple_files"] == []


@pytest.mark.parametrize("server", ["nginx", "apache"])
def test_a_block_that_still_serves_an_ocsp_certificate_keeps_stapling_wanted_after_a_deployment_without_one(server):
    """RSA + ECDSA in one block, stapling off: the RSA renewal names no responder, the ECDSA certificate does."""
    off = {"ssl_stapling": False, "SSLUseStapling": False}
    rsa = site(server, "dual", ["dual.test"], stapling=off, leaf={"key_type": "RSA-2048", "san_dns": ["dual.test"]})
    ecdsa = site(
        server,
        "dual",
        ["dual.test"],
        number=1,
        stapling=off,
        configured={"certificate_file": "/etc/tls/dual-ec.crt", "key_file": "/etc/tls/dual-ec.key"},
        leaf={"sha256": "cc" * 32, "key_type": "EC-secp256r1", "san_dns": ["dual.test"]},
    )
    found = [finding("key_mismatch", rsa), finding("stapling_disabled", rsa)]
    renewal = dict(CERT, san_dns=["dual.test"], ocsp_urls=[], key_type="RSA-2048")
    plan = rem.plan(audit([rsa, ecdsa], found), "n1", certificates=[renewal])
    assert [d["sha256"] for d in plan["deployments"]] == [NEW]
    assert [e["stapling"] for e in plan["stapling"]] == ["on"]
    assert "stapling_disabled" in plan["codes"] and plan["unfixable"] == []


@pytest.mark.parametrize("server", ["nginx", "apache", "haproxy"])
def test_a_deployed_must_staple_certificate_without_a_responder_is_unfixable_must_staple(server):
    www = site(server, "www", ["www.test"], stapling={"ssl_stapling": False, "SSLUseStapling": False})
    found = [finding("key_mismatch", www), finding("must_staple_unmet", www), finding("stapling_disabled", www)]
    cert = dict(CERT, san_dns=["www.test"], ocsp_urls=[], must_staple=True)
    plan = rem.plan(audit([www], found), "n1", certificates=[cert])
    assert [d["sha256"] for d in plan["deployments"]] == [NEW]
    assert "must_staple_unmet" not in plan["codes"]
    (refusal,) = [u for u in plan["unfixable"] if u["code"] == "must_staple_unmet"]
    assert "names no OCSP responder" in refusal["reason"]
