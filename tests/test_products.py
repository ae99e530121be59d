"""The product models (nginx, HAProxy, Envoy): golden vectors, the compiled lookups
against plain-Python statements of the products' rules, key handling, and the
configuration reader's errors. The real servers are in test_products_real.py.
"""

from __future__ import annotations

import socket
import zlib

import numpy as np
import pytest

import routebench
from routebench import RoutebenchError
from routebench.lbconfig import edit_remap, read_lb_config
from routebench.lbconfig._keys import haproxy_header, haproxy_uri, haproxy_url_param, nginx_arg
from routebench.strategies import set_memory_limit
from routebench.strategies.haproxy import assign_ids, full_hash, gen_hash, haproxy_hasher
from routebench.strategies.nginx import chash_points, split_server
from routebench.testing import random_keys

U64 = np.uint64
KEYS = random_keys(4000, seed=11)


def _route(s, digests):
    return [s.nodes[i] for i in s.lookup_many(np.asarray(digests, dtype=U64))]


# -- Envoy: the host choices in Envoy's own tests ------------------------------------
# envoyproxy/envoy test/extensions/load_balancing_policies/ring_hash/ring_hash_lb_test.cc
# (formerly test/common/upstream/ring_hash_lb_test.cc): the hash a test passes to
# chooseHost() and the index of the host it expects.
RING_HOSTS = [f"127.0.0.1:{p}" for p in range(90, 96)]
RING_GOLDEN = [
    # TEST_P(RingHashLoadBalancerTest, Basic): minimum_ring_size 12, xxHash
    ("Basic", RING_HOSTS, None, {"min_ring_size": 12},
     [(0, 4), (2**64 - 1, 4), (3551244743356806947, 5), (3551244743356806948, 3),
      (16117243373044804880, 0)]),
    # TEST_P(RingHashLoadBalancerTest, BasicWithMurmur2): ports 80-85, MURMUR_HASH_2
    ("BasicWithMurmur2", [f"127.0.0.1:{p}" for p in range(80, 86)], None,
     {"min_ring_size": 12, "hash": "murmur2"},
     [(0, 5), (2**64 - 1, 5), (1358027074129602068, 5), (1358027074129602069, 3),
      (10150910876324007730, 2)]),
    # TEST_P(RingHashLoadBalancerTest, BasicWithHostname): use_hostname_for_hashing, hosts
    # named "90".."95"
    ("BasicWithHostname", [str(p) for p in range(90, 96)], None, {"min_ring_size": 12},
     [(0, 5), (2**64 - 1, 5), (7225015537174310577, 2), (6803900775736438537, 3)]),
    # TEST_P(RingHashLoadBalancerTest, UnevenHosts): minimum_ring_size 3 -> 4 points
    ("UnevenHosts", ["127.0.0.1:80", "127.0.0.1:81"], None, {"min_ring_size": 3}, [(0, 0)]),
    ("UnevenHosts (second host set)", ["127.0.0.1:81", "127.0.0.1:82"], None,
     {"min_ring_size": 3}, [(0, 0)]),
    # TEST_P(RingHashLoadBalancerTest, HostWeightedTinyRing): weights 1, 2, 3; ring of 6
    ("HostWeightedTinyRing", ["127.0.0.1:90", "127.0.0.1:91", "127.0.0.1:92"], [1, 2, 3],
     {"min_ring_size": 6, "max_ring_size": 6},
     [(928266305478181108, 2), (4443673547860492590, 2), (5583722120771150861, 1),
      (6311230543546372928, 1), (13444792449719432967, 2), (16117243373044804889, 0)]),
]


@pytest.mark.parametrize("test,hosts,weights,params,expected", RING_GOLDEN,
                         ids=[g[0] for g in RING_GOLDEN])
def test_envoy_ringhash_matches_envoys_tests(test, hosts, weights, params, expected):
    nodes = hosts if weights is None else dict(zip(hosts, weights))
    s = routebench.create("envoy-ringhash", nodes, **params)
    got = _route(s, [h for h, _ in expected])
    assert got == [hosts[i] for _, i in expected]
    assert [s.lookup(b"")] == [s.nodes[int(s.lookup_many(s.digest([b""]))[0])]]


def test_envoy_ring_positions_match_envoys_comments():
    # ring_hash_lb_test.cc, Basic: the ring positions the test lists for :94, :92, :90
    s = routebench.create("envoy-ringhash", RING_HOSTS, min_ring_size=12)
    pts = s.points.tolist()
    assert pts[:3] == [833437586790550860, 928266305478181108, 1033482794131418490]
    assert len(pts) == 12


