"""nginx configuration: a tokenizer, ``include``, and the ``upstream`` blocks.

Follows nginx 1.22 (``src/core/ngx_conf_file.c``, ``src/http/ngx_http_upstream.c``,
``ngx_http_upstream_hash_module.c``, ``ngx_http_upstream_ip_hash_module.c``): a
directive is words up to ``;`` or a ``{`` block, ``#`` starts a comment, quotes
and backslashes escape; ``server`` parameters are checked against what the
balancing method declared so far (``backup`` after ``hash`` or ``ip_hash`` is
refused, as nginx refuses it).
"""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import RoutebenchError
from ..strategies.nginx import CHASH_POINT_BYTES, CHASH_POINTS_PER_WEIGHT

__all__ = ["Directive", "parse_file", "find_upstreams", "Upstream", "NginxServer",
           "read_upstream"]


@dataclass
class Directive:
    name: str
    args: list[str]
    file: str
    line: int
    block: list[Directive] | None = None

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


class _Tokens:
    """nginx's lexer: (kind, text, line) with kind "word", ";", "{" or "}"."""

    _ESC = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "'": "'", "\\": "\\"}

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file

    def __iter__(self):
        text, n, i, line = self.text, len(self.text), 0, 1
        while i < n:
            c = text[i]
            if c == "\n":
                line += 1
                i += 1
            elif c in " \t\r":
                i += 1
            elif c == "#":
                while i < n and text[i] != "\n":
                    i += 1
            elif c in ";{}":
                yield c, c, line
                i += 1
            elif c in "\"'":
                word, i, end_line = self._quoted(i, line)
                yield "word", word, line
                line = end_line
            else:
                word, i = self._bare(i)
                yield "word", word, line

    def _quoted(self, i: int, line: int) -> tuple[str, int, int]:
        """A quoted word from text[i] (the quote): (word, index after it, line after it)."""
        text, n, quote, start = self.text, len(self.text), self.text[i], line
        word = []
        i += 1
        while i < n and text[i] != quote:
            if text[i] == "\\" and i + 1 < n:
                i += 1
                word.append(self._ESC.get(text[i], "\\" + text[i]))
            else:
                line += text[i] == "\n"
                word.append(text[i])
            i += 1
        if i >= n:
            raise RoutebenchError(f"{self.file}:{start}: unexpected end of file, expecting the "
                                  "closing quote")
        return "".join(word), i + 1, line

    def _bare(self, i: int) -> tuple[str, int]:
        """An unquoted word from text[i]; ``${name}`` keeps its braces."""
        text, n = self.text, len(self.text)
        word: list[str] = []
        in_var = False
        while i < n:
            ch = text[i]
            if ch == "{" and word and word[-1] == "$":
                in_var = True
            elif ch == "}" and in_var:
                in_var = False
            elif ch in " \t\r\n;{}":
                break
            elif ch == "\\" and i + 1 < n:
                i += 1
                ch = self._ESC.get(text[i], text[i])
            word.append(ch)
            i += 1
        return "".join(word), i


def _parse(tokens, file: str, depth: int, main_dir: Path, seen: set[str]) -> list[Directive]:
    out: list[Directive] = []
    words: list[str] = []
    line = 0
    for kind, tok, tline in tokens:
        if kind == "word":
            if not words:
                line = tline
            words.append(tok)
        elif kind == ";":
            if not words:
                raise RoutebenchError(f"{file}:{tline}: unexpected \";\"")
            d = Directive(words[0], words[1:], file, line)
            if d.name == "include":
                out.extend(_include(d, main_dir, seen))
            else:
                out.append(d)
            words = []
        elif kind == "{":
            if not words:
                raise RoutebenchError(f"{file}:{tline}: unexpected \"{{\"")
            d = Directive(words[0], words[1:], file, line, [])
            d.block = _parse(tokens, file, depth + 1, main_dir, seen)
            out.append(d)
            words = []
        else:
            if depth == 0:
                raise RoutebenchError(f"{file}:{tline}: unexpected \"}}\"")
            if words:
                raise RoutebenchError(f"{file}:{tline}: unexpected \"}}\" after "
                                      f"\"{' '.join(words)}\"; a directive ends with \";\"")
            return out
    if depth:
        raise RoutebenchError(f"{file}: unexpected end of file, expecting \"}}\"")
    if words:
        raise RoutebenchError(f"{file}:{line}: unexpected end of file, expecting \";\" or "
                              "\"}\"")
    return out


