"""Read an nginx ``upstream`` or an HAProxy ``backend`` and route exactly as it does.

    >>> cfg = read_lb_config("haproxy.cfg", "app")          # doctest: +SKIP
    >>> cfg.strategy_name, cfg.key_kind                      # doctest: +SKIP
    ('haproxy-chash', 'uri')
    >>> cfg.route(["/users/42?tab=1"])                       # doctest: +SKIP
    ['s2']
    >>> rows = edit_remap(cfg, cfg.digests(uris)[0])         # doctest: +SKIP

``read_lb_config(path, name=None)`` detects the product from the file, reads the
named upstream/backend (or the only one) and returns an :class:`LbConfig`: the
routebench strategy and parameters that reproduce it, its servers (node names
as the product hashes them, display names, weights, ids, down/backup state),
what the key is (``key_kind``: ``uri``, ``header``, ``url_param``, ``cookie``,
``source``) and how a request's URI, header value or client address becomes
the bytes the product hashes (``key``), ``digests`` and ``route``.

``edit_remap(cfg, digests)`` says, server by server, what deleting its line
and what marking it down (``down`` in nginx, ``disabled`` in HAProxy) would
move. The two differ: nginx's ``hash`` without ``consistent`` and ``ip_hash``
keep a down server's weight in the total and rehash its keys, while deleting
it changes the modulus for every key; HAProxy numbers servers without an
``id`` by position, so deleting a line renumbers the servers after it and
moves their consistent-hash points, while disabling keeps every id.

Every problem in a file is one ``RoutebenchError`` line naming ``file:line``,
the directive and what is accepted.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np

from .._errors import RoutebenchError, choices
from ..hashing import as_bytes
from ..strategies.nginx import MAX_CHASH_POINTS
from . import _haproxy, _keys, _nginx

__all__ = ["read_lb_config", "read_lb_spec", "split_spec", "LbConfig", "Server", "EditRemap",
           "edit_remap", "detect_product", "PRODUCTS", "NGINX_KEY_VARIABLES"]

PRODUCTS = ("nginx", "haproxy")
#: nginx variables a ``hash`` key may use (one a key, with any literal text around it)
NGINX_KEY_VARIABLES = ("$request_uri", "$uri", "$args", "$query_string", "$arg_NAME",
                       "$http_NAME", "$cookie_NAME", "$remote_addr", "$binary_remote_addr")


@dataclass(frozen=True)
class Server:
    """One server line."""

    #: what the product and routebench show: HAProxy's server name; nginx's address
    name: str
    #: the address as written
    address: str
    #: the node name in the strategy (the server string nginx hashes; HAProxy's name)
    node: str
    weight: int
    line: int
    #: HAProxy's server id (puid): explicit ``id N`` or HAProxy's numbering
    id: int | None = None
    explicit_id: bool = False
    backup: bool = False
    #: nginx ``down`` / HAProxy ``disabled``
    down: bool = False

    @property
    def state(self) -> str:
        if self.down:
            return "down" if self.id is None else "disabled"
        if self.backup:
            return "backup"
        if self.weight == 0:
            return "weight 0"
        return "up"


@dataclass(frozen=True)
class LbConfig:
    """An nginx upstream or HAProxy backend, as routebench models it."""

    path: str
    product: str
    #: the upstream or backend name
    section: str
    #: nginx: "http" or "stream"; HAProxy: "backend" or "listen"
    context: str
    line: int
    #: the routebench strategy that reproduces it, and its parameters (without
    #: ``down`` and ``ids``, which come from ``servers``)
    strategy_name: str
    params: Mapping[str, Any]
    servers: tuple[Server, ...]
    #: "uri", "header", "url_param", "cookie" or "source"
    key_kind: str
    #: the header, URL parameter or cookie name (None for uri and source)
    key_name: str | None
    #: the key as configured: nginx's ``hash`` expression, HAProxy's ``balance`` line
    key_expr: str
    #: value -> the key bytes the product hashes (None: it would not hash it)
    _keyfn: Callable[[bytes], bytes | None] = field(repr=False, compare=False)
    #: value -> what the strategy's ``digest`` takes for it
    _hashfn: Callable[[bytes], bytes | None] = field(repr=False, compare=False)
    hash_balance_factor: int = 0
    allbackups: bool = False
    notes: tuple[str, ...] = ()

    # -- servers --------------------------------------------------------------
    @property
    def members(self) -> tuple[Server, ...]:
        """The servers the hash chooses among (nginx: all but backups, down ones
        included; HAProxy: the usable servers of the tree or map it uses)."""
        if self.product == "nginx":
            return tuple(s for s in self.servers if not s.backup)
        usable = [s for s in self.servers if not s.down and s.weight > 0]
        active = [s for s in usable if not s.backup]
        if active:
            return tuple(active)
        backups = [s for s in usable if s.backup]
        if not backups:
            return ()
        return tuple(backups) if self.allbackups else (backups[0],)

    @property
    def serving(self) -> tuple[Server, ...]:
        """The servers that take hashed requests (members not marked down)."""
        return tuple(s for s in self.members if not s.down)

    @property
    def nodes(self) -> dict[str, int]:
        """Node name to weight, in the order the strategy holds them."""
        return {s.node: s.weight for s in self.members}

    @property
    def display_names(self) -> dict[str, str]:
        """Node name to the name the product shows."""
        return {s.node: s.name for s in self.servers}

    def server(self, name: str) -> Server:
        for s in self.servers:
            if name in (s.name, s.node, s.address):
                return s
        raise RoutebenchError(f"{self.path}: {self._what}: no server {name!r}; servers: "
                              f"{choices(s.name for s in self.servers)}")

    @property
    def label(self) -> str:
        """``FILE:SECTION``, as ``--lb-config`` takes it."""
        return f"{self.path}:{self.section}"

    @property
    def _what(self) -> str:
        return (f"upstream {self.section}" if self.product == "nginx"
                else f"{self.context} {self.section}")

    # -- the strategy ---------------------------------------------------------
    @property
    def strategy_params(self) -> dict[str, Any]:
        """``params`` with the nodes marked down (nginx) or the server ids (HAProxy)."""
        p = dict(self.params)
        members = self.members
        if self.product == "nginx":
            down = [s.node for s in members if s.down]
            if down:
                p["down"] = ",".join(down)
        else:
            p["ids"] = ",".join(str(s.id) for s in members)
        return p

    @cached_property
    def strategy(self):
        """The routebench strategy that routes as this configuration does."""
        import routebench

        if not self.members:
            raise RoutebenchError(f"{self.path}:{self.line}: {self._what} has no usable server "
                                  "(all disabled, or weight 0)")
        return routebench.create(self.strategy_name, self.nodes, **self.strategy_params)

    # -- keys -------------------------------------------------------------------
    def key(self, value: str | bytes) -> bytes | None:
        """The bytes the product hashes for a request whose URI, header value or
        client address (by ``key_kind``) is ``value``; None when the product would
        not hash it and balances it round robin instead."""
        return self._keyfn(as_bytes(value))

    def digests(self, values: Iterable[str | bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(digests, hashed): the strategy's digest of each value's key, and False
        where the product would not hash the value (its digest is then 0)."""
        inputs = [self._hashfn(as_bytes(v)) for v in values]
        hashed = np.array([k is not None for k in inputs], dtype=np.bool_)
        d = np.zeros(len(inputs), dtype=np.uint64)
        if hashed.any():
            d[hashed] = self.strategy.digest([k for k in inputs if k is not None])
        return d, hashed

    def route(self, values: Iterable[str | bytes]) -> list[str | None]:
        """The server (display name) each value goes to; None: round robin."""
        d, hashed = self.digests(values)
        s = self.strategy
        names = [self.display_names[n] for n in s.nodes]
        idx = s.lookup_many(d)
        return [names[i] if h else None for i, h in zip(idx.tolist(), hashed.tolist())]

    # -- edits ------------------------------------------------------------------
    def without(self, name: str) -> LbConfig:
        """This configuration with the server's line deleted (HAProxy renumbers the
        servers without an explicit id)."""
        gone = self.server(name)
        rest = [s for s in self.servers if s is not gone]
        if self.product == "haproxy":
            ids = _assign_ids([s.id if s.explicit_id else None for s in rest])
            rest = [replace(s, id=i) for s, i in zip(rest, ids)]
        return self._edited(tuple(rest))

    def with_down(self, name: str) -> LbConfig:
        """This configuration with the server marked ``down`` (nginx) or ``disabled``
        (HAProxy): ids and nginx's total weight stay as they are."""
        target = self.server(name)
        return self._edited(tuple(replace(s, down=True) if s is target else s
                                  for s in self.servers))

    def with_server(self, name: str, weight: int | None = None) -> LbConfig:
        """This configuration with one more server line at the end: for nginx ``name``
        is its address (what the consistent hash hashes), for HAProxy its name (it
        takes the next free id). ``weight`` defaults to the most common weight of
        the servers that take requests."""
        if any(name in (s.name, s.node, s.address) for s in self.servers):
            raise RoutebenchError(f"{self.path}: {self._what}: server {name!r} is already "
                                  "there; name a new one")
        if weight is None:
            ws = [s.weight for s in (self.serving or self.servers)]
            weight = max(set(ws), key=lambda w: (ws.count(w), -w))
        if self.product == "haproxy" and not 1 <= weight <= 256:
            raise RoutebenchError(f"server {name}: weight {weight}: HAProxy accepts 1 to 256")
        if weight < 1:
            raise RoutebenchError(f"server {name}: weight {weight}: a new server needs a "
                                  "weight of 1 or more")
        line = max(s.line for s in self.servers) + 1
        if self.product == "nginx":
            new = Server(name, name, name, weight, line)
            return self._edited((*self.servers, new))
        ids = _assign_ids([s.id if s.explicit_id else None for s in self.servers] + [None])
        kept = tuple(replace(s, id=i) for s, i in zip(self.servers, ids))
        return self._edited((*kept, Server(name, "-", name, weight, line, id=ids[-1])))

    def _edited(self, servers: tuple[Server, ...]) -> LbConfig:
        return replace(self, servers=servers)

    def describe(self) -> list[str]:
        """Human-readable lines: what the configuration is and how it is modelled."""
        spec = ",".join(f"{k}={v}" for k, v in self.params.items())
        lines = [f"{self.product} {self._what} ({self.path}:{self.line}): "
                 f"{self.strategy_name}{':' + spec if spec else ''}, key {self.key_kind}"
                 f"{' ' + self.key_name if self.key_name else ''} ({self.key_expr})"]
        for s in self.servers:
            extra = f" id {s.id}" if s.id is not None else ""
            lines.append(f"  {s.name:<24} {s.address:<24} weight {s.weight:<4}{extra} "
                         f"{s.state}")
        lines.extend(f"  note: {n}" for n in self.notes)
        return lines