# envoyproxy/envoy test/extensions/load_balancing_policies/maglev/maglev_lb_test.cc
# (formerly test/common/upstream/maglev_lb_test.cc): expected_assignments for hashes
# 0, 1, 2, ... (the table, slot by slot).
MAGLEV_GOLDEN = [
    # TEST_F(MaglevLoadBalancerTest, Basic): table size 7
    ("Basic", RING_HOSTS, None, 7, [2, 4, 0, 1, 5, 0, 3]),
    # TEST_F(MaglevLoadBalancerTest, BasicWithHostName): hosts named "90".."95"
    ("BasicWithHostName", [str(p) for p in range(90, 96)], None, 7, [2, 5, 0, 3, 4, 1, 0]),
    # TEST_F(MaglevLoadBalancerTest, Weighted): weights 1 and 2, table size 17
    ("Weighted", ["127.0.0.1:90", "127.0.0.1:91"], [1, 2], 17,
     [1, 0, 0, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1, 0, 1, 0, 1]),
    # TEST_F(MaglevLoadBalancerTest, SingleHost)
    ("SingleHost", ["127.0.0.1:90"], None, 7, [0] * 7),
]


@pytest.mark.parametrize("test,hosts,weights,m,expected", MAGLEV_GOLDEN,
                         ids=[g[0] for g in MAGLEV_GOLDEN])
def test_envoy_maglev_matches_envoys_tests(test, hosts, weights, m, expected):
    nodes = hosts if weights is None else dict(zip(hosts, weights))
    s = routebench.create("envoy-maglev", nodes, table_size=m)
    n = len(expected)
    assert _route(s, range(3 * n)) == [hosts[expected[i % n]] for i in range(3 * n)]
    # BasicStability: the table does not depend on the order hosts are listed in
    if test == "Basic":
        t = routebench.create("envoy-maglev", list(reversed(hosts)), table_size=m)
        assert _route(t, range(n)) == _route(s, range(n))


def test_envoy_keys_are_xxh64_and_sizes_are_checked():
    s = routebench.create("envoy-maglev", 3)
    assert s.digest(["user-1"]).tolist() == [routebench.create("ring", 3, hash="xxh64")
                                             .digest(["user-1"]).tolist()[0]]
    with pytest.raises(RoutebenchError, match=r"table_size.*65536 is not prime; nearest "
                                              r"primes: 65521, 65537"):
        routebench.create("envoy-maglev", 3, table_size=65536)
    with pytest.raises(RoutebenchError, match=r"minimum_ring_size \(20\) > maximum_ring_size "
                                              r"\(10\)"):
        routebench.create("envoy-ringhash", 3, min_ring_size=20, max_ring_size=10)


# -- nginx: the compiled lookups against the rules, written out in Python ---------------
def _walk(weights, w):
    for i, x in enumerate(weights):
        if w < x:
            return i
        w -= x
    raise AssertionError


def _round_robin_stand_in(first: int, down) -> tuple[int, int]:
    """After 21 hashes on down servers nginx goes round robin (``++tries > 20``); the
    model's stand-in is the next server that is up after the first one tried."""
    n = len(down)
    return next((first + k) % n for k in range(1, n + 1) if not down[(first + k) % n]), 21


def nginx_hash_ref(key: bytes, weights, down, limit=21):
    total, acc, first = sum(weights), 0, 0
    for r in range(limit):
        c = zlib.crc32((str(r).encode() if r else b"") + key)
        acc = (acc + ((c >> 16) & 0x7FFF)) & 0xFFFFFFFF
        p = _walk(weights, acc % total)
        first = p if r == 0 else first
        if not down[p]:
            return p, r
    return _round_robin_stand_in(first, down)


def nginx_iphash_ref(addr: bytes, weights, down, limit=21):
    total, h, first = sum(weights), 89, 0
    for r in range(limit):
        for b in addr:
            h = (h * 113 + b) % 6271
        p = _walk(weights, h % total)
        first = p if r == 0 else first
        if not down[p]:
            return p, r
    return _round_robin_stand_in(first, down)


