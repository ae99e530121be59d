"""A backend for ``routebench live``: a small asyncio HTTP/1.1 server with session state.

    python _backend.py --name backend-0 --port 8001 --workers 8 \\
        --service exp:0.005 --store redis --store-addr 127.0.0.1:6379 --ttl 1800

Standard library only, and run as a script (not ``-m``): it starts in a few tens
of milliseconds without importing routebench, numpy or numba.

``--workers`` requests are served at once (the others wait, FIFO); each holds
its slot for a service time drawn like the simulator's (``fixed``, ``exp``,
``lognormal``, ``pareto``, by mean) plus the session store's round trips.

A request names its session (``X-Session``) and its place in the session
(``X-Seq``, 0 for the first). The first request writes the session's state;
every later one reads it first: when it is missing (the session lived on
another backend's memory, or expired) the answer is ``X-State: lost`` ("session
lost") and the state is written again, as a login would. Every write sets the
TTL. The state lives in this process's memory (``--store local``), in Redis
(RESP ``GET``/``SET ... EX``) or in memcached (text protocol ``get``/``set``),
over a pool of one connection a worker, or in a DynamoDB table (``--store
dynamodb``: an ``expires`` TTL attribute on every item, conditional writes; signed
HTTP on a pool of connections, or boto3 in a thread a worker with ``--store-client
boto3``). ``--store-rtt S`` waits S seconds before every store call, a network
round trip a loopback store does not have.

Standard library only but for ``--store-client boto3`` (the runner starts those
backends without ``-S``).

Every response carries ``X-Backend: NAME``. ``GET /health`` answers at once.

With ``--load-log PATH`` the backend keeps its own load counters: for every
request, the moments it arrived, took a worker slot and was answered
(``time.monotonic()``, the clock every process on the machine shares), appended
to PATH as 9-byte records (``<Bd``: code 0/1/2, time) every 20 ms, so a SIGKILL
loses at most the last 20 ms. ``routebench live`` turns them into outstanding
requests and busy workers over time (simulate's imbalance and utilisation).
"""

from __future__ import annotations

import argparse
import asyncio
import math
import os
import random
import signal
import struct
import sys
import time
from collections import OrderedDict
from typing import Any


# -- service times: the simulator's parametrisation (by mean) ---------------------------
def sampler(spec: str, seed: int) -> Any:
    """``KIND:A[:B]`` -> a function drawing one value (fixed, exp, lognormal, pareto)."""
    parts = spec.split(":")
    kind, a = parts[0], float(parts[1])
    b = float(parts[2]) if len(parts) > 2 else 0.0
    rng = random.Random(seed)
    if kind == "fixed":
        return lambda: a
    if kind == "exp":
        return lambda: rng.expovariate(1.0 / a)
    if kind == "lognormal":
        mu = math.log(a) - 0.5 * b * b
        return lambda: rng.lognormvariate(mu, b)
    if kind == "pareto":
        xm = a * (b - 1.0) / b
        return lambda: xm * (1.0 - rng.random()) ** (-1.0 / b)
    raise SystemExit(f"unknown service distribution {spec!r}")


# -- session stores -----------------------------------------------------------------------
class LocalStore:
    """State in this process's memory, with an idle TTL."""

    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self.data: OrderedDict[bytes, tuple[bytes, float]] = OrderedDict()

    async def start(self, n: int) -> None:
        return None

    async def get(self, key: bytes) -> bytes | None:
        item = self.data.get(key)
        if item is None:
            return None
        if item[1] < time.monotonic():
            del self.data[key]
            return None
        return item[0]

    async def set(self, key: bytes, value: bytes, prev: bytes | None = None) -> None:
        now = time.monotonic()
        self.data[key] = (value, now + self.ttl)
        self.data.move_to_end(key)
        while self.data:  # drop expired ones from the old end
            k, (_, exp) = next(iter(self.data.items()))
            if exp >= now:
                break
            del self.data[k]