def _assign_ids(explicit: list[int | None]) -> list[int]:
    from ..strategies.haproxy import assign_ids

    return assign_ids(explicit)


# -- reading -------------------------------------------------------------------
_UPSTREAM = re.compile(r"(^|[;{}\s])upstream\s+[^\s{;]+\s*\{", re.M)
_NGINX_BLOCK = re.compile(r"(^|[;{}\s])(http|stream|events)\s*\{|^\s*include\s+[^\s;]+\s*;",
                          re.M)
_SECTION = re.compile(r"^\s*(global|defaults|frontend|backend|listen)(\s|$)", re.M)


def detect_product(text: str) -> str | None:
    """"nginx", "haproxy" or None, from a configuration's text."""
    body = "\n".join(line.split("#", 1)[0] for line in text.splitlines())
    if _UPSTREAM.search(body) or _NGINX_BLOCK.search(body):
        return "nginx"
    if _SECTION.search(body):
        return "haproxy"
    return None


def read_lb_config(path: str | Path, name: str | None = None, *, product: str | None = None,
                   max_chash_points: int = MAX_CHASH_POINTS) -> LbConfig:
    """Read the upstream (nginx) or backend/listen section (HAProxy) ``name`` of the
    configuration file ``path``; ``name`` may be left out when there is one.

    ``product`` ("nginx" or "haproxy") skips detection. ``max_chash_points``
    bounds nginx ``hash ... consistent`` rings (160 points a weight unit).
    """
    p = Path(path)
    try:
        text = p.read_text("utf-8", errors="surrogateescape")
    except OSError as exc:
        raise RoutebenchError(f"{p}: cannot read: {exc.strerror or exc}") from None
    if product is None:
        product = detect_product(text)
        if product is None:
            raise RoutebenchError(f"{p}: neither an nginx configuration (no `upstream NAME {{`"
                                  " block) nor an HAProxy one (no backend/listen section); "
                                  "accepted: nginx or HAProxy configuration files")
    if product not in PRODUCTS:
        raise RoutebenchError(f"product {product!r}: accepted: {choices(PRODUCTS)}")
    if product == "nginx":
        return _read_nginx(p, name, max_chash_points)
    return _read_haproxy(p, name)


