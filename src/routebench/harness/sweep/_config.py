"""A sweep's TOML file: the grid it names, checked, and the cells it expands to.

    engine = "run"                      # run: keyed strategies over traces; or simulate
    seed = 0                            # the sweep seed
    seeds = [0, 1]                      # replicates: every cell runs once per value
    nodes = [10, 100]                   # node counts (simulate: backends)
    traces = ["uniform", "zipf:s=1.2", "logs/*.log.gz"]
    strategies = ["jump", { name = "ring", vnodes = [50, 100, 200] }]

    [run]                               # options every cell takes (routebench run's)
    keys = "50k"

A list-valued strategy parameter is an axis (one cell per value; several
lists multiply). A cell's seed derives from the sweep seed, the cell's
workload (trace or scenario) and its replicate, never from where or when it
runs: cells that differ only in strategy or N see the same requests.
"""

from __future__ import annotations

import glob
import hashlib
import itertools
import json
import os
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..._errors import RoutebenchError, choices

__all__ = ["Cell", "SweepConfig", "load_config", "parse_config", "cell_seed", "ENGINES"]

ENGINES = ("run", "simulate")
_TOP = ("engine", "seed", "seeds", "nodes", "traces", "scenarios", "strategies", "balancers",
        "run", "simulate")
#: routebench run's options a cell takes ([run] table)
RUN_OPTIONS = ("keys", "route_on", "trace_format", "log_format", "columns", "session",
               "session_gap", "strict")
_DEFAULT_KEYS = 200_000


@dataclass(frozen=True)
class Cell:
    """One point of the grid: a strategy at N over a workload, one replicate."""

    id: str
    engine: str
    strategy: str
    params: dict[str, Any]
    nodes: int
    workload: str  # a trace spec or path (run), a scenario preset (simulate)
    replicate: int
    seed: int
    options: dict[str, Any] = field(default_factory=dict)

    @property
    def spec(self) -> str:
        from ..._params import format_spec

        return format_spec(self.strategy, self.params)


@dataclass
class SweepConfig:
    """A checked sweep: what it runs and the cells it expands to."""

    path: str
    engine: str
    seed: int
    cells: list[Cell]
    raw: dict[str, Any]

    @property
    def digest(self) -> str:
        """What the cells are (not where the file is): a resumed sweep must match it."""
        text = json.dumps([c.id for c in self.cells] + [self.engine, self.seed,
                                                        self.cells[0].options],
                          sort_keys=True, default=str)
        return hashlib.blake2b(text.encode(), digest_size=8).hexdigest()

    def requests(self, cell: Cell) -> int | None:
        keys = cell.options.get("keys" if self.engine == "run" else "requests")
        if keys is None:
            return _DEFAULT_KEYS if self.engine == "simulate" or not _is_file(cell.workload) \
                else None
        from ..._units import parse_count

        return parse_count(str(keys), "keys", minimum=0) or None

    def cost_s(self, cell: Cell) -> float:
        """A rough CPU-seconds estimate of one cell (for --dry-run and the first ETA)."""
        n = self.requests(cell)
        if self.engine == "run":
            if n is None:  # a whole file: guess from its size (~100 bytes a line)
                try:
                    n = os.path.getsize(cell.workload) // 100
                except OSError:
                    n = _DEFAULT_KEYS
            return 0.9 + 3e-6 * n
        return 0.1 + 2e-5 * (n or _DEFAULT_KEYS)


def cell_seed(sweep_seed: int, workload: str, replicate: int) -> int:
    """A cell's seed: from the sweep seed, its workload and replicate only (31 bits)."""
    text = json.dumps([sweep_seed, workload, replicate])
    h = hashlib.blake2b(text.encode(), digest_size=8).digest()
    return int.from_bytes(h, "little") & 0x7FFF_FFFF


