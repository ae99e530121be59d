"""The DynamoDB session store of ``routebench live``: a table, local or on AWS.

    >>> dynamodb_env("http://127.0.0.1:4567", local=True)["AWS_DEFAULT_REGION"]
    'us-east-1'

By default the table lives in ``dynalite`` (the npm package: a DynamoDB-compatible
server on LevelDB, here in memory), started on a free loopback port like the
other servers and stopped with them. ``--store-endpoint URL`` names a real
DynamoDB endpoint instead (``https://dynamodb.eu-west-1.amazonaws.com``); the
table (``--store-table``, default ``routebench-sessions``, hash key ``id`` of
type S) must exist there, and the credentials come from boto3's usual chain
(environment, ``~/.aws``, instance role). routebench creates the table only in
its own dynalite.

What a local emulator cannot show: AWS's network round trip (a few ms inside a
region, tens across; ``--store-rtt`` adds one to every store call),
throttling (provisioned capacity, hot partitions), and TTL deletion (dynalite
has no ``UpdateTimeToLive``; AWS deletes expired items lazily, within days, so
the backends treat an item past ``expires`` as missing either way).
"""

from __future__ import annotations

import os
import re
import time
from typing import Any

from ..._errors import RoutebenchError

__all__ = ["DEFAULT_TABLE", "LOCAL_CREDENTIALS", "dynamodb_env", "prepare_table",
           "dynalite_argv"]

DEFAULT_TABLE = "routebench-sessions"
#: dynalite checks that a request is signed, not by whom
LOCAL_CREDENTIALS = {"AWS_ACCESS_KEY_ID": "routebench", "AWS_SECRET_ACCESS_KEY": "routebench",
                     "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true"}
_REGION = re.compile(r"dynamodb[.-]([a-z]{2}(?:-[a-z]+)+-\d)\.amazonaws\.com")


def dynamodb_env(endpoint: str, local: bool, resolve: bool = False) -> dict[str, str]:
    """The environment of a process that talks to ``endpoint``: fixed credentials for
    the local dynalite; for a real endpoint, ours plus its region when the URL names
    one and the environment does not, and with ``resolve`` the credentials boto3's
    chain finds (profile, SSO, instance role ...) as ``AWS_ACCESS_KEY_ID`` and so on,
    for the backends' own signed requests."""
    env = dict(os.environ)
    if local:
        for k in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
            env.pop(k, None)
        env.update(LOCAL_CREDENTIALS)
        return env
    m = _REGION.search(endpoint)
    if m and not env.get("AWS_DEFAULT_REGION") and not env.get("AWS_REGION"):
        env["AWS_DEFAULT_REGION"] = m.group(1)
    if resolve:
        import boto3  # type: ignore[import-untyped]

        session = boto3.Session()
        creds = session.get_credentials()
        if creds is None:
            raise RoutebenchError(f"--store-endpoint {endpoint}: boto3 finds no credentials "
                                  "(environment, ~/.aws, instance role)")
        frozen = creds.get_frozen_credentials()
        region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or session.region_name
        if not region:
            raise RoutebenchError(f"--store-endpoint {endpoint}: no region (the URL names "
                                  "none; set AWS_DEFAULT_REGION or a profile's region)")
        env.update(AWS_ACCESS_KEY_ID=frozen.access_key, AWS_SECRET_ACCESS_KEY=frozen.secret_key,
                   AWS_DEFAULT_REGION=region)
        if frozen.token:
            env["AWS_SESSION_TOKEN"] = frozen.token
        else:
            env.pop("AWS_SESSION_TOKEN", None)
    return env


def dynalite_argv(binary: str, port: int, host: str) -> list[str]:
    """dynalite in memory on ``host:port``, tables ready at once."""
    return [binary, "--host", host, "--port", str(port), "--createTableMs", "0",
            "--deleteTableMs", "0", "--updateTableMs", "0"]


def _client(endpoint: str, local: bool) -> Any:
    try:
        import boto3
        import botocore.config  # type: ignore[import-untyped]
    except ImportError:
        raise RoutebenchError("--store dynamodb needs boto3: pip install "
                              "'routebench[dynamodb]'") from None
    env = dynamodb_env(endpoint, local)
    kw: dict[str, Any] = {"endpoint_url": endpoint, "config": botocore.config.Config(
        retries={"max_attempts": 2}, connect_timeout=2, read_timeout=10)}
    if local:
        kw.update(aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
                  aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
                  region_name=env["AWS_DEFAULT_REGION"])
    elif "AWS_DEFAULT_REGION" in env and "AWS_REGION" not in env:
        kw["region_name"] = env["AWS_DEFAULT_REGION"]
    try:
        return boto3.client("dynamodb", **kw)
    except Exception as exc:  # NoRegionError, a malformed URL: botocore's own message
        raise RoutebenchError(f"--store-endpoint {endpoint}: {exc}") from None


def prepare_table(endpoint: str, table: str, local: bool, timeout: float = 20.0) -> str:
    """Make sure ``table`` is there and active; what was done (for the run's log).

    In the local dynalite it is created (on-demand capacity) with TTL on
    ``expires`` where the server supports it. On a real endpoint it must exist
    with hash key ``id`` (S): routebench does not create tables in a user's account.
    """
    client = _client(endpoint, local)
    where = "dynalite" if local else endpoint
    try:
        desc = client.describe_table(TableName=table)["Table"]
    except client.exceptions.ResourceNotFoundException:
        if not local:
            raise RoutebenchError(
                f"--store-table {table}: no such table at {endpoint}; create it (hash key "
                f"'id', type S, TTL attribute 'expires') or name yours") from None
        desc = None
    except Exception as exc:
        raise RoutebenchError(f"--store dynamodb: {where}: {type(exc).__name__}: "
                              f"{exc}") from None
    if desc is not None:
        keys = {k["AttributeName"]: k["KeyType"] for k in desc["KeySchema"]}
        types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
        if keys != {"id": "HASH"} or types.get("id") != "S":
            raise RoutebenchError(f"--store-table {table}: its key is {keys} (types {types}); "
                                  "routebench needs hash key 'id' of type S and no range key")
        return f"table {table} at {where}"
    client.create_table(
        TableName=table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST")
    deadline = time.monotonic() + timeout
    while client.describe_table(TableName=table)["Table"]["TableStatus"] != "ACTIVE":
        if time.monotonic() > deadline:
            raise RoutebenchError(f"dynalite: table {table} not active after {timeout:g} s")
        time.sleep(0.05)
    try:
        client.update_time_to_live(TableName=table, TimeToLiveSpecification={
            "Enabled": True, "AttributeName": "expires"})
        ttl = "TTL on expires"
    except Exception:  # dynalite: UnknownOperationException; the backends check expires
        ttl = "no TTL deletion (the server has no UpdateTimeToLive)"
    return f"table {table} created in dynalite, {ttl}"