def nginx_chash_ref(key: bytes, servers, weights, down):
    pts = []
    for i, (s, w) in enumerate(zip(servers, weights)):
        pts += [(int(p), i) for p in chash_points(s, w)]
    pts.sort(key=lambda x: x[0])  # stable: equal points keep server order
    ring = [p for j, p in enumerate(pts) if j == 0 or p[0] != pts[j - 1][0]]
    h = zlib.crc32(key)
    i = next((j for j, p in enumerate(ring) if p[0] >= h), len(ring))
    t = 0
    while down[ring[(i + t) % len(ring)][1]]:
        t += 1
    return ring[(i + t) % len(ring)][1], t


SERVERS = [f"10.1.{i}.7:{8000 + i}" for i in range(9)]
WEIGHTS = [1, 3, 1, 2, 1, 5, 1, 1, 2]


@pytest.mark.parametrize("down", [(), (1,), (1, 5), (0, 1, 2, 3, 4, 5, 7, 8)])
def test_nginx_hash_kernel_follows_the_rules(down):
    s = routebench.create("nginx-hash", dict(zip(SERVERS, WEIGHTS)),
                          down=",".join(SERVERS[i] for i in down))
    mask = [i in down for i in range(len(SERVERS))]
    d = s.digest(KEYS[:1500])
    got, tries = s.lookup_many(d).tolist(), s.tries(d).tolist()
    want = [nginx_hash_ref(k, WEIGHTS, mask) for k in KEYS[:1500]]
    assert got == [p for p, _ in want] and tries == [t for _, t in want]
    if len(down) > 3:
        assert max(tries) > 20  # nginx goes round robin for these (the model: the next up)


@pytest.mark.parametrize("down", [(), (1,), (0, 2, 3, 4, 6, 7, 8)])
def test_nginx_iphash_kernel_follows_the_rules(down):
    s = routebench.create("nginx-iphash", dict(zip(SERVERS, WEIGHTS)),
                          down=",".join(SERVERS[i] for i in down))
    mask = [i in down for i in range(len(SERVERS))]
    rng = np.random.default_rng(3)
    v4 = [socket.inet_ntop(socket.AF_INET, bytes(rng.integers(0, 256, 4, dtype=np.uint8)))
          for _ in range(800)]
    v6 = [socket.inet_ntop(socket.AF_INET6, bytes(rng.integers(0, 256, 16, dtype=np.uint8)))
          for _ in range(400)]
    got = s.lookup_many(s.digest(v4 + v6)).tolist()
    want = [nginx_iphash_ref(socket.inet_pton(socket.AF_INET, a)[:3], WEIGHTS, mask)[0]
            for a in v4] + [nginx_iphash_ref(socket.inet_pton(socket.AF_INET6, a), WEIGHTS,
                                             mask)[0] for a in v6]
    assert got == want
    # ip_hash hashes the first three bytes of an IPv4 address only
    assert s.lookup("192.0.2.1") == s.lookup("192.0.2.254")


@pytest.mark.parametrize("down", [(), (3,), (0, 1, 2, 4, 5, 6, 7)])
def test_nginx_chash_kernel_follows_the_rules(down):
    s = routebench.create("nginx-chash", dict(zip(SERVERS, WEIGHTS)),
                          down=",".join(SERVERS[i] for i in down))
    mask = [i in down for i in range(len(SERVERS))]
    d = s.digest(KEYS[:600])
    want = [nginx_chash_ref(k, SERVERS, WEIGHTS, mask) for k in KEYS[:600]]
    assert s.lookup_many(d).tolist() == [p for p, _ in want]
    assert s.tries(d).tolist() == [t for _, t in want]
    assert [s.nodes.index(s.lookup(k)) for k in KEYS[:50]] == [p for p, _ in want[:50]]


def test_nginx_chash_points():
    # 160 points a weight unit; point j is CRC-32 of HOST \0 PORT and point j-1's bytes
    p = chash_points("backend.example:8080", 2)
    assert p.size == 320
    assert int(p[0]) == zlib.crc32(b"backend.example\x008080" + bytes(4))
    assert int(p[1]) == zlib.crc32(b"backend.example\x008080" + int(p[0]).to_bytes(4, "little"))
    assert split_server("10.0.0.1:80") == (b"10.0.0.1", b"80")
    assert split_server("unix:/run/app.sock") == (b"/run/app.sock", b"")
    assert split_server("[::1]:8080") == (b"[::1]", b"8080")
    assert split_server("[::1]") == (b"[::1]", b"")
    assert split_server("backend:") == (b"backend", b"")
    s = routebench.create("nginx-chash", {"a:1": 2, "b:2": 1})
    assert s.points.size <= 480 and np.all(np.diff(s.points.astype(np.int64)) > 0)


