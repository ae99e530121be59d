"""Trace readers through the public API: formats, edge cases, bad input, route-on columns."""

from __future__ import annotations

import bz2
import lzma
import time

import numpy as np
import pytest
import zstandard
from _trace_helpers import REAL_ARC, REAL_LOG, combined, gz, read_all, write

from routebench import RoutebenchError
from routebench.datasets import FileTrace, open_trace
from routebench.datasets.summary import summarize_trace

needs_real = pytest.mark.skipif(not REAL_LOG.exists(), reason="../shared/datasets not present")


# -- the real samples -----------------------------------------------------------
@needs_real
def test_real_combined_log_parses_without_rejects():
    t = open_trace(str(REAL_LOG))
    s = summarize_trace(t)
    assert t.format.detail == "access-log (combined)"
    assert s["read"]["rejected"] == 0
    assert s["read"]["lines_read"] == 10_000
    assert s["requests"] == 10_000
    assert s["distinct"]["client"] == {"count": 1753, "exact": True}
    # 17-20 May 2015
    assert time.gmtime(s["time"]["first"])[:3] == (2015, 5, 17)
    assert time.gmtime(s["time"]["last"])[:3] == (2015, 5, 20)


@needs_real
def test_real_arc_trace_zstd():
    t = open_trace(str(REAL_ARC))
    s = summarize_trace(t)
    assert (t.format.name, t.compression) == ("arc", "zstd")
    assert s["requests"] == 914_145
    assert s["distinct"]["key"]["count"] == 186_880


# -- access logs ----------------------------------------------------------------
def test_access_log_edge_cases(tmp_path):
    long_ua = "x" * 5000
    lines = [
        combined(),
        combined(ip="2001:db8::1"),                                 # IPv6 client
        combined(user="frank", size="-"),                            # user and '-' size
        combined(ua='Agent \\"quoted\\" thing'),                     # escaped quotes
        combined(path="/a?b=1") + " 0.123 upstream=10.0.0.1:80",     # extra fields
        '10.0.0.9 - - [17/May/2015:10:05:04 +0000] "-" 400 0 "-" "-"',  # request "-"
        combined(ua=long_ua),                                        # multi-KB line
        combined(path="/caf\xe9"),                                   # replaced below: bad UTF-8
        combined(ua="cut") [:-1],                                    # closing quote missing
    ]
    data = ("\n".join(lines) + "\r\n").encode().replace("caf\xe9".encode(), b"caf\xe9\xff")
    t, cols, ts = read_all(write(tmp_path, "a.log", data))
    assert t.stats.rejected == 0 and t.stats.used == len(lines)
    assert cols["client"][1] == b"2001:db8::1"
    assert cols["client24"][1] == b"2001:db8::/64"
    assert cols["client24"][0] == b"83.149.9.0/24"
    assert cols["remote_user"][2] == b"frank"
    assert cols["ua"][3] == b'Agent \\"quoted\\" thing'
    assert cols["path"][4] == b"/a" and cols["url"][4] == b"/a?b=1"
    assert cols["path"][5] == b""                   # no URL in the request line "-"
    assert cols["ua"][6] == long_ua.encode()
    assert cols["path"][7] == b"/caf\xe9\xff"
    assert cols["ua"][8] == b"cut"
    assert ts[0] == 1431857103.0 and ts[5] == 1431857104.0


def test_route_on_path_rejects_request_without_url(tmp_path):
    lines = [combined(), '10.0.0.9 - - [17/May/2015:10:05:04 +0000] "-" 400 0 "-" "-"',
             combined(path="/b")]
    t, cols, _ = read_all(write(tmp_path, "a.log", "\n".join(lines)), route_on="path")
    assert cols["path"] == [b"/index.html", b"/b"]
    assert t.stats.rejected == 1
    assert t.stats.examples[0][0] == 2
    assert "no URL" in t.stats.examples[0][1]