class _Pool:
    """Connections to a store, one per worker: a connection serves one request at a time.

    A call that fails closes its connection and leaves an empty slot, which the next
    call reconnects: while the store is down (killed) every call fails at once, none
    waits for a connection that will not come, and after a restart calls go on."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.free: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None] = \
            asyncio.Queue()

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_connection(self.host, self.port)

    async def start(self, n: int) -> None:
        for _ in range(n):
            self.free.put_nowait(await self._open())

    async def call(self, payload: bytes, parse: Any) -> Any:
        conn = await self.free.get()
        try:
            if conn is None:  # lost with an earlier call: reconnect (refused while down)
                conn = await self._open()
            r, w = conn
            w.write(payload)
            result = await parse(r)
        except BaseException:
            if conn is not None:
                conn[1].close()  # a half-read answer: this connection is of no further use
            self.free.put_nowait(None)
            raise
        self.free.put_nowait(conn)
        return result


class RedisStore(_Pool):
    """``GET key`` / ``SET key value EX ttl`` over RESP."""

    def __init__(self, host: str, port: int, ttl: float) -> None:
        super().__init__(host, port)
        self.ttl = b"%d" % max(1, math.ceil(ttl))

    @staticmethod
    def _cmd(*args: bytes) -> bytes:
        return b"*%d\r\n" % len(args) + b"".join(b"$%d\r\n%s\r\n" % (len(a), a) for a in args)

    @staticmethod
    async def _reply(r: asyncio.StreamReader) -> bytes | None:
        line = await r.readline()
        if line[:1] == b"$":
            n = int(line[1:])
            if n < 0:
                return None
            return (await r.readexactly(n + 2))[:-2]
        if line[:1] in (b"+", b":"):
            return line[1:].rstrip()
        raise OSError(f"redis: {line.decode(errors='replace').strip()}")

    async def get(self, key: bytes) -> bytes | None:
        return await self.call(self._cmd(b"GET", key), self._reply)

    async def set(self, key: bytes, value: bytes, prev: bytes | None = None) -> None:
        await self.call(self._cmd(b"SET", key, value, b"EX", self.ttl), self._reply)


class MemcachedStore(_Pool):
    """``get key`` / ``set key 0 ttl n`` over memcached's text protocol."""

    def __init__(self, host: str, port: int, ttl: float) -> None:
        super().__init__(host, port)
        self.ttl = max(1, math.ceil(ttl))

    @staticmethod
    async def _value(r: asyncio.StreamReader) -> bytes | None:
        line = await r.readline()
        if line.startswith(b"END"):
            return None
        if not line.startswith(b"VALUE "):
            raise OSError(f"memcached: {line.decode(errors='replace').strip()}")
        n = int(line.split()[3])
        data = (await r.readexactly(n + 2))[:-2]
        await r.readline()  # END
        return data

    @staticmethod
    async def _stored(r: asyncio.StreamReader) -> bytes:
        line = await r.readline()
        if not line.startswith(b"STORED"):
            raise OSError(f"memcached: {line.decode(errors='replace').strip()}")
        return line

    async def get(self, key: bytes) -> bytes | None:
        return await self.call(b"get %s\r\n" % key, self._value)

    async def set(self, key: bytes, value: bytes, prev: bytes | None = None) -> None:
        await self.call(b"set %s 0 %d %d\r\n%s\r\n" % (key, self.ttl, len(value), value),
                        self._stored)