def test_nginx_weights_and_down_are_checked():
    with pytest.raises(RoutebenchError, match=r"weight 1.5 is not a whole number; nginx "
                                              r"weight= takes integers of 1 or more"):
        routebench.create("nginx-chash", {"a:1": 1.5})
    with pytest.raises(RoutebenchError, match=r"down='zz': not a node; nodes: a:1, b:1"):
        routebench.create("nginx-hash", ["a:1", "b:1"], down="zz")
    with pytest.raises(RoutebenchError, match=r"every node is marked down"):
        routebench.create("nginx-hash", ["a:1", "b:1"], down="a:1,b:1")
    set_memory_limit(10 << 20)  # the ring's memory counts against routebench's limit
    try:
        with pytest.raises(RoutebenchError, match=r"'nginx-chash' over 1 nodes .*would take "
                                                  r"about .* above the limit"):
            routebench.create("nginx-chash", {"a:1": 1000})
    finally:
        set_memory_limit(None)
    s = routebench.create("nginx-hash", ["a:1", "b:1", "c:1"], down="b:1")
    s.remove("b:1")
    assert s.down == () and s.config["down"] == ""


def test_nginx_keys():
    s = routebench.create("nginx-hash", 3)
    assert int(s.digest([b"/x?y=1"])[0]) == zlib.crc32(b"/x?y=1") | (6 << 32)
    ip = routebench.create("nginx-iphash", 3)
    # a key that is not an address stands for an IPv4 client (spread, reproducible)
    assert ip.digest(["user:1"]).tolist() == ip.digest([b"user:1"]).tolist()


# -- HAProxy --------------------------------------------------------------------------
def test_haproxy_hash_functions():
    keys = [b"", b"a", b"/index.html", bytes(range(256)), b"x" * 1000, *KEYS[:300]]
    for fn in ("sdbm", "djb2", "wt6", "crc32"):
        for av in (False, True):
            h = haproxy_hasher(fn, av)
            batch = h.many(keys).tolist()
            one = [h.fn(k) for k in keys]
            assert batch == one, (fn, av)
            assert one == [full_hash(gen_hash(fn, k)) if av else gen_hash(fn, k) for k in keys]
    assert gen_hash("sdbm", b"") == 0 and gen_hash("djb2", b"") == 5381
    assert gen_hash("djb2", b"a") == 5381 * 33 + 97
    assert gen_hash("sdbm", b"ab") == 98 + (97 << 6) + (97 << 16) - 97
    assert gen_hash("crc32", b"abc") == zlib.crc32(b"abc")
    # balance source: the address's 32-bit words XORed, not the hash function
    src = haproxy_hasher("source", False)
    assert src.fn(b"10.1.2.3") == 0x0A010203
    assert src.fn(b"::1") == 1 and src.fn(b"1::") == 0x00010000


def haproxy_nearest_ref(h, ids, weights):
    pts = sorted((full_hash(i * 4096 + k), n) for n, (i, w) in enumerate(zip(ids, weights))
                 for k in range(16 * w))
    keys = [p for p, _ in pts]
    nx = next((j for j, p in enumerate(keys) if p >= h), 0)
    pv = nx - 1 if nx else len(keys) - 1
    if (h - keys[pv]) % 2**32 <= (keys[nx] - h) % 2**32:
        return pts[pv][1]
    return pts[nx][1]


def test_haproxy_chash_follows_the_rules():
    w = [1, 3, 2, 1, 4]
    s = routebench.create("haproxy-chash", dict(zip("abcde", w)), ids="3,7,1,20,5")
    assert s.ids == (3, 7, 1, 20, 5) and s.points.size == 16 * sum(w)
    d = s.digest(KEYS[:800])
    assert s.lookup_many(d).tolist() == [haproxy_nearest_ref(int(h), s.ids, w) for h in d]
    # removal keeps the other ids (runtime `del server`); a new node takes a free id
    s.remove("b")
    assert s.ids == (3, 1, 20, 5)
    s.add("f", 2)
    assert s.ids == (3, 1, 20, 5, 6)
    with pytest.raises(RoutebenchError, match=r"3 ids for 2 nodes"):
        routebench.create("haproxy-chash", ["a", "b"], ids="1,2,3")
    with pytest.raises(RoutebenchError, match=r"repeats an id"):
        routebench.create("haproxy-chash", ["a", "b"], ids="1,1")
    with pytest.raises(RoutebenchError, match=r"weight 300 is above 256"):
        routebench.create("haproxy-map", {"a": 300})


