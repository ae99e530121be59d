"""Properties of the readers: what is written is read back; junk is counted, never fatal."""

from __future__ import annotations

import time

import numpy as np
import zstandard
from _trace_helpers import clients, junk_lines, paths, read_all, times, user_agents, write
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from routebench.datasets import open_trace
from routebench.datasets.writers import write_trace

SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def _clf(sec: int) -> str:
    return time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(sec))


rows = st.lists(st.tuples(clients, times, paths, user_agents), min_size=1, max_size=30)


@SETTINGS
@given(rows=rows, chunk=st.integers(1, 50))
def test_access_log_fields_read_back(tmp_path, rows, chunk):
    text = "".join(f'{c} - - [{_clf(t)}] "GET {p} HTTP/1.1" 200 1 "-" "{ua}"\n'
                   for c, t, p, ua in rows)
    t, cols, ts = read_all(write(tmp_path, "p.log", text), chunk_size=chunk)
    assert t.stats.rejected == 0
    assert cols["client"] == [c.encode() for c, *_ in rows]
    assert cols["path"] == [p.encode() for _, _, p, _ in rows]
    assert cols["ua"] == [u.encode() for *_, u in rows]
    assert ts.tolist() == [float(t) for _, t, _, _ in rows]


@SETTINGS
@given(good=st.lists(st.tuples(clients, times, paths), min_size=1, max_size=20),
       junk=st.lists(junk_lines, min_size=0, max_size=20), data=st.data())
def test_junk_lines_are_counted_not_fatal(tmp_path, good, junk, data):
    lines = [f'{c} - - [{_clf(t)}] "GET {p} HTTP/1.1" 200 1 "-" "ua"'.encode()
             for c, t, p in good]
    order = data.draw(st.permutations(range(len(lines) + len(junk))))
    mixed = [(lines + junk)[i] for i in order]
    path = write(tmp_path, "j.log", b"\n".join(mixed) + b"\n")
    t, cols, _ = read_all(path, format="access-log")
    st_ = t.stats
    assert st_.lines == len(mixed)
    assert st_.used + st_.rejected == st_.lines
    assert st_.used >= len(lines)  # junk may happen to be a valid line, nothing valid is lost
    assert sum(st_.reasons.values()) == st_.rejected
    assert all(1 <= n <= len(mixed) for n, _, _ in st_.examples)


@SETTINGS
@given(name=st.sampled_from(["uniform", "zipf", "nat", "access-log"]),
       fmt=st.sampled_from(["csv", "tsv", "jsonl", "access-log"]),
       n=st.integers(1, 3000), seed=st.integers(0, 5))
def test_generate_then_read_round_trip(tmp_path, name, fmt, n, seed):
    src = open_trace(name, n, seed)
    ext = {"csv": "csv", "tsv": "tsv", "jsonl": "jsonl", "access-log": "log"}[fmt]
    out = tmp_path / f"g.{ext}.gz"
    write_trace(src, str(out), fmt)
    back = open_trace(str(out))
    want: dict[str, list[bytes]] = {}
    want_ts = []
    for chunk in open_trace(name, n, seed).chunks():
        for c, col in chunk.columns.items():
            want.setdefault(c, []).extend(col.keys())
        if chunk.ts is not None:
            want_ts.append(chunk.ts)
    got: dict[str, list[bytes]] = {}
    got_ts = []
    for chunk in back.chunks():
        for c, col in chunk.columns.items():
            got.setdefault(c, []).extend(col.keys())
        if chunk.ts is not None:
            got_ts.append(chunk.ts)
    assert back.stats.rejected == 0 and back.stats.used == n
    if fmt == "access-log":
        assert got["client"] == want.get("client", [b"-"] * n)
        if "path" in want:
            assert got["path"] == want["path"]
        else:
            assert got["path"] == [b"/" + k for k in want.get("key", want.get("user"))]
    else:
        for c in want:
            assert got[c] == want[c]
    if want_ts:
        w, g = np.concatenate(want_ts), np.concatenate(got_ts)
        tol = 1.0 if fmt == "access-log" else 1e-5
        assert np.all(np.abs(np.floor(w) - g) <= tol) if fmt == "access-log" else \
            np.allclose(w, g, atol=tol, rtol=0)


csv_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FF,
                                         blacklist_categories=("Cs",)), min_size=1, max_size=20)


@SETTINGS
@given(rows=st.lists(st.tuples(csv_text, csv_text), min_size=1, max_size=20),
       fmt=st.sampled_from(["csv", "tsv", "jsonl"]))
def test_csv_and_json_keys_read_back(tmp_path, rows, fmt):
    import csv
    import io
    import json

    if fmt == "jsonl":
        text = "".join(json.dumps({"key": k, "client": c}) + "\n" for k, c in rows)
    else:
        buf = io.StringIO()
        w = csv.writer(buf, delimiter="," if fmt == "csv" else "\t", lineterminator="\n")
        w.writerow(["key", "client"])
        w.writerows(rows)
        text = buf.getvalue()
    t, cols, _ = read_all(write(tmp_path, f"k.{fmt}", text.encode()))
    assert t.stats.rejected == 0
    assert cols["key"] == [k.encode() for k, _ in rows]
    assert cols["client"] == [c.encode() for _, c in rows]


@SETTINGS
@given(parts=st.lists(st.lists(clients, min_size=1, max_size=5), min_size=1, max_size=4))
def test_concatenated_zstd_frames(tmp_path, parts):
    blob = b"".join(
        zstandard.ZstdCompressor().compress(
            "".join(f'{c} - - [{_clf(1e9)}] "GET / HTTP/1.1" 200 1\n' for c in p).encode())
        for p in parts)
    t, cols, _ = read_all(write(tmp_path, "f.log.zst", blob))
    assert cols["client"] == [c.encode() for p in parts for c in p]


@SETTINGS
@given(uas=st.lists(st.text(alphabet=st.sampled_from('ab "\\\\[]-'), min_size=1, max_size=12),
                    min_size=1, max_size=10),
       extra=st.booleans())
def test_escaped_quotes_and_backslashes(tmp_path, uas, extra):
    def esc(s: str) -> str:  # as nginx writes them
        return s.replace("\\", "\\\\").replace('"', '\\"')
    tail = " 0.003" if extra else ""
    text = "".join(f'1.2.3.4 - - [{_clf(1e9)}] "GET /{esc(u)} HTTP/1.1" 200 1 "-" "{esc(u)}"'
                   f"{tail}\n" for u in uas)
    t, cols, _ = read_all(write(tmp_path, "e.log", text))
    assert t.stats.rejected == 0
    assert cols["ua"] == [esc(u).encode() for u in uas]
