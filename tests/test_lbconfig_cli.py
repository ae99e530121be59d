"""``--lb-config``: your own nginx upstream or HAProxy backend on the command line
(``lookup``, ``run``, ``simulate``), checked against ``routebench.lbconfig``."""

from __future__ import annotations

import json

import pytest

from routebench.cli import main
from routebench.lbconfig import read_lb_config
from routebench.records import LbConfigResult, Report

NGINX_CONF = """\
http {
    upstream cache {
        hash $request_uri consistent;
        server 10.0.0.1:80 weight=2;
        server 10.0.0.2:80;
        server 10.0.0.3:80 down;
    }
    upstream plain {
        hash $request_uri;
        server 10.0.0.1:80;
        server 10.0.0.2:80;
        server 10.0.0.3:80;
    }
    upstream clients {
        ip_hash;
        server 10.0.0.1:80;
        server 10.0.0.2:80;
        server 10.0.0.3:80;
    }
}
"""

HAPROXY_CFG = """\
defaults
    mode http
backend app
    balance uri
    hash-type consistent
    server s1 10.0.0.1:80
    server s2 10.0.0.2:80 weight 2
    server s3 10.0.0.3:80
    server s4 10.0.0.4:80
backend pinned
    balance uri
    hash-type consistent
    server s1 10.0.0.1:80 id 10
    server s2 10.0.0.2:80 id 20
    server s3 10.0.0.3:80 id 30
backend users
    balance hdr(X-User)
    hash-type map-based crc32
    server a 10.0.0.1:80
    server b 10.0.0.2:80
backend src
    balance source
    server a 10.0.0.1:80
    server b 10.0.0.2:80
"""


@pytest.fixture
def confs(tmp_path):
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    (tmp_path / "haproxy.cfg").write_text(HAPROXY_CFG)
    return tmp_path


def cli(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def lookup(capsys, spec, *values, extra=()):
    code, out, err = cli(capsys, "lookup", "--lb-config", spec, *extra, *values)
    assert code == 0, err
    return [line.split("\t") for line in out.splitlines()]


URIS = ["/", "/users/42?tab=1", "/users/42?tab=2", "/static/app.js", "/a/b/c?x=1&y=2"]
ADDRS = ["192.0.2.7", "192.0.2.200", "198.51.100.1", "2001:db8::1", "203.0.113.9"]


@pytest.mark.parametrize("spec,values", [
    ("haproxy.cfg:app", URIS), ("haproxy.cfg:pinned", URIS), ("nginx.conf:cache", URIS),
    ("nginx.conf:plain", URIS), ("nginx.conf:clients", ADDRS), ("haproxy.cfg:src", ADDRS),
    ("haproxy.cfg:users", ["alice", "bob", " carol ", "x,y"]),
])
def test_lookup_agrees_with_the_reader(capsys, confs, spec, values):
    path, name = spec.split(":")
    cfg = read_lb_config(confs / path, name)
    rows = lookup(capsys, f"{confs / path}:{name}", *values)
    assert [r[0] for r in rows] == values
    assert [r[1] for r in rows] == cfg.route(values)
    # servers as the configuration names them
    assert {r[1] for r in rows} <= {s.name for s in cfg.servers}


def test_lookup_round_robin_and_keys(capsys, confs):
    rows = lookup(capsys, f"{confs}/haproxy.cfg:users", "", "alice", extra=["--show-key"])
    assert rows[0] == ["", "-", "(round robin)"]  # an empty header: HAProxy balances round robin
    assert rows[1][:2] == ["alice", "alice"]
    rows = lookup(capsys, f"{confs}/nginx.conf:clients", "192.0.2.7", extra=["--show-key"])
    assert rows[0][1] == r"\xc0\x00\x02"  # ip_hash hashes the /24


def test_query_string_haproxy_drops_it_nginx_keeps_it(capsys, confs):
    ngx = read_lb_config(confs / "nginx.conf", "plain")
    # two URIs that differ only after '?' and that nginx sends to different servers
    a, b = next((f"/p/{i}?v=1", f"/p/{i}?v=2") for i in range(500)
                if len(set(ngx.route([f"/p/{i}?v=1", f"/p/{i}?v=2"]))) == 2)
    rows = lookup(capsys, f"{confs}/nginx.conf:plain", a, b, extra=["--show-key"])
    assert [r[1] for r in rows] == [a, b]  # $request_uri keeps the query string
    assert rows[0][2] != rows[1][2]
    rows = lookup(capsys, f"{confs}/haproxy.cfg:app", a, b, extra=["--show-key"])
    assert rows[0][1] == rows[1][1] == a.split("?")[0]  # balance uri stops at the '?'
    assert rows[0][2] == rows[1][2]


def test_lookup_reads_stdin(capsys, confs, monkeypatch):
    import io
    import sys

    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"/x?a=1\n/y\n")))
    rows = lookup(capsys, f"{confs}/haproxy.cfg:app")
    assert [r[0] for r in rows] == ["/x?a=1", "/y"]
    assert [r[1] for r in rows] == read_lb_config(confs / "haproxy.cfg", "app").route(
        ["/x?a=1", "/y"])