def test_time_zones_and_formats(tmp_path):
    data = ('1.1.1.1 - - [01/Jan/2024:01:00:00 +0100] "GET / HTTP/1.1" 200 1\n'
            '1.1.1.1 - - [31/Dec/2023:19:00:00 -0500] "GET / HTTP/1.1" 200 1\n')
    t, cols, ts = read_all(write(tmp_path, "c.log", data))
    assert t.format.detail == "access-log (common)"
    assert list(ts) == [1704067200.0, 1704067200.0]


def test_nginx_log_format_with_cookie_sessions(tmp_path):
    fmt = ('$remote_addr - $remote_user [$time_iso8601] "$request" $status $body_bytes_sent '
           '"$http_referer" "$http_user_agent" $request_time "$http_cookie"')
    rows = [("1.1.1.1", "2024-01-01T00:00:00+00:00", "sid=a; x=1"),
            ("1.1.1.1", "2024-01-01T00:00:05+00:00", "x=2; sid=b"),
            ("2.2.2.2", "2024-01-01T00:00:09Z", "sid=a")]
    text = "".join(f'{ip} - - [{t}] "GET /p HTTP/1.1" 200 5 "-" "ua" 0.010 "{c}"\n'
                   for ip, t, c in rows)
    path = write(tmp_path, "n.log", text)
    t, cols, ts = read_all(path, log_format=fmt, route_on="session", session="cookie:sid")
    assert cols["session"] == [b"a", b"b", b"a"]
    assert list(ts) == [1704067200.0, 1704067205.0, 1704067209.0]
    assert cols["request_time"] == [b"0.010"] * 3
    with pytest.raises(RoutebenchError, match=r"needs cookies"):
        open_trace(str(path), route_on="session", session="cookie:sid")
    # the cookie session as the one extra column while routing on something else
    t = open_trace(str(path), log_format=fmt, route_on="client", session="cookie:sid")
    t.with_columns("session")
    assert [k for c in t.chunks() for k in c.columns["session"].keys()] == [b"a", b"b", b"a"]


def test_apache_logformat_string(tmp_path):
    text = '1.2.3.4 [10/Oct/2000:13:55:36 -0700] "GET /x HTTP/1.0" 200 "curl"\n'
    t, cols, ts = read_all(write(tmp_path, "a.log", text),
                           log_format='%h %t "%r" %>s "%{User-agent}i"')
    assert cols["client"] == [b"1.2.3.4"] and cols["ua"] == [b"curl"]
    assert ts[0] == 971211336.0


def test_sessions_rebuilt_with_gap(tmp_path):
    # one client + UA: 0 s, +10 min, +50 min (a 40-minute gap), another UA at +1 min
    def line(sec, ua):
        t = time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(1704067200 + sec))
        return f'1.1.1.1 - - [{t}] "GET / HTTP/1.1" 200 1 "-" "{ua}"'
    text = "\n".join([line(0, "a"), line(60, "b"), line(600, "a"), line(3000, "a")])
    path = write(tmp_path, "s.log", text)
    _, cols, _ = read_all(path, route_on="session")
    s = cols["session"]
    assert s[0] == s[2] != s[3] and s[1] not in (s[0], s[3])
    _, cols, _ = read_all(path, route_on="session", session_gap="1h")
    assert cols["session"][0] == cols["session"][3]
    _, cols, _ = read_all(path, route_on="session", session="client")
    assert cols["session"][0] == cols["session"][1] == cols["session"][2]
    # the same sessions however the file is cut into chunks
    _, small, _ = read_all(path, route_on="session", chunk_size=1)
    assert small["session"] == s


# -- delimited and JSON -----------------------------------------------------------
def test_csv_with_header_and_quotes(tmp_path):
    text = 'timestamp,client_ip,url\n1.5,10.0.0.1,"/a,b"\n2,10.0.0.2,/c\n'
    t, cols, ts = read_all(write(tmp_path, "r.csv", text))
    assert t.format.name == "csv" and t.route_on == "client"
    assert cols["url"] == [b"/a,b", b"/c"] and list(ts) == [1.5, 2.0]


