"""What a product hashes from a request: the key extraction of nginx variables and
HAProxy's ``balance`` algorithms, one value at a time.

Each function takes what a user has (a request URI, a header value, a client
address) as bytes and returns the key bytes the product hashes, or None when
the product would not hash that request at all (it then balances it round
robin: a missing ``url_param``, an empty header or key).
"""

from __future__ import annotations

import re
import socket
from urllib.parse import unquote_to_bytes

from ..strategies._product import parse_address

__all__ = ["haproxy_uri", "haproxy_header", "haproxy_url_param", "nginx_arg", "nginx_cookie",
           "nginx_uri", "nginx_request_uri", "nginx_header", "packed_address", "address_text",
           "client_text"]

_SCHEME = re.compile(rb"^[A-Za-z][A-Za-z0-9+.\-]*://")


def packed_address(value: bytes) -> bytes | None:
    """4 or 16 bytes of an IPv4 or IPv6 address written as text, else None."""
    try:
        text = value.decode("ascii").strip()
    except UnicodeDecodeError:
        return None
    if text.startswith("[") and text.endswith("]"):
        text = text[1:-1]
    return parse_address(text.encode("ascii"))


def address_text(packed: bytes) -> str:
    """An address's canonical text (as nginx's $remote_addr shows it)."""
    family = socket.AF_INET if len(packed) == 4 else socket.AF_INET6
    return socket.inet_ntop(family, packed)


def client_text(value: bytes) -> bytes:
    """A client address in text is itself; any other key (a user id, a simulated
    session) stands for the IPv4 address routebench's product models give it (the
    high 32 bits of its XXH3-64), so it can be routed as a client address."""
    if packed_address(value) is not None:
        return value
    from ..strategies._product import client_address

    return address_text(client_address(value)).encode()


# -- HAProxy (src/backend.c, src/http.c; v2.6) -------------------------------------
def _path_only(uri: bytes) -> bytes:
    """http_parse_path(): the path (and query) of an origin-form or absolute URI."""
    if not uri or uri[:1] == b"*":
        return b""
    if uri[:1] == b"/":
        return uri
    m = _SCHEME.match(uri)
    if m is None:  # authority-form: no path
        return b""
    slash = uri.find(b"/", m.end())
    return b"" if slash < 0 else uri[slash:]


def haproxy_uri(uri: bytes, whole: bool = False, length: int = 0, depth: int = 0,
                path_only: bool = False) -> bytes:
    """``balance uri [whole] [len N] [depth N] [path-only]``: the part of the request
    URI that is hashed. It stops before '?' unless ``whole``, after ``len`` bytes,
    and before the (depth+1)-th '/'."""
    if path_only:
        uri = _path_only(uri)
    if length:
        uri = uri[:length]
    end = 0
    slashes = 0
    for c in uri:
        if c == 0x2F:  # '/'
            slashes += 1
            if depth and slashes == depth + 1:
                break
        elif c == 0x3F and not whole:  # '?'
            break
        end += 1
    return uri[:end]


_OWS = b" \t"


def haproxy_header(value: bytes, use_domain_only: bool = False) -> bytes | None:
    """``balance hdr(name) [use_domain_only]``: the header's first comma-separated
    value, trimmed; None when it is empty (HAProxy then balances round robin).
    ``use_domain_only`` keeps the label before the last dot-separated one
    ("www.example.com" -> "example")."""
    first = value.split(b",", 1)[0].strip(_OWS)
    if not first:
        return None
    if not use_domain_only:
        return first
    # get_server_hh: walk back from the end; the first '.' met (the byte just past
    # the end is never one) ends the domain, the next one before it starts it
    n = len(first)
    p = n
    end = n
    dohash = False
    left = n
    while left:
        if dohash:
            if first[p - 1] == 0x2E:
                break
        elif p < n and first[p] == 0x2E:
            end = p
            dohash = True
        p -= 1
        left -= 1
    return first[p:end]


def haproxy_url_param(uri: bytes, name: bytes) -> bytes | None:
    """``balance url_param NAME``: the value of the first ``NAME=`` parameter of the
    query string, up to '&'; None when absent (HAProxy: round robin)."""
    q = uri.find(b"?")
    if q < 0:
        return None
    params = uri[q + 1:]
    plen = len(name)
    pos = 0
    while len(params) - pos > plen:
        if params[pos + plen:pos + plen + 1] == b"=" and params[pos:pos + plen] == name:
            start = pos + plen + 1
            amp = params.find(b"&", start)
            return params[start:] if amp < 0 else params[start:amp]
        amp = params.find(b"&", pos)
        if amp < 0:
            return None
        pos = amp + 1
    return None


# -- nginx (src/http/ngx_http_variables.c, ngx_http_parse.c; 1.22) ------------------
def nginx_header(value: bytes) -> bytes:
    """``$http_NAME``: the header value as nginx stores it (surrounding blanks dropped)."""
    return value.strip(_OWS)


def nginx_arg(uri: bytes, name: bytes) -> bytes:
    """``$arg_NAME``: the first argument named NAME (any case) in the query string,
    up to '&'; empty when absent."""
    q = uri.find(b"?")
    if q < 0:
        return b""
    args = uri[q + 1:].split(b"#", 1)[0]
    low = args.lower()
    want = name.lower()
    pos = 0
    while True:
        i = low.find(want, pos)
        if i < 0:
            return b""
        before_ok = i == 0 or args[i - 1:i] == b"&"
        after = args[i + len(want):i + len(want) + 1]
        if before_ok and after in (b"", b"=", b"&"):
            if after != b"=":
                return b""
            start = i + len(want) + 1
            amp = args.find(b"&", start)
            return args[start:] if amp < 0 else args[start:amp]
        pos = i + 1


def nginx_cookie(value: bytes, name: bytes) -> bytes:
    """``$cookie_NAME``: the named cookie's value in a Cookie header; empty when absent."""
    for part in value.split(b";"):
        k, eq, v = part.strip(_OWS).partition(b"=")
        if eq and k.strip(_OWS).lower() == name.lower():
            return v.strip(_OWS)
    return b""


def nginx_request_uri(uri: bytes) -> bytes:
    """``$request_uri``: the URI as the request line sent it, query string kept; an
    absolute-form URI (``http://host/a?b``) from its path (or its ``?``) on, as nginx's
    ``uri_start`` is set; ``/`` when it has neither."""
    m = _SCHEME.match(uri)
    if m is None:
        return uri
    ends = [i for i in (uri.find(b"/", m.end()), uri.find(b"?", m.end())) if i >= 0]
    return uri[min(ends):] if ends else b"/"


def nginx_uri(uri: bytes) -> bytes:
    """``$uri``: the path without the query string, %-decoded, with ``//`` merged and
    ``.``/``..`` segments resolved (nginx's normalisation, merge_slashes on)."""
    path = uri.split(b"?", 1)[0].split(b"#", 1)[0]
    m = _SCHEME.match(path)
    if m is not None:
        slash = path.find(b"/", m.end())
        path = b"/" if slash < 0 else path[slash:]
    path = unquote_to_bytes(path)
    out: list[bytes] = []
    segs = path.split(b"/")
    for i, seg in enumerate(segs[1:], start=1):
        last = i == len(segs) - 1
        if seg == b"" and not last:
            continue
        if seg == b".":
            if last:
                out.append(b"")
            continue
        if seg == b"..":
            if out:
                out.pop()
            if last:
                out.append(b"")
            continue
        out.append(seg)
    return b"/" + b"/".join(out)
