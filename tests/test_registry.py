"""The strategy registry: built-ins and third-party plugins through entry points."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from routebench import RoutebenchError
from routebench._params import parse_spec
from routebench.registry import Registry

PLUGIN = '''
import numpy as np
from routebench import KeyedStrategy

class FirstNode(KeyedStrategy):
    """Every key to the first node: useless, but a valid plugin."""
    name = "first-node"
    summary = "every key to the first node"
    def _rebuild(self):
        pass
    def _lookup_one(self, digest):
        return 0
    def _lookup_many(self, digests):
        return np.zeros(digests.size, dtype=np.intp)
'''


def make_plugin_dir(tmp: Path, entries: dict[str, str], modules: dict[str, str]) -> Path:
    """A folder that importlib.metadata sees as an installed distribution."""
    for name, source in modules.items():
        (tmp / f"{name}.py").write_text(textwrap.dedent(source))
    info = tmp / "fakeplug-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: fakeplug\nVersion: 0.1\n")
    eps = "[routebench.strategies]\n" + "".join(f"{k} = {v}\n" for k, v in entries.items())
    (info / "entry_points.txt").write_text(eps)
    return tmp


@pytest.fixture
def plugin_path(tmp_path, monkeypatch):
    path = make_plugin_dir(
        tmp_path,
        {"first-node": "good_plugin:FirstNode",
         "broken": "broken_plugin:Nope",
         "not-a-strategy": "good_plugin:np"},
        {"good_plugin": PLUGIN, "broken_plugin": "raise ImportError('no module named sparkles')\n"},
    )
    monkeypatch.syspath_prepend(str(path))
    return path


def test_builtins_are_registered_by_name():
    r = Registry(load_entry_points=False)
    assert r.names("keyed") == ["modulo", "ring", "ketama", "rendezvous", "jump", "maglev",
                                "multiprobe", "jumpback", "flip", "binomial", "power", "anchor",
                                "dx", "memento", "nginx-chash", "nginx-hash", "nginx-iphash",
                                "haproxy-chash", "haproxy-map", "envoy-ringhash", "envoy-maglev"]
    assert r.origin("ring") == "built-in"


def test_unknown_strategy_lists_the_available_ones():
    with pytest.raises(RoutebenchError, match=r"unknown strategy 'rign'; available: modulo, ring, "):
        Registry(load_entry_points=False).get("rign")


def test_plugin_loads_and_broken_ones_are_skipped_by_name(plugin_path):
    r = Registry()
    with pytest.warns(RuntimeWarning, match="plugin 'broken'.*ImportError: no module named sparkles"):
        names = r.names()
    assert "first-node" in names
    s = r.create("first-node", ["a", "b"])
    assert s.lookup("anything") == "a"
    broken = {b.name: b for b in r.broken}
    assert set(broken) == {"broken", "not-a-strategy"}
    assert "fakeplug" in broken["broken"].origin
    assert "not a routebench Strategy" in broken["not-a-strategy"].error
    assert "ring" in names  # the built-ins still work


def test_a_plugin_cannot_take_a_builtin_name(tmp_path, monkeypatch):
    source = PLUGIN.replace('name = "first-node"', 'name = "ring"')
    monkeypatch.syspath_prepend(str(make_plugin_dir(tmp_path, {"ring": "imposter:FirstNode"},
                                                    {"imposter": source})))
    r = Registry()
    with pytest.warns(RuntimeWarning, match="already taken by built-in"):
        assert r.get("ring").__module__ == "routebench.strategies.ring"


def test_cli_list_shows_plugins_and_broken_ones(plugin_path):
    env = dict(os.environ, PYTHONPATH=str(plugin_path))
    out = subprocess.run([sys.executable, "-m", "routebench.cli", "list"], env=env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "first-node" in out.stdout and "plugin 'first-node'" in out.stdout
    assert "broken plugins (skipped):" in out.stdout
    assert "plugin 'broken'" in out.stdout


@pytest.mark.parametrize(
    ("text", "name", "params"),
    [
        ("ring", "ring", {}),
        ("ring:vnodes=200", "ring", {"vnodes": "200"}),
        ("ring:vnodes=200,hash=mmh3", "ring", {"vnodes": "200", "hash": "mmh3"}),
        ("nat:groups=50,20,users=900", "nat", {"groups": "50,20", "users": "900"}),
    ],
)
def test_parse_spec(text, name, params):
    assert parse_spec(text) == (name, params)


@pytest.mark.parametrize("text", ["", ":a=1", "ring:200", "ring:=5"])
def test_parse_spec_errors(text):
    with pytest.raises(RoutebenchError, match="expected|missing"):
        parse_spec(text)