class DynamoStore:
    """A DynamoDB table as a session store would use it, through boto3.

    An item is ``{id: S, seq: S, expires: N}``; ``expires`` (epoch seconds) is the
    table's TTL attribute, set on every write. DynamoDB deletes expired items
    lazily (within days), so a read treats an item past ``expires`` as missing,
    as session stores do. Writes are conditional: a new session (or a re-login
    after a loss) only where no live item is (``attribute_not_exists(id) OR
    expires < :now``), a later one only where the item still holds what this
    request read (``seq = :prev``: optimistic locking, so two backends never
    overwrite each other's session blindly). A failed condition is an error of
    the request. boto3 is synchronous: each call runs in one of ``workers``
    threads; one client serves them all (boto3 clients are thread-safe).
    """

    def __init__(self, endpoint: str, table: str, ttl: float) -> None:
        import concurrent.futures

        import boto3  # type: ignore[import-untyped]
        import botocore.config  # type: ignore[import-untyped]

        self.table = table
        self.ttl = max(1, math.ceil(ttl))
        kw: dict[str, Any] = {"config": botocore.config.Config(
            retries={"max_attempts": 2, "mode": "standard"}, connect_timeout=2,
            read_timeout=10, max_pool_connections=64)}
        if endpoint:
            kw["endpoint_url"] = endpoint
        self.client = boto3.client("dynamodb", **kw)
        self.failed = self.client.exceptions.ConditionalCheckFailedException
        self.pool: concurrent.futures.ThreadPoolExecutor | None = None

    async def start(self, n: int) -> None:
        import concurrent.futures

        self.pool = concurrent.futures.ThreadPoolExecutor(n, thread_name_prefix="dynamodb")
        await self._run(self._ping)  # the table is there before the port opens

    def _ping(self) -> None:
        self.client.describe_table(TableName=self.table)

    async def _run(self, fn: Any, *args: Any) -> Any:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.pool, fn, *args)
        except self.failed:
            raise OSError("dynamodb: conditional write failed") from None
        except Exception as exc:  # botocore's errors: the request fails, the server goes on
            if isinstance(exc, (OSError, asyncio.CancelledError)):
                raise
            raise OSError(f"dynamodb: {type(exc).__name__}: {exc}") from None

    def _get(self, key: bytes) -> bytes | None:
        item = self.client.get_item(TableName=self.table, Key={"id": {"S": key.decode()}},
                                    ConsistentRead=True).get("Item")
        if item is None or int(item["expires"]["N"]) < time.time():
            return None
        return item["seq"]["S"].encode()

    def _put(self, key: bytes, value: bytes, prev: bytes | None) -> None:
        now = int(time.time())
        item = {"id": {"S": key.decode()}, "seq": {"S": value.decode()},
                "expires": {"N": str(now + self.ttl)}}
        if prev is None:
            cond = "attribute_not_exists(id) OR expires < :now"
            values = {":now": {"N": str(now)}}
        else:
            cond = "seq = :prev"
            values = {":prev": {"S": prev.decode()}}
        self.client.put_item(TableName=self.table, Item=item, ConditionExpression=cond,
                             ExpressionAttributeValues=values)

    async def get(self, key: bytes) -> bytes | None:
        return await self._run(self._get, key)

    async def set(self, key: bytes, value: bytes, prev: bytes | None = None) -> None:
        await self._run(self._put, key, value, prev)


