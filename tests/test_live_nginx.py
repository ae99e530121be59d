"""``routebench live --lb nginx`` and ``--lb-config``: other balancers on real software.

nginx where it has the algorithm (round robin, least_conn, random two least_conn,
hash ... [consistent]); the user's own HAProxy backend or nginx upstream with its
servers rewritten to routebench's backends. Tests that start servers skip naming the
Debian package, or fail with ROUTEBENCH_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _servers import require

from routebench._errors import RoutebenchError
from routebench.cli import main
from routebench.harness.live._nginx import nginx_config, upstream_lines
from routebench.harness.live.runner import LiveScenario, run_live
from routebench.harness.sim._simdist import Event


# -- the mapping, no servers -----------------------------------------------------------
@pytest.mark.parametrize("spec, lines", [
    ("round-robin", []),
    ("least-connections", ["least_conn;"]),
    ("random", ["random;"]),
    ("p2c", ["random two least_conn;"]),
    ("ip-hash-sticky", ["hash $remote_addr;"]),
    ("ip-hash-sticky:keyed=ring", ["hash $remote_addr consistent;"]),
    ("key-hash", ["hash $request_uri consistent;"]),
    ("key-hash:on=session,keyed=modulo", ["hash $http_x_session;"]),
    ("key-hash:on=user", ["hash $http_x_user consistent;"]),
])
def test_balancer_maps_to_nginx_directives(spec: str, lines: list[str]) -> None:
    assert upstream_lines(spec) == lines
    cfg = nginx_config(lines, [("backend-0", 9001, "max_fails=1"), ("backend-1", 9002, "down")],
                       9000, "/tmp/x")
    assert "listen 127.0.0.1:9000" in cfg and "server 127.0.0.1:9002 down;  # backend-1" in cfg
    assert all(f"        {line}\n" in cfg for line in lines)


@pytest.mark.parametrize("spec, says", [
    ("cookie-sticky", "--balancer 'cookie-sticky': no open-source nginx equivalent (its sticky "
                      "cookie is NGINX Plus only); --lb nginx takes round-robin, "
                      "least-connections, random, p2c, ip-hash-sticky, key-hash (--lb haproxy "
                      "takes more)"),
    ("bounded-load", "no open-source nginx equivalent (nginx has no bounded-load hashing)"),
    ("p2c:d=3", "nginx's random picks two (random two least_conn), not d=3"),
    ("key-hash:keyed=maglev", "not keyed=maglev"),
])
def test_balancer_nginx_lacks_is_one_line_exit_2(spec: str, says: str,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(RoutebenchError, match="nginx"):
        upstream_lines(spec)
    assert main(["live", "--lb", "nginx", "--balancer", spec, "--no-json", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says in err


def test_missing_nginx_names_the_debian_package(monkeypatch: pytest.MonkeyPatch,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    import routebench.harness.live.runner as runner

    monkeypatch.setattr(runner, "find_binary", lambda name: None)
    assert main(["live", "--lb", "nginx", "--no-json", "-q"]) == 2
    assert capsys.readouterr().err.strip() == (
        "routebench live: error: nginx not found: install the Debian package nginx-light "
        "(apt-get install nginx-light)")


# -- the story on real nginx -------------------------------------------------------------
@pytest.mark.servers
@pytest.mark.parametrize("store", ["local", "redis"])
def test_nginx_crash_failover(store: str, tmp_path: Path) -> None:
    """hash $remote_addr pins a client; when its backend dies nginx rehashes it to
    another: with local state every pinned session loses it, with Redis none does.
    nginx retries a request in flight on the dead backend elsewhere (GET), where
    HAProxy answers 502, so hardly any request fails."""
    require("nginx", *(["redis-server"] if store == "redis" else []))
    sc = LiveScenario(requests=2000, rate=1000, clients=300, store=store,
                      events=(Event("crash", "backend-1", 1.0),))
    r = run_live(sc, "ip-hash-sticky", seed=1, out_dir=tmp_path, lb="nginx")
    m = r.metrics
    assert r.label == "ip-hash-sticky@nginx" and r.balancer_config == ["hash $remote_addr;"]
    assert m["crash_pinned"] >= 5
    if store == "local":
        # every pinned session loses its state, but for one whose response left the
        # backend just before the kill: the client counts it as the first answer after
        # the crash (a loaded machine makes such a race likelier)
        assert m["crash_lost"] >= m["crash_pinned"] - 2 and m["crash_lost"] >= 5
        assert m["crash_others_lost"] == 0
    else:
        assert m["crash_lost"] == 0 and m["sessions_lost"] == 0
    assert m["failed"] <= 5 and m["completed"] + m["failed"] == m["requests"]
    assert r.counts[1] < max(r.counts) and m["cpu_balancer_s"] > 0
    assert "hash $remote_addr;" in (tmp_path / "nginx-ip-hash-sticky.conf").read_text()


@pytest.mark.servers
@pytest.mark.parametrize("spec, one_backend", [("ip-hash-sticky", True), ("p2c", False)])
def test_nginx_nat_group(spec: str, one_backend: bool, tmp_path: Path) -> None:
    require("nginx")
    sc = LiveScenario(requests=1500, rate=1000, clients=100, nat=(50,))
    g = run_live(sc, spec, seed=2, out_dir=tmp_path, lb="nginx").nat_groups[0]
    assert g["size"] == 50 and g["requests"] > 300
    if one_backend:
        assert g["backends_used"] == 1 and g["top_backend_share"] == 1.0
    else:
        assert g["backends_used"] == 4 and g["top_backend_share"] < 0.5


@pytest.mark.servers
def test_nginx_drain_and_join_by_reload(tmp_path: Path) -> None:
    """No runtime API in open-source nginx: a drain marks the server down, a join adds
    it, each a reload; the drained one takes no request after, the joined one some."""
    require("nginx")
    sc = LiveScenario(requests=None, duration=3.0, rate=500, clients=200,
                      session_length="fixed:value=10", think="fixed:value=0.05",
                      events=(Event("drain", "backend-1", 0.5), Event("join", "backend-4", 1.0)))
    r = run_live(sc, "round-robin", seed=4, out_dir=tmp_path, lb="nginx")
    total = sum(r.counts)
    assert [e["event"] for e in r.events] == ["drain", "join"]
    assert r.counts[1] < 0.25 * 0.5 / 3 * total * 1.6  # its share of the first 0.5 s only
    assert 0.06 * total < r.counts[4] < 0.25 * total
    cfg = (tmp_path / "nginx-round-robin.conf").read_text()
    assert "fail_timeout=1s down;  # backend-1" in cfg and "# backend-4" in cfg


# -- the user's own configuration ---------------------------------------------------------
HAPROXY_CFG = """\
defaults
    mode http
    balance uri
    hash-type consistent
    timeout connect 1s
    timeout client 10s
    timeout server 10s

