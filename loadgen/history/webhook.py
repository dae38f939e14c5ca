"""`--webhook URL`: a Slack-compatible message (`text` + `blocks`) posted when the run ends.

A chat server is a side channel: the post has one deadline for everything (connect, send,
answer: DEADLINE_S), it runs in a daemon thread so a server that accepts and never answers
cannot hold the process, and any failure comes back as a one-line problem for a warning.
A webhook URL is a secret (Slack's token is its path), so only its scheme, host and port are
ever printed.
"""

from __future__ import annotations

import base64
import http.client
import json
import math
import ssl
import threading
from typing import Any
from urllib.parse import urlsplit

from loadgen.history.record import RunRecord
from loadgen.net.redact import redact

DEADLINE_S = 3.0
MAX_ANSWER_BYTES = 64 * 1024
SECTION_CHARS = 2900  # Slack refuses a section text over 3000 characters
KEY_PERCENTILES = ("p50", "p95", "p99")


def shown(url: str) -> str:
    """What may be printed of a webhook URL: scheme://host:port/… (no user info, path or
    query: any of them may hold the token)."""
    try:
        p = urlsplit(url)
        host = p.hostname or "?"
        port = f":{p.port}" if p.port else ""
    except ValueError:
        return "(an unparsable URL)"
    tail = "/…" if (p.path not in ("", "/") or p.query) else ""
    return f"{p.scheme}://{host}{port}{tail}"


def url_problem(url: str) -> str | None:
    try:
        p = urlsplit(url)
        _ = p.port
    except ValueError:
        return f"--webhook {shown(url)}: not a valid URL (bad port?)"
    if p.scheme not in ("http", "https") or not p.hostname:
        return f"--webhook {shown(url)}: an http:// or https:// URL with a host is needed"
    return None


def _mrkdwn(text: str) -> str:
    """Slack's three control characters in mrkdwn text."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _ms(v: float | None) -> str:
    if v is None:
        return "-"
    return "unserved" if math.isinf(v) else f"{v:.1f} ms"


def message(rec: RunRecord, paths: list[str]) -> dict[str, Any]:
    """The message: verdict, failed thresholds with their observed values, key percentiles,
    where the summary files are."""
    ok = rec.exit_code == 0
    title = f"{'✅' if ok else '❌'} loadgen {rec.verdict}: {rec.label} (exit {rec.exit_code})"
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": title[:150]}}]
    failed = rec.failed_thresholds()
    if failed:
        lines = [f"• `{_mrkdwn(t.metric)}` `{_mrkdwn(t.source)}`: observed "
                 f"{rec.observed_text(t)}" for t in failed[:20]]
        if len(failed) > 20:
            lines.append(f"… and {len(failed) - 20} more")
        text = "*Failed thresholds*\n" + "\n".join(lines)
        if len(text) > SECTION_CHARS:
            text = text[:SECTION_CHARS].rsplit("\n", 1)[0] + "\n…"
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": text}})
    dur = rec.stats.get(("metric", "http_req_duration"), {})
    reqs = rec.stats.get(("metric", "http_reqs"), {})
    failed_rate = rec.stats.get(("metric", "http_req_failed"), {}).get("value")
    fields = [f"*{p}* {_ms(dur.get(p))}" for p in KEY_PERCENTILES if p in dur]
    if "rate" in reqs:
        fields.append(f"*requests* {reqs['rate']:.1f}/s")
    if failed_rate is not None:
        fields.append(f"*errors* {failed_rate * 100:.2f}%")
    if fields:
        blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": f}
                                                     for f in fields[:10]]})
    context = [f"duration {rec.duration_s:.1f} s", f"started {rec.started_at}"]
    if rec.git_commit:
        context.append(f"commit {rec.git_commit[:12]}")
    context += [f"summary: {_mrkdwn(p)}" for p in paths]
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": " · ".join(
        context)}]})
    text = title + (f" — {len(failed)} threshold(s) failed" if failed else "")
    return {"text": text, "blocks": blocks}


def post(url: str, body: dict[str, Any], deadline_s: float = DEADLINE_S) -> str | None:
    """POST the message; None when the server took it (2xx), else the problem, with the URL
    shown only as `shown(url)`."""
    box: dict[str, str | None] = {"problem": "no answer within the deadline"}

    def send() -> None:
        box["problem"] = _send(url, json.dumps(body).encode(), deadline_s)

    t = threading.Thread(target=send, name="loadgen-webhook", daemon=True)
    t.start()
    t.join(deadline_s)
    problem = box["problem"] if not t.is_alive() else f"no answer within {deadline_s:g} s"
    if problem is None:
        return None
    return f"{shown(url)}: {_scrub(problem, url)}"


def _send(url: str, data: bytes, timeout: float) -> str | None:
    p = urlsplit(url)
    target = (p.path or "/") + (f"?{p.query}" if p.query else "")
    conn: http.client.HTTPConnection
    try:
        if p.scheme == "https":
            conn = http.client.HTTPSConnection(p.hostname or "", p.port, timeout=timeout,
                                               context=ssl.create_default_context())
        else:
            conn = http.client.HTTPConnection(p.hostname or "", p.port, timeout=timeout)
        try:
            headers = {"Content-Type": "application/json", "User-Agent": "loadgen"}
            if p.username is not None:
                cred = f"{p.username}:{p.password or ''}".encode()
                headers["Authorization"] = "Basic " + base64.b64encode(cred).decode()
            conn.request("POST", target, body=data, headers=headers)
            resp = conn.getresponse()
            answer = resp.read(MAX_ANSWER_BYTES)
            if 200 <= resp.status < 300:
                return None
            snippet = answer[:200].decode("utf-8", "replace").strip()
            return f"HTTP {resp.status} {resp.reason}" + (f": {snippet}" if snippet else "")
        finally:
            conn.close()
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except (OSError, http.client.HTTPException, ValueError) as e:
        return f"{type(e).__name__}: {e}"


def _scrub(text: str, url: str) -> str:
    """The URL's secret parts out of an error message (a server may echo its path)."""
    p = urlsplit(url)
    for secret in (url, p.path if p.path not in ("", "/") else "", p.query, p.password or ""):
        if secret:
            text = text.replace(secret, "…")
    return redact(text)