def test_csv_column_map_by_number(tmp_path):
    text = "1,k1,x,y,c1\n2,k2,x,y,c2\n3,short\n"
    t, cols, ts = read_all(write(tmp_path, "r.csv", text), columns="ts=0,client=4,key=1")
    assert cols["key"] == [b"k1", b"k2"] and cols["client"] == [b"c1", b"c2"]
    assert t.route_on == "key" and t.stats.rejected == 1
    assert t.stats.examples[0][0] == 3 and "2 columns" in t.stats.examples[0][1]


def test_csv_without_header_needs_columns(tmp_path):
    with pytest.raises(RoutebenchError, match="--columns"):
        open_trace(str(write(tmp_path, "r.csv", "1,2,3\n4,5,6\n")))


def test_tsv_and_route_on_any_column(tmp_path):
    text = "ts\tkey\tregion\n2024-01-01T00:00:00Z\tk\teu\n"
    t, cols, ts = read_all(write(tmp_path, "r.tsv", text), route_on="region")
    assert t.route_on == "region" and cols["region"] == [b"eu"] and ts[0] == 1704067200.0


def test_json_lines_fields(tmp_path):
    text = ('{"time": "2024-01-01T00:00:01Z", "ip": "1.1.1.1", "u": {"id": 7}}\n'
            'not json\n[1, 2]\n{"time": 5, "ip": "2.2.2.2", "u": {"id": "x"}}\n')
    t, cols, ts = read_all(write(tmp_path, "r.jsonl", text),
                           columns="ts=time,client=ip,key=u.id")
    assert cols["key"] == [b"7", b"x"] and cols["client"] == [b"1.1.1.1", b"2.2.2.2"]
    assert list(ts) == [1704067201.0, 5.0]
    assert t.stats.rejected == 2
    assert [e[0] for e in t.stats.examples] == [2, 3]


def test_twitter_cache_trace(tmp_path):
    text = "0,nz:u:eeW511W3dcH3,20,100,4,get,0\n1,nz:u:abc,9,100,5,set,3600\n"
    t, cols, ts = read_all(write(tmp_path, "cluster52.sample"), text) if False else \
        read_all(write(tmp_path, "cluster52.csv", text))
    assert t.format.name == "twitter"
    assert cols["key"] == [b"nz:u:eeW511W3dcH3", b"nz:u:abc"]
    assert cols["client"] == [b"4", b"5"] and cols["op"] == [b"get", b"set"]


@pytest.mark.parametrize("header,row,key", [
    ("key,op,size,op_count,key_size", "abc,GET,100,1,3", b"abc"),
    ("op_time,key,key_size,op,op_count,size,cache_hits,ttl", "17,xyz,3,GET,1,100,0,60", b"xyz"),
])
def test_cachelib_header_variants(tmp_path, header, row, key):
    t, cols, ts = read_all(write(tmp_path, "kvcache_traces_1.csv", f"{header}\n{row}\n"))
    assert t.format.name == "cachelib" and cols["key"] == [key]
    assert (ts is not None) == ("op_time" in header)


def test_arc_lis(tmp_path):
    t, cols, _ = read_all(write(tmp_path, "x.lis", "10 1 0 0\n20  8 0 1\n10 1 0 2\n"))
    assert t.format.name == "arc" and cols["key"] == [b"10", b"20", b"10"]


# -- compression --------------------------------------------------------------------
@pytest.mark.parametrize("name,pack", [
    ("a.log.gz", gz), ("a.log.bz2", bz2.compress), ("a.log.xz", lzma.compress),
    ("a.log.zst", lambda b: zstandard.ZstdCompressor().compress(b)),
    ("a.log", gz),  # magic bytes win over the name
])
def test_compressed(tmp_path, name, pack):
    raw = ("\n".join(combined(ip=f"10.0.0.{i}") for i in range(50)) + "\n").encode()
    t, cols, _ = read_all(write(tmp_path, name, pack(raw)))
    assert len(cols["client"]) == 50 and cols["client"][49] == b"10.0.0.49"