def test_haproxy_avalanche_defaults_follow_hash_type():
    assert routebench.create("haproxy-chash", 2).config["avalanche"] is True
    assert routebench.create("haproxy-chash", 2, hash="sdbm").config["avalanche"] is False
    assert routebench.create("haproxy-chash", 2, hash="djb2",
                             avalanche=True).config["avalanche"] is True
    assert routebench.create("haproxy-map", 2).config["avalanche"] is False


def test_haproxy_map_table():
    # recalc_server_map: scores step by the weights, the first best server wins a slot
    s = routebench.create("haproxy-map", {"a": 1, "b": 2})
    assert [s.nodes[i] for i in s.table] == ["a", "b", "b"]
    t = routebench.create("haproxy-map", list("abc"))
    assert [t.nodes[i] for i in t.table] == list("abc")
    # scaling every weight alike changes nothing
    s2 = routebench.create("haproxy-map", {"a": 4, "b": 8})
    d = s.digest(KEYS[:500])
    assert s.lookup_many(d).tolist() == s2.lookup_many(d).tolist()


def test_haproxy_balance_slots():
    s = routebench.create("haproxy-chash", {"a": 1, "b": 3}, hash_balance_factor=150)
    # 150 slots for 64 eweight units: 2 each, and 22 more shared by cumulative weight
    assert s.balance_slots(99) == {"a": 37, "b": 113}
    with pytest.raises(RoutebenchError, match=r"must be 0 or greater than 100"):
        routebench.create("haproxy-chash", 2, hash_balance_factor=50)


def test_haproxy_ids_follow_haproxys_numbering():
    assert assign_ids([None, None, None]) == [1, 2, 3]
    # the counter moves on at every server, explicit ones included
    assert assign_ids([None, 1, None]) == [2, 1, 4]
    assert assign_ids([None, 7, None, None]) == [1, 7, 3, 4]
    assert assign_ids([2, None, None]) == [2, 3, 4]


def test_haproxy_keys():
    assert haproxy_uri(b"/a/b/c?x=1") == b"/a/b/c"
    assert haproxy_uri(b"/a/b/c?x=1", whole=True) == b"/a/b/c?x=1"
    assert haproxy_uri(b"/a/b/c?x=1", depth=2) == b"/a/b"
    assert haproxy_uri(b"/a/b/c?x=1", length=4) == b"/a/b"
    assert haproxy_uri(b"http://h:80/p?q", path_only=True) == b"/p"
    assert haproxy_uri(b"http://h:80/p?q") == b"http://h:80/p"
    assert haproxy_header(b"  v1 , v2") == b"v1"
    assert haproxy_header(b"   ") is None
    assert haproxy_header(b"www.example.com", use_domain_only=True) == b"example"
    assert haproxy_header(b"example.com", use_domain_only=True) == b"example"
    assert haproxy_header(b"localhost", use_domain_only=True) == b"localhost"
    # a trailing '.' (as when HAProxy's walk, which starts one byte past the value,
    # meets a '.' there: see test_products_real.py) hashes the last label instead
    assert haproxy_header(b"www.site90015.example", use_domain_only=True) == b"site90015"
    assert haproxy_header(b"www.site90015.example.", use_domain_only=True) == b"example"
    assert haproxy_url_param(b"/p?a=1&user=bob&b=2", b"user") == b"bob"
    assert haproxy_url_param(b"/p?username=x&user=y", b"user") == b"y"
    assert haproxy_url_param(b"/p?a=1", b"user") is None
    assert nginx_arg(b"/p?A=1&User=bob", b"user") == b"bob"
    assert nginx_arg(b"/p?xuser=1", b"user") == b""


# -- the configuration reader -----------------------------------------------------------
NGINX_CONF = """\
events {}
http {
    upstream app {
        hash $request_uri consistent;
        server 10.0.0.1:80 weight=2;
        server 10.0.0.2:80;
        server 10.0.0.3:80 down;
    }
    upstream plain {
        hash "user-$http_x_user";
        server 10.0.0.1:80;
        server 10.0.0.2:80 weight=3;
    }
    upstream clients {
        ip_hash;
        server 10.0.0.1:80;
        server 10.0.0.2:80;
    }
}
"""