frontend www
    bind 10.1.1.1:80
    default_backend app

backend app
    cookie SRV insert indirect nocache
    option redispatch
    default-server check inter 200ms fall 1 rise 1
    server web1 10.0.0.1:8080 cookie w1
    server web2 10.0.0.2:8080 cookie w2
    server web3 10.0.0.3:8080 cookie w3
"""

NGINX_CONF = """\
http {
    upstream other { server 10.0.0.9:80; }
    upstream app {
        hash $http_x_session consistent;
        server 10.0.0.1:8080 weight=2 max_fails=1 fail_timeout=1s;
        server 10.0.0.2:8080 max_fails=1 fail_timeout=1s;
        server 10.0.0.3:8080 max_fails=1 fail_timeout=1s;
    }
}
"""


@pytest.mark.servers
def test_lb_config_haproxy_runs_the_users_backend(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    require("haproxy")
    (tmp_path / "haproxy.cfg").write_text(HAPROXY_CFG)
    out = tmp_path / "out"
    assert main(["live", "--lb-config", f"{tmp_path}/haproxy.cfg:app", "--requests", "1200",
                 "--clients", "200", "--crash", "backend-1@0.8", "--out", str(out), "--json",
                 str(tmp_path / "r.json"), "-q"]) == 0
    rec = json.loads((tmp_path / "r.json").read_text())["results"][0]
    assert rec["strategy"] == "lb-config" and rec["label"].endswith("haproxy.cfg:app@haproxy")
    assert rec["nodes"] == 3 and len(rec["counts"]) == 3  # as many backends as its servers
    assert rec["balancer_config"][:3] == ["balance uri", "hash-type consistent", "mode http"]
    m = rec["metrics"]
    # the user's cookie (SRV) pins sessions: those on the killed backend lose their state,
    # the others keep it (one or two may be counted pinned yet answered: a response
    # already on its way through HAProxy when the backend was killed)
    assert m["crash_pinned"] >= 3 and m["crash_lost"] >= m["crash_pinned"] - 2
    assert m["crash_others_lost"] == 0 and m["repins"] > 0  # HAProxy set new SRV cookies
    cfg = Path(rec["config_file"]).read_text()
    assert cfg.count("cookie SRV insert indirect nocache") == 1
    assert "server backend-2 127.0.0.1:" in cfg and "cookie w3  # was web3 10.0.0.3:8080" in cfg
    assert "10.1.1.1" not in cfg and "default_backend app" in cfg
    assert "| " in capsys.readouterr().out


@pytest.mark.servers
def test_lb_config_nginx_runs_the_users_upstream(tmp_path: Path) -> None:
    require("nginx")
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    sc = LiveScenario(backends=3, requests=1200, rate=800, clients=200)
    r = run_live(sc, "", seed=5, out_dir=tmp_path, lb_config=f"{tmp_path}/nginx.conf:app")
    assert r.strategy == "lb-config" and r.label.endswith("nginx.conf:app@nginx")
    assert r.balancer_config == ["hash $http_x_session consistent;"]
    m = r.metrics
    assert m["failed"] == 0 and m["sessions_lost"] == 0  # hashing on the session pins it
    assert r.counts[0] > r.counts[2]  # weight=2
    cfg = Path(r.config_file).read_text()
    assert "weight=2 max_fails=1 fail_timeout=1s;  # backend-0" in cfg and "10.0.0" not in cfg


@pytest.mark.parametrize("argv, says", [
    (["--lb-config", "{d}/nginx.conf"], "2 http upstreams; name one (FILE:NAME) of other, app"),
    (["--lb-config", "{d}/nginx.conf:nope"], "no http upstream 'nope'; upstreams: other, app"),
    (["--lb-config", "{d}/nginx.conf:app", "--backends", "4"],
     "--lb-config {d}/nginx.conf:app: 3 servers (10.0.0.1:8080, 10.0.0.2:8080, "
     "10.0.0.3:8080), --backends 4"),
    (["--lb-config", "{d}/haproxy.cfg:app", "--balancer", "p2c"],
     "--lb-config and --balancer cannot be combined"),
    (["--lb-config", "{d}/nothing.cfg"], "cannot read"),
])
def test_lb_config_bad_input_is_one_line(argv: list[str], says: str, tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    (tmp_path / "haproxy.cfg").write_text(HAPROXY_CFG)
    args = [a.format(d=tmp_path) for a in argv]
    assert main(["live", *args, "--no-json", "-q", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and says.format(d=tmp_path) in err


@pytest.mark.servers
def test_lb_config_haproxy_rejects_shows_haproxys_message(tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    require("haproxy")
    (tmp_path / "haproxy.cfg").write_text(HAPROXY_CFG.replace("option redispatch",
                                                              "option no-such-option"))
    assert main(["live", "--lb-config", f"{tmp_path}/haproxy.cfg", "--out",
                 str(tmp_path / "o"), "--no-json", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "HAProxy rejects" in err
    assert "unknown option 'no-such-option'" in err
    rows = json.loads((tmp_path / "o" / "processes.json").read_text())
    assert {r["name"] for r in rows} == {"backend-0", "backend-1", "backend-2"}
    for row in rows:
        stat = Path(f"/proc/{row['pid']}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"


# -- report and compare on live JSON ------------------------------------------------------
def _live_report(path: Path, runs: list[tuple[str, str, float]]) -> Path:
    """A live report of (label, software, p99 s) records, as `routebench live` writes."""
    from routebench.records import LiveRecord, make_report
    from routebench.reports import write_json

    recs = []
    for label, software, p99 in runs:
        m = {"requests": 2000, "completed": 1990, "failed": 10, "failed_pct": 0.5,
             "sessions": 200, "sessions_lost": 4, "sessions_lost_pct": 2.0,
             "lost_crash_pct": 2.0, "lost_reroute_pct": 0.0, "lost_ip_change_pct": 0.0,
             "lost_ttl_pct": 0.0, "crash_pinned": 4, "crash_lost": 4, "crash_lost_pct": 100.0,
             "latency_p50": 0.005, "latency_p99": p99, "latency_p999": 0.04,
             "served_imbalance_avg": 1.2, "served_imbalance_worst": 1.9, "throughput": 950.0,
             "startup_s": 0.61, "cpu_client_pct": 8.0, "cpu_balancer_pct": 3.0,
             "cpu_backends_pct": 20.0, "cpu_store_pct": 4.0}
        name = label.split("@")[0]
        recs.append(LiveRecord(strategy=name, params={}, label=label, nodes=4, metrics=m,
                               scenario="crash-failover", store="redis",
                               config_file=f"out/{software}-{name}.cfg"))
    write_json(str(path), make_report("live", recs, {"seed": 0}))
    return path


def test_compare_live_pairs_by_software_and_shows_labels(tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]
                                                         ) -> None:
    base = _live_report(tmp_path / "a.json", [("p2c", "haproxy", 0.020),
                                              ("p2c@nginx", "nginx", 0.030)])
    new = _live_report(tmp_path / "b.json", [("p2c", "haproxy", 0.025),
                                             ("p2c@nginx", "nginx", 0.030)])
    assert main(["compare", str(base), str(new), "--no-config"]) == 0
    out = capsys.readouterr().out
    # HAProxy's p2c is compared with HAProxy's, nginx's with nginx's: only one p99 moved
    assert "2 results compared (0 only in base, 0 only in new); 1 metric values changed" in out
    row = next(ln for ln in out.splitlines() if "latency_p99" in ln)
    assert row.split("|")[1].strip() == "p2c" and "0.02" in row and "0.025" in row
    only = _live_report(tmp_path / "c.json", [("p2c@nginx", "nginx", 0.030)])
    main(["compare", str(base), str(only), "--no-config"])
    assert "| p2c " in capsys.readouterr().out.split("only in base")[0]


def test_report_on_live_json_shows_the_live_table(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    src = _live_report(tmp_path / "live.json", [("cookie-sticky", "haproxy", 0.02),
                                                ("ip-hash-sticky@nginx", "nginx", 0.03)])
    assert main(["report", str(src), "-o", str(tmp_path / "rep"), "-q"]) == 0
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "crash: lost of pinned" in md and "4/4 (100%)" in md  # simulate's columns
    row = next(ln for ln in md.splitlines() if ln.startswith("| ip-hash-sticky@nginx")
               and "out/" in ln)
    cells = [c.strip() for c in row.split("|")[1:-1]]
    assert cells == ["ip-hash-sticky@nginx", "nginx", "redis", "2,000", "950", "0.61",
                     "8 / 3 / 20 / 4", "out/nginx-ip-hash-sticky.cfg"]
    assert "lost_reroute_pct" not in md  # not the every-metric dump


@pytest.mark.servers
def test_lb_config_nginx_rejects_shows_nginxs_message(tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str]
                                                      ) -> None:
    require("nginx")
    (tmp_path / "nginx.conf").write_text(NGINX_CONF.replace("$http_x_session",
                                                            "$no_such_variable"))
    assert main(["live", "--lb-config", f"{tmp_path}/nginx.conf:app", "--out",
                 str(tmp_path / "o"), "--no-json", "-q"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("routebench live: error: nginx rejects")
    assert err.endswith('nginx-nginx.conf_app.conf: unknown "no_such_variable" variable')
    rows = json.loads((tmp_path / "o" / "processes.json").read_text())
    assert {r["name"] for r in rows} == {"backend-0", "backend-1", "backend-2"}
    for row in rows:
        stat = Path(f"/proc/{row['pid']}/stat")
        assert not stat.exists() or stat.read_text().rsplit(")", 1)[1].split()[0] == "Z"
