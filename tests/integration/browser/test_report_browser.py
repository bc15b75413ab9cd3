# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""report.html in a real browser: headless Chromium draws the fleet grid, and the page fetches nothing.

The report is built with the report library from node_audit-shaped results, written with write_report, and opened
from its file:// URL. The screenshot is decoded with the standard library only (zlib + PNG unfiltering) and its
pixels are counted per severity colour of the grid's CSS. Every Chromium run goes through an HTTP proxy that is a
recording TCP listener on 127.0.0.1, so any fetch the page made would be seen there; a control page with one remote
image proves that the listener does catch fetches.

Needs the Debian package ``chromium``. Skipped when it is missing, unless TLSFLEET_REQUIRE_BROWSER is set (CI), in
which case a missing browser fails. Screenshots are kept in TLSFLEET_ARTIFACTS (default: the test's tmp dir).
"""

from __future__ import annotations

import collections
import hashlib
import html.parser
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import threading
import zlib
from pathlib import Path

import pytest

from ansible_collections.tlsfleet.stapling.plugins.module_utils import evidence as records
from ansible_collections.tlsfleet.stapling.plugins.module_utils.findings import SEVERITIES, Finding
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import renderers
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils import report as rep
from ansible_collections.tlsfleet.stapling.plugins.plugin_utils.renderers import html_page

WIDTH, HEIGHT = 1400, 1000
TIMEOUT = 120  # seconds for one Chromium run
STAMP = "2026-11-23T12:00:00Z"
NAMES = ("api.example.test", "shop.example.test", "www.example.test")
# About half the background pixels of one grid cell (a cell is at least 7em wide and three text lines high: about
# 140 x 50 px, some 7000 background pixels with DejaVu fonts), and far more than a finding's border stripe adds.
MIN_CELL_PIXELS = 4000
# A log line as a node could report it: if it reached the page unescaped, the browser would fetch the image.
HOSTILE_EVIDENCE = 'nginx: OCSP responder sent <img src="http://attacker.invalid/pixel.png"> (log line 17)'


# ---------------------------------------------------------------------------------------------------------------
# A realistic fleet: node_audit results for three regions


def _served(hostname, state, seconds_left):
    leaf = hashlib.sha256(hostname.encode()).hexdigest()
    return records.Served(
        reachable=True,
        leaf_sha256=leaf,
        summary=records.StapleSummary(state, {"tls1_3": state, "tls1_2": state}, seconds_left),
        protocols={"tls1_3": records.Handshake(ok=True, verdict=0), "tls1_2": records.Handshake(ok=True, verdict=0)},
        verdicts=[records.Verdict(protocols=["tls1_3", "tls1_2"], presented=[leaf, "11" * 32])],
    )


def _audit(served, findings=(), server="nginx"):
    """A node_audit result: one site serving ``served`` (hostname -> (staple state, seconds left))."""
    site = "%s:/etc/nginx/sites-enabled/shop.conf:1" % server
    found = [
        Finding(code, evidence, server=server, site=site, hostname=hostname).to_dict()
        for code, hostname, evidence in findings
    ]
    evidence = records.Evidence(
        node={"hostname": "n"},
        servers=[{"type": server}],
        sites=[
            records.Site(
                key=site,
                server=server,
                site=site,
                hostnames=sorted(served),
                served={name: _served(name, *state) for name, state in served.items()},
            )
        ],
    )
    return {"changed": False, "findings": found, "summary": {"findings": len(found)}, "evidence": evidence.to_dict()}


GOOD = ("good", 4 * 86400)
API, SHOP, WWW = NAMES


def fleet():
    results = {
        "eu-fra-1": _audit(
            {API: ("good", 5 * 3600), SHOP: ("expired", -3600), WWW: GOOD},
            [
                ("staple_expired", SHOP, ["staple nextUpdate 2026-11-23T11:00:00Z is 1h in the past"]),
                ("staple_expiring", API, ["staple nextUpdate in 5h, warning window 24h"]),
            ],
        ),
        "eu-fra-2": _audit(
            {API: ("missing", None), SHOP: ("missing", None), WWW: ("none", None)},
            [
                ("resolver_missing", None, ["nginx.conf has ssl_stapling on but no resolver directive"]),
                ("staple_missing", SHOP, ["no staple after warm-up (3 handshakes)", HOSTILE_EVIDENCE]),
                ("responder_unreachable", API, ["stage connect: ocsp.ca.example.test:80 timed out after 5s"]),
                ("no_ocsp_url", WWW, ["certificate has no AIA OCSP URL"]),
            ],
        ),
        "us-east-1": _audit(
            {API: GOOD, SHOP: ("invalid", 2 * 86400), WWW: ("none", None)},
            [
                ("staple_invalid", SHOP, ["staple signed by CN=Other CA, not the issuer or a delegated signer"]),
                ("stapling_disabled", WWW, ["certificate names an OCSP URL; ssl_stapling is off"]),
            ],
        ),
        "us-west-1": _audit(
            {API: GOOD, SHOP: ("none", None)},
            [("no_ocsp_url", SHOP, ["certificate has no AIA OCSP URL"])],
            server="apache",
        ),
        "ap-sg-1": {"unreachable": True, "msg": "ssh: connect to host ap-sg-1 port 22: No route to host"},
        "ap-sg-2": _audit({API: GOOD, SHOP: GOOD, WWW: GOOD}),
    }
    regions = {"eu-fra-1": "eu", "eu-fra-2": "eu", "us-east-1": "us", "us-west-1": "us", "ap-sg-1": "ap"}
    regions["ap-sg-2"] = "ap"
    return results, regions


# The grid the fleet above must give, worked out by hand: per node, the class of the node-wide cell and of each
# hostname cell in NAMES order (``none``: the node does not serve that name; ``down``: one cell for the whole row).
EXPECTED_GRID = {
    "eu-fra-1": ["ok", "warning", "critical", "ok"],
    "eu-fra-2": ["error", "error", "error", "info"],
    "us-east-1": ["ok", "ok", "critical", "warning"],
    "us-west-1": ["ok", "ok", "info", "none"],
    "ap-sg-1": ["down"],
    "ap-sg-2": ["ok", "ok", "ok", "ok"],
}


def clean_fleet():
    results = {
        "eu-fra-1": _audit({API: GOOD, SHOP: GOOD}),
        "us-east-1": _audit({API: GOOD, SHOP: GOOD, WWW: GOOD}),
        "ap-sg-2": _audit({SHOP: GOOD, WWW: GOOD}),
    }
    return results, {"eu-fra-1": "eu", "us-east-1": "us", "ap-sg-2": "ap"}


def severity_colours():
    """Background colour of each grid cell class, read from the report's own stylesheet: {'critical': (r, g, b)}."""
    colours = {}
    for name, hexa in re.findall(r"\.sev-([a-z]+)\{background:#([0-9a-fA-F]{6}|[0-9a-fA-F]{3})[;}]", html_page.CSS):
        colours[name] = tuple(bytes.fromhex(hexa if len(hexa) == 6 else "".join(2 * digit for digit in hexa)))
    return colours


# ---------------------------------------------------------------------------------------------------------------
# PNG, standard library only


def png_size(path):
    data = Path(path).read_bytes()[:33]
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def _paeth(left, up, upleft):
    estimate = left + up - upleft
    pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - upleft)
    if pa <= pb and pa <= pc:
        return left
    return up if pb <= pc else upleft


