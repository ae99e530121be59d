"""A trace summary (``datasets.summary.summarize_trace``) as text: ``routebench trace inspect``."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .table import format_table

__all__ = ["inspect_text"]


def inspect_text(s: Mapping[str, Any], top: int) -> str:
    """The summary's header lines, then its top lists, NAT hints and rejected lines."""
    return "\n".join(_header(s)) + _tops(s, top) + _nat_hints(s) + _rejected(s)


def _header(s: Mapping[str, Any]) -> list[str]:
    d = s.get("describe", {})
    lines = [f"trace:      {s['trace']}"]
    if d.get("name") == "file":
        lines.append(f"format:     {d.get('format')}, compression {d.get('compression')}")
    else:
        lines.append(f"synthetic:  {d.get('name')} {d.get('params')}, seed {d.get('seed')}")
    r = s.get("read")
    if r:
        hdr = f", {r['header_lines']} header line" if r["header_lines"] else ""
        lines.append(f"lines:      {r['lines_read']:,} read, {r['used']:,} used, "
                     f"{r['rejected']:,} rejected{hdr}")
    lines.append(f"requests:   {s['requests']:,}")
    t = s.get("time")
    if t:
        rate = f"{t['rate_per_s']:,.2f} requests/s" if t.get("rate_per_s") else "-"
        lines.append(f"time:       {_when(t['first'])} .. {_when(t['last'])} "
                     f"(span {_span(t['span_s'])}, {rate})")
    else:
        lines.append("time:       no timestamps in this trace")
    dist = ", ".join(f"{c} {v['count']:,}" + ("" if v["exact"] else " (estimate)")
                     for c, v in s["distinct"].items())
    lines.append(f"distinct:   {dist}")
    lines.append(f"route on:   {s['route_on']}   (columns: {', '.join(s['columns'])})")
    sk = s.get("skew")
    if sk:
        lines.append("skew:       top key {:.2%} of requests, top 10 {:.2%}, top 100 {:.2%}, "
                     "top 1000 {:.2%}".format(sk["top1_share"], sk["top10_share"],
                                             sk["top100_share"], sk["top1000_share"]))
    return lines


def _when(t: float) -> str:
    try:
        return datetime.fromtimestamp(t, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    except (OverflowError, OSError, ValueError):
        return f"{t:g}"


def _span(seconds: float) -> str:
    s = int(round(seconds))
    d, s = divmod(s, 86400)
    h, s = divmod(s, 3600)
    m, s = divmod(s, 60)
    return (f"{d}d " if d else "") + f"{h:02d}:{m:02d}:{s:02d}"


#: an extra column of a top list: its key in the rows and its header
_EXTRA = {"client24": ("distinct_clients", "client IPs"), "client": ("distinct_users", "users")}


def _tops(s: Mapping[str, Any], top: int) -> str:
    out = ""
    tops = s["top"]
    route = s["route_on"]
    for col, title in ((route, f"top {top} {route} keys"),
                       ("client", f"largest client-IP groups (top {top} by requests)"),
                       ("client24", f"largest /24 clusters (top {top} by requests)")):
        rows = tops.get(col)
        if not rows or (col == "client" and route == "client" and title.startswith("largest")):
            continue
        approx = " (approximate counts)" if tops.get(col + "_approximate") else ""
        headers = [col, "requests", "share"]
        extra, header = _EXTRA.get(col, (None, ""))
        if col == "client" and extra not in rows[0]:
            extra = None
        if extra:
            headers.append(header)
        table = [[x["key"], f"{x['requests']:,}", f"{x['share']:.2%}"]
                 + ([f"{x[extra]:,}"] if extra else []) for x in rows]
        out += f"\n\n{title}{approx}:\n" + format_table(headers, table, "simple")
    return out


def _nat_hints(s: Mapping[str, Any]) -> str:
    nat = s.get("nat_hints")
    if not nat:
        return ""
    table = [[x["client"], f"{x['requests']:,}", f"{x['distinct_users']:,}"] for x in nat]
    return ("\n\nNAT hints: client IPs with the most distinct users (IP + user agent in "
            "access logs; several users behind one address?):\n"
            + format_table(["client", "requests", "users"], table, "simple"))


def _rejected(s: Mapping[str, Any]) -> str:
    r = s.get("read")
    if not r or not r["rejected"]:
        return ""
    reasons = [[str(c), why] for why, c in r["rejected_by_reason"].items()]
    out = "\n\nrejected lines by reason:\n" + format_table(["lines", "reason"], reasons, "simple")
    ex = r["rejected_examples"]
    if ex:
        out += "\nfirst rejected lines:\n" + "\n".join(
            f"  line {e['line']}: {e['reason']}: {e['text']}" for e in ex)
    return out