class DynamoHttpStore(_Pool):
    """The same table, items and conditions as ``DynamoStore``, over DynamoDB's HTTP
    API directly: JSON bodies signed with AWS Signature Version 4 (stdlib ``hmac``),
    on one keep-alive connection a worker, in the event loop (no threads).
    Credentials and region come from the environment (``AWS_ACCESS_KEY_ID``,
    ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``, ``AWS_DEFAULT_REGION``), where
    the runner puts what boto3's credential chain resolved. boto3 spends ~0.5 ms of
    CPU a call where this spends ~0.1 (see the README); a failed call is not retried."""

    def __init__(self, endpoint: str, table: str, ttl: float) -> None:
        import urllib.parse

        u = urllib.parse.urlsplit(endpoint)
        self.tls = u.scheme == "https"
        port = u.port or (443 if self.tls else 80)
        super().__init__(u.hostname or "", port)
        self.hostport = u.netloc
        self.table = table
        self.ttl = max(1, math.ceil(ttl))
        env = os.environ
        self.key = env.get("AWS_ACCESS_KEY_ID", "")
        self.secret = env.get("AWS_SECRET_ACCESS_KEY", "")
        self.token = env.get("AWS_SESSION_TOKEN", "")
        self.region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1"
        if not self.key or not self.secret:
            raise OSError("dynamodb: no credentials (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY)")

    async def start(self, n: int) -> None:
        for _ in range(n):
            self.free.put_nowait(await self._open())
        await self._call("DescribeTable", {"TableName": self.table})

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        if self.tls:
            import ssl

            return await asyncio.open_connection(self.host, self.port,
                                                 ssl=ssl.create_default_context(),
                                                 server_hostname=self.host)
        return await asyncio.open_connection(self.host, self.port)

    def request(self, target: str, body: bytes, now: float | None = None) -> bytes:
        """The signed HTTP request of one DynamoDB call (SigV4, service dynamodb)."""
        import hashlib
        import hmac

        t = time.gmtime(time.time() if now is None else now)
        amz_date = time.strftime("%Y%m%dT%H%M%SZ", t)
        day = amz_date[:8]
        headers = {"content-type": "application/x-amz-json-1.0", "host": self.hostport,
                   "x-amz-date": amz_date, "x-amz-target": f"DynamoDB_20120810.{target}"}
        if self.token:
            headers["x-amz-security-token"] = self.token
        names = ";".join(sorted(headers))
        canonical = "\n".join(["POST", "/", "", *(f"{k}:{headers[k]}" for k in sorted(headers)),
                               "", names, hashlib.sha256(body).hexdigest()])
        scope = f"{day}/{self.region}/dynamodb/aws4_request"
        to_sign = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                             hashlib.sha256(canonical.encode()).hexdigest()])
        k = ("AWS4" + self.secret).encode()
        for part in (day, self.region, "dynamodb", "aws4_request"):
            k = hmac.new(k, part.encode(), hashlib.sha256).digest()
        sig = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
        headers["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.key}/{scope}, "
                                    f"SignedHeaders={names}, Signature={sig}")
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        return (f"POST / HTTP/1.1\r\n{head}content-length: {len(body)}\r\n\r\n"
                .encode() + body)

    @staticmethod
    async def _response(r: asyncio.StreamReader) -> tuple[int, bytes]:
        head = await r.readuntil(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        status = int(lines[0].split()[1])
        length = 0
        for line in lines[1:]:
            k, _, v = line.partition(b":")
            if k.strip().lower() == b"content-length":
                length = int(v)
            elif k.strip().lower() == b"transfer-encoding":
                raise OSError("dynamodb: chunked response not supported")
        return status, await r.readexactly(length)

    async def _call(self, target: str, args: dict[str, Any]) -> dict[str, Any]:
        import json

        status, body = await self.call(self.request(target, json.dumps(args).encode()),
                                       self._response)
        out = json.loads(body) if body else {}
        if status != 200:
            kind = str(out.get("__type", "")).rpartition("#")[2] or f"HTTP {status}"
            if kind == "ConditionalCheckFailedException":
                raise OSError("dynamodb: conditional write failed")
            raise OSError(f"dynamodb: {kind}: {out.get('message') or out.get('Message', '')}")
        return out

    async def get(self, key: bytes) -> bytes | None:
        item = (await self._call("GetItem", {"TableName": self.table, "ConsistentRead": True,
                                             "Key": {"id": {"S": key.decode()}}})).get("Item")
        if item is None or int(item["expires"]["N"]) < time.time():
            return None
        return item["seq"]["S"].encode()

    async def set(self, key: bytes, value: bytes, prev: bytes | None = None) -> None:
        now = int(time.time())
        args: dict[str, Any] = {"TableName": self.table, "Item": {
            "id": {"S": key.decode()}, "seq": {"S": value.decode()},
            "expires": {"N": str(now + self.ttl)}}}
        if prev is None:
            args["ConditionExpression"] = "attribute_not_exists(id) OR expires < :now"
            args["ExpressionAttributeValues"] = {":now": {"N": str(now)}}
        else:
            args["ConditionExpression"] = "seq = :prev"
            args["ExpressionAttributeValues"] = {":prev": {"S": prev.decode()}}
        await self._call("PutItem", args)


class Delayed:
    """A store whose every call first waits ``rtt`` seconds: a network round trip."""

    def __init__(self, store: Any, rtt: float) -> None:
        self.store, self.rtt = store, rtt

    async def start(self, n: int) -> None:
        await self.store.start(n)

    async def get(self, key: bytes) -> bytes | None:
        await asyncio.sleep(self.rtt)
        return await self.store.get(key)

    async def set(self, key: bytes, value: bytes, prev: bytes | None = None) -> None:
        await asyncio.sleep(self.rtt)
        await self.store.set(key, value, prev)
# -- load counters ----------------------------------------------------------------------------
ARRIVE, START, END = 0, 1, 2
_REC = struct.Struct("<Bd")


class LoadLog:
    """Arrive / start / end moments of requests, appended to a file every 20 ms."""

    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self.buf = bytearray()

    def note(self, code: int) -> None:
        self.buf += _REC.pack(code, time.monotonic())

    def flush(self) -> None:
        if self.buf:
            os.write(self.fd, self.buf)
            self.buf.clear()

    async def keep_flushing(self) -> None:
        while True:
            await asyncio.sleep(0.02)
            self.flush()


class _NoLog:
    def note(self, code: int) -> None:
        return None


# -- the server -----------------------------------------------------------------------------
class Backend:
    def __init__(self, args: argparse.Namespace) -> None:
        self.name = args.name.encode()
        self.slots = asyncio.Semaphore(args.workers)
        draw = sampler(args.service, args.seed)
        speed = args.speed
        self.service = draw if speed == 1.0 else (lambda: draw() / speed)
        if args.store == "local":
            self.store: Any = LocalStore(args.ttl)
        elif args.store == "dynamodb":
            cls_ = DynamoStore if args.store_client == "boto3" else DynamoHttpStore
            self.store = cls_(args.store_addr, args.store_table, args.ttl)
        else:
            host, _, port = args.store_addr.rpartition(":")
            cls = RedisStore if args.store == "redis" else MemcachedStore
            self.store = cls(host, int(port), args.ttl)
        if args.store_rtt > 0:
            self.store = Delayed(self.store, args.store_rtt)
        self.workers = args.workers
        self.log: Any = LoadLog(args.load_log) if args.load_log else _NoLog()

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                keep = await self.answer(head, writer)
                await writer.drain()
                if not keep:
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    async def answer(self, head: bytes, writer: asyncio.StreamWriter) -> bool:
        lines = head.split(b"\r\n")
        parts = lines[0].split()
        path = parts[1] if len(parts) > 1 else b"/"
        hdr: dict[bytes, bytes] = {}
        for line in lines[1:]:
            k, sep, v = line.partition(b":")
            if sep:
                hdr[k.strip().lower()] = v.strip()
        keep = hdr.get(b"connection", b"").lower() != b"close"
        if path == b"/health":
            self.reply(writer, b"200 OK", b"ok", b"", keep)
            return keep
        session = hdr.get(b"x-session")
        log = self.log
        log.note(ARRIVE)
        try:
            return await self._serve(session, hdr, writer, keep)
        finally:
            log.note(END)

    async def _serve(self, session: bytes | None, hdr: dict[bytes, bytes],
                     writer: asyncio.StreamWriter, keep: bool) -> bool:
        async with self.slots:
            self.log.note(START)
            state = b"none"
            if session is not None:
                key = b"rb:" + session
                seq = hdr.get(b"x-seq", b"0")
                try:
                    prev = None
                    if seq != b"0":
                        prev = await self.store.get(key)
                        state = b"ok" if prev is not None else b"lost"
                    else:
                        state = b"new"
                    await asyncio.sleep(self.service())
                    await self.store.set(key, seq, prev)
                except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                    msg = f"session store: {exc}".encode()
                    self.reply(writer, b"503 Service Unavailable", msg, b"error", False)
                    return False
            else:
                await asyncio.sleep(self.service())
        body = b"session lost" if state == b"lost" else b"ok"
        self.reply(writer, b"200 OK", body, state, keep)
        return keep

    def reply(self, writer: asyncio.StreamWriter, status: bytes, body: bytes, state: bytes,
              keep: bool) -> None:
        writer.write(b"HTTP/1.1 %s\r\nX-Backend: %s\r\nX-State: %s\r\nContent-Length: %d\r\n"
                     b"Content-Type: text/plain\r\n%s\r\n%s"
                     % (status, self.name, state, len(body),
                        b"" if keep else b"Connection: close\r\n", body))


async def serve(args: argparse.Namespace) -> None:
    backend = Backend(args)
    await backend.store.start(args.workers)
    server = await asyncio.start_server(backend.handle, args.host, args.port, backlog=1024,
                                        reuse_address=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    flusher = (asyncio.ensure_future(backend.log.keep_flushing())
               if isinstance(backend.log, LoadLog) else None)
    async with server:
        await stop.wait()
    if flusher is not None:
        flusher.cancel()
        backend.log.flush()


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--name", required=True)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--service", default="exp:0.005", help="KIND:MEAN[:SHAPE]")
    p.add_argument("--store", choices=("local", "redis", "memcached", "dynamodb"),
                   default="local")
    p.add_argument("--store-addr", default="", help="HOST:PORT, or dynamodb's endpoint URL")
    p.add_argument("--store-table", default="routebench-sessions")
    p.add_argument("--store-client", choices=("http", "boto3"), default="http",
                   help="dynamodb: signed HTTP in the event loop, or boto3 in threads")
    p.add_argument("--store-rtt", type=float, default=0.0, help="seconds before a store call")
    p.add_argument("--ttl", type=float, default=1800.0)
    p.add_argument("--speed", type=float, default=1.0,
                   help="service times are divided by this (0.25: four times slower)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--load-log", default="", help="append load counters to this file")
    p.add_argument("--run", default="", help="the run's directory (names the process)")
    args = p.parse_args(argv)
    try:
        import uvloop  # type: ignore[import-not-found]

        uvloop.install()
    except ImportError:
        pass
    try:
        asyncio.run(serve(args))
    except OSError as exc:
        print(f"{args.name}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