def _include(d: Directive, main_dir: Path, seen: set[str]) -> list[Directive]:
    if len(d.args) != 1:
        raise RoutebenchError(f"{d.where}: include takes one file name or pattern")
    pattern = Path(d.args[0])
    if not pattern.is_absolute():
        pattern = main_dir / pattern
    files = sorted(glob.glob(str(pattern)))
    if not files and not glob.has_magic(str(pattern)):
        raise RoutebenchError(f"{d.where}: include {d.args[0]}: no such file "
                              f"({pattern})")
    out: list[Directive] = []
    for f in files:
        real = str(Path(f).resolve())
        if real in seen:
            raise RoutebenchError(f"{d.where}: include {f}: included again inside itself")
        out.extend(parse_file(Path(f), main_dir, seen | {real}))
    return out


def parse_file(path: Path, main_dir: Path | None = None,
               seen: set[str] | None = None) -> list[Directive]:
    """The directives of an nginx configuration file (includes expanded)."""
    try:
        text = path.read_text("utf-8", errors="surrogateescape")
    except OSError as exc:
        raise RoutebenchError(f"{path}: cannot read: {exc.strerror}") from None
    main_dir = main_dir if main_dir is not None else path.parent
    seen = seen if seen is not None else {str(path.resolve())}
    return _parse(iter(_Tokens(text, str(path))), str(path), 0, main_dir, seen)


def find_upstreams(tree: list[Directive], context: str = "http") -> list[tuple[Directive, str]]:
    """Every ``upstream NAME { }`` with its context (``http`` or ``stream``)."""
    found = []
    for d in tree:
        if d.name == "upstream" and d.block is not None:
            found.append((d, context))
        elif d.block is not None:
            ctx = d.name if d.name in ("http", "stream") else context
            found.extend(find_upstreams(d.block, ctx))
    return found


@dataclass
class NginxServer:
    address: str
    weight: int
    down: bool
    backup: bool
    line: int
    file: str


@dataclass
class Upstream:
    name: str
    context: str
    file: str
    line: int
    method: str  # "hash", "chash", "ip_hash"
    key: str | None
    servers: list[NginxServer] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


_FLAG_PARAMS = {"weight=": "weight", "max_conns=": "max_conns", "max_fails=": "max_fails",
                "fail_timeout=": "fail_timeout"}
_DIGITS = re.compile(r"^[0-9]+$")
_METHODS = {"least_conn", "random", "hash", "ip_hash", "ntlm", "sticky", "least_time"}
_TIME = re.compile(r"^([0-9]+(ms|s|m|h|d|w|M|y)?)+$")


def _atoi(text: str) -> int | None:
    if not _DIGITS.match(text):
        return None
    v = int(text)
    return v if v < 2**63 else None


_SERVER_SYNTAX = ("server ADDRESS [weight=N] [down] [backup] [max_fails=N] [fail_timeout=T] "
                  "[max_conns=N]")
#: what nginx's upstream block allows before and after a balancing directive (uscf->flags)
_ALL_FLAGS = frozenset({"weight", "max_conns", "max_fails", "fail_timeout", "down", "backup"})
_HASH_FLAGS = _ALL_FLAGS - {"backup"}


def _server_param(x: Directive, addr: str, p: str, flags: frozenset[str],
                  srv: NginxServer) -> None:
    """Apply one ``server`` parameter, or raise nginx's error for it."""
    pname = next((k for k in _FLAG_PARAMS if p.startswith(k)), None)
    if pname is None:
        if p not in ("backup", "down"):
            raise RoutebenchError(
                f"{x.where}: server {addr}: invalid parameter \"{p}\"; accepted: weight=N, "
                "max_fails=N, fail_timeout=T, max_conns=N, backup, down"
            )
        if p not in flags:
            raise RoutebenchError(f"{x.where}: server {addr}: balancing method does not support "
                                  f"parameter \"{p}\" (nginx refuses backup after hash and "
                                  "ip_hash)")
        srv.backup = srv.backup or p == "backup"
        srv.down = srv.down or p == "down"
        return
    if _FLAG_PARAMS[pname] not in flags:
        raise RoutebenchError(f"{x.where}: server {addr}: balancing method does not support "
                              f"parameter \"{p}\"")
    value = p[len(pname):]
    if pname == "weight=":
        w = _atoi(value)
        if w is None or w == 0:
            raise RoutebenchError(f"{x.where}: server {addr}: invalid parameter \"{p}\"; nginx "
                                  "accepts weight=N with N a positive integer")
        srv.weight = w
    elif pname == "fail_timeout=":
        if not _TIME.match(value):
            raise RoutebenchError(f"{x.where}: server {addr}: invalid parameter \"{p}\"; "
                                  "accepted: a time, e.g. 10s")
    elif _atoi(value) is None:
        raise RoutebenchError(f"{x.where}: server {addr}: invalid parameter \"{p}\"; accepted: "
                              f"{pname}N, N >= 0")


def _server(x: Directive, flags: frozenset[str]) -> NginxServer:
    if not x.args:
        raise RoutebenchError(f"{x.where}: server: no address; accepted: {_SERVER_SYNTAX}")
    srv = NginxServer(x.args[0], 1, False, False, x.line, x.file)
    for p in x.args[1:]:
        _server_param(x, x.args[0], p, flags, srv)
    return srv


