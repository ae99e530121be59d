"""Compiled scanners over a ``uint8`` byte buffer: lines, fields, timestamps, interning.

A Python regex costs 1-2 us a line; these loops walk each byte about once and
write field boundaries (offsets into the buffer) to preallocated arrays, so a
chunk of a quarter-million lines is parsed without one Python object per line.
Keys stay as offsets until a column is interned, and only the distinct keys of
a chunk ever become ``bytes``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

__all__ = [
    "E_OK", "E_BLANK", "E_LITERAL", "E_FIELD", "E_TIME", "E_STATUS", "E_FIELDS", "E_QUOTE",
    "F_TEXT", "F_TIME_CLF", "F_TIME_ISO", "F_EPOCH", "F_STATUS",
    "parse_log_lines", "parse_delimited", "intern_rows", "intern_slices", "line_spans",
]

# error codes, one a rejected line
E_OK, E_BLANK, E_LITERAL, E_FIELD, E_TIME, E_STATUS, E_FIELDS, E_QUOTE = range(8)
# field types of an access-log format
F_TEXT, F_TIME_CLF, F_TIME_ISO, F_EPOCH, F_STATUS = range(5)

_NAN = np.nan


@njit(cache=True, nogil=True)
def _days_from_civil(y: int, m: int, d: int) -> int:
    # Howard Hinnant's algorithm: days since 1970-01-01 of a proleptic Gregorian date
    if m <= 2:
        y -= 1
    era = (y if y >= 0 else y - 399) // 400
    yoe = y - era * 400
    mp = (m + 9) % 12
    doy = (153 * mp + 2) // 5 + d - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


@njit(cache=True, nogil=True)
def _digits(buf, s: int, n: int) -> int:
    """The number in buf[s:s+n] if all digits, else -1."""
    v = 0
    for i in range(s, s + n):
        c = buf[i]
        if c < 48 or c > 57:
            return -1
        v = v * 10 + (c - 48)
    return v


@njit(cache=True, nogil=True)
def _month(buf, s: int) -> int:
    a = buf[s] | 32
    b = buf[s + 1] | 32
    c = buf[s + 2] | 32
    k = (a << 16) | (b << 8) | c
    # jan feb mar apr may jun jul aug sep oct nov dec
    if k == 0x6A616E:
        return 1
    if k == 0x666562:
        return 2
    if k == 0x6D6172:
        return 3
    if k == 0x617072:
        return 4
    if k == 0x6D6179:
        return 5
    if k == 0x6A756E:
        return 6
    if k == 0x6A756C:
        return 7
    if k == 0x617567:
        return 8
    if k == 0x736570:
        return 9
    if k == 0x6F6374:
        return 10
    if k == 0x6E6F76:
        return 11
    if k == 0x646563:
        return 12
    return -1


@njit(cache=True, nogil=True)
def _hms(buf, s: int) -> int:
    """Seconds of ``HH:MM:SS`` at s, or -1."""
    h = _digits(buf, s, 2)
    mi = _digits(buf, s + 3, 2)
    se = _digits(buf, s + 6, 2)
    if h < 0 or mi < 0 or se < 0 or buf[s + 2] != 58 or buf[s + 5] != 58 or h > 23 \
            or mi > 59 or se > 60:
        return -1
    return h * 3600 + mi * 60 + se


@njit(cache=True, nogil=True)
def _tz(buf, s: int, e: int) -> int:
    """Offset in seconds of ``+hhmm``, ``+hh:mm`` or ``Z`` in buf[s:e]; -10**9 if bad."""
    n = e - s
    if n == 1 and (buf[s] == 90 or buf[s] == 122):
        return 0
    if n < 5 or (buf[s] != 43 and buf[s] != 45):
        return -1000000000
    hh = _digits(buf, s + 1, 2)
    if n == 5:
        mm = _digits(buf, s + 3, 2)
    elif n == 6 and buf[s + 3] == 58:
        mm = _digits(buf, s + 4, 2)
    else:
        return -1000000000
    if hh < 0 or mm < 0:
        return -1000000000
    off = hh * 3600 + mm * 60
    return -off if buf[s] == 45 else off


@njit(cache=True, nogil=True)
def parse_clf(buf, s: int, e: int) -> float:
    """``10/Oct/2000:13:55:36 -0700`` (NCSA ``%t`` without brackets) to epoch seconds."""
    if e - s < 20:
        return _NAN
    d = _digits(buf, s, 2)
    mo = _month(buf, s + 3)
    y = _digits(buf, s + 7, 4)
    if d < 1 or d > 31 or mo < 0 or y < 0 or buf[s + 2] != 47 or buf[s + 6] != 47 \
            or buf[s + 11] != 58:
        return _NAN
    t = _hms(buf, s + 12)
    if t < 0:
        return _NAN
    off = 0
    if e - s > 20:
        if buf[s + 20] != 32:
            return _NAN
        off = _tz(buf, s + 21, e)
        if off == -1000000000:
            return _NAN
    return float(_days_from_civil(y, mo, d) * 86400 + t - off)


@njit(cache=True, nogil=True)
def parse_iso(buf, s: int, e: int) -> float:
    """``2000-10-10T13:55:36[.fff][Z|+hh:mm]`` (or a space for T) to epoch seconds."""
    if e - s < 19:
        return _NAN
    y = _digits(buf, s, 4)
    mo = _digits(buf, s + 5, 2)
    d = _digits(buf, s + 8, 2)
    if y < 0 or mo < 1 or mo > 12 or d < 1 or d > 31 or buf[s + 4] != 45 or buf[s + 7] != 45:
        return _NAN
    sep = buf[s + 10]
    if sep != 84 and sep != 32 and sep != 116:
        return _NAN
    t = _hms(buf, s + 11)
    if t < 0:
        return _NAN
    p = s + 19
    frac = 0.0
    if p < e and buf[p] == 46:
        p += 1
        scale = 0.1
        while p < e and 48 <= buf[p] <= 57:
            frac += (buf[p] - 48) * scale
            scale *= 0.1
            p += 1
    off = 0
    if p < e:
        off = _tz(buf, p, e)
        if off == -1000000000:
            return _NAN
    return float(_days_from_civil(y, mo, d) * 86400 + t - off) + frac


@njit(cache=True, nogil=True)
def parse_number(buf, s: int, e: int) -> float:
    """A plain decimal number (``1431857103``, ``1431857103.123``, ``-2.5``), else NaN."""
    if e <= s:
        return _NAN
    p = s
    neg = False
    if buf[p] == 45 or buf[p] == 43:
        neg = buf[p] == 45
        p += 1
    v = 0.0
    nd = 0
    while p < e and 48 <= buf[p] <= 57:
        v = v * 10.0 + (buf[p] - 48)
        p += 1
        nd += 1
    if p < e and buf[p] == 46:
        p += 1
        scale = 0.1
        while p < e and 48 <= buf[p] <= 57:
            v += (buf[p] - 48) * scale
            scale *= 0.1
            p += 1
            nd += 1
    if p != e or nd == 0:
        return _NAN
    return -v if neg else v


@njit(cache=True, nogil=True)
def parse_any_time(buf, s: int, e: int) -> float:
    """A number of seconds, an ISO 8601 time or an NCSA time, whichever fits."""
    v = parse_number(buf, s, e)
    if v == v:
        return v
    v = parse_iso(buf, s, e)
    if v == v:
        return v
    return parse_clf(buf, s, e)


@njit(cache=True, nogil=True)
def _line_end(buf, pos: int, end: int) -> int:
    le = pos
    while le < end and buf[le] != 10:
        le += 1
    return le


@njit(cache=True, nogil=True)
def line_spans(buf, pos: int, end: int, max_lines: int, ls, le):
    """Start and end (without ``\\r\\n``) of up to ``max_lines`` lines; (count, next pos)."""
    n = 0
    while n < max_lines and pos < end:
        e = _line_end(buf, pos, end)
        nxt = e + 1 if e < end else end
        if e > pos and buf[e - 1] == 13:
            e -= 1
        ls[n] = pos
        le[n] = e
        n += 1
        pos = nxt
    return n, pos


_LO = np.uint64(0x0101010101010101)
_HI = np.uint64(0x8080808080808080)


@njit(cache=True, nogil=True, inline="always")
def _has(v, pat):
    x = v ^ pat
    return (x - _LO) & ~x & _HI


@njit(cache=True, nogil=True, inline="always")
def _find_short(buf, q: int, end: int, a: int, b: int, c: int) -> int:
    """The first index >= q below ``end`` holding byte a, b or c (``end`` if none); bytewise."""
    while q < end:
        x = buf[q]
        if x == a or x == b or x == c:
            return q
        q += 1
    return end


_DEBRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DEBRUIJN_POS = np.array([
    0, 1, 48, 2, 57, 49, 28, 3, 61, 58, 50, 42, 38, 29, 17, 4, 62, 55, 59, 36, 53, 51, 43,
    22, 45, 39, 33, 30, 24, 18, 12, 5, 63, 47, 56, 27, 60, 41, 37, 16, 54, 35, 52, 21, 44,
    32, 23, 11, 46, 26, 40, 15, 34, 20, 31, 10, 25, 14, 19, 9, 13, 8, 7, 6
], dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def _first_flag(m) -> int:
    """The index of the lowest byte flagged (0x80) in ``m``, which is not 0.

    The zero-byte test can also flag bytes above a true match (a borrow), never
    below one, so the lowest flag is always a true match.
    """
    low = m & (~m + np.uint64(1))
    return _DEBRUIJN_POS[(low * _DEBRUIJN) >> np.uint64(58)] >> 3


@njit(cache=True, nogil=True)
def _find3(buf, w64, q: int, end: int, a: int, b: int, c: int) -> int:
    """As ``_find_short``, eight bytes at a time: for long fields.

    A SWAR zero-byte test on 64-bit words of ``buf`` (``w64``: its aligned view):
    one unaligned word at q, then aligned words; the matching byte is found from
    the test's flags, not byte by byte.
    """
    nw = w64.size
    if q + 8 <= end and (q >> 3) + 1 < nw:
        pa = np.uint64(a) * _LO
        pb = np.uint64(b) * _LO
        pc = np.uint64(c) * _LO
        v = _word_at(buf, w64, q)
        m = _has(v, pa) | _has(v, pb) | _has(v, pc)
        if m != 0:
            return q + _first_flag(m)
        q = (q + 8) & ~7
        while q + 8 <= end and (q >> 3) < nw:
            v = w64[q >> 3]
            m = _has(v, pa) | _has(v, pb) | _has(v, pc)
            if m != 0:
                return q + _first_flag(m)
            q += 8
    return _find_short(buf, q, end, a, b, c)


@njit(cache=True, nogil=True)
def _find_nl(buf, w64, q: int, end: int) -> int:
    """The first newline at or after q (``end`` if none), eight bytes at a time."""
    nw = w64.size
    if q + 8 <= end and (q >> 3) + 1 < nw:
        pa = np.uint64(10) * _LO
        m = _has(_word_at(buf, w64, q), pa)
        if m != 0:
            return q + _first_flag(m)
        q = (q + 8) & ~7
        while q + 8 <= end and (q >> 3) < nw:
            m = _has(w64[q >> 3], pa)
            if m != 0:
                return q + _first_flag(m)
            q += 8
    while q < end:
        if buf[q] == 10:
            return q
        q += 1
    return end


@njit(cache=True, nogil=True, inline="always")
def _probe(buf, w64, s: int, e: int, table, base: int, cap: int, us, ue, nu, j: int):
    """The id of slice buf[s:e] in interning table ``j`` (a new id if unseen).

    Keys are told apart by a 128-bit fingerprint (two 64-bit lanes that also
    fold in the length), not by comparing bytes: the first occurrence of a key
    may lie far back in the block, and fetching it costs a cache miss a lookup.
    Two distinct keys of one chunk collide with odds far below 2^-64.
    Table ``j`` is slots ``j*cap .. (j+1)*cap`` of ``table``, three words a
    slot (lane 1, lane 2, id + 1; 0 = empty), so a probe touches one cache
    line; id ``u`` keeps its first slice at ``us[base+u]``, ``ue[base+u]``.
    """
    h1, h2 = _fingerprint(buf, w64, s, e)
    mask = np.uint64(cap - 1)
    off = j * cap
    slot = h1 & mask
    while True:
        b = 3 * (off + slot)
        v = table[b + 2]
        if v == 0:
            u = nu[j]
            table[b] = h1
            table[b + 1] = h2
            table[b + 2] = np.uint64(u + 1)
            us[base + u] = s
            ue[base + u] = e
            nu[j] = u + 1
            return u
        if table[b] == h1 and table[b + 1] == h2:
            return np.int64(v) - 1
        slot = (slot + np.uint64(1)) & mask


@njit(cache=True, nogil=True)
def _split_one(buf, w64, s: int, e: int):
    """(url start, url end, path end) of a request line ``METHOD URL [PROTO]``; -1s if none."""
    if s < 0 or e - s < 3:
        return -1, -1, -1
    sp = s
    while sp < e and buf[sp] != 32:
        sp += 1
    if sp >= e:
        return -1, -1, -1
    us = sp + 1
    while us < e and buf[us] == 32:
        us += 1
    ue = e
    k = e - 1
    while k > us and buf[k] != 32:
        k -= 1
    if k > us and e - k > 5 and buf[k + 1] == 72 and buf[k + 2] == 84 and buf[k + 3] == 84 \
            and buf[k + 4] == 80 and buf[k + 5] == 47:
        ue = k
        while ue > us and buf[ue - 1] == 32:
            ue -= 1
    if ue <= us:
        return -1, -1, -1
    pe = _find3(buf, w64, us, ue, 63, 35, 35)  # the path ends at '?' or '#'
    return us, ue, pe


@njit(cache=True, nogil=True)
def _new_table(nc: int, cap: int):
    return np.zeros(3 * max(nc, 1) * cap, np.uint64)


@njit(cache=True, nogil=True)
def _grow(table, cap: int, nc: int):
    """A table of twice the capacity with every entry of the ``nc`` tables re-inserted."""
    ncap = cap * 2
    mask = np.uint64(ncap - 1)
    t2 = _new_table(nc, ncap)
    for j in range(nc):
        for old in range(j * cap, (j + 1) * cap):
            v = table[3 * old + 2]
            if v == 0:
                continue
            h1 = table[3 * old]
            slot = h1 & mask
            while t2[3 * (j * ncap + slot) + 2] != 0:
                slot = (slot + np.uint64(1)) & mask
            b = 3 * (j * ncap + slot)
            t2[b] = h1
            t2[b + 1] = table[3 * old + 1]
            t2[b + 2] = v
    return t2, ncap


@njit(cache=True, nogil=True)
def intern_rows(buf, w64, starts, ends, n: int, cols, us, ue, nu, ids, ok):
    """Intern slot ``cols[j]`` of rows ``ok`` into table ``j``: ``ids[j*rows + row]`` (-1: absent).

    ``rows`` is the capacity the arrays were made for (``ids.size // cols.size``);
    the hash tables start small and grow, so few distinct keys stay in cache.
    """
    nc = cols.size
    rows = ids.size // max(nc, 1)
    cap = 4096
    table = _new_table(nc, cap)
    for i in range(n):
        for j in range(nc):
            c = cols[j]
            s = starts[i, c]
            if not ok[i] or s < 0:
                ids[j * rows + i] = -1
            else:
                ids[j * rows + i] = _probe(buf, w64, s, ends[i, c], table, j * rows, cap, us,
                                           ue, nu, j)
                if 2 * nu[j] > cap:
                    table, cap = _grow(table, cap, nc)


@njit(cache=True, nogil=True)
def parse_log_lines(buf, w64, pos: int, end: int, max_lines: int,  # noqa: C901 (a numba kernel)
                    kinds, lit_off, lit_len, lits, ftype, fslot, quoted,
                    starts, ends, ts, errcode, errtok, lstart,
                    req_slot: int, url_slot: int, path_slot: int,
                    icols, us, ue, nu, ids):
    """Parse access-log lines against a compiled format program, in one pass.

    The program alternates literals (``kinds == 0``: bytes ``lits[off:off+len]``)
    and fields (``kinds == 1``); a field ends where the next literal starts (a
    quoted field skips backslash escapes), the last field at the next space.
    Anything after the program (extra fields such as a request time) is allowed,
    and a last quoted field cut off by the line end is taken as it is. Writes one
    row a line, rejected lines included (``errcode != 0``), and each line's start.

    The request line (slot ``req_slot``) is split into URL and path slots, and
    the slots ``icols`` of accepted lines are interned while the line is still
    in cache (see ``_probe``): ``ids[j*rows + row]``, -1 where absent.
    """
    ntok = kinds.size
    nslots = starts.shape[1]
    nic = icols.size
    irows = ids.size // max(nic, 1)
    icap = 4096
    table = _new_table(nic, icap)
    n = 0
    while n < max_lines and pos < end:
        lstart[n] = pos
        for k in range(nslots):
            starts[n, k] = -1
            ends[n, k] = -1
        ts[n] = _NAN
        err = E_OK
        etok = -1
        p = pos
        if buf[p] == 10 or (buf[p] == 13 and p + 1 < end and buf[p + 1] == 10):
            err = E_BLANK
        t = 0
        while err == E_OK and t < ntok:
            if kinds[t] == 0:
                o = lit_off[t]
                L = lit_len[t]
                if p + L > end:
                    err = E_LITERAL
                    etok = t
                    break
                for k in range(L):
                    if buf[p + k] != lits[o + k]:
                        err = E_LITERAL
                        etok = t
                        break
                if err != E_OK:
                    break
                p += L
            else:
                fe = -1
                cut = False
                if t + 1 < ntok:
                    o = lit_off[t + 1]
                    L = lit_len[t + 1]
                    c0 = lits[o]
                    esc = 92 if quoted[t] != 0 else c0
                    q = p
                    longf = quoted[t] != 0
                    if ftype[t] == F_TIME_CLF and p + 26 < end and buf[p + 26] == c0:
                        q = p + 26  # the usual 26-byte NCSA time: no scan
                    while True:
                        if longf:
                            q = _find3(buf, w64, q, end, c0, 10, esc)
                        else:
                            q = _find_short(buf, q, end, c0, 10, esc)
                        if q >= end or buf[q] == 10:
                            break
                        x = buf[q]
                        if x == c0:
                            same = q + L <= end
                            if same:
                                for k in range(1, L):
                                    if buf[q + k] != lits[o + k]:
                                        same = False
                                        break
                            if same:
                                fe = q
                                break
                            q += 1
                        else:  # a backslash escape: skip the escaped byte
                            if q + 1 < end and buf[q + 1] == 10:
                                q += 1
                                break
                            q += 2
                    if fe < 0:
                        if t + 2 >= ntok and quoted[t] != 0:
                            # the closing quote of the last field is missing: a cut line
                            fe = q if q <= end else end
                            if fe > p and buf[fe - 1] == 13:
                                fe -= 1
                            cut = True
                        else:
                            p = q if q <= end else end
                            err = E_FIELD
                            etok = t
                            break
                else:
                    fe = _find_short(buf, p, end, 32, 10, 13)
                ft = ftype[t]
                if ft == F_TIME_CLF or ft == F_TIME_ISO or ft == F_EPOCH:
                    if ft == F_TIME_CLF:
                        v = parse_clf(buf, p, fe)
                    elif ft == F_TIME_ISO:
                        v = parse_iso(buf, p, fe)
                    else:
                        v = parse_number(buf, p, fe)
                    if v != v:
                        err = E_TIME
                        etok = t
                        break
                    ts[n] = v
                elif ft == F_STATUS:
                    if fe - p != 3 or _digits(buf, p, 3) < 0:
                        err = E_STATUS
                        etok = t
                        break
                s = fslot[t]
                if s >= 0:
                    starts[n, s] = p
                    ends[n, s] = fe
                p = fe
                if cut:
                    break
            t += 1
        # the rest of the line: extra fields, or what follows an error
        le = _find_nl(buf, w64, p, end)
        if err == E_OK:
            if req_slot >= 0:
                a, b, c = _split_one(buf, w64, starts[n, req_slot], ends[n, req_slot])
                if a >= 0:
                    starts[n, url_slot] = a
                    ends[n, url_slot] = b
                    starts[n, path_slot] = a
                    ends[n, path_slot] = c
            for j in range(nic):
                s = starts[n, icols[j]]
                if s < 0:
                    ids[j * irows + n] = -1
                else:
                    ids[j * irows + n] = _probe(buf, w64, s, ends[n, icols[j]], table,
                                                j * irows, icap, us, ue, nu, j)
                    if 2 * nu[j] > icap:
                        table, icap = _grow(table, icap, nic)
        else:
            for j in range(nic):
                ids[j * irows + n] = -1
        errcode[n] = err
        errtok[n] = etok
        n += 1
        pos = le + 1 if le < end else end
    return n, pos


@njit(cache=True, nogil=True)
def parse_delimited(buf, pos: int, end: int, max_lines: int, delim: int, collapse: bool,  # noqa: C901 (a numba kernel)
                    col_slot, need_cols: int, ts_slot: int, starts, ends, ts, errcode, errtok):
    """Split delimited lines (CSV with RFC 4180 quotes, TSV, or runs of blanks).

    ``col_slot[c]`` is the output slot of column ``c`` (or -1); a line with fewer
    than ``need_cols`` columns is rejected, as is one whose ``ts_slot`` column is
    not a time. With ``collapse`` any run of spaces and tabs separates fields.
    """
    nslots = starts.shape[1]
    ncm = col_slot.size
    n = 0
    while n < max_lines and pos < end:
        le = _line_end(buf, pos, end)
        nxt = le + 1 if le < end else end
        if le > pos and buf[le - 1] == 13:
            le -= 1
        for k in range(nslots):
            starts[n, k] = -1
            ends[n, k] = -1
        ts[n] = _NAN
        err = E_OK
        etok = -1
        p = pos
        if collapse:
            while p < le and (buf[p] == 32 or buf[p] == 9):
                p += 1
        if p >= le:
            err = E_BLANK
        col = 0
        while err == E_OK:
            if not collapse and p < le and buf[p] == 34:
                q = p + 1
                closed = False
                while q < le:
                    if buf[q] == 34:
                        if q + 1 < le and buf[q + 1] == 34:
                            q += 2
                            continue
                        closed = True
                        break
                    q += 1
                if not closed:
                    err = E_QUOTE
                    etok = col
                    break
                fs = p + 1
                fe = q
                nx = q + 1
                while nx < le and buf[nx] != delim:
                    nx += 1
            else:
                q = p
                if collapse:
                    while q < le and buf[q] != 32 and buf[q] != 9:
                        q += 1
                else:
                    while q < le and buf[q] != delim:
                        q += 1
                fs = p
                fe = q
                nx = q
            if col < ncm:
                s = col_slot[col]
                if s >= 0:
                    starts[n, s] = fs
                    ends[n, s] = fe
            col += 1
            if nx >= le:
                break
            p = nx + 1
            if collapse:
                while p < le and (buf[p] == 32 or buf[p] == 9):
                    p += 1
                if p >= le:
                    break
        if err == E_OK and col < need_cols:
            err = E_FIELDS
            etok = col
        if err == E_OK and ts_slot >= 0:
            v = parse_any_time(buf, starts[n, ts_slot], ends[n, ts_slot])
            if v != v:
                err = E_TIME
                etok = ts_slot
            ts[n] = v
        errcode[n] = err
        errtok[n] = etok
        n += 1
        pos = nxt
    return n, pos


_M1 = np.uint64(0x9E3779B97F4A7C15)
_M2 = np.uint64(0xC2B2AE3D27D4EB4F)
_F1 = np.uint64(0xFF51AFD7ED558CCD)
_F2 = np.uint64(0xC4CEB9FE1A85EC53)


@njit(cache=True, nogil=True, inline="always")
def _fmix(k):
    k ^= k >> np.uint64(33)
    k *= _F1
    k ^= k >> np.uint64(33)
    k *= _F2
    k ^= k >> np.uint64(33)
    return k


@njit(cache=True, nogil=True, inline="always")
def _word(buf, s: int):
    return (np.uint64(buf[s]) | (np.uint64(buf[s + 1]) << np.uint64(8))
            | (np.uint64(buf[s + 2]) << np.uint64(16)) | (np.uint64(buf[s + 3]) << np.uint64(24))
            | (np.uint64(buf[s + 4]) << np.uint64(32)) | (np.uint64(buf[s + 5]) << np.uint64(40))
            | (np.uint64(buf[s + 6]) << np.uint64(48)) | (np.uint64(buf[s + 7]) << np.uint64(56)))


@njit(cache=True, nogil=True, inline="always")
def _word_at(buf, w64, q: int):
    """The 8 bytes at q as a little-endian word: two aligned loads where ``w64`` allows."""
    i = q >> 3
    if i + 1 < w64.size:
        r = q & 7
        if r == 0:
            return w64[i]
        sh = np.uint64(8 * r)
        return (w64[i] >> sh) | (w64[i + 1] << (np.uint64(64) - sh))
    return _word(buf, q)


@njit(cache=True, nogil=True, inline="always")
def _fingerprint(buf, w64, s: int, e: int):
    """Two 64-bit hash lanes of buf[s:e] (for interning only, not for routing)."""
    n = np.uint64(e - s)
    h1 = n * _M1
    h2 = (n + np.uint64(0x632BE59BD9B4E019)) * _M2
    while s + 8 <= e:
        w = _word_at(buf, w64, s)
        h1 = (h1 ^ w) * _M1
        h1 ^= h1 >> np.uint64(29)
        h2 = (h2 + ((w << np.uint64(23)) | (w >> np.uint64(41)))) * _M2
        h2 ^= h2 >> np.uint64(31)
        s += 8
    w = np.uint64(0)
    if s < e:
        if e - 8 >= 0 and n >= np.uint64(8):
            w = _word_at(buf, w64, e - 8)  # the last 8 bytes, overlapping: the length is mixed in
        else:
            sh = np.uint64(0)
            while s < e:
                w |= np.uint64(buf[s]) << sh
                sh += np.uint64(8)
                s += 1
    h1 = _fmix((h1 ^ w) * _M1)
    h2 = _fmix((h2 + ((w << np.uint64(23)) | (w >> np.uint64(41)))) * _M2 + h1)
    return h1, h2


@njit(cache=True, nogil=True)
def intern_slices(buf, w64, starts, ends):
    """Ids of equal byte slices: (ids, first row of each id). Absent slices (-1) are ``b""``.

    The same 128-bit fingerprints and growing table as the fused interning.
    """
    n = starts.size
    cap = 4096
    table = _new_table(1, cap)
    us = np.empty(max(n, 1), np.int64)
    ue = np.empty(max(n, 1), np.int64)
    nu = np.zeros(1, np.int64)
    ids = np.empty(n, np.int64)
    firsts = np.empty(max(n, 1), np.int64)
    for i in range(n):
        s = starts[i]
        e = ends[i]
        if s < 0:
            s = 0
            e = 0
        before = nu[0]
        u = _probe(buf, w64, s, e, table, 0, cap, us, ue, nu, 0)
        if nu[0] > before:
            firsts[u] = i
            if 2 * nu[0] > cap:
                table, cap = _grow(table, cap, 1)
        ids[i] = u
    return ids, firsts[:nu[0]]