def run_lb(capsys, confs, spec, *extra):
    out_json = confs / "out.json"
    code, out, err = cli(capsys, "run", "--lb-config", f"{confs}/{spec}", "--keys", "20k",
                         "--json", out_json, *extra)
    assert code == 0, err
    return out, err, json.loads(out_json.read_text())


def test_run_prints_edits_and_writes_records(capsys, confs):
    out, err, report = run_lb(capsys, confs, "haproxy.cfg:app")
    assert "access-log" in err and "synthetic" in err  # which default trace, said
    for text in ("peak/mean (random)", "delete line", "disabled", "keys moved", "collateral",
                 "requests moved", "| add"):
        assert text in out
    assert report["schema"] == "routebench/2"
    (r,) = report["results"]
    assert r["record"] == "lb-config" and r["label"] == f"{confs}/haproxy.cfg:app"
    assert r["strategy"] == "haproxy-chash" and r["nodes"] == 4 and r["route_on"] == "path"
    assert r["metrics"]["requests"] == 20_000 and r["metrics"]["peak_to_mean"] >= 1
    assert {(e["server"], e["edit"]) for e in r["edits"]} == {
        (s, e) for s in ("s1", "s2", "s3", "s4") for e in ("delete", "down")} | {("new", "add")}
    (rec,) = Report.records(Report.from_json(report))
    assert isinstance(rec, LbConfigResult) and rec.servers[1]["weight"] == 2
    # no explicit ids: deleting s1 renumbers s2..s4 and moves keys between them; disabling
    # keeps every id and moves s1's keys only
    edits = {(e["server"], e["edit"]): e for e in r["edits"]}
    assert edits["s1", "delete"]["collateral"] > 0.05
    assert edits["s1", "delete"]["collateral_requests"] > 0.05
    assert edits["s1", "down"]["collateral"] == 0
    assert edits["s1", "down"]["moved"] == pytest.approx(edits["s1", "down"]["on_server"])
    assert edits["s4", "delete"]["collateral"] == 0  # the last line: nothing renumbered
    assert r["metrics"]["delete_collateral_max"] > 0.05 and r["metrics"]["down_collateral_max"] == 0
    assert "explicit `id N`" in out  # the trap, in words
    # compare gates the new record kind
    code, out, err = cli(capsys, "compare", confs / "out.json", confs / "out.json", "--gate",
                         "delete_collateral_max: +0", "--no-config")
    assert code == 0 and "1 results compared" in out


def test_run_explicit_ids_and_nginx_down(capsys, confs):
    _, _, report = run_lb(capsys, confs, "haproxy.cfg:pinned", "--keys", "5k")
    assert all(e["collateral"] == 0 for e in report["results"][0]["edits"])
    out, _, report = run_lb(capsys, confs, "nginx.conf:plain", "--keys", "5k")
    edits = {(e["server"], e["edit"]): e for e in report["results"][0]["edits"]}
    # nginx hash without consistent: deleting changes the modulus, `down` keeps the weight
    assert edits["10.0.0.1:80", "delete"]["collateral"] > 0.1
    assert edits["10.0.0.1:80", "down"]["collateral"] == 0
    assert "| down" in out


def test_run_on_an_access_log_reads_the_url(capsys, confs):
    log = confs / "access.log"
    lines = [f'10.0.{i % 7}.{i % 200} - - [01/Jan/2024:00:00:{i % 60:02d} +0000] '
             f'"GET /item/{i % 50}?page={i % 3} HTTP/1.1" 200 5 "-" "ua{i % 4}"'
             for i in range(600)]
    log.write_text("\n".join(lines) + "\n")
    _, err, report = run_lb(capsys, confs, "nginx.conf:cache", "--trace", log)
    r = report["results"][0]
    assert r["route_on"] == "url" and r["metrics"]["requests"] == 600
    assert r["metrics"]["distinct_keys"] == 150  # $request_uri: path and query string
    _, _, report = run_lb(capsys, confs, "haproxy.cfg:app", "--trace", log)
    assert report["results"][0]["metrics"]["distinct_keys"] == 50  # balance uri: the path


