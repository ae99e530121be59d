"""Hypothesis strategies for simulator tests: small random scenarios and balancer specs."""

from __future__ import annotations

from hypothesis import strategies as st

from routebench.harness.sim import Event, Scenario

__all__ = ["BALANCERS", "balancers", "scenarios"]

#: every built-in balancer, with the keyed variants that change behaviour
BALANCERS = (
    "round-robin", "random", "least-connections", "p2c", "p2c:d=3",
    "cookie-sticky", "cookie-sticky:base=p2c", "ip-hash-sticky", "ip-hash-sticky:keyed=ring",
    "ip-hash-sticky:keyed=maglev", "key-hash:on=key", "key-hash:on=session",
    "bounded-load", "bounded-load:on=key,eps=0.1",
)

balancers = st.sampled_from(BALANCERS)


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Small scenarios (a few thousand requests) with every feature switched on at random."""
    n = draw(st.integers(1, 6))
    events = []
    if draw(st.booleans()):
        b = draw(st.integers(0, n - 1))
        t = draw(st.floats(0.05, 2.0))
        events.append(Event("crash", f"backend-{b}", t))
        if draw(st.booleans()):
            events.append(Event("recover", f"backend-{b}", t + draw(st.floats(0.0, 1.0))))
    if draw(st.booleans()):
        events.append(Event("join", f"backend-{n}", draw(st.floats(0.0, 2.0))))
    if n > 1 and draw(st.booleans()):
        events.append(Event("drain", f"backend-{draw(st.integers(0, n - 1))}",
                            draw(st.floats(0.0, 2.0))))
    clients = draw(st.integers(6, 300))
    nat = draw(st.sampled_from([(), (min(3, clients),), (min(5, clients), 1)]))
    return Scenario(
        backends=n,
        workers=draw(st.integers(1, 3)),
        clients=clients,
        nat=nat,
        load=draw(st.floats(0.2, 0.95)),
        service=draw(st.sampled_from(["exp:mean=0.01", "lognormal:mean=0.01,sigma=1.5",
                                      "fixed:value=0.01"])),
        session_length=draw(st.sampled_from(["1", "fixed:value=5", "lognormal:mean=5,sigma=1",
                                             "pareto:mean=5,alpha=1.5"])),
        think=draw(st.sampled_from(["exp:mean=0.2", "fixed:value=0.1"])),
        requests=draw(st.integers(50, 3000)),
        events=tuple(events),
        store=draw(st.sampled_from(["local", "external"])),
        ttl=draw(st.sampled_from([1800.0, 0.3])),
        ip_change_rate=draw(st.sampled_from([0.0, 0.5])),
        keys="zipf:s=1,universe=50",
        queue_limit=draw(st.sampled_from([0, 0, 3])),
        warm_start=draw(st.booleans()),
    )
