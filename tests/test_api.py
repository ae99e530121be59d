"""The Python API of keyed strategies: create, nodes, add/remove, lookups, errors."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis_strategies import ALL_KEYED, key_lists, keyed_configs

import routebench
from routebench import RoutebenchError


@given(keyed_configs(), key_lists)
def test_lookup_many_agrees_with_lookup(config, keys):
    name, params, nodes = config
    s = routebench.create(name, nodes, **params)
    idx = s.lookup_many(s.digest(keys))
    assert idx.dtype.kind == "i" and idx.shape == (len(keys),)
    assert [s.nodes[i] for i in idx] == [s.lookup(k) for k in keys]


@given(keyed_configs(), key_lists)
def test_str_and_utf8_bytes_keys_route_alike(config, keys):
    name, params, nodes = config
    s = routebench.create(name, nodes, **params)
    texts = [k for k in keys if isinstance(k, str)]
    assert [s.lookup(k) for k in texts] == [s.lookup(k.encode()) for k in texts]


@pytest.mark.parametrize("name", ALL_KEYED)
def test_nodes_add_remove(name):
    s = routebench.create(name, ["a", "b", "c"])
    assert s.nodes == ("a", "b", "c")
    s.add("d")
    assert s.nodes == ("a", "b", "c", "d")
    s.remove("d")  # the last node: every strategy can remove it
    assert s.nodes == ("a", "b", "c")
    assert s.lookup("some key") in s.nodes


def test_count_gives_default_names():
    assert routebench.create("jump", 3).nodes == ("node-0", "node-1", "node-2")


def test_weighted_nodes_get_proportional_keys():
    keys = [f"key-{i}" for i in range(100_000)]
    for name in ("ring", "rendezvous", "maglev", "ketama"):
        s = routebench.create(name, {"small": 1.0, "big": 3.0})
        d = s.digest(keys)
        share = np.bincount(s.lookup_many(d), minlength=2) / d.size
        assert s.weights == (1.0, 3.0)
        assert share[1] == pytest.approx(0.75, abs=0.04), name


@pytest.mark.parametrize("name", ("modulo", "jump", "multiprobe"))
def test_unweighted_strategies_refuse_weights(name):
    with pytest.raises(RoutebenchError, match="does not support weights"):
        routebench.create(name, {"a": 1.0, "b": 2.0})
    s = routebench.create(name, ["a"])
    with pytest.raises(RoutebenchError, match="does not support weights"):
        s.add("b", weight=2.0)


def test_jump_refuses_to_remove_a_middle_node():
    s = routebench.create("jump", ["a", "b", "c"])
    with pytest.raises(RoutebenchError, match="only remove its last node.*'c'.*not 'a'"):
        s.remove("a")
    assert s.nodes == ("a", "b", "c")  # unchanged
    s.remove("c")
    assert s.nodes == ("a", "b")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: routebench.create("rign", 3), "unknown strategy 'rign'; available: modulo, ring"),
        (lambda: routebench.create("ring", 3, vnode=5), "unknown parameter 'vnode'.*accepted: hash, vnodes"),
        (lambda: routebench.create("ring", 3, vnodes=0), "vnodes.*below the minimum 1"),
        (lambda: routebench.create("ring", 3, vnodes="many"), "'many' is not an int"),
        (lambda: routebench.create("ring", 3, hash="sha1"), "'sha1' is not one of xxh3, xxh64"),
        (lambda: routebench.create("maglev", 3, M=65536), "65536 is not prime; nearest primes: 65521, 65537"),
        (lambda: routebench.create("maglev", 30, M=7), "M=7 is smaller than the 30 nodes"),
        (lambda: routebench.create("ring", []), "node list is empty"),
        (lambda: routebench.create("ring", 0), "node count 0: need at least 1"),
        (lambda: routebench.create("ring", ["a", "b", "a"]), "node 'a' is listed twice"),
        (lambda: routebench.create("ring", ["a", ""]), "node name '': expected a non-empty string"),
        (lambda: routebench.create("ring", {"a": -1}), "weight -1 must be a positive number"),
        (lambda: routebench.create("ring", ["a", "b\udcff"]), "node name 'b\\\\udcff': not valid Unicode"),
        (lambda: routebench.create("ketama", 3, hash="md5"), "unknown parameter 'hash' for strategy 'ketama'"),
    ],
)
def test_bad_input_is_one_clear_error(call, message):
    with pytest.raises(RoutebenchError, match=message):
        call()


@pytest.mark.parametrize("name", ["ring", "ketama", "jump", "maglev", "rendezvous", "modulo"])
def test_keys_that_are_not_unicode_text_are_one_clear_error(name):
    # a lone surrogate: what undecodable bytes in a command-line argument become
    s = routebench.create(name, 3)
    with pytest.raises(RoutebenchError, match="key 'k\\\\udcff': not valid Unicode"):
        s.lookup("k\udcff")
    with pytest.raises(RoutebenchError, match="not valid Unicode"):
        s.digest(["fine", "k\udcff"])
    assert s.lookup(b"k\xff") in s.nodes  # bytes are hashed as they are


def test_add_and_remove_errors_name_the_node():
    s = routebench.create("ring", ["a", "b"])
    with pytest.raises(RoutebenchError, match="node 'a' is already in 'ring'"):
        s.add("a")
    with pytest.raises(RoutebenchError, match="node 'z' is not in 'ring'; nodes: a, b"):
        s.remove("z")
    s.remove("b")
    with pytest.raises(RoutebenchError, match="only node left"):
        s.remove("a")


def test_lookup_many_rejects_non_integer_arrays():
    s = routebench.create("jump", 3)
    with pytest.raises(RoutebenchError, match="expected an array of uint64 digests, got dtype float64"):
        s.lookup_many(np.array([1.5, 2.5]))
    assert s.lookup_many(np.array([], dtype=np.uint64)).size == 0


@given(st.sampled_from(ALL_KEYED))
def test_copy_is_independent(name):
    s = routebench.create(name, ["a", "b", "c"])
    c = s.copy()
    c.add("d")
    assert s.nodes == ("a", "b", "c") and c.nodes == ("a", "b", "c", "d")


def test_strategies_lists_kinds():
    keyed = routebench.strategy_names("keyed")
    assert set(ALL_KEYED) <= set(keyed)
    assert set(keyed) <= set(routebench.strategy_names())


def test_strategies_subpackage_is_not_shadowed():
    import routebench.strategies as sub

    assert routebench.strategies is sub
    assert routebench.strategies.Balancer is routebench.Balancer
    assert "ring" in routebench.strategy_names("keyed")