def split_spec(spec: str) -> tuple[str, str | None]:
    """``FILE[:NAME]`` -> (FILE, NAME or None). A path that exists as given is a file
    without a name, so a file name holding ``:`` still works."""
    if not spec:
        raise RoutebenchError("--lb-config: expected FILE[:NAME], e.g. haproxy.cfg:app")
    if Path(spec).exists() or ":" not in spec:
        return spec, None
    path, _, name = spec.rpartition(":")
    if not path or not name:
        raise RoutebenchError(f"--lb-config {spec!r}: expected FILE[:NAME], e.g. "
                              "haproxy.cfg:app or nginx.conf:cache")
    return path, name


def read_lb_spec(spec: str) -> LbConfig:
    """The configuration ``FILE[:NAME]`` names (the ``--lb-config`` syntax)."""
    path, name = split_spec(spec)
    return read_lb_config(path, name)


def _pick(path: Path, found: Sequence[Any], name: str | None, what: str,
          names: Callable[[Any], str]) -> Any:
    if not found:
        raise RoutebenchError(f"{path}: no {what} found")
    if name is None:
        if len(found) > 1:
            raise RoutebenchError(f"{path}: {len(found)} {what}s ({choices(map(names, found))});"
                                  f" name the one to read")
        return found[0]
    for f in found:
        if names(f) == name:
            return f
    raise RoutebenchError(f"{path}: no {what} named {name!r}; {what}s: "
                          f"{choices(map(names, found))}")