HAPROXY_CONF = """\
global
    maxconn 100
defaults
    mode http
    balance uri
    hash-type consistent
backend app
    server s1 10.0.0.1:80 weight 2
    server s2 10.0.0.2:80
    server s3 10.0.0.3:80
    server s4 10.0.0.4:80 disabled
backend pinned
    server s1 10.0.0.1:80 id 10
    server s2 10.0.0.2:80 id 20
    server s3 10.0.0.3:80 id 30
backend users
    balance hdr(X-User)
    hash-type map-based crc32
    server a 10.0.0.1:80
    server b 10.0.0.2:80 weight 3
    server c 10.0.0.3:80 weight 0
backend clients
    balance source
    server a 10.0.0.1:80
    server b 10.0.0.2:80 backup
"""


@pytest.fixture
def confs(tmp_path):
    (tmp_path / "nginx.conf").write_text(NGINX_CONF)
    (tmp_path / "haproxy.cfg").write_text(HAPROXY_CONF)
    return tmp_path


def test_read_nginx(confs):
    cfg = read_lb_config(confs / "nginx.conf", "app")
    assert (cfg.product, cfg.strategy_name, cfg.key_kind) == ("nginx", "nginx-chash", "uri")
    assert cfg.nodes == {"10.0.0.1:80": 2, "10.0.0.2:80": 1, "10.0.0.3:80": 1}
    assert [s.state for s in cfg.servers] == ["up", "up", "down"]
    assert cfg.strategy.down == ("10.0.0.3:80",)
    # $request_uri keeps the query string
    assert cfg.key("/a?b=1") == b"/a?b=1"
    assert cfg.route(["/a?b=1"]) == [cfg.strategy.lookup("/a?b=1")]
    plain = read_lb_config(confs / "nginx.conf", "plain")
    assert (plain.strategy_name, plain.key_kind, plain.key_name) == ("nginx-hash", "header",
                                                                     "x-user")
    assert plain.key(" bob ") == b"user-bob"
    ip = read_lb_config(confs / "nginx.conf", "clients")
    assert ip.key("192.0.2.7") == bytes([192, 0, 2]) and len(ip.key("2001:db8::1")) == 16
    with pytest.raises(RoutebenchError, match=r"not an IPv4 or IPv6 address"):
        ip.route(["not-an-ip"])


def test_read_haproxy(confs):
    cfg = read_lb_config(confs / "haproxy.cfg", "app")
    assert (cfg.product, cfg.strategy_name) == ("haproxy", "haproxy-chash")
    assert dict(cfg.params) == {"hash": "sdbm", "avalanche": True}
    assert [s.id for s in cfg.servers] == [1, 2, 3, 4]
    assert [s.name for s in cfg.serving] == ["s1", "s2", "s3"]
    assert cfg.key("/a/b?c=1") == b"/a/b"  # balance uri stops at '?'
    users = read_lb_config(confs / "haproxy.cfg", "users")
    assert (users.strategy_name, users.key_kind, users.key_name) == ("haproxy-map", "header",
                                                                     "X-User")
    assert users.nodes == {"a": 1, "b": 3}  # weight 0 takes no traffic
    assert users.route(["", "x"])[0] is None  # an empty header: HAProxy balances round robin
    src = read_lb_config(confs / "haproxy.cfg", "clients")
    assert src.key("10.9.8.7") == bytes([10, 9, 8, 7])
    assert src.params["key"] == "source" and src.nodes == {"a": 1}