def load_config(path: str | os.PathLike[str]) -> SweepConfig:
    """Read and check a sweep's TOML file; a clear error naming the bad key or value."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RoutebenchError(f"{str(p)!r}: no such sweep file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutebenchError(f"{str(p)!r}: cannot read it: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise RoutebenchError(f"{str(p)!r} is not valid TOML: {exc}") from None
    return parse_config(data, str(p), base=p.parent)


def _where(path: str, key: str) -> str:
    return f"{path}: {key}"


def _unknown(data: Mapping[str, Any], accepted: Sequence[str], path: str, table: str) -> None:
    bad = [k for k in data if k not in accepted]
    if bad:
        where = f"[{table}] " if table else ""
        raise RoutebenchError(f"{path}: unknown key {where}{bad[0]!r}; accepted: "
                              f"{choices(accepted)}")


def _list(data: Mapping[str, Any], key: str, path: str, default: Any = None) -> list[Any]:
    v = data.get(key, default)
    if v is None:
        return []
    if not isinstance(v, list):
        v = [v]
    if not v:
        raise RoutebenchError(f"{path}: the grid is empty: {key} = [] (give at least one value)")
    return v


def _int(v: Any, what: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
        raise RoutebenchError(f"{what} = {v!r}: expected a whole number >= {minimum}")
    return v


def parse_config(data: Mapping[str, Any], path: str = "sweep",
                 base: Path | None = None) -> SweepConfig:
    """The checked sweep of a parsed TOML mapping (``base``: where relative paths start)."""
    _unknown(data, _TOP, path, "")
    engine = data.get("engine", "run")
    if engine not in ENGINES:
        raise RoutebenchError(f"{path}: engine = {engine!r}; accepted: {choices(ENGINES)}")
    other = "simulate" if engine == "run" else "run"
    wrong = {"run": ("scenarios", "balancers", "simulate"),
             "simulate": ("traces", "strategies", "run")}[engine]
    for k in wrong:
        if k in data:
            raise RoutebenchError(f"{path}: {k!r} belongs to engine = {other!r}; this sweep's "
                                  f"engine is {engine!r}")
    seed = _int(data.get("seed", 0), _where(path, "seed"), 0)
    seeds = [_int(s, _where(path, "seeds"), 0) for s in _list(data, "seeds", path, [0])]
    if len(set(seeds)) < len(seeds):
        raise RoutebenchError(f"{path}: seeds = {seeds}: a value is given twice")
    nodes = [_int(n, _where(path, "nodes"), 1) for n in _list(data, "nodes", path, [10])]
    if len(set(nodes)) < len(nodes):
        raise RoutebenchError(f"{path}: nodes = {nodes}: a node count is given twice")
    opts = dict(data.get(engine) or {})
    if not isinstance(data.get(engine, {}), dict):
        raise RoutebenchError(f"{path}: [{engine}] must be a table of options")
    if engine == "run":
        _unknown(opts, RUN_OPTIONS, path, "run")
        if "keys" in opts:
            from ..._units import parse_count

            parse_count(opts["keys"], f"{path}: [run] keys")
        specs = _strategies(_list(data, "strategies", path, _default_strategies()), "keyed",
                            path, "strategies")
        workloads = _traces(_list(data, "traces", path, ["uniform"]), path, base)
    else:
        from ..sim.scenarios import OPTIONS, get_preset

        accepted = [d for o in OPTIONS for d in o.dests if d not in ("backends",)]
        _unknown(opts, accepted, path, "simulate")
        opts = {k: ([str(x) for x in v] if isinstance(v, list) else
                    v if isinstance(v, bool) else str(v)) for k, v in opts.items()}
        specs = _strategies(_list(data, "balancers", path, ["p2c"]), "balancer", path,
                            "balancers")
        workloads = [str(s) for s in _list(data, "scenarios", path, ["default"])]
        for w in workloads:
            get_preset(w)
        _check_scenario(opts, workloads[0], nodes[0], path)
    cells = []
    for w in workloads:
        for r in seeds:
            s = cell_seed(seed, w, r)
            for name, params in specs:
                for n in nodes:
                    cells.append(Cell(_cell_id(engine, name, params, n, w, r), engine, name,
                                      params, n, w, r, s, opts))
    ids = [c.id for c in cells]
    if len(set(ids)) < len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise RoutebenchError(f"{path}: cell {dup!r} is in the grid twice (a strategy or "
                              "trace given twice?)")
    return SweepConfig(path, engine, seed, cells, dict(data))


def _cell_id(engine: str, name: str, params: Mapping[str, Any], n: int, workload: str,
             replicate: int) -> str:
    from ..._params import format_spec

    return f"{engine}|{format_spec(name, params)}|N={n}|{workload}|r{replicate}"


def _default_strategies() -> list[str]:
    from ...registry import registry

    return [c.name for c in registry.classes("keyed") if not getattr(c, "product", "")]


def _strategies(items: Iterable[Any], kind: str, path: str,
                key: str) -> list[tuple[str, dict[str, Any]]]:
    """``"ring:vnodes=100"`` or ``{name = "ring", vnodes = [50, 100]}``: (name, params) each,
    list-valued parameters expanded, every name and value checked now."""
    from ..._params import parse_spec
    from ...registry import registry

    out: list[tuple[str, dict[str, Any]]] = []
    for item in items:
        if isinstance(item, str):
            name, given = parse_spec(item)
            axes: dict[str, list[Any]] = {k: [v] for k, v in given.items()}
        elif isinstance(item, dict):
            if "name" not in item:
                raise RoutebenchError(f"{path}: {key}: {item!r} has no name (e.g. "
                                      "{ name = \"ring\", vnodes = [50, 100] })")
            name = str(item["name"])
            axes = {k: (v if isinstance(v, list) else [v]) for k, v in item.items()
                    if k != "name"}
            empty = [k for k, v in axes.items() if not v]
            if empty:
                raise RoutebenchError(f"{path}: the grid is empty: {name}.{empty[0]} = []")
        else:
            raise RoutebenchError(f"{path}: {key}: {item!r} is neither a spec string nor a "
                                  "table")
        try:
            cls = registry.get(name)
        except RoutebenchError as exc:
            raise RoutebenchError(f"{path}: {key}: {exc}") from None
        if cls.kind != kind:
            other = "strategies (engine run)" if cls.kind == "keyed" else \
                "balancers (engine simulate)"
            raise RoutebenchError(f"{path}: {key}: {name!r} is a {cls.kind}; it belongs in "
                                  f"{other}")
        names = list(axes)
        for values in itertools.product(*(axes[k] for k in names)):
            params = dict(zip(names, values, strict=True))
            try:
                cls.resolve_params(params)
            except RoutebenchError as exc:
                raise RoutebenchError(f"{path}: {key}: {exc}") from None
            out.append((name, params))
    return out


def _is_file(spec: str) -> bool:
    from ...datasets import is_file_spec

    return is_file_spec(spec)


def _traces(items: Iterable[Any], path: str, base: Path | None) -> list[str]:
    """Synthetic specs as given; files and globs as absolute paths (relative ones start at
    the sweep file's folder), each checked to exist."""
    from ...datasets import SYNTHETIC

    out: list[str] = []
    for item in items:
        spec = str(item)
        name = spec.split(":", 1)[0]
        if name in SYNTHETIC:
            from ..._params import parse_spec

            parse_spec(spec)
            out.append(spec)
            continue
        if spec == "-":
            raise RoutebenchError(f"{path}: traces: '-' (standard input) cannot be swept")
        full = spec if os.path.isabs(spec) or base is None else str(base / spec)
        if glob.has_magic(full):
            found = sorted(glob.glob(full))
            if not found:
                raise RoutebenchError(f"{path}: traces: {spec!r} matches no file")
            out += [os.path.abspath(f) for f in found]
        elif os.path.exists(full):
            out.append(os.path.abspath(full))
        else:
            raise RoutebenchError(f"{path}: traces: {spec!r} is neither a file nor a synthetic "
                                  f"trace; synthetic: {choices(SYNTHETIC)}")
    return out


def _check_scenario(opts: Mapping[str, Any], preset: str, n: int, path: str) -> None:
    """The [simulate] options build a scenario (checked once, before any cell runs)."""
    from ..sim.scenarios import scenario_fields
    from ..sim.simulator import Scenario

    try:
        fields, _ = scenario_fields({**opts, "scenario": preset, "backends": str(n)})
        Scenario(**fields)
    except RoutebenchError as exc:
        raise RoutebenchError(f"{path}: [simulate]: {exc}") from None
