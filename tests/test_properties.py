"""What must always hold for keyed strategies, as hypothesis properties.

- determinism: the same nodes give the same map, however it was built;
- a join moves keys only to the joining node;
- a leave moves only the leaving node's keys;
- modulo is shown to break both; maglev breaks them only by a bounded sliver.
"""

from __future__ import annotations

import numpy as np
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis_strategies import (
    ALL_KEYED,
    CONSISTENT,
    NEAR_CONSISTENT,
    NOT_CONSISTENT,
    ORDER_FREE,
    digest_arrays,
    keyed_configs,
    node_names,
    seeds,
)

import routebench

D = digest_arrays(3000)


_IDS: dict[str, int] = {}


def node_id(name: str) -> int:
    """A stable integer per node name (numpy mangles some strings, e.g. '\\x00')."""
    return _IDS.setdefault(name, len(_IDS))


def owners(strategy, digests):
    """Node ids per digest (by name, not index: indices shift on removal)."""
    ids = np.array([node_id(n) for n in strategy.nodes], dtype=np.int64)
    return ids[strategy.lookup_many(digests)]


def digests_for(strategy):
    # ketama routes on 32-bit digests; give every strategy digests of real keys
    if strategy.name == "ketama":
        return strategy.digest([b"k%d" % i for i in range(3000)])
    return D


@given(keyed_configs(ALL_KEYED))
def test_same_nodes_same_map_however_built(config):
    name, params, nodes = config
    a = routebench.create(name, nodes, **params)
    b = routebench.create(name, nodes[:1], **params)
    for n in nodes[1:]:
        b.add(n)
    d = digests_for(a)
    assert np.array_equal(owners(a, d), owners(b, d))
    assert np.array_equal(owners(a, d), owners(routebench.create(name, nodes, **params), d))


@given(keyed_configs(ORDER_FREE, min_nodes=2), seeds)
def test_map_does_not_depend_on_node_order(config, seed):
    name, params, nodes = config
    shuffled = [nodes[i] for i in np.random.default_rng(seed).permutation(len(nodes))]
    a = routebench.create(name, nodes, **params)
    b = routebench.create(name, shuffled, **params)
    d = digests_for(a)
    assert np.array_equal(owners(a, d), owners(b, d))


@given(keyed_configs(CONSISTENT), node_names)
def test_join_moves_keys_only_to_the_new_node(config, new):
    name, params, nodes = config
    assume(new not in nodes)
    before = routebench.create(name, nodes, **params)
    after = before.copy()
    after.add(new)
    d = digests_for(before)
    b, a = owners(before, d), owners(after, d)
    moved = b != a
    assert np.all(a[moved] == node_id(new))


@given(keyed_configs(CONSISTENT, min_nodes=2), st.data())
def test_leave_moves_only_the_leaving_nodes_keys(config, data):
    name, params, nodes = config
    before = routebench.create(name, nodes, **params)
    gone = nodes[-1] if before.removable == "last" else data.draw(st.sampled_from(nodes))
    after = before.copy()
    after.remove(gone)
    d = digests_for(before)
    b, a = owners(before, d), owners(after, d)
    moved = b != a
    assert np.all(b[moved] == node_id(gone))
    assert not np.any(a == node_id(gone))


@given(keyed_configs(NEAR_CONSISTENT, min_nodes=2), node_names, st.data())
def test_maglev_disruption_beyond_the_minimum_is_small(config, new, data):
    # Maglev trades exact minimal disruption for balance (NSDI 2016, section 3.4).
    # With M >= 65537 and up to a dozen nodes, a join or leave moves a sliver of
    # keys between survivors. Measured over 3,000 random configurations (2-12
    # nodes, any name, every hash): median 0.16-0.19%, 99th percentile 0.52%,
    # worst 1.6% (join) and 2.0% (leave). The bound below is 3%; the sliver
    # grows as M shrinks, to ~4% at M=1009.
    name, params, nodes = config
    assume(new not in nodes)
    before = routebench.create(name, nodes, **params)
    joined = before.copy()
    joined.add(new)
    gone = data.draw(st.sampled_from(nodes))
    left = before.copy()
    left.remove(gone)
    b = owners(before, D)
    j, lv = owners(joined, D), owners(left, D)
    assert np.mean((b != j) & (j != node_id(new))) < 0.03
    assert np.mean((b != lv) & (b != node_id(gone))) < 0.03


@given(keyed_configs(NOT_CONSISTENT, min_nodes=2), node_names)
def test_modulo_moves_keys_between_surviving_nodes(config, new):
    name, params, nodes = config
    assume(new not in nodes)
    before = routebench.create(name, nodes, **params)
    after = before.copy()
    after.add(new)
    b, a = owners(before, D), owners(after, D)
    violations = (b != a) & (a != node_id(new))
    # N -> N+1 keeps a key only when d mod N == d mod (N+1): about 1/(N+1) of keys
    assert violations.mean() > 0.3
    assert np.mean(b != a) > 0.5
