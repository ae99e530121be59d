"""Access-log formats: nginx ``log_format`` and Apache ``LogFormat`` strings compiled
into a program of literals and fields for the compiled line scanner.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ..._errors import RoutebenchError, choices
from . import _kernels as K

__all__ = ["LogProgram", "compile_log_format", "BUILTIN_LOG_FORMATS"]

#: named formats accepted by ``--log-format`` (nginx syntax)
BUILTIN_LOG_FORMATS = {
    "common": '$remote_addr $remote_logname $remote_user [$time_local] "$request" $status '
              '$body_bytes_sent',
    "combined": '$remote_addr $remote_logname $remote_user [$time_local] "$request" $status '
                '$body_bytes_sent "$http_referer" "$http_user_agent"',
    # nginx's stock "main" format: combined plus X-Forwarded-For
    "main": '$remote_addr - $remote_user [$time_local] "$request" $status $body_bytes_sent '
            '"$http_referer" "$http_user_agent" "$http_x_forwarded_for"',
}

# nginx variables with a type other than plain text
_TYPES = {"time_local": K.F_TIME_CLF, "time_iso8601": K.F_TIME_ISO, "msec": K.F_EPOCH,
          "status": K.F_STATUS}
_TIME_VARS = ("time_local", "time_iso8601", "msec")
#: Apache %-directives -> nginx variable names
_APACHE = {"h": "remote_addr", "a": "remote_addr", "l": "remote_logname", "u": "remote_user",
           "r": "request", "s": "status", ">s": "status", "<s": "status",
           "b": "body_bytes_sent", "B": "body_bytes_sent", "O": "bytes_sent",
           "D": "request_time_us", "T": "request_time", "U": "uri", "q": "query_string",
           "m": "request_method", "H": "server_protocol", "v": "host", "V": "host",
           "p": "server_port", "I": "request_length", "X": "connection_status"}
_CLIENT_VARS = ("remote_addr", "realip_remote_addr", "http_x_real_ip", "http_x_forwarded_for")
_VAR = re.compile(r"\$(\{[A-Za-z0-9_]+\}|[A-Za-z0-9_]+)")
_APACHE_DIRECTIVE = re.compile(r"%(?:\{([^}]*)\})?([<>]?[a-zA-Z%])")


@dataclass
class LogProgram:
    """A compiled format: token arrays for ``parse_log_lines`` and the field slots."""

    text: str
    kinds: np.ndarray
    lit_off: np.ndarray
    lit_len: np.ndarray
    lits: np.ndarray
    ftype: np.ndarray
    fslot: np.ndarray
    quoted: np.ndarray
    fields: list[str]  # slot -> variable name
    time_var: str | None

    def slot(self, var: str) -> int | None:
        return self.fields.index(var) if var in self.fields else None

    @property
    def client_var(self) -> str | None:
        return next((v for v in _CLIENT_VARS if v in self.fields), None)

    def describe_token(self, t: int) -> str:
        if self.kinds[t] == 0:
            o, n = int(self.lit_off[t]), int(self.lit_len[t])
            return "'" + bytes(self.lits[o:o + n]).decode("utf-8", "replace") + "'"
        return "$" + self.fields[int(self.fslot[t])]


def _apache_to_nginx(fmt: str) -> str:
    def sub(m: re.Match[str]) -> str:
        arg, d = m.group(1), m.group(2)
        if d == "%":
            return "%"
        if d == "t":
            if arg:
                raise RoutebenchError(
                    f"log format: %{{{arg}}}t (a custom time format) is not supported; "
                    "use %t, or nginx's $time_iso8601 / $msec"
                )
            return "[$time_local]"
        if d == "i" and arg:
            return "$http_" + arg.lower().replace("-", "_")
        if d == "C" and arg:
            return "$cookie_" + arg
        if d == "e" and arg:
            return "$env_" + arg.lower()
        if d == "n" and arg:
            return "$note_" + arg.lower()
        if d == "o" and arg:
            return "$sent_http_" + arg.lower().replace("-", "_")
        name = _APACHE.get(d)
        if name is None:
            raise RoutebenchError(f"log format: unknown Apache directive %{d}")
        return "$" + name
    return _APACHE_DIRECTIVE.sub(sub, fmt)


def compile_log_format(fmt: str) -> LogProgram:
    """Compile a builtin name, an nginx ``log_format`` string or an Apache ``LogFormat``."""
    text = BUILTIN_LOG_FORMATS.get(fmt, fmt)
    if "%" in text and "$" not in text:
        text = _apache_to_nginx(text)
    pieces: list[tuple[str, str]] = []  # ("lit", text) or ("var", name)
    pos = 0
    for m in _VAR.finditer(text):
        if m.start() > pos:
            pieces.append(("lit", text[pos:m.start()]))
        pieces.append(("var", m.group(1).strip("{}")))
        pos = m.end()
    if pos < len(text):
        pieces.append(("lit", text[pos:]))
    if not any(k == "var" for k, _ in pieces):
        raise RoutebenchError(
            f"log format {fmt!r}: no $variables; give an nginx log_format string such as "
            f"'$remote_addr [$time_local] \"$request\"' or one of: {choices(BUILTIN_LOG_FORMATS)}"
        )
    for (k1, v1), (k2, v2) in zip(pieces, pieces[1:]):
        if k1 == k2 == "var":
            raise RoutebenchError(
                f"log format {fmt!r}: ${v1} and ${v2} have nothing between them; "
                "fields need a separator"
            )
    fields: list[str] = []
    kinds, offs, lens, ftypes, slots, quoted = [], [], [], [], [], []
    lit_bytes = bytearray()
    for i, (kind, val) in enumerate(pieces):
        if kind == "lit":
            b = val.encode("utf-8")
            kinds.append(0)
            offs.append(len(lit_bytes))
            lens.append(len(b))
            lit_bytes += b
            ftypes.append(0)
            slots.append(-1)
            quoted.append(0)
        else:
            if val in fields:
                slot = -1  # a repeated variable is parsed but kept once
            else:
                slot = len(fields)
                fields.append(val)
            before = pieces[i - 1][1] if i > 0 else ""
            after = pieces[i + 1][1] if i + 1 < len(pieces) else ""
            kinds.append(1)
            offs.append(0)
            lens.append(0)
            ftypes.append(_TYPES.get(val, K.F_TEXT))
            slots.append(slot)
            quoted.append(int(before.endswith('"') and after.startswith('"')))
    time_var = next((v for v in _TIME_VARS if v in fields), None)
    return LogProgram(
        text=text,
        kinds=np.array(kinds, dtype=np.int64),
        lit_off=np.array(offs, dtype=np.int64),
        lit_len=np.array(lens, dtype=np.int64),
        lits=np.frombuffer(bytes(lit_bytes) or b"\0", dtype=np.uint8).copy(),
        ftype=np.array(ftypes, dtype=np.int64),
        fslot=np.array(slots, dtype=np.int64),
        quoted=np.array(quoted, dtype=np.int64),
        fields=fields,
        time_var=time_var,
    )