def test_edit_remap_delete_vs_down(confs):
    uris = [f"/k/{i}?v={i}" for i in range(6000)]
    rows = {(r.server, r.edit): r for r in edit_remap(read_lb_config(confs / "haproxy.cfg",
                                                                      "app"), uris)}
    # no explicit ids: deleting s2 renumbers s3 (3 -> 2), moving keys between s1 and s3;
    # disabling it keeps every id, so only its own keys move
    assert rows["s2", "delete"].collateral > 0.05
    assert rows["s2", "down"].collateral == 0 and rows["s2", "down"].moved == pytest.approx(
        rows["s2", "down"].on_server)
    assert rows["s3", "delete"].collateral == 0  # the last server: nothing renumbered
    pinned = {(r.server, r.edit): r for r in edit_remap(
        read_lb_config(confs / "haproxy.cfg", "pinned"), uris)}
    assert all(r.collateral == 0 for r in pinned.values())
    # nginx hash without consistent: deleting changes the modulus, marking down does not
    cfg = read_lb_config(confs / "nginx.conf", "plain")
    users = [f"u{i}" for i in range(6000)]
    plain = {(r.server, r.edit): r for r in edit_remap(cfg, users)}
    assert plain["10.0.0.1:80", "delete"].collateral == 0  # only one server is left
    app = read_lb_config(confs / "nginx.conf", "app")
    for r in edit_remap(app, uris):
        assert r.collateral == 0 and r.moved == pytest.approx(r.on_server)
    three = confs / "three.conf"
    three.write_text("upstream u { hash $request_uri; server a:1; server b:1; server c:1; }")
    r3 = {(r.server, r.edit): r for r in edit_remap(read_lb_config(three), uris)}
    assert r3["a:1", "delete"].collateral > 0.3 and r3["a:1", "down"].collateral == 0
    assert set(r3["a:1", "down"].as_dict()) >= {"server", "edit", "moved", "collateral"}


NGINX_ERRORS = [
    ("upstream u { hash $request_uri; server; }", r"x.conf:1: server: no address; accepted"),
    ("upstream u { hash $request_uri;\n server a:1 weight=0; }",
     r"x.conf:2: server a:1: invalid parameter \"weight=0\"; nginx accepts weight=N with N a "
     r"positive integer"),
    ("upstream u { hash $request_uri; server a:1 weight=x; }", r"invalid parameter \"weight=x\""),
    ("upstream u { hash $request_uri;\n server a:1;\n server a:1; }",
     r"x.conf:3: server a:1 is listed twice in upstream u \(first at line 2\)"),
    ("upstream u { hash $request_uri; server a:1 backup; }",
     r"balancing method does not support parameter \"backup\""),
    ("upstream u { hash $request_uri wrong; server a:1; }",
     r"hash: invalid parameter \"wrong\"; accepted: hash KEY \[consistent\]"),
    ("upstream u { least_conn; server a:1; }",
     r"upstream u balances by least_conn, not by a hash; accepted: hash KEY consistent"),
    ("upstream u { server a:1; }", r"balances by round robin"),
    ("upstream u { hash $request_uri consistent;\n server a:1 weight=100000;\n"
     " server b:1 weight=5000; }",
     r"x.conf:3: server b:1 weight=5000: upstream u reaches a total weight of 105,000, which "
     r"nginx's `hash ... consistent` turns into 16,800,000 ring points \(160 a weight unit\), "
     r"about 256 MiB of nginx memory; accepted: a total weight up to 104,857"),
    ("upstream u { hash $host$uri; server a:1; }", r"exactly one variable"),
    ("upstream u { hash $server_name; server a:1; }", r"variable \$server_name is not modelled"),
    ("upstream u { hash $request_uri; server a:1 resolve; }", r"invalid parameter \"resolve\""),
    ("upstream u { hash $request_uri; server a:1", r"unexpected end of file"),
]


@pytest.mark.parametrize("text,message", NGINX_ERRORS)
def test_nginx_config_errors(tmp_path, text, message):
    p = tmp_path / "x.conf"
    p.write_text(text)
    with pytest.raises(RoutebenchError, match=message) as e:
        read_lb_config(p).strategy  # noqa: B018 - building it is part of the check
    assert "\n" not in str(e.value)


