# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Can this node reach its CA's OCSP responder? Stage by stage, with a hard time bound.

A web server staples only what it can fetch, from its own network, through its own resolver and proxy
settings. Scanners test the responder from their vantage point, which proves nothing about the node.
The probe walks the path a server walks: DNS, TCP connect, HTTP exchange (POST, or GET as RFC 6960
Appendix A describes), then hands the body to ocsp.py. The first failing stage names the cause
(``responder_unreachable`` with that stage, or ``responder_error`` when the answer is not usable OCSP).

Every stage runs with the time left of one overall budget. A responder that hangs or floods cannot hold the
caller longer than that: the HTTP exchange runs in a daemon thread that is abandoned at the deadline, and
the body is read in chunks up to a size cap.

This file is PRIVATE to the collection: its API may change at any time.
"""

from __future__ import annotations

import base64
import ipaddress
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import asdict, dataclass, field
from typing import Any, Dict, List, Optional

from ansible_collections.tlsfleet.stapling.plugins.module_utils.records import Record

OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = "application/ocsp-response"
DEFAULT_BODY_LIMIT = 64 * 1024  # real OCSP responses are a few KiB; anything larger is not one
USER_AGENT = "tlsfleet.stapling-responder-probe"


@dataclass(repr=False)
class StageTiming(Record):
    """One stage of a probe (DNS, connect, HTTP): whether it succeeded, in how long, and why not."""

    ok: bool = False
    ms: Optional[int] = None
    error: Optional[str] = None


@dataclass(repr=False)
class HttpResult(StageTiming):
    """The HTTP stage of a probe, with what the responder answered."""

    method: Optional[str] = None
    status: Optional[int] = None
    content_type: Optional[str] = None
    bytes: int = 0
    truncated: bool = False


@dataclass(repr=False)
class ResponderProbe(Record):
    """What one probe of one responder URL found."""

    url: str
    reachable: bool = False
    failed_stage: Optional[str] = None  # dns, connect, timeout, proxy, http, ocsp
    error: Optional[str] = None
    proxy: Optional[str] = None
    addresses: List[str] = field(default_factory=list)
    connected_to: Optional[str] = None
    dns: StageTiming = field(default_factory=StageTiming)
    connect: StageTiming = field(default_factory=StageTiming)
    http: HttpResult = field(default_factory=HttpResult)
    total_ms: int = 0
    body: Optional[bytes] = None  # kept for ocsp.py; never returned to users as such

    def to_dict(self) -> Dict[str, Any]:
        data = asdict(self)
        data.pop("body", None)
        return data


class _Deadline:
    def __init__(self, seconds: float):
        self.started = time.monotonic()
        self.at = self.started + seconds

    def left(self) -> float:
        return max(0.0, self.at - time.monotonic())

    def elapsed_ms(self) -> int:
        return int((time.monotonic() - self.started) * 1000)


def _run_bounded(func, seconds: float):
    """Run ``func`` in a daemon thread; return (finished, result, exception). Abandon it at the deadline."""
    box: Dict[str, Any] = {}

    def target():
        try:
            box["result"] = func()
        except BaseException as exc:  # handed back to the caller, which words it
            box["error"] = exc

    thread = threading.Thread(target=target, name="tlsfleet-responder-probe", daemon=True)
    thread.start()
    thread.join(seconds)
    if thread.is_alive():
        return False, None, None
    return True, box.get("result"), box.get("error")


def is_address(host: Optional[str]) -> bool:
    """True for an IPv4 or IPv6 address (no brackets), which no resolver is asked about."""
    try:
        ipaddress.ip_address(host or "")
    except ValueError:
        return False
    return True


def _is_timeout(error: Optional[BaseException]) -> bool:
    """True for a socket timeout, bare or wrapped by urllib (``URLError(reason=timeout)``); never an HTTP answer."""
    if error is None or isinstance(error, urllib.error.HTTPError):
        return False
    reason = getattr(error, "reason", None) or error  # how the error is worded below
    return isinstance(reason, socket.timeout) or "timed out" in str(reason).lower()


def proxy_for(url: str, explicit: Optional[str] = None) -> Optional[str]:
    """The proxy a request to ``url`` goes through: ``explicit``, else the node's environment (and no_proxy)."""
    if explicit:
        return explicit
    parts = urllib.parse.urlsplit(url)
    if parts.hostname and urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


