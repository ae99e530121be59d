"""Hypothesis strategies for routebench's property tests, in one place.

Every test file draws its node sets, keys and strategy configurations from
here, so the properties read as the specification.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from routebench import HASH_NAMES

#: keyed strategies meant to move only the keys a join or leave must move
CONSISTENT = ("ring", "ketama", "rendezvous", "jump", "multiprobe")
#: consistent with a small, bounded amount of extra movement by design
NEAR_CONSISTENT = ("maglev",)
NOT_CONSISTENT = ("modulo",)
ALL_KEYED = NOT_CONSISTENT + CONSISTENT + NEAR_CONSISTENT
#: strategies whose node -> key map does not depend on the order nodes are listed in
ORDER_FREE = ("ring", "ketama", "rendezvous", "multiprobe")

#: libketama gives 39 hashes a node, not 40, at these node counts (float rounding
#: in floorf(pct * 40.0 * numservers)); uhashring's integer arithmetic gives 40
KETAMA_FLOAT_QUIRK = (61, 122, 237, 244, 474, 488, 933, 948, 951, 953, 976)

node_names = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
)


def node_lists(min_size: int = 1, max_size: int = 12) -> st.SearchStrategy[list[str]]:
    return st.lists(node_names, min_size=min_size, max_size=max_size, unique=True)


keys = st.one_of(st.text(max_size=40), st.binary(max_size=40))
key_lists = st.lists(keys, min_size=1, max_size=60)
hash_names = st.sampled_from(HASH_NAMES)
digests = st.integers(min_value=0, max_value=2**64 - 1)


def digest_arrays(size: int = 2000, seed: int = 0) -> np.ndarray:
    """A fixed array of uniformly random 64-bit digests (enough to catch movement)."""
    return np.random.default_rng(seed).integers(0, 2**64 - 1, size, dtype=np.uint64, endpoint=True)


seeds = st.integers(min_value=0, max_value=2**32 - 1)


def params_for(name: str) -> st.SearchStrategy[dict]:
    """Parameters worth varying for a strategy (small values keep tests fast)."""
    if name == "ring":
        return st.fixed_dictionaries({"vnodes": st.integers(1, 200), "hash": hash_names})
    if name == "multiprobe":
        return st.fixed_dictionaries({"probes": st.integers(1, 30), "hash": hash_names})
    if name == "maglev":
        return st.fixed_dictionaries({"M": st.sampled_from([65537, 131071]),
                                      "hash": hash_names})
    if name == "ketama":
        return st.just({})
    return st.fixed_dictionaries({"hash": hash_names})


@st.composite
def keyed_configs(draw, names=ALL_KEYED, min_nodes: int = 1, max_nodes: int = 12):
    """(strategy name, params, node names) with the constraints each strategy has."""
    name = draw(st.sampled_from(names))
    params = draw(params_for(name))
    nodes = draw(node_lists(min_nodes, max_nodes))
    if name == "maglev":  # the table must be well above N (the paper: M > 100 N)
        while params["M"] < 100 * (len(nodes) + 1):
            params["M"] = 65537
    if name == "ketama":
        nodes = draw(node_lists(min_nodes, max_nodes).filter(
            lambda ns: not {len(ns) - 1, len(ns), len(ns) + 1} & set(KETAMA_FLOAT_QUIRK)))
    return name, params, nodes