# -- bad input ------------------------------------------------------------------------
def test_junk_lines_counted_with_line_numbers(tmp_path):
    lines = [combined(), "garbage", combined(), "", "\x00\x01binary", combined()]
    t, cols, _ = read_all(write(tmp_path, "j.log", "\n".join(lines)))
    st = t.stats
    assert (st.lines, st.used, st.rejected) == (6, 3, 3)
    assert [e[0] for e in st.examples] == [2, 4, 5]
    assert sum(st.reasons.values()) == 3


def test_strict_stops_at_first_rejected_line(tmp_path):
    path = write(tmp_path, "j.log", "\n".join([combined(), combined(), "garbage"]))
    with pytest.raises(RoutebenchError, match=r"j.log line 3: .*garbage"):
        read_all(path, strict=True)


@pytest.mark.parametrize("data,message", [
    (b"", "empty file"),
    (b"\n\n  \n", "empty file"),
    (b"\x89PNG\r\n\x1a\n", "unknown trace format"),
    (gz(combined().encode() * 200)[:60], "corrupt or truncated"),
    (b"\x28\xb5\x2f\xfd" + b"\x00" * 40, "zstd-compressed data"),
])
def test_bad_files_one_clear_error(tmp_path, data, message):
    path = write(tmp_path, "t.log", data)
    with pytest.raises(RoutebenchError, match=message):
        read_all(path)


def test_all_lines_rejected_is_an_error(tmp_path):
    path = write(tmp_path, "t.log", combined() [:20] + "\nnope\n")
    with pytest.raises(RoutebenchError, match="no usable requests"):
        read_all(path, format="access-log")


def test_route_on_aliases_and_misplaced_options(tmp_path):
    path = write(tmp_path, "t.log", combined(ip="10.1.2.3") + "\n")
    assert open_trace(str(path), route_on="ip").route_on == "client"
    assert open_trace(str(path), route_on="/24").route_on == "client24"
    with pytest.raises(RoutebenchError, match="--columns is for CSV"):
        open_trace(str(path), columns="key=0")
    csv = write(tmp_path, "t.csv", "key\na\n")
    with pytest.raises(RoutebenchError, match="--log-format is for access logs"):
        open_trace(str(csv), log_format="combined", format="csv")


def test_unknown_route_and_format(tmp_path):
    path = write(tmp_path, "t.log", combined())
    with pytest.raises(RoutebenchError, match="cannot route on 'nope'"):
        open_trace(str(path), route_on="nope")
    with pytest.raises(RoutebenchError, match="unknown trace format 'xml'"):
        open_trace(str(path), format="xml")


# -- streaming --------------------------------------------------------------------------
def test_chunks_are_bounded_and_limit_stops_early(tmp_path):
    lines = [combined(ip=f"10.0.{i // 256}.{i % 256}") for i in range(5000)]
    path = write(tmp_path, "s.log", "\n".join(lines))
    t = FileTrace(path, chunk_size=700)
    sizes = [len(c) for c in t.chunks()]
    assert sum(sizes) == 5000 and max(sizes) <= 700
    t = open_trace(str(path), 1234)
    assert sum(len(c) for c in t.chunks()) == 1234 and t.requests == 1234
    assert t.stats.lines == 1234


def test_digests_match_the_hasher(tmp_path):
    from routebench.hashing import get_hasher

    lines = [combined(ip=f"10.0.0.{i % 7}") for i in range(100)]
    t = open_trace(str(write(tmp_path, "d.log", "\n".join(lines))))
    h = get_hasher("xxh3")
    for chunk in t.chunks():
        col = chunk.columns["client"]
        assert np.array_equal(col.digest(h), h.many(col.keys()))
