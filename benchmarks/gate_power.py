"""How often the timing gate passes an A/A run and catches a 25% slowdown.

Each trial runs ``interleaved_timing`` between two worker interpreters (this
Python, as ``routebench ab`` would with two virtualenvs) and applies timing
gates to every strategy and metric:

- A/A: both sides identical; a trial passes when no gate fails.
- slowdown: the candidate's ``lookup_many`` of one strategy does 1.25x the
  work (``_slowdown.py``); a trial catches it when that gate fails. Any
  other gate failing in those trials is counted as a false alarm.

    python benchmarks/gate_power.py --trials 20            # ~15 min on 2 busy cores
    python benchmarks/gate_power.py --trials 3 --rounds 10  # a quick look
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from routebench.harness.ab import PythonArm, interleaved_timing
from routebench.reports.compare import compare, parse_gate

HERE = Path(__file__).resolve().parent


def trial(kind: str, args: argparse.Namespace, seed: int) -> dict:
    env = {"PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")])}
    slow = {"ROUTEBENCH_SLOWDOWN": args.slow if kind == "slowdown" else ""}
    base = PythonArm(sys.executable, "base", preload=("_slowdown",), env=env)
    new = PythonArm(sys.executable, "new", preload=("_slowdown",), env={**env, **slow})
    t0 = time.perf_counter()
    ab = interleaved_timing(args.strategies.split(","), [args.nodes], base, new,
                            rounds=args.rounds, processes=args.processes, seed=seed)
    gates = [parse_gate(g) for g in args.gate]
    cmp = compare(ab.base, ab.new, gates, show_all=True)
    target = args.slow.split("=")[0]
    rows = [{"strategy": r.group[0], "metric": r.metric, "status": r.status,
             "ratio": r.ratio.estimate, "low": r.ratio.low, "high": r.ratio.high}
            for r in cmp.rows if r.ratio is not None]
    caught = any(r["strategy"] == target and r["metric"] == "batch_ns_per_key"
                 and r["status"] == "FAIL" for r in rows)
    false = [f"{r['strategy']}.{r['metric']}" for r in rows if r["status"] == "FAIL"
             and not (kind == "slowdown" and r["strategy"] == target
                      and r["metric"] == "batch_ns_per_key")]
    raw = [{"strategy": b["strategy"], "blocks": b["timing"]["blocks"],
            "base": b["timing"]["rounds"], "new": n["timing"]["rounds"]}
           for b, n in zip(ab.base["results"], ab.new["results"])]
    return {"kind": kind, "seed": seed, "seconds": round(time.perf_counter() - t0, 1),
            "passed": cmp.passed, "caught": caught, "false_alarms": false, "rows": rows,
            "raw": raw}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--trials", type=int, default=20)
    p.add_argument("--rounds", type=int, default=20)
    p.add_argument("--processes", type=int, default=4)
    p.add_argument("--strategies", default="ring,maglev,jump,rendezvous")
    p.add_argument("--nodes", type=int, default=100)
    p.add_argument("--slow", default="ring=1.25", help="strategy=factor to slow down")
    p.add_argument("--gate", action="append",
                   default=None, help="timing gates (default: +10%% on each timed metric)")
    p.add_argument("--json", help="write every trial here")
    args = p.parse_args()
    args.gate = args.gate or ["batch_ns_per_key: +10%", "lookup_ns_p50: +10%",
                              "build_ms: +10%"]
    out = []
    for kind in ("A/A", "slowdown"):
        for t in range(args.trials):
            r = trial(kind, args, seed=t)
            out.append(r)
            target = [x for x in r["rows"] if x["strategy"] == args.slow.split("=")[0]
                      and x["metric"] == "batch_ns_per_key"][0]
            verdict = ("passed" if r["passed"] else "FAILED") if kind == "A/A" else (
                "caught" if r["caught"] else "MISSED")
            print(f"{kind:8s} trial {t + 1:2d}: {verdict:6s} {args.slow.split('=')[0]} batch "
                  f"ratio {target['ratio']:.3f} [{target['low']:.3f}, {target['high']:.3f}]"
                  f"  false alarms: {', '.join(r['false_alarms']) or 'none'}  ({r['seconds']} s)",
                  flush=True)
    aa = [r for r in out if r["kind"] == "A/A"]
    sl = [r for r in out if r["kind"] == "slowdown"]
    print(f"\nA/A passed {sum(r['passed'] for r in aa)}/{len(aa)}; "
          f"{args.slow} slowdown caught {sum(r['caught'] for r in sl)}/{len(sl)} "
          f"(false alarms in those runs: {sum(bool(r['false_alarms']) for r in sl)}); "
          f"gates: {'; '.join(args.gate)}; {args.rounds} rounds on {args.processes} worker "
          f"pairs; strategies {args.strategies} at N={args.nodes}")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps({"args": vars(args), "trials": out}, indent=1))


if __name__ == "__main__":
    main()