# -- nginx -------------------------------------------------------------------------
_VAR = re.compile(r"\$(\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


def _nginx_key(expr: str, where: str
               ) -> tuple[str, str | None, Callable[[bytes], bytes | None]]:
    """(kind, name, value -> key bytes) of a ``hash`` key expression."""
    found = list(_VAR.finditer(expr))
    if len(found) != 1:
        raise RoutebenchError(
            f"{where}: hash {expr}: routebench models keys with exactly one variable (and "
            f"any text around it); accepted variables: {choices(NGINX_KEY_VARIABLES)}"
        )
    m = found[0]
    var = m.group(2) or m.group(3)
    pre, post = expr[:m.start()].encode(), expr[m.end():].encode()
    fn: Callable[[bytes], bytes]
    if var == "request_uri":
        kind, name, fn = "uri", None, _keys.nginx_request_uri
    elif var == "uri":
        kind, name, fn = "uri", None, _keys.nginx_uri
    elif var in ("args", "query_string"):
        kind, name, fn = "uri", None, lambda v: v.partition(b"?")[2].split(b"#", 1)[0]
    elif var.startswith("arg_") and len(var) > 4:
        arg = var[4:].encode()
        kind, name, fn = "url_param", var[4:], lambda v: _keys.nginx_arg(v, arg)
    elif var.startswith("http_") and len(var) > 5:
        kind, name, fn = "header", var[5:].replace("_", "-"), _keys.nginx_header
    elif var.startswith("cookie_") and len(var) > 7:
        ck = var[7:].encode()
        kind, name, fn = "cookie", var[7:], lambda v: _keys.nginx_cookie(v, ck)
    elif var in ("remote_addr", "binary_remote_addr"):
        binary = var == "binary_remote_addr"

        def fn(v: bytes) -> bytes:
            packed = _packed(v)
            return packed if binary else _keys.address_text(packed).encode()

        kind, name = "source", None
    else:
        raise RoutebenchError(f"{where}: hash {expr}: variable ${var} is not modelled; "
                              f"accepted: {choices(NGINX_KEY_VARIABLES)}")

    def key(v: bytes) -> bytes | None:
        k = pre + fn(v) + post
        return k or None  # nginx balances an empty key round robin

    return kind, name, key


def _packed(v: bytes) -> bytes:
    """A client address's bytes (4 or 16), as both products hash them."""
    p = _keys.packed_address(v)
    if p is None:
        raise RoutebenchError(f"client address {v!r}: not an IPv4 or IPv6 address")
    return p


def _read_nginx(path: Path, name: str | None, max_chash_points: int) -> LbConfig:
    tree = _nginx.parse_file(path)
    found = _nginx.find_upstreams(tree)
    d, context = _pick(path, found, name, "upstream", lambda f: f[0].args[0] if f[0].args else "")
    up = _nginx.read_upstream(d, context, max_chash_points)
    strategy = {"chash": "nginx-chash", "hash": "nginx-hash", "ip_hash": "nginx-iphash"}
    servers = tuple(Server(s.address, s.address, s.address, s.weight, s.line, backup=s.backup,
                           down=s.down) for s in up.servers)
    keyfn: Callable[[bytes], bytes | None]
    hashfn: Callable[[bytes], bytes | None]
    if up.method == "ip_hash":
        def ipkey(v: bytes) -> bytes:
            p = _packed(v)
            return p[:3] if len(p) == 4 else p

        def iptext(v: bytes) -> bytes:
            return _keys.address_text(_packed(v)).encode()

        kind, kname, keyfn, hashfn, expr = "source", None, ipkey, iptext, "ip_hash"
    else:
        where = f"{up.file}:{up.line}"
        kind, kname, keyfn = _nginx_key(up.key or "", where)
        hashfn = keyfn
        expr = f"hash {up.key}" + (" consistent" if up.method == "chash" else "")
    return LbConfig(str(path), "nginx", up.name, context, up.line, strategy[up.method], {},
                    servers, kind, kname, expr, keyfn, hashfn, notes=tuple(up.notes))


# -- HAProxy -----------------------------------------------------------------------
def _haproxy_key(be: _haproxy.HaproxyBackend
                 ) -> tuple[str, str | None, Callable[[bytes], bytes | None],
                            Callable[[bytes], bytes | None], list[str]]:
    s = be.settings
    where = f"{be.file}:{s.balance_line or be.line}"
    words = s.balance or ["roundrobin"]
    algo = words[0]
    notes: list[str] = []
    if algo == "uri":
        whole = "whole" in words
        path_only = "path-only" in words
        length = int(words[words.index("len") + 1]) if "len" in words else 0
        depth = int(words[words.index("depth") + 1]) if "depth" in words else 0

        def uri(v: bytes) -> bytes:
            return _keys.haproxy_uri(v, whole, length, depth, path_only)

        return "uri", None, uri, uri, notes
    if algo.startswith("hdr("):
        hname = algo[4:algo.index(")")]
        domain = len(words) > 1

        def hdr(v: bytes) -> bytes | None:
            return _keys.haproxy_header(v, domain)

        return "header", hname, hdr, hdr, notes
    if algo == "url_param":
        pname = words[1].encode()
        if len(words) > 2:
            notes.append("check_post: parameters in POST bodies are not modelled")

        def param(v: bytes) -> bytes | None:
            return _keys.haproxy_url_param(v, pname)

        return "url_param", words[1], param, param, notes
    if algo == "source":
        def text(v: bytes) -> bytes:
            return _keys.address_text(_packed(v)).encode()

        return "source", None, _packed, text, notes
    shown = " ".join(words)
    raise RoutebenchError(f"{where}: {be.kind} {be.name}: balance {shown} does not hash a "
                          "request key; routebench models balance uri, hdr(name), url_param "
                          "and source")


def _read_haproxy(path: Path, name: str | None) -> LbConfig:
    backends, _ = _haproxy.parse(path)
    be = _pick(path, backends, name, "backend", lambda b: b.name)
    s = be.settings
    kind, kname, keyfn, hashfn, notes = _haproxy_key(be)
    if kind != "source" and s.mode != "http":
        raise RoutebenchError(f"{be.file}:{s.balance_line or be.line}: {be.kind} {be.name}: "
                              f"balance {' '.join(s.balance)} needs mode http (the section is "
                              f"mode {s.mode}; HAProxy would balance round robin)")
    if not be.servers:
        raise RoutebenchError(f"{be.file}:{be.line}: {be.kind} {be.name} has no server lines")
    ids = _assign_ids([x.id for x in be.servers])
    servers = tuple(Server(x.name, x.address, x.name, x.weight, x.line, id=i,
                           explicit_id=x.id is not None, backup=x.backup, down=x.disabled)
                    for x, i in zip(be.servers, ids))
    chash = s.hash_type == "consistent"
    params: dict[str, Any] = {"hash": s.hash_fn, "avalanche": s.avalanche}
    if kind == "source":
        params["key"] = "source"
    if chash and s.hash_balance_factor:
        params["hash_balance_factor"] = s.hash_balance_factor
    if s.hash_balance_factor and not chash:
        notes.append("hash-balance-factor applies to hash-type consistent only")
    if any(x.weight == 0 for x in servers):
        notes.append("servers of weight 0 take no traffic")
    expr = "balance " + " ".join(s.balance) + f"; hash-type {s.hash_type} {s.hash_fn}" + (
        " avalanche" if s.avalanche else "")
    return LbConfig(str(path), "haproxy", be.name, be.kind, be.line,
                    "haproxy-chash" if chash else "haproxy-map", params, servers, kind, kname,
                    expr, keyfn, hashfn, s.hash_balance_factor, s.allbackups, tuple(notes))


# -- deletion vs mark-down ---------------------------------------------------------------
@dataclass(frozen=True)
class EditRemap:
    """What one edit of one server moves, over a set of keys."""

    server: str
    #: "delete" (the server line removed) or "down" (nginx ``down``, HAProxy ``disabled``)
    edit: str
    keys: int
    #: share of the keys the server held: the least an edit can move
    on_server: float
    #: share of the keys whose server changed
    moved: float
    #: share of the keys that moved although their server stayed (moved - on_server)
    collateral: float
    #: share of the keys nginx would balance round robin after the edit (more than
    #: 20 retries past down servers; the model keeps hashing them)
    round_robin: float = 0.0
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__dataclass_fields__}