def _host_port(url: str):
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("%r is not an http:// or https:// URL" % url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.hostname, port


def get_url_for(url: str, request_der: bytes) -> str:
    """RFC 6960 Appendix A.1: GET {url}/{url-encoding of base-64 encoding of the DER request}."""
    encoded = urllib.parse.quote(base64.b64encode(request_der).decode("ascii"), safe="")
    return url.rstrip("/") + "/" + encoded


def _read_capped(response, limit: int):
    chunks, size = [], 0
    while size <= limit:
        chunk = response.read(min(16384, limit + 1 - size))
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
    body = b"".join(chunks)
    return body[:limit], len(body) > limit


class _HttpRedirectsOnly(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to http:// or https://: urllib's own handler also follows ftp://, and an answer on a
    plain-HTTP path (the responder's, or anyone's on the way) must not send the node elsewhere."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        scheme = urllib.parse.urlsplit(newurl).scheme
        if scheme not in ("http", "https"):
            raise urllib.error.HTTPError(
                newurl,
                code,
                "redirect to a %s:// URL refused (only http and https are followed)" % scheme[:10],
                headers,
                fp,
            )
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _http_exchange(url, method, request_der, proxy, timeout, limit, accept=OCSP_RESPONSE_TYPE):
    headers = {"User-Agent": USER_AGENT, "Accept": accept}
    if request_der is None:  # a plain download (a CRL, crl.py): GET the URL itself
        target, data = url, None
    elif method == "POST":
        target, data = url, request_der
        headers["Content-Type"] = OCSP_REQUEST_TYPE
    else:
        target, data = get_url_for(url, request_der), None
    # urllib itself, not ansible.module_utils.urls: that module and what it imports (cookiejar, email.mime) are
    # compiled again on every node at every run, for nothing this plain GET or POST needs (docs/performance.md). The
    # proxy is the one probe() chose: an empty ProxyHandler keeps urllib from reading the environment's again.
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({"http": proxy, "https": proxy} if proxy else {}), _HttpRedirectsOnly()
    )
    # The scheme was checked to be http or https by _host_port() before any request is made.
    request = urllib.request.Request(target, data=data, headers=headers, method=method)  # noqa: S310
    response = opener.open(request, timeout=timeout)
    try:
        body, truncated = _read_capped(response, limit)
        status = getattr(response, "status", None) or response.getcode()
        return status, response.headers.get("Content-Type"), body, truncated
    finally:
        response.close()


def probe(
    url: str,
    request_der: bytes,
    timeout: float = 10.0,
    method: str = "POST",
    proxy: Optional[str] = None,
    use_env_proxy: bool = True,
    body_limit: int = DEFAULT_BODY_LIMIT,
    accept: str = OCSP_RESPONSE_TYPE,
) -> ResponderProbe:
    """Probe ``url`` with the DER OCSP request ``request_der``; never raises for network trouble.

    ``request_der`` None is a plain GET of ``url`` with ``accept`` (crl.py downloads a CRL through the same stages).
    """
    result = ResponderProbe(url=url)
    deadline = _Deadline(timeout)
    try:
        host, port = _host_port(url)
    except ValueError as exc:
        result.failed_stage, result.error = "http", str(exc)
        return result
    result.proxy = proxy_for(url, proxy) if (proxy or use_env_proxy) else None
    if result.proxy:
        try:
            host, port = _host_port(result.proxy if "://" in result.proxy else "http://" + result.proxy)
        except ValueError as exc:
            result.failed_stage, result.error = "proxy", "proxy setting is unusable: %s" % exc
            return result
    where = "proxy %s" % result.proxy if result.proxy else host

    infos = _stage_dns(result, host, port, deadline, where)
    if infos is None or not _stage_connect(result, infos, port, deadline, where):
        result.total_ms = deadline.elapsed_ms()
        return result
    _stage_http(result, url, method.upper(), request_der, deadline, body_limit, accept)
    result.total_ms = deadline.elapsed_ms()
    return result


def _fail(result: ResponderProbe, stage: str, message: str) -> None:
    result.failed_stage, result.error = stage, message


def _stage_dns(result, host, port, deadline, where):
    """Resolve like the server would (the node's resolver); return getaddrinfo's answer or None."""
    started = time.monotonic()
    if is_address(host):  # no resolver involved and nothing to wait for: no thread, no deadline to miss
        finished, infos, error = True, None, None
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)
        except OSError as exc:
            error = exc
    else:
        finished, infos, error = _run_bounded(
            lambda: socket.getaddrinfo(host, port, type=socket.SOCK_STREAM), deadline.left()
        )
    result.dns.ms = int((time.monotonic() - started) * 1000)
    stage = "proxy" if result.proxy else "dns"
    if not finished:
        result.dns.error = "no answer from the resolver"
        _fail(result, stage, "resolving %s timed out (no answer from the node's resolver)" % where)
        return None
    if error is not None:
        reason = getattr(error, "strerror", None) or str(error)
        result.dns.error = reason
        _fail(result, stage, "cannot resolve %s: %s" % (where, reason))
        return None
    result.addresses = sorted({info[4][0] for info in infos})
    result.dns.ok = True
    return infos


