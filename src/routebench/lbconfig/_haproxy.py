"""HAProxy configuration: sections, ``defaults`` inheritance, and what a backend
balances with.

Follows HAProxy 2.6 (``src/cfgparse.c``, ``src/cfgparse-listen.c``,
``src/server.c``, ``src/backend.c``): a line is words (quotes and backslashes
escape, ``#`` starts a comment); ``backend`` and ``listen`` sections take their
settings from the last ``defaults`` section before them (or the one named by
``from``); ``default-server`` sets what later ``server`` lines start from.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from .._errors import RoutebenchError, choices

__all__ = ["parse", "HaproxyBackend", "HaproxyServer", "SECTIONS"]

SECTIONS = ("global", "defaults", "frontend", "backend", "listen", "userlist", "peers",
            "resolvers", "mailers", "program", "http-errors", "ring", "cache", "fcgi-app")
#: balance algorithms HAProxy 2.6 accepts (backend_parse_balance)
BALANCE = ("roundrobin", "static-rr", "leastconn", "first", "random", "source", "uri",
           "url_param", "hash", "hdr(name)", "rdp-cookie")
_HASHED = ("source", "uri", "url_param", "hdr(name)")

#: server keywords that take a value (the value must not be read as a keyword)
_ARG_KEYWORDS = {
    "addr", "agent-addr", "agent-inter", "agent-port", "agent-send", "alpn", "ca-file",
    "check-alpn", "check-proto", "check-sni", "ciphers", "ciphersuites", "client-sigalgs",
    "cookie", "crl-file", "crt", "curves", "downinter", "error-limit", "fall", "fastinter",
    "init-addr", "inter", "log-proto", "max-reuse", "maxconn", "maxqueue", "minconn",
    "namespace", "npn", "observe", "on-error", "on-marked-down", "on-marked-up",
    "pool-conn-name", "pool-low-conn", "pool-max-conn", "pool-purge-delay", "port", "proto",
    "redir", "resolve-net", "resolve-opts", "resolve-prefer", "resolvers", "rise",
    "set-proxy-v2-tlv-fmt", "shard", "sigalgs", "slowstart", "sni", "socks4", "source",
    "ssl-max-ver", "ssl-min-ver", "tcp-ut", "track", "verify", "verifyhost", "ws",
    "proxy-v2-options", "usesrc", "interface", "hash-key", "guid", "weight", "id",
}


@dataclass
class HaproxyServer:
    name: str
    address: str
    weight: int
    id: int | None
    backup: bool
    disabled: bool
    line: int


@dataclass
class _Settings:
    """What a defaults section passes on, and what a backend accumulates."""

    balance: list[str] = field(default_factory=list)
    balance_line: int = 0
    hash_type: str = "map-based"
    hash_fn: str = "sdbm"
    avalanche: bool = False
    hash_balance_factor: int = 0
    allbackups: bool = False
    mode: str = "tcp"
    default_weight: int = 1
    default_disabled: bool = False
    default_backup: bool = False

    def copy(self) -> _Settings:
        return replace(self, balance=list(self.balance))


@dataclass
class HaproxyBackend:
    name: str
    kind: str  # backend or listen
    file: str
    line: int
    settings: _Settings
    servers: list[HaproxyServer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _words(line: str, where: str) -> list[str]:
    """HAProxy's line splitting: blanks separate, quotes group, backslash escapes."""
    out: list[str] = []
    cur: list[str] = []
    has = False
    i, n = 0, len(line)
    quote = None
    while i < n:
        c = line[i]
        if quote:
            if c == quote:
                quote = None
            elif c == "\\" and quote == '"' and i + 1 < n:
                i += 1
                cur.append(line[i])
            else:
                cur.append(c)
        elif c in "\"'":
            quote = c
            has = True
        elif c == "\\" and i + 1 < n:
            i += 1
            cur.append(line[i])
            has = True
        elif c == "#":
            break
        elif c in " \t":
            if has or cur:
                out.append("".join(cur))
            cur, has = [], False
        else:
            cur.append(c)
            has = True
        i += 1
    if quote:
        raise RoutebenchError(f"{where}: unmatched quote ({quote})")
    if has or cur:
        out.append("".join(cur))
    return out


def _int(text: str, where: str, what: str, accepted: str) -> int:
    t = text.strip()
    if not t or not (t.isdigit() or (t[0] in "+-" and t[1:].isdigit())):
        raise RoutebenchError(f"{where}: {what} {text!r} is not a whole number; "
                              f"accepted: {accepted}")
    return int(t)