def test_errors_are_one_line_with_file_and_line(capsys, confs):
    bad = confs / "bad.cfg"
    bad.write_text("defaults\n    mode http\nbackend app\n    balance sticky\n"
                   "    server s1 10.0.0.1:80\n")
    for argv in (["run", "--lb-config", f"{bad}:app", "--no-json"],
                 ["lookup", "--lb-config", f"{bad}:app", "/x"],
                 ["simulate", "--lb-config", f"{bad}:app", "--no-json"]):
        code, out, err = cli(capsys, *argv)
        assert code == 2 and out == ""
        assert f"{bad}:4" in err and "balance algorithm 'sticky'" in err
        assert err.count("\n") == 1
    ngx = confs / "bad.conf"
    ngx.write_text("upstream u {\n    hash $request_uri;\n    server a:1 weight=0;\n}\n")
    code, _, err = cli(capsys, "lookup", "--lb-config", ngx, "/x")
    assert code == 2 and f"{ngx}:3" in err and err.count("\n") == 1


@pytest.mark.parametrize("argv,message", [
    (["run", "--strategy", "ring"], "--lb-config and --strategy cannot be combined"),
    (["run", "--nodes", "5"], "--lb-config and --nodes cannot be combined"),
    (["lookup", "--strategy", "ring", "--nodes", "a,b", "/x"],
     "--lb-config and --strategy and --nodes cannot be combined"),
    (["simulate", "--backends", "5"], "--lb-config and --backends cannot be combined"),
    (["simulate", "--balancer", "ip-hash-sticky:hash=mmh3"], "drop hash="),
])
def test_lb_config_refuses_what_it_replaces(capsys, confs, argv, message):
    code, _, err = cli(capsys, *argv[:1], "--lb-config", f"{confs}/haproxy.cfg:app",
                       *argv[1:])
    assert code == 2 and message in err and err.count("\n") == 1


def test_run_names_the_columns_a_header_needs(capsys, confs):
    log = confs / "access.log"
    log.write_text('192.0.2.1 - - [01/Jan/2024:00:00:00 +0000] "GET / HTTP/1.1" 200 5 "-" '
                   '"curl"\n')
    code, _, err = cli(capsys, "run", "--lb-config", f"{confs}/haproxy.cfg:users", "--trace",
                       log, "--no-json")
    assert code == 2 and "no column for it" in err and "http_x_user" in err
    assert "add $http_x_user to --log-format" in err and "--route-on COL" in err
    assert err.count("\n") == 1
    # a synthetic trace's users stand in for the header, and the note says so
    code, _, err = cli(capsys, "run", "--lb-config", f"{confs}/haproxy.cfg:users", "--keys",
                       "2k", "--no-json", "--trace", "nat")
    assert code == 0 and "one value a user" in err


def test_simulate_through_the_config(capsys, confs):
    out_json = confs / "sim.json"
    code, out, err = cli(capsys, "simulate", "--lb-config", f"{confs}/haproxy.cfg:src",
                         "--balancer", "ip-hash-sticky", "--balancer", "ip-hash-sticky:keyed=ring",
                         "--requests", "3000", "--crash", "b@0.5", "--json", out_json, "-q")
    assert code == 0, err
    assert "ip-hash-sticky:keyed=haproxy-map" in out and "keyed=ring" in out
    report = json.loads(out_json.read_text())
    ours = report["results"][0]
    assert ours["params"]["config"] == f"{confs}/haproxy.cfg:src"
    assert [b["name"] for b in ours["backends"]] == ["a", "b"]  # the config's servers
    assert ours["events"][0]["backend"] == "b"
    assert "--lb-config" in report["config"]["reproduce"]
    assert "--backends" not in report["config"]["reproduce"]


def test_ip_hash_keys_whose_retries_never_end(tmp_path):
    """nginx gives up after 20 retries (round robin); the model must end too: with 2
    servers and one down, the /24s whose hash is the retry map's fixed point never
    reach the other server by rehashing."""
    from routebench.lbconfig import edit_remap

    p = tmp_path / "n.conf"
    p.write_text("upstream u { ip_hash; server 10.0.0.1:80; server 10.0.0.2:80; }")
    cfg = read_lb_config(p)
    # an address whose first three bytes fold to c = 6065: stuck when 10.0.0.2 is down
    addr = next(f"{a}.{b}.{c}.9" for a in range(1, 224) for b in range(256) for c in (0, 1)
                if (a * 113 * 113 + b * 113 + c) % 6271 == 6065)
    down = cfg.with_down("10.0.0.2:80")
    assert down.route([addr, "192.0.2.1"]) == ["10.0.0.1:80", "10.0.0.1:80"]
    rows = {(r.server, r.edit): r for r in edit_remap(cfg, [addr])}
    assert rows["10.0.0.2:80", "down"].round_robin == 1.0  # nginx: round robin