def _stage_connect(result, infos, port, deadline, where) -> bool:
    """TCP to each resolved address in turn, as HTTP clients do; True once one accepts."""
    started = time.monotonic()
    errors = []
    for family, socktype, proto, _canon, sockaddr in infos:
        left = deadline.left()
        if left <= 0:
            break
        sock = socket.socket(family, socktype, proto)
        sock.settimeout(left)
        try:
            sock.connect(sockaddr)
        except socket.timeout:
            errors.append("%s: timed out" % sockaddr[0])
        except OSError as exc:
            errors.append("%s: %s" % (sockaddr[0], exc.strerror or exc))
        else:
            result.connected_to = sockaddr[0]
            result.connect.ok = True
            result.connect.ms = int((time.monotonic() - started) * 1000)
            return True
        finally:
            sock.close()
    result.connect.ms = int((time.monotonic() - started) * 1000)
    result.connect.error = "; ".join(errors) or "no time left to connect"
    timed_out = not errors or all(e.endswith("timed out") for e in errors)
    stage = "proxy" if result.proxy else ("timeout" if timed_out else "connect")
    _fail(result, stage, "cannot connect to %s port %d: %s" % (where, port, result.connect.error))
    return False


def _stage_http(result, url, method, request_der, deadline, body_limit, accept=OCSP_RESPONSE_TYPE) -> None:
    result.http.method = method
    started = time.monotonic()
    budget = deadline.left()
    finished, answer, error = _run_bounded(
        lambda: _http_exchange(url, method, request_der, result.proxy, max(budget, 0.1), body_limit, accept), budget
    )
    result.http.ms = int((time.monotonic() - started) * 1000)
    # The socket timeout and the thread's deadline are the same budget, so either may fire first:
    # both mean the same thing and read the same.
    if not finished or _is_timeout(error):
        result.http.error = "no complete answer within the time limit"
        _fail(
            result,
            "timeout",
            "%s %s: the %s accepted the connection but sent no complete answer in time"
            % (method, url, "proxy" if result.proxy else "responder"),
        )
        return
    if isinstance(error, urllib.error.HTTPError):
        result.http.status = error.code
        result.http.content_type = error.headers.get("Content-Type") if error.headers else None
        result.http.error = "HTTP %s %s" % (error.code, error.reason)
        _fail(result, "http", "%s %s answered HTTP %s %s" % (method, url, error.code, error.reason))
        return
    if error is not None:
        reason = getattr(error, "reason", None) or error
        text = str(reason)
        stage = "proxy" if result.proxy else "http"  # a timeout was taken above
        result.http.error = text
        _fail(result, stage, "%s %s failed: %s" % (method, url, text))
        return
    status, content_type, body, truncated = answer
    result.http.ok = True
    result.http.status, result.http.content_type = status, content_type
    result.http.bytes, result.http.truncated = len(body), truncated
    result.body = body
    if truncated:
        _fail(
            result,
            "http",
            "%s %s sent more than %d bytes, far more than any %s; stopped reading"
            % (method, url, body_limit, "OCSP response" if accept == OCSP_RESPONSE_TYPE else "answer expected"),
        )
        result.body = None
        return
    result.reachable = True


def check(
    url: str,
    cert,
    issuer,
    timeout: float = 10.0,
    method: str = "POST",
    proxy: Optional[str] = None,
    use_env_proxy: bool = True,
    body_limit: int = DEFAULT_BODY_LIMIT,
    hash_name: str = "sha1",
    skew_seconds: int = 300,
) -> Dict[str, Any]:
    """Probe ``url`` for ``cert`` and validate the answer in full; the OCSP stage fails on unusable answers.

    The answer is usable when it parses as OCSP, comes with the OCSP content type, is ``successful`` and is
    valid for ``cert`` (a correctly signed "revoked" answer is usable: the responder works, the certificate
    does not). Anything else fails the ``ocsp`` stage, with the reasons in ``ocsp_problems``.
    """
    from ansible_collections.tlsfleet.stapling.plugins.module_utils import ocsp  # noqa: PLC0415 (needs cryptography)
    from ansible_collections.tlsfleet.stapling.plugins.module_utils.errors import InputError  # noqa: PLC0415

    request_der = ocsp.build_request(cert, issuer, hash_name)
    result = probe(url, request_der, timeout, method, proxy, use_env_proxy, body_limit)
    report = result.to_dict()
    report.update({"ocsp": None, "ocsp_problems": []})
    if not result.reachable:
        return report
    content_type = (result.http.content_type or "").split(";")[0].strip().lower()
    try:
        verdict = ocsp.validate_response(
            result.body, cert, issuer, skew_seconds=skew_seconds, source="the answer of %s" % url
        )
    except InputError as exc:
        report["ocsp_problems"] = [str(exc)]
    else:
        report["ocsp"] = verdict.to_dict()
        if verdict.response_status != "successful":
            report["ocsp_problems"].append(
                "the responder answered %s instead of a certificate status" % verdict.response_status
            )
        elif not verdict.valid:
            report["ocsp_problems"].extend(verdict.problems)
    if content_type != OCSP_RESPONSE_TYPE:
        report["ocsp_problems"].append(
            "the answer's Content-Type is %r, not %r: servers such as nginx reject it"
            % (result.http.content_type, OCSP_RESPONSE_TYPE)
        )
    if report["ocsp_problems"]:
        report["reachable"] = True  # the path works; the answer does not
        report["failed_stage"] = "ocsp"
        report["error"] = report["ocsp_problems"][0]
    return report