def _server_params(words: list[str], where: str, name: str, s: _Settings,
                   srv: HaproxyServer | None) -> None:
    """Apply server (or default-server, when srv is None) keywords."""
    i = 0
    while i < len(words):
        kw = words[i]
        if kw in _ARG_KEYWORDS:
            if i + 1 >= len(words):
                raise RoutebenchError(f"{where}: server {name}: '{kw}' expects an argument")
            value = words[i + 1]
            if kw == "weight":
                w = _int(value, where, f"server {name}: weight", "0 to 256")
                if not 0 <= w <= 256:
                    raise RoutebenchError(f"{where}: server {name}: weight {w} is not within 0 "
                                          "and 256; accepted: 0 to 256 (0 takes no traffic)")
                if srv is None:
                    s.default_weight = w
                else:
                    srv.weight = w
            elif kw == "id":
                if srv is None:
                    raise RoutebenchError(f"{where}: default-server: 'id' is not allowed here")
                v = _int(value, where, f"server {name}: id", "a whole number above 0")
                if v <= 0:
                    raise RoutebenchError(f"{where}: server {name}: custom id has to be > 0 "
                                          f"(got {v})")
                srv.id = v
            i += 2
            continue
        if kw in ("disabled", "enabled", "backup", "no-backup"):
            on = kw in ("disabled", "backup")
            if kw in ("disabled", "enabled"):
                if srv is None:
                    s.default_disabled = on
                else:
                    srv.disabled = on
            elif srv is None:
                s.default_backup = on
            else:
                srv.backup = on
        i += 1


def _balance_uri(words: list[str], where: str) -> None:
    i = 1
    while i < len(words):
        w = words[i]
        if w in ("len", "depth"):
            arg = words[i + 1] if i + 1 < len(words) else ""
            if not arg.isdigit() or int(arg) <= 0:
                raise RoutebenchError(f"{where}: balance uri: '{w}' expects a positive integer "
                                      f"(got '{arg}')")
            i += 2
        elif w in ("whole", "path-only"):
            i += 1
        else:
            raise RoutebenchError(f"{where}: balance uri only accepts parameters 'len', "
                                  f"'depth', 'path-only', and 'whole' (got '{w}')")


def _balance_hdr(words: list[str], where: str) -> None:
    if words[0].find(")") <= 4:
        raise RoutebenchError(f"{where}: balance hdr requires an http header field name, "
                              "e.g. hdr(X-User)")
    if len(words) > 1 and words[1] != "use_domain_only":
        raise RoutebenchError(f"{where}: balance hdr only accepts 'use_domain_only' modifier "
                              f"(got '{words[1]}')")


def _balance(words: list[str], where: str) -> list[str]:
    """The ``balance`` words, checked as backend_parse_balance() checks them."""
    if not words:
        return ["roundrobin"]
    algo = words[0]
    if algo in ("roundrobin", "static-rr", "first", "leastconn", "source"):
        return [algo]
    if algo.startswith("random"):
        return ["random"]
    if algo == "uri":
        _balance_uri(words, where)
    elif algo == "url_param":
        if len(words) < 2:
            raise RoutebenchError(f"{where}: balance url_param requires an URL parameter name")
        if len(words) > 2 and words[2] != "check_post":
            raise RoutebenchError(f"{where}: balance url_param only accepts 'check_post' "
                                  f"modifier (got '{words[2]}')")
    elif algo.startswith("hdr("):
        _balance_hdr(words, where)
    elif not (algo.startswith("rdp-cookie") or algo == "hash"):
        raise RoutebenchError(f"{where}: unknown balance algorithm '{algo}'; HAProxy accepts: "
                              f"{choices(BALANCE)}")
    return words


def _hash_type(words: list[str], where: str, s: _Settings) -> None:
    if not words or words[0] not in ("consistent", "map-based"):
        got = words[0] if words else ""
        raise RoutebenchError(f"{where}: hash-type '{got}': HAProxy only supports 'consistent' "
                              "and 'map-based' [sdbm|djb2|wt6|crc32] [avalanche]")
    s.hash_type = words[0]
    if len(words) == 1:
        s.hash_fn = "sdbm"
        s.avalanche = words[0] == "consistent"
        return
    if words[1] not in ("sdbm", "djb2", "wt6", "crc32"):
        raise RoutebenchError(f"{where}: hash-type {words[0]} '{words[1]}': HAProxy only "
                              "supports the 'sdbm', 'djb2', 'crc32', or 'wt6' hash functions")
    s.hash_fn = words[1]
    s.avalanche = False
    if len(words) > 2:
        if words[2] != "avalanche":
            raise RoutebenchError(f"{where}: hash-type: only 'avalanche' is accepted as a "
                                  f"modifier (got '{words[2]}')")
        s.avalanche = True