def _routes(cfg: LbConfig, digests: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(server display name per key, nginx round-robin flags)."""
    s = cfg.strategy
    names = np.array([cfg.display_names[n] for n in s.nodes], dtype=object)
    rr = np.zeros(digests.size, dtype=np.bool_)
    if hasattr(s, "tries") and s.down:
        rr = s.tries(digests) > 20
    return names[s.lookup_many(digests)], rr


def edit_remap(cfg: LbConfig, digests: np.ndarray | Sequence[str | bytes],
               servers: Iterable[str] | None = None) -> list[EditRemap]:
    """For each serving server (or those named), what deleting its line and what
    marking it down would move, over ``digests`` (from ``cfg.digests``; a list of
    request values is digested first, leaving out those the product does not hash)."""
    if isinstance(digests, np.ndarray) and digests.dtype == np.uint64:
        d = np.ascontiguousarray(digests).ravel()
    else:
        d, hashed = cfg.digests(digests)
        d = d[hashed]
    if d.size == 0:
        raise RoutebenchError("edit_remap: no keys to measure (none of the values has a key "
                              "the product hashes)")
    before, _ = _routes(cfg, d)
    names = [s.name for s in cfg.serving] if servers is None else [
        cfg.server(n).name for n in servers]
    rows: list[EditRemap] = []
    for name in names:
        on = before == name
        for edit in ("delete", "down"):
            edited = cfg.without(name) if edit == "delete" else cfg.with_down(name)
            if not edited.serving:
                rows.append(EditRemap(name, edit, int(d.size), float(on.mean()), float("nan"),
                                      float("nan"), note="no server would be left to route to"))
                continue
            after, rr = _routes(edited, d)
            moved = before != after
            rows.append(EditRemap(name, edit, int(d.size), float(on.mean()),
                                  float(moved.mean()), float((moved & ~on).mean()),
                                  float(rr.mean())))
    return rows
