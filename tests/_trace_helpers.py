"""Shared pieces of the trace-reader tests: sample lines, file writers, hypothesis strategies."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from hypothesis import strategies as st

from routebench.datasets import open_trace

#: the real samples (absent in a fresh clone: tests that need them skip)
SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "datasets"
REAL_LOG = SHARED / "apache_combined_2015.log"
REAL_ARC = SHARED / "arc_oltp.lis.zst"

LINE = ('{ip} - {user} [17/May/2015:10:05:03 +0000] "GET {path} HTTP/1.1" 200 {size} '
        '"-" "{ua}"')


def combined(ip: str = "83.149.9.216", path: str = "/index.html", user: str = "-",
             size: str = "1234", ua: str = "Mozilla/5.0") -> str:
    return LINE.format(ip=ip, path=path, user=user, size=size, ua=ua)


def write(tmp_path: Path, name: str, data: bytes | str) -> Path:
    p = tmp_path / name
    p.write_bytes(data.encode() if isinstance(data, str) else data)
    return p


def read_all(path, **opts):
    """(trace, {column: list of keys}, ts or None) of a whole file."""
    t = open_trace(str(path), **opts)
    if hasattr(t, "available"):
        t.with_columns(*t.available)
    cols: dict[str, list[bytes]] = {}
    ts = []
    for chunk in t.chunks():
        for name, col in chunk.columns.items():
            cols.setdefault(name, []).extend(col.keys())
        if chunk.ts is not None:
            ts.append(chunk.ts)
    return t, cols, (np.concatenate(ts) if ts else None)


def gz(data: bytes) -> bytes:
    return gzip.compress(data, mtime=0)


# -- hypothesis strategies ----------------------------------------------------
ipv4 = st.tuples(*[st.integers(0, 255)] * 4).map(lambda t: ".".join(map(str, t)))
ipv6 = st.lists(st.integers(0, 0xFFFF), min_size=8, max_size=8).map(
    lambda g: ":".join(f"{x:x}" for x in g))
clients = st.one_of(ipv4, ipv6)
path_chars = st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126,
                                            blacklist_characters='"\\ ?#'),
                     min_size=0, max_size=40)
paths = path_chars.map(lambda s: "/" + s)
user_agents = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126,
                                             blacklist_characters='"\\'),
                      min_size=1, max_size=80)
# epoch seconds between 2000 and 2030
times = st.integers(946684800, 1893456000)
junk_lines = st.binary(min_size=0, max_size=300).map(
    lambda b: b.replace(b"\n", b" ").replace(b"\r", b" "))