def _setting(words: list[str], where: str, cur: _Settings) -> bool:
    """Apply a section setting routebench reads; False when the line is not one."""
    kw = words[0]
    if kw == "no" and words[1:3] == ["option", "allbackups"]:
        cur.allbackups = False
    elif kw == "option" and words[1:2] == ["allbackups"]:
        cur.allbackups = True
    elif kw == "mode" and len(words) >= 2:
        cur.mode = words[1]
    elif kw == "balance":
        cur.balance = _balance(words[1:], where)
        cur.balance_line = int(where.rsplit(":", 1)[1])
    elif kw == "hash-type":
        _hash_type(words[1:], where, cur)
    elif kw == "hash-balance-factor":
        if len(words) < 2:
            raise RoutebenchError(f"{where}: 'hash-balance-factor' expects an integer argument")
        f = _int(words[1], where, "hash-balance-factor", "0, or above 100")
        if f != 0 and f <= 100:
            raise RoutebenchError(f"{where}: 'hash-balance-factor' must be 0 or greater than 100 "
                                  f"(got {f})")
        cur.hash_balance_factor = f
    elif kw == "default-server":
        _server_params(words[1:], where, "default-server", cur, None)
    else:
        return False
    return True


def _server_line(words: list[str], where: str, lineno: int, cur: _Settings,
                 be: HaproxyBackend | None) -> HaproxyServer:
    if be is None:
        raise RoutebenchError(f"{where}: 'server' is not allowed in a defaults section")
    name = words[1] if len(words) > 1 else ""
    if len(words) < 3 or words[2] in _ARG_KEYWORDS or words[2] in (
            "backup", "disabled", "enabled", "check"):
        raise RoutebenchError(f"{where}: server {name}: no address; HAProxy expects server NAME "
                              "ADDRESS[:PORT] [weight N] [id N] [backup] [disabled] ...")
    other = next((x for x in be.servers if x.name == name), None)
    if other is not None:
        raise RoutebenchError(f"{where}: server {name}: another server named {name!r} was "
                              f"already defined at line {other.line}; server names must be "
                              "distinct")
    srv = HaproxyServer(name, words[2], cur.default_weight, None, cur.default_backup,
                        cur.default_disabled, lineno)
    _server_params(words[3:], where, name, cur, srv)
    if srv.id is not None:
        taken = next((x for x in be.servers if x.id == srv.id), None)
        if taken is not None:
            raise RoutebenchError(f"{where}: server {name}: custom id {srv.id} already used at "
                                  f"line {taken.line} ('server {taken.name}')")
    return srv


class _Parser:
    """Section by section: defaults remembered, backends built."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.defaults: dict[str, _Settings] = {}
        self.last_defaults = _Settings()
        self.backends: list[HaproxyBackend] = []
        self.cur: _Settings | None = None
        self.be: HaproxyBackend | None = None

    def section(self, words: list[str], where: str, lineno: int) -> None:
        kw = words[0]
        self.be, self.cur = None, None
        if kw == "defaults":
            self.cur = _Settings()  # a defaults section resets what the previous one set
            self.last_defaults = self.cur
            if len(words) > 1:
                self.defaults[words[1]] = self.cur
        elif kw in ("backend", "listen"):
            if len(words) < 2:
                raise RoutebenchError(f"{where}: '{kw}' expects a name")
            parent = self.last_defaults
            if len(words) >= 4 and words[2] == "from":
                if words[3] not in self.defaults:
                    raise RoutebenchError(f"{where}: {kw} {words[1]} from {words[3]}: no "
                                          f"defaults section named {words[3]!r}")
                parent = self.defaults[words[3]]
            self.cur = parent.copy()
            self.be = HaproxyBackend(words[1], kw, self.file, lineno, self.cur)
            self.backends.append(self.be)

    def line(self, words: list[str], where: str, lineno: int) -> None:
        if words[0] in SECTIONS:
            self.section(words, where, lineno)
            return
        cur = self.cur
        if cur is None or _setting(words, where, cur):
            return  # global, frontend and other sections do not balance
        if words[0] == "server-template" and self.be is not None:
            raise RoutebenchError(f"{where}: server-template: routebench needs each server "
                                  "written out; accepted: server NAME ADDRESS [weight N] [id N] "
                                  "[backup] [disabled]")
        if words[0] == "server":
            srv = _server_line(words, where, lineno, cur, self.be)
            assert self.be is not None
            self.be.servers.append(srv)


def parse(path: Path) -> tuple[list[HaproxyBackend], list[str]]:
    """The backend and listen sections of an HAProxy configuration file."""
    try:
        text = path.read_text("utf-8", errors="surrogateescape")
    except OSError as exc:
        raise RoutebenchError(f"{path}: cannot read: {exc.strerror}") from None
    parser = _Parser(str(path))
    for lineno, raw in enumerate(text.splitlines(), start=1):
        where = f"{path}:{lineno}"
        words = _words(raw, where)
        if words:
            parser.line(words, where, lineno)
    return parser.backends, list(parser.defaults)