HAPROXY_ERRORS = [
    ("backend b\n  balance uri\n  server s1\n", r"x.cfg:3: server s1: no address"),
    ("backend b\n  balance uri\n  server s1 weight 3\n", r"x.cfg:3: server s1: no address"),
    ("backend b\n  balance uri\n  server s1 1.1.1.1:80 weight 300\n",
     r"x.cfg:3: server s1: weight 300 is not within 0 and 256; accepted: 0 to 256"),
    ("backend b\n  balance uri\n  server s1 1.1.1.1:80 weight heavy\n",
     r"weight 'heavy' is not a whole number"),
    ("backend b\n  balance uri\n  server s1 1.1.1.1:80\n  server s1 1.1.1.2:80\n",
     r"x.cfg:4: server s1: another server named 's1' was already defined at line 3"),
    ("backend b\n  balance sticky\n  server s1 1.1.1.1:80\n",
     r"x.cfg:2: unknown balance algorithm 'sticky'; HAProxy accepts: roundrobin, static-rr"),
    ("defaults\n  mode http\nbackend b\n  balance roundrobin\n  server s1 1.1.1.1:80\n",
     r"x.cfg:4: backend b: balance roundrobin does not hash a request key; routebench models "
     r"balance uri, hdr\(name\), url_param and source"),
    ("backend b\n  hash-type ketama\n", r"x.cfg:2: hash-type 'ketama': HAProxy only supports"),
    ("backend b\n  hash-type consistent md5\n", r"only supports the 'sdbm', 'djb2', 'crc32'"),
    ("backend b\n  hash-balance-factor 50\n", r"must be 0 or greater than 100 \(got 50\)"),
    ("backend b\n  server s1 1.1.1.1:80 id 0\n", r"x.cfg:2: server s1: custom id has to be > 0"),
    ("backend b\n  server s1 1.1.1.1:80 id 4\n  server s2 1.1.1.2:80 id 4\n",
     r"x.cfg:3: server s2: custom id 4 already used at line 2 \('server s1'\)"),
    ("backend b\n  mode tcp\n  balance uri\n  server s1 1.1.1.1:80\n",
     r"balance uri needs mode http"),
    ("backend b\n  balance uri frobnicate\n", r"balance uri only accepts parameters 'len'"),
    ("defaults\n  mode http\nbackend b\n  balance uri\n  server s1 1.1.1.1:80 disabled\n",
     r"has no usable server"),
]


@pytest.mark.parametrize("text,message", HAPROXY_ERRORS)
def test_haproxy_config_errors(tmp_path, text, message):
    p = tmp_path / "x.cfg"
    p.write_text(text)
    with pytest.raises(RoutebenchError, match=message) as e:
        read_lb_config(p).strategy  # noqa: B018
    assert "\n" not in str(e.value)


def test_reader_finds_the_product_and_the_section(tmp_path, confs):
    p = tmp_path / "empty.conf"
    p.write_text("# nothing\n")
    with pytest.raises(RoutebenchError, match=r"neither an nginx configuration"):
        read_lb_config(p)
    with pytest.raises(RoutebenchError, match=r"3 upstreams \(app, plain, clients\); name"):
        read_lb_config(confs / "nginx.conf")
    with pytest.raises(RoutebenchError, match=r"no backend named 'nope'; backends: app, "
                                              r"pinned, users, clients"):
        read_lb_config(confs / "haproxy.cfg", "nope")
    inc = tmp_path / "inc"
    inc.mkdir()
    (inc / "u.conf").write_text("upstream u { hash $arg_id; server a:1; server b:2; }")
    (tmp_path / "main.conf").write_text("http {\n include inc/*.conf;\n}\n")
    cfg = read_lb_config(tmp_path / "main.conf")
    assert cfg.key_kind == "url_param" and cfg.key("/x?id=42") == b"42"
    assert cfg.route(["/x"]) == [None]  # an empty key: nginx balances round robin


def test_named_defaults_and_default_server(tmp_path):
    p = tmp_path / "h.cfg"
    p.write_text("defaults web\n  mode http\n  balance url_param sid\n  hash-type consistent "
                 "djb2 avalanche\n  default-server weight 7\n"
                 "defaults\n  mode tcp\n"
                 "backend b from web\n  server s1 1.1.1.1:1\n  server s2 1.1.1.2:1 weight 2\n")
    cfg = read_lb_config(p)
    assert cfg.nodes == {"s1": 7, "s2": 2}
    assert dict(cfg.params) == {"hash": "djb2", "avalanche": True}
    assert cfg.key("/?a=1&sid=abc") == b"abc" and cfg.key("/?a=1") is None


@pytest.mark.parametrize("down", ["10.0.0.1:80", "10.0.0.2:80"])
def test_nginx_iphash_ends_for_every_key_with_a_server_down(down):
    # some keys' rehash sequences cycle among down servers forever (fixed points of
    # h -> h*113^3 + c mod 6271): nginx stops after 20 retries; so must the model
    s = routebench.create("nginx-iphash", ["10.0.0.1:80", "10.0.0.2:80"], down=down)
    d = np.arange(6271, dtype=np.uint64) | np.uint64(3 << 32)
    got = s.lookup_many(d)
    up = [n for n in s.nodes if n != down]
    assert {s.nodes[i] for i in got.tolist()} == set(up)
    assert s.tries(d).max() <= 21
