"""routebench.testing: every built-in keyed strategy through the conformance suite, and the
suite catching strategies that break its properties."""

from __future__ import annotations

import numpy as np
import pytest

import routebench
from routebench import RoutebenchError
from routebench.strategies.modulo import ModuloStrategy
from routebench.testing import (
    Tolerance,
    assert_balanced,
    assert_minimal_disruption,
    check_strategy,
    remap_on_join,
    remap_on_leave,
    tolerance_for,
)

KEYED = routebench.strategy_names("keyed")
CONSISTENT = [n for n in KEYED if routebench.registry.get(n).consistent]


@pytest.mark.parametrize("name", KEYED)
def test_builtin_conforms(name):
    report = check_strategy(name, max_examples=12, keys=12_000)
    cls = routebench.registry.get(name)
    statuses = {c.name: c.status for c in report.checks}
    if cls.consistent:
        assert set(statuses.values()) == {"passed"}, str(report)
        for prop in ("join", "leave", "monotonicity"):
            # what was observed never exceeds what the class declares
            assert report[prop].observed["survivor_moves"] <= tolerance_for(cls).moves(True)
    else:  # modulo: declared inconsistent, and the suite shows it
        assert statuses["join"] == statuses["leave"] == "declared"
        assert report["join"].observed["survivor_moves"] > 0.5
        assert statuses["determinism"] == statuses["weights"] == "passed"
    assert str(report).startswith(name)


def test_exact_strategies_declare_no_slack():
    for name in ("ring", "rendezvous", "jump", "multiprobe"):
        t = tolerance_for(routebench.registry.get(name))
        assert t.survivor_moves == 0.0 and not t.survivor_moves_weighted
    assert tolerance_for(routebench.registry.get("maglev")).reason  # near-minimal, said why
    assert "removable='last'" in check_strategy("jump", max_examples=3, keys=4000,
                                                properties=("leave",))["leave"].detail


class _ShuffledRing(ModuloStrategy):
    """Claims to be consistent, but is hash mod N underneath: the suite must catch it."""

    name = "shuffled"
    consistent = True


class _Lopsided(_ShuffledRing):
    """Consistent (jump underneath) but sends half of all keys to node 0."""

    name = "lopsided"

    def _lookup_many(self, digests: np.ndarray) -> np.ndarray:
        out = routebench.create("jump", self._n).lookup_many(digests)
        out[digests < np.uint64(2**63)] = 0
        return out

    def _lookup_one(self, digest: int) -> int:
        return int(self._lookup_many(np.array([digest], dtype=np.uint64))[0])


def test_suite_catches_a_strategy_that_moves_survivors_keys():
    with pytest.raises(AssertionError, match="moved between surviving nodes"):
        check_strategy(_ShuffledRing, max_examples=5, keys=2000, properties=("join",))


def test_suite_catches_a_lopsided_strategy():
    with pytest.raises(AssertionError, match="its expected share"):
        check_strategy(_Lopsided, max_examples=5, keys=2000, properties=("weights",))


def test_declared_tolerance_is_read_from_the_class():
    class Loose(_ShuffledRing):
        name = "loose"
        conformance = {"survivor_moves": 1.0, "reason": "it is modulo, and says so"}

    report = check_strategy(Loose, max_examples=3, keys=4000, properties=("join",))
    assert report["join"].status == "passed" and report.tolerance.reason

    class Typo(_ShuffledRing):
        name = "typo"
        conformance = {"survivor_move": 0.1}

    with pytest.raises(RoutebenchError, match="unknown field 'survivor_move'"):
        check_strategy(Typo)
    with pytest.raises(RoutebenchError, match="unknown property 'speed'"):
        check_strategy("ring", properties=("speed",))


def test_hash_from_the_environment(monkeypatch):
    monkeypatch.setenv("ROUTEBENCH_HASH", "mmh3")
    assert check_strategy("jump", max_examples=2, keys=2000,
                          properties=("determinism",)).params["hash"] == "mmh3"
    monkeypatch.setenv("ROUTEBENCH_HASH", "sha1")
    with pytest.raises(RoutebenchError, match="ROUTEBENCH_HASH='sha1'"):
        check_strategy("jump", max_examples=2)


def test_helpers_measure_what_they_say():
    s = routebench.create("rendezvous", 20)
    assert_balanced(s, max_peak_to_mean=1.1)
    join, leave = assert_minimal_disruption(s, slack=0.15)
    assert join.between_survivors == leave.between_survivors == 0.0
    assert join.ideal == pytest.approx(1 / 21) and leave.ideal == pytest.approx(1 / 20)
    m = routebench.create("modulo", 20)
    assert remap_on_join(m).between_survivors > 0.8
    with pytest.raises(AssertionError, match="moved between surviving nodes"):
        assert_minimal_disruption(m)
    assert remap_on_leave(routebench.create("jump", 5)).between_survivors == 0.0
    assert Tolerance().moves(weighted=True) == 0.0