def decode_png(path):
    """(width, height, bytes per pixel, rows of raw pixel bytes) for an 8-bit RGB or RGBA, non-interlaced PNG."""
    data = Path(path).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG file"
    pos, header, idat = 8, None, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        assert zlib.crc32(kind + body) == struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])[0]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour_type, _compression, _filter, interlace = header
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, "unsupported PNG layout %r" % (header,)
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    assert len(raw) == height * (stride + 1)
    rows, prev, pos = [], bytearray(stride), 0
    for _row in range(height):
        kind, line = raw[pos], bytearray(raw[pos + 1 : pos + 1 + stride])
        pos += stride + 1
        if kind == 1:  # Sub
            for i in range(bpp, stride):
                line[i] = (line[i] + line[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            line = bytearray((a + b) & 0xFF for a, b in zip(line, prev))
        elif kind == 3:  # Average
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                left = line[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                line[i] = (line[i] + _paeth(left, prev[i], upleft)) & 0xFF
        elif kind != 0:
            raise AssertionError("unknown PNG filter type %d" % kind)
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def _unfilter_selftest():
    """A 3 x 2 RGB image written with each filter type decodes to the same pixels (guards decode_png itself)."""
    pixels = [bytes([10, 20, 30, 200, 100, 50, 255, 255, 0]), bytes([0, 0, 0, 12, 250, 7, 128, 129, 130])]
    bpp = 3
    for kind in range(5):
        encoded, prev = b"", bytes(9)
        for line in pixels:
            out = bytearray()
            for i, value in enumerate(line):
                left = line[i - bpp] if i >= bpp else 0
                upleft = prev[i - bpp] if i >= bpp else 0
                predictor = [0, left, prev[i], (left + prev[i]) >> 1, _paeth(left, prev[i], upleft)][kind]
                out.append((value - predictor) & 0xFF)
            encoded += bytes([kind]) + bytes(out)
            prev = line
        chunks = [
            (b"IHDR", struct.pack(">IIBBBBB", 3, 2, 8, 2, 0, 0, 0)),
            (b"IDAT", zlib.compress(encoded)),
            (b"IEND", b""),
        ]
        blob = b"\x89PNG\r\n\x1a\n" + b"".join(
            struct.pack(">I", len(body)) + name + body + struct.pack(">I", zlib.crc32(name + body))
            for name, body in chunks
        )
        yield kind, blob, pixels


class Screenshot:
    def __init__(self, path):
        self.width, self.height, bpp, rows = decode_png(path)
        # Per row, how many pixels of each RGB colour it holds (alpha ignored).
        self.rows = [collections.Counter(zip(row[0::bpp], row[1::bpp], row[2::bpp])) for row in rows]

    def count(self, colour, start=0):
        return sum(row[colour] for row in self.rows[start:])

    def band(self, colour):
        """The first run of rows holding ``colour``, as (first row, row after the run), or None."""
        first = next((y for y, row in enumerate(self.rows) if row[colour]), None)
        if first is None:
            return None
        end = first
        while end < len(self.rows) and self.rows[end][colour]:
            end += 1
        return first, end


# ---------------------------------------------------------------------------------------------------------------
# Chromium and the recording proxy


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


@pytest.fixture(scope="module")
def chromium():
    path = chromium_binary()
    if path is None:
        if os.environ.get("TLSFLEET_REQUIRE_BROWSER"):
            pytest.fail("TLSFLEET_REQUIRE_BROWSER is set but no chromium is on PATH (Debian package: chromium)")
        pytest.skip("chromium is not installed (Debian package chromium); TLSFLEET_REQUIRE_BROWSER=1 makes this fail")
    return path


@pytest.fixture
def artifacts(tmp_path):
    directory = Path(os.environ.get("TLSFLEET_ARTIFACTS") or tmp_path)
    directory.mkdir(parents=True, exist_ok=True)
    return directory


class RecordingListener:
    """A TCP listener on 127.0.0.1 that records the first line of every connection and answers 502."""

    def __init__(self):
        self.requests = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.2)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _peer = self._sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(2)
                try:
                    data = conn.recv(4096)
                except OSError:
                    data = b""
                self.requests.append(data.split(b"\r\n", 1)[0].decode("latin-1") or "(connection, no data)")
                try:
                    conn.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                except OSError:
                    pass

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sock.close()


def run_chromium(binary, url, proxy_port, workdir, *mode):
    """Run headless Chromium once on ``url`` through the proxy on ``proxy_port``; return stdout."""
    workdir.mkdir(parents=True, exist_ok=True)
    profile = workdir / "profile"
    args = [
        binary,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        "--window-size=%d,%d" % (WIDTH, HEIGHT),
        "--user-data-dir=%s" % profile,
        "--proxy-server=http://127.0.0.1:%d" % proxy_port,
        "--proxy-bypass-list=<-loopback>",
        # Chromium's own services still call out despite --disable-background-networking (seen with Debian's
        # chromium 156: network time on clients2.google.com, the component updater on update.googleapis.com and
        # GAIA on accounts.google.com). Turn them off or point them at the discard port, so that the listener
        # records the page's fetches only and "no connection" can be asserted strictly.
        "--disable-features=NetworkTimeServiceQuerying",
        "--component-updater=url-source=http://127.0.0.1:9/",
        "--gaia-url=http://127.0.0.1:9/",
        *mode,
        url,
    ]
    env = dict(os.environ, HOME=str(workdir), XDG_CONFIG_HOME=str(workdir / "config"))
    env["XDG_CACHE_HOME"] = str(workdir / "cache")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        pytest.fail("chromium did not finish within %d s: %s" % (TIMEOUT, " ".join(args)))
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # helpers of this run only (its own session), if any are left
    except (ProcessLookupError, PermissionError):
        pass
    tail = err.decode("utf-8", "replace")[-2000:]
    assert proc.returncode == 0, "chromium exited %d:\n%s" % (proc.returncode, tail)
    return out.decode("utf-8", "replace")


def screenshot(binary, page, listener, workdir, artifact):
    run_chromium(binary, page.resolve().as_uri(), listener.port, workdir, "--screenshot=%s" % artifact)
    assert artifact.is_file() and artifact.stat().st_size > 0, "chromium wrote no screenshot"
    print("screenshot: %s" % artifact)
    return artifact


class CellParser(html.parser.HTMLParser):
    """Grid cells (td.cell) of the dumped DOM, per row header (the node), in document order."""

    def __init__(self):
        super().__init__()
        self.rows = collections.OrderedDict()
        self._row_headers, self._in_th, self._text = [], False, ""
        self.fetching_attributes = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        for name in ("src", "href", "srcset", "action", "poster", "data", "background"):
            if attrs.get(name):
                self.fetching_attributes.append((tag, name, attrs[name]))
        if tag == "tr":
            self._row_headers = []
        elif tag == "th":
            self._in_th, self._text = True, ""
        elif tag == "td" and "cell" in (attrs.get("class") or "").split() and len(self._row_headers) >= 2:
            classes = [c[4:] for c in attrs["class"].split() if c.startswith("sev-")]
            self.rows.setdefault(self._row_headers[1], []).extend(classes)

    def handle_endtag(self, tag):
        if tag == "th" and self._in_th:
            self._in_th = False
            self._row_headers.append(self._text.strip())

    def handle_data(self, data):
        if self._in_th:
            self._text += data


# ---------------------------------------------------------------------------------------------------------------
# Tests


def test_png_decoder_handles_every_filter_type(tmp_path):
    for kind, blob, pixels in _unfilter_selftest():
        path = tmp_path / ("f%d.png" % kind)
        path.write_bytes(blob)
        width, height, bpp, rows = decode_png(path)
        assert (width, height, bpp) == (3, 2, 3) and rows == pixels, "filter type %d" % kind


def test_the_grid_css_has_a_colour_per_severity():
    colours = severity_colours()
    assert set(SEVERITIES) | {"ok", "none", "down"} <= set(colours)
    grid = [colours[name] for name in (*SEVERITIES, "ok", "down")]
    assert len(set(grid)) == len(grid), "two grid states share a colour: %r" % colours


def test_report_page_is_static_and_self_contained(tmp_path):
    results, regions = fleet()
    paths = renderers.write_report(rep.build_report(results, regions, "0.1.0", generated_at=STAMP), str(tmp_path))
    page = Path(paths["html"]).read_text(encoding="utf-8")
    parser = CellParser()
    parser.feed(page)
    assert parser.fetching_attributes == []
    assert "<script" not in page.lower() and "<link" not in page.lower()
    style = re.search(r"<style>(.*?)</style>", page, re.S).group(1)
    assert "url(" not in style and "@import" not in style
    assert "&lt;img src=&quot;http://attacker.invalid/pixel.png&quot;&gt;" in page


def test_report_grid_in_headless_chromium(chromium, tmp_path, artifacts):
    results, regions = fleet()
    report = rep.build_report(results, regions, "0.1.0", generated_at=STAMP)
    assert report["summary"]["worst_severity"] == "critical" and report["summary"]["regions"] == 3
    page = Path(renderers.write_report(report, str(tmp_path / "report"))["html"])
    colours = severity_colours()

    with RecordingListener() as listener:
        shot = screenshot(chromium, page, listener, tmp_path / "run1", artifacts / "report-fleet.png")
        dom = run_chromium(chromium, page.resolve().as_uri(), listener.port, tmp_path / "run2", "--dump-dom")
    assert listener.requests == [], "report.html made the browser fetch: %r" % listener.requests

    # The DOM Chromium built holds the grid: one row per node, cells classed by worst severity.
    parser = CellParser()
    parser.feed(dom)
    assert dict(parser.rows) == EXPECTED_GRID
    assert parser.fetching_attributes == []
    for text in ("eu-fra-2", "us-west-1", *NAMES, "-1h 0m", "5h 0m", "4d 0h", "No route to host"):
        assert text in dom, text
    assert "staple_missing" in dom and "Fix: " in dom and "no staple after warm-up" in dom
    assert "attacker.invalid" in dom  # shown as text, never fetched (the listener saw nothing)

    # The screenshot: window size, and the grid's colours in the numbers the cells account for.
    assert png_size(shot) == (WIDTH, HEIGHT)
    image = Screenshot(shot)
    assert (image.width, image.height) == (WIDTH, HEIGHT)
    legend = image.band(colours["critical"])
    assert legend is not None and legend[1] - legend[0] < 60, "legend not found at the top: %r" % (legend,)
    cells = collections.Counter(state for row in EXPECTED_GRID.values() for state in row)
    counts = {}
    for state in (*SEVERITIES, "ok", "down", "none"):
        counts[state] = image.count(colours[state], start=legend[1])
    for state, number in cells.items():
        assert counts[state] >= number * MIN_CELL_PIXELS, "%s: %d pixels for %d cells (%r)" % (
            state,
            counts[state],
            number,
            counts,
        )


def test_clean_fleet_shows_no_error_colour(chromium, tmp_path, artifacts):
    results, regions = clean_fleet()
    report = rep.build_report(results, regions, "0.1.0", generated_at=STAMP)
    assert report["findings"] == [] and report["summary"]["worst_severity"] is None
    page = Path(renderers.write_report(report, str(tmp_path / "report"))["html"])
    colours = severity_colours()

    with RecordingListener() as listener:
        shot = screenshot(chromium, page, listener, tmp_path / "run", artifacts / "report-clean.png")
    assert listener.requests == []

    assert png_size(shot) == (WIDTH, HEIGHT)
    image = Screenshot(shot)
    legend = image.band(colours["critical"])
    assert legend is not None and legend[1] - legend[0] < 60
    # Below the legend (which shows every colour once), no critical, error or warning colour at all.
    for state in ("critical", "error", "warning", "info", "down"):
        assert image.count(colours[state], start=legend[1]) == 0, state
    # 3 node-wide cells and 7 served names are green; the 2 names a node does not serve are grey.
    assert image.count(colours["ok"], start=legend[1]) >= 10 * MIN_CELL_PIXELS
    assert image.count(colours["none"], start=legend[1]) >= 2 * MIN_CELL_PIXELS


def test_recording_proxy_catches_a_remote_fetch(chromium, tmp_path, artifacts):
    """Control: a page with one remote image does reach the listener, so an empty record above means no fetch."""
    page = tmp_path / "control.html"
    page.write_text('<!DOCTYPE html><html><body><img src="http://control.tlsfleet.invalid/pixel.png"></body></html>')
    with RecordingListener() as listener:
        screenshot(chromium, page, listener, tmp_path / "run", artifacts / "control.png")
    assert any("control.tlsfleet.invalid" in line for line in listener.requests), listener.requests
