# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the real ``nginx -t`` / ``apache2 -t`` on an edited site in a temporary prefix (nothing is started)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from ansible_collections.tlsfleet.stapling.tests.unit.pki import Pki

NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
APACHE = shutil.which("apache2", path="/usr/sbin:/sbin") or shutil.which("httpd", path="/usr/sbin:/sbin")
APACHE_MODULES = "/usr/lib/apache2/modules"
_APACHE_NEEDS = ("mod_mpm_event.so", "mod_ssl.so", "mod_socache_shmcb.so", "mod_authz_core.so")

needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed")
needs_apache = pytest.mark.skipif(
    APACHE is None or not all(os.path.exists(os.path.join(APACHE_MODULES, name)) for name in _APACHE_NEEDS),
    reason="apache2 with mod_ssl is not installed",
)


def write_pki(directory):
    """A leaf certificate with its intermediate (the chain nginx needs) and key; returns (chain, key, trusted)."""
    root, [intermediate], leaf = Pki().chain()
    chain = directory / "site.crt"
    chain.write_bytes(leaf.pem + intermediate.pem)
    key = directory / "site.key"
    key.write_bytes(leaf.key_pem())
    os.chmod(key, 0o600)
    trusted = directory / "trusted.pem"
    trusted.write_bytes(intermediate.pem + root.pem)
    return chain, key, trusted


def nginx_test(directory, site_text):
    """``(rc, stderr)`` of ``nginx -t`` with a main file that includes ``site_text`` in http{}."""
    (directory / "sites").mkdir(exist_ok=True)
    (directory / "sites" / "site.conf").write_text(site_text)
    temp = "".join(
        f"    {kind}_temp_path {directory}/{kind};\n" for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    conf = directory / "nginx.conf"
    conf.write_text(
        f"worker_processes 1;\nerror_log {directory}/error.log warn;\npid {directory}/nginx.pid;\n"
        "events { worker_connections 16; }\n"
        f"http {{\n{temp}    access_log off;\n    include {directory}/sites/*.conf;\n}}\n"
    )
    done = subprocess.run(
        [NGINX, "-t", "-p", f"{directory}/", "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stderr


def apache_test(directory, site_text, extra_main=""):
    """``(rc, output)`` of ``apache2 -t`` with a main file that includes ``site_text``."""
    (directory / "sites").mkdir(exist_ok=True)
    (directory / "sites" / "site.conf").write_text(site_text)
    conf = directory / "apache2.conf"
    conf.write_text(
        f"ServerRoot {directory}\nDefine TMP {directory}\nDefaultRuntimeDir ${{TMP}}\nPidFile ${{TMP}}/apache2.pid\n"
        "Mutex file:${TMP} default\n"
        f"LoadModule mpm_event_module {APACHE_MODULES}/mod_mpm_event.so\n"
        f"LoadModule authz_core_module {APACHE_MODULES}/mod_authz_core.so\n"
        f"LoadModule socache_shmcb_module {APACHE_MODULES}/mod_socache_shmcb.so\n"
        f"LoadModule ssl_module {APACHE_MODULES}/mod_ssl.so\n"
        "ServerName localhost\nListen 127.0.0.1:18443\nErrorLog ${TMP}/error.log\n"
        f"{extra_main}IncludeOptional sites/*.conf\n"
    )
    done = subprocess.run([APACHE, "-t", "-f", str(conf)], capture_output=True, text=True, timeout=60, check=False)
    return done.returncode, done.stdout + done.stderr