def _method(x: Directive, context: str) -> tuple[str, str | None]:
    """(method, key) of a ``hash`` or ``ip_hash`` directive."""
    if x.name == "ip_hash":
        if context == "stream":
            raise RoutebenchError(f"{x.where}: unknown directive \"ip_hash\" in a stream "
                                  "upstream; stream balances by `hash $remote_addr`")
        if x.args:
            raise RoutebenchError(f"{x.where}: ip_hash takes no arguments")
        return "ip_hash", None
    if not 1 <= len(x.args) <= 2:
        raise RoutebenchError(f"{x.where}: hash: invalid number of arguments; accepted: "
                              "hash KEY [consistent]")
    if len(x.args) == 2 and x.args[1] != "consistent":
        raise RoutebenchError(f"{x.where}: hash: invalid parameter \"{x.args[1]}\"; "
                              "accepted: hash KEY [consistent]")
    return ("chash" if len(x.args) == 2 else "hash"), x.args[0]


def _check_ring_size(up: Upstream, max_chash_points: int) -> None:
    """Refuse a ``hash ... consistent`` ring above the limit, with nginx's memory."""
    total = 0
    for s in up.servers:
        if s.backup:
            continue
        total += s.weight
        points = total * CHASH_POINTS_PER_WEIGHT
        if points > max_chash_points:
            raise RoutebenchError(
                f"{s.file}:{s.line}: server {s.address} weight={s.weight}: upstream {up.name} "
                f"reaches a total weight of {total:,}, which nginx's `hash ... consistent` "
                f"turns into {points:,} ring points (160 a weight unit), about "
                f"{points * CHASH_POINT_BYTES / 2**20:,.0f} MiB of nginx memory; accepted: "
                f"a total weight up to {max_chash_points // CHASH_POINTS_PER_WEIGHT:,} "
                f"({max_chash_points:,} points; max_chash_points= raises it)"
            )


_IP_LITERAL = re.compile(r"^(\d+\.\d+\.\d+\.\d+|\[[0-9A-Fa-f:.]+\])$")


def _notes(up: Upstream) -> None:
    for s in up.servers:
        if s.address.lower().startswith("unix:"):
            continue
        host = s.address.rsplit(":", 1)[0] if s.address.count(":") == 1 else s.address
        if not _IP_LITERAL.match(host) and not _IP_LITERAL.match(s.address.rsplit(":", 1)[0]):
            up.notes.append(f"{s.file}:{s.line}: server {s.address} is a host name: nginx makes "
                            "a peer of each address it resolves to (modelled as one)")
    if any(s.backup for s in up.servers):
        up.notes.append(f"upstream {up.name}: backup servers get requests only when nginx falls "
                        "back to round robin (not modelled)")


def read_upstream(d: Directive, context: str, max_chash_points: int) -> Upstream:
    """The upstream block ``d`` as nginx would load it, or one RoutebenchError line."""
    if len(d.args) != 1:
        raise RoutebenchError(f"{d.where}: upstream takes one name, got {len(d.args)} words")
    name = d.args[0]
    flags = _ALL_FLAGS
    method: str | None = None
    method_line = d.line
    up = Upstream(name, context, d.file, d.line, "", None)
    seen: dict[str, int] = {}
    for x in d.block or []:
        if x.name == "server":
            srv = _server(x, flags)
            if srv.address in seen:
                raise RoutebenchError(
                    f"{x.where}: server {srv.address} is listed twice in upstream {name} "
                    f"(first at line {seen[srv.address]}); list each server once"
                )
            seen[srv.address] = x.line
            up.servers.append(srv)
        elif x.name in ("hash", "ip_hash"):
            if method is not None:
                up.notes.append(f"{x.where}: load balancing method redefined")
            method, up.key = _method(x, context)
            method_line = x.line
            flags = _HASH_FLAGS
        elif x.name in _METHODS:
            method, method_line = x.name, x.line
    if method not in ("hash", "chash", "ip_hash"):
        shown = "round robin (no balancing directive)" if method is None else method
        raise RoutebenchError(
            f"{d.file}:{method_line}: upstream {name} balances by {shown}, not by a hash; "
            "accepted: hash KEY consistent, hash KEY, ip_hash"
        )
    if not up.servers:
        raise RoutebenchError(f"{d.where}: upstream {name} has no servers (nginx: \"no servers "
                              "in upstream\")")
    if all(s.backup for s in up.servers):
        raise RoutebenchError(f"{d.where}: upstream {name} has only backup servers")
    up.method = method
    if method == "chash":
        _check_ring_size(up, max_chash_points)
    _notes(up)
    return up
