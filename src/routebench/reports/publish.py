"""Published reports: Markdown with images beside it, and one self-contained HTML page.

``publish`` reads result reports (``routebench run``, ``ab`` and, when
present, ``simulate``) and writes ``report.md``, ``report.html`` and
``img/*.png`` (or ``.svg``) into a directory: plots first (people look at
them), then the tables per trace, what changed against a baseline, the
environment the numbers were measured on, and the commands that made them.

The HTML page embeds its images as data URIs, so it can be attached to a CI
run or mailed as one file. Plots need matplotlib (the ``report`` extra).

Simulation results (``"kind": "simulate"``) are drawn when they carry
response-time percentiles as metrics named like ``latency_ms_p99`` (also
``response_*``, ``rt_*``), and load over time as a record field
``"series": {"t": [...], "load": [[load per backend] per time]}`` (what
``routebench simulate`` writes: mean outstanding requests per window; or a
``{backend: [...]}`` map, or ``outstanding`` / ``in_flight`` for ``load``).
"""

from __future__ import annotations

import base64
import html
import os
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .._errors import RoutebenchError
from ..records import workload
from .table import format_table, run_table

__all__ = ["publish", "Published", "REPORT_MD", "REPORT_HTML"]

REPORT_MD = "report.md"
REPORT_HTML = "report.html"
_ENV_KEYS = ("routebench", "git_commit", "git_dirty", "python", "implementation", "numpy",
             "scipy", "numba", "xxhash", "mmh3", "platform", "machine", "cpu", "cpu_count")


@dataclass
class _Heading:
    text: str
    level: int = 2


@dataclass
class _Text:
    text: str  # plain text; `code` spans allowed


@dataclass
class _Table:
    headers: list[str]
    rows: list[list[Any]]
    raw_md: str | None = None
    raw_html: str | None = None


@dataclass
class Published:
    """What ``publish`` wrote, and its comparison with the baseline (``None`` without one)."""

    files: list[Path]
    comparison: Any = None


@dataclass
class _Image:
    path: Path
    alt: str
    caption: str


@dataclass
class _Code:
    text: str


def _require_matplotlib() -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RoutebenchError(
            "routebench report draws its plots with matplotlib, which is not installed; "
            "pip install 'routebench[report]'"
        ) from None


def publish(reports: Sequence[tuple[str, Mapping[str, Any]]], outdir: str | os.PathLike[str],
            *, title: str = "routebench report", baseline: Mapping[str, Any] | None = None,
            gates: Mapping[str, Any] | None = None, confidence: float = 0.95,
            image_format: str = "png", baseline_name: str | None = None) -> Published:
    """Write the report for ``reports`` (``(path, report)`` pairs) into ``outdir``.

    With ``baseline`` (read from ``baseline_name``), the last report is compared
    with it under ``gates`` (see ``routebench.reports.compare``) before anything
    is written, so a comparison that cannot be made leaves no partial output.
    Returns the files written (the Markdown, the HTML page, then the images)
    and that comparison.
    """
    from . import _plots

    _require_matplotlib()
    if image_format not in ("png", "svg"):
        raise RoutebenchError(f"image format {image_format!r}; available: png, svg")
    if not reports:
        raise RoutebenchError("no reports to publish")
    cmp = None
    if baseline is not None:
        from .compare import compare

        cmp = compare(baseline, reports[-1][1], gates or {}, confidence=confidence)
    out = Path(outdir)
    try:
        (out / "img").mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RoutebenchError(f"cannot create {str(out / 'img')!r}: {exc.strerror}") from None

    every = [(p, r) for p, rep in reports if rep.get("kind", "run") == "run"
             for r in rep["results"]]
    static = _plots.unique(r for _, r in every)
    kept = {id(r) for r in static}
    repeated = [p for p, r in every if id(r) not in kept]
    sims = [r for _, rep in reports if rep.get("kind") == "simulate" for r in rep["results"]]
    others = [(p, rep) for p, rep in reports if rep.get("kind", "run") not in ("run", "simulate")]
    page = _Page(out / "img", image_format, _plots.Colors(
        r.get("strategy", "?") for r in static + sims))
    page.blocks += [_Heading(title, 1), _Text(_intro(reports))]
    if repeated:
        files = ", ".join(f"`{Path(p).name}` ({n})" for p, n in Counter(repeated).items())
        page.blocks.append(_Text(
            f"{len(repeated)} result(s) repeat a scenario an earlier file already has (same "
            f"strategy, parameters, trace and N) and are shown once, from the first file: "
            f"{files}. Use `routebench compare` to see how repeated runs differ."))
    if static:
        _static_figures(page, static)
    if sims:
        _sim_figures(page, sims)
    for path, rep in reports:
        if rep.get("kind") == "sweep":
            _sweep_figures(page, Path(path).stem, rep)
    if cmp is not None:
        base = f" `{Path(baseline_name).name}`" if baseline_name else ""
        page.blocks.append(_Heading(f"Changes against the baseline{base} (new: "
                                    f"`{Path(reports[-1][0]).name}`)"))
        page.figure(_plots.timing_intervals, cmp.rows, "timing-intervals", "timing intervals",
                    "Candidate over base for each timed scenario, from interleaved rounds: a bar "
                    "is the confidence interval, a grey tick the gate.", colors=False)
        page.blocks.append(_Text(cmp.summary().replace("\n", "  \n")))
        if cmp.rows:
            page.blocks.append(_Table([], [], cmp.table("github"), cmp.table("html")))
    _tables(page, static, sims, others)
    page.blocks += [_Heading("Environment"), _env_table(reports), _Heading("Reproduce"),
                    _Code("\n".join(_command(rep) for _, rep in reports))]

    md = out / REPORT_MD
    html_page = out / REPORT_HTML
    try:
        md.write_text(_markdown(page.blocks, out), encoding="utf-8")
        html_page.write_text(_html(page.blocks, title), encoding="utf-8")
    except OSError as exc:
        raise RoutebenchError(f"cannot write the report in {str(out)!r}: {exc.strerror}") from None
    return Published([md, html_page, *page.written], cmp)


class _Page:
    """The blocks of a report page and the images written for it."""

    def __init__(self, img: Path, image_format: str, colors: Any) -> None:
        self.img, self.image_format, self.colors = img, image_format, colors
        self.blocks: list[Any] = []
        self.written: list[Path] = []

    def figure(self, fn: Any, rows: Any, stem: str, alt: str, caption: str,
               colors: bool = True) -> None:
        extra = (self.colors,) if colors else ()
        p = fn(rows, self.img / f"{stem}.{self.image_format}", *extra)
        if p is not None:
            self.written.append(p)
            self.blocks.append(_Image(p, alt, caption))


def _static_figures(page: _Page, static: Sequence[Mapping[str, Any]]) -> None:
    from . import _plots

    page.blocks.append(_Heading("Keyed strategies"))
    page.figure(_plots.keys_per_node, static, "keys-per-node", "keys per node",
                "How evenly each strategy spreads keys: every dot is one node's keys over the "
                "mean; the bars mark the busiest and the idlest node.")
    page.figure(_plots.peak_vs_vnodes, static, "peak-vs-vnodes", "peak-to-mean vs vnodes",
                "Peak-to-mean load of a ring as its virtual nodes per node grow; dotted lines "
                "are the strategies that have no virtual nodes, at the same N.")
    page.figure(_plots.remap_vs_nodes, static, "remap-vs-nodes", "remap fraction vs N",
                "Share of distinct keys that change node when one node joins or leaves; the "
                "dashed line is the least any strategy can move (1/(N+1) and 1/N).")
    page.figure(_plots.lookup_vs_nodes, static, "lookup-vs-nodes", "lookup ns vs N",
                "Lookup cost as N grows, log-log: batch lookup_many per key and one scalar "
                "lookup call. Timings of one run on a shared machine: compare shapes, and use "
                "`routebench ab` for a gate.")
    page.figure(_plots.static_hit_over_time, static, "cache-hit-over-time",
                "hit ratio around a join and a leave",
                "With `--cache`: the hit ratio per window of requests over the replay (left), "
                "then as the trace's start is replayed again, a node joining (middle) and "
                "leaving (right) at the dotted line; dashed, the same requests without the "
                "event.")


#: what a sweep's axes plots draw, by engine
SWEEP_METRICS = {"run": ("peak_to_mean", "remap_join", "batch_ns_per_key"),
                 "simulate": ("latency_p99", "served_imbalance_total", "sessions_lost_pct")}


def _sweep_figures(page: _Page, stem: str, rep: Mapping[str, Any]) -> None:
    """A sweep's axes: each metric against N, one line a strategy; and against each
    numeric parameter the sweep varies."""
    from . import _plots

    results = rep["results"]
    engine = str((rep.get("config") or {}).get("engine") or "run")
    failed = sum(r.get("status", "ok") != "ok" for r in results)
    page.blocks.append(_Heading(f"Sweep `{stem}` ({len(results)} cells, engine {engine}"
                                + (f", {failed} failed" if failed else "") + ")"))
    for metric in SWEEP_METRICS.get(engine, ()):
        page.figure(lambda rs, p, c, m=metric: _plots.sweep_vs_nodes(rs, p, c, m), results,
                    f"{stem}-{metric}-vs-nodes", f"{metric} vs N",
                    f"`{metric}` against N, one line a strategy: the mean over the sweep's "
                    "replicates, the band from the least to the most.")
        for strategy, param in _plots.sweep_param_axes(results):
            page.figure(lambda rs, p, c, m=metric, s=strategy, k=param:
                        _plots.sweep_vs_param(rs, p, c, m, s, k), results,
                        f"{stem}-{metric}-vs-{strategy}-{param}", f"{metric} vs {param}",
                        f"`{metric}` against {strategy}'s `{param}`, one line an N.")


def _sim_figures(page: _Page, sims: Sequence[Mapping[str, Any]]) -> None:
    from . import _plots

    page.blocks.append(_Heading("Balancers (simulation)"))
    page.figure(_plots.load_over_time, sims, "load-over-time", "load over time",
                "Load on the backends over simulated time: the band spans the least and the "
                "most loaded backend, the line is the busiest.")
    if not any(isinstance(b, _Image) and b.alt == "load over time" for b in page.blocks):
        page.blocks.append(_Text("(Load over time is drawn when simulation records carry a "
                                 "`series` of per-backend load; these do not, so the "
                                 "time-averaged load per backend is shown instead.)"))
    page.figure(_plots.backend_load, sims, "backend-load", "load per backend",
                "How evenly each balancer spread the load: every dot is one backend's "
                "time-averaged outstanding requests over the mean.")
    page.figure(_plots.latency_percentiles, sims, "latency-percentiles", "latency percentiles",
                "Response-time percentiles per balancer.")
    page.figure(_plots.locality_balance, sims, "locality-vs-balance", "locality vs balance",
                "With `--cache`: each balancer's hit ratio against its outstanding-load "
                "imbalance, one panel per scenario and content keys; bounded-load's eps values "
                "are joined into a curve (up and left is better).")
    page.figure(_plots.sim_hit_over_time, sims, "sim-hit-over-time", "hit ratio over time",
                "With `--cache`: the hit ratio per window of requests over simulated time; "
                "dotted lines mark the topology events.")


def _tables(page: _Page, static: Sequence[Mapping[str, Any]], sims: Sequence[Mapping[str, Any]],
            others: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
    if static:
        page.blocks.append(_Heading("Tables"))
        for trace in dict.fromkeys(str(r.get("trace")) for r in static):
            rows = [r for r in static if str(r.get("trace")) == trace]
            page.blocks.append(_Heading(f"Trace `{trace}`", 3))
            page.blocks.append(_Table([], [], run_table(rows, "github"), run_table(rows, "html")))
    for scenario in dict.fromkeys(str(r.get("scenario") or "") for r in sims):
        rows = [r for r in sims if str(r.get("scenario") or "") == scenario]
        page.blocks.append(_Heading(f"Simulation `{scenario or 'default'}`", 3))
        page.blocks.append(_sim_table(rows))
    for path, rep in others:
        page.blocks.append(_Heading(f"`{rep.get('kind')}` report {Path(path).name}", 3))
        if rep.get("kind") == "live":  # simulate's table, then what ran and what it cost
            from .table import live_table

            page.blocks.append(_sim_table(rep["results"]))
            rows = [dict(r) for r in rep["results"]]
            page.blocks.append(_Table([], [], live_table(rows, "github"),
                                      live_table(rows, "html")))
            continue
        page.blocks.append(_generic_table(rep["results"]))


def _intro(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    parts = []
    for path, rep in reports:
        parts.append(f"`{Path(path).name}` ({rep.get('kind', 'run')}, "
                     f"{len(rep['results'])} results, {rep.get('created', 'undated')})")
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return (f"Generated by `routebench report` on {stamp} from " + ", ".join(parts) + ". "
            "Quality metrics (balance, remap) are deterministic for the seed; timings are "
            "those of the machine below and vary from run to run.")


def _command(rep: Mapping[str, Any]) -> str:
    cmd = rep.get("command") or []
    if not cmd:
        return "# (command not recorded)"
    import shlex

    first = Path(str(cmd[0])).name
    return shlex.join(["routebench" if first in ("routebench", "__main__.py", "cli.py")
                       else first, *map(str, cmd[1:])])


def _env_table(reports: Sequence[tuple[str, Mapping[str, Any]]]) -> _Table:
    envs: list[tuple[list[str], Mapping[str, Any]]] = []
    for path, rep in reports:
        env = rep.get("environment") or {}
        same = next((names for names, e in envs if e == env), None)
        if same is None:
            envs.append(([Path(path).name], env))
        else:
            same.append(Path(path).name)
    keys = [k for k in _ENV_KEYS if any(k in e for _, e in envs)]
    keys += sorted({k for _, e in envs for k in e} - set(keys))
    rows = [[k] + [_cell(e.get(k)) for _, e in envs] for k in keys]
    return _Table(["", *(", ".join(names) for names, _ in envs)], rows)


def _cell(v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def _sim_table(results: Sequence[Mapping[str, Any]]) -> _Table:
    """The `routebench simulate` table when its records are the simulator's; else generic."""
    try:
        from .sim_table import sim_table

        rows = [dict(r) for r in results]
        return _Table([], [], sim_table(rows, "github"), sim_table(rows, "html"))
    except (ImportError, KeyError, TypeError, ValueError):  # another producer's records
        return _generic_table(results)


def _generic_table(results: Sequence[Mapping[str, Any]]) -> _Table:
    """Any results as strategy / trace / N and every metric (numbers to 4 figures)."""
    metrics: list[str] = []
    for r in results:
        metrics += [k for k in (r.get("metrics") or {}) if k not in metrics]
    headers = ["strategy", "trace", "N", *metrics]
    rows = []
    for r in results:
        m = r.get("metrics") or {}
        rows.append([r.get("label", r.get("strategy")), workload(r), r.get("nodes", ""),
                     *(_cell(m.get(k)) for k in metrics)])
    return _Table(headers, rows)


# -- rendering ---------------------------------------------------------------
def _markdown(blocks: Sequence[Any], out: Path) -> str:
    lines: list[str] = []
    for b in blocks:
        if isinstance(b, _Heading):
            lines += ["#" * b.level + " " + b.text, ""]
        elif isinstance(b, _Text):
            lines += [b.text, ""]
        elif isinstance(b, _Table):
            lines += [b.raw_md or format_table(b.headers, b.rows, "github"), ""]
        elif isinstance(b, _Image):
            rel = b.path.relative_to(out).as_posix()
            lines += [f"![{b.alt}]({rel})", "", f"*{b.caption}*", ""]
        elif isinstance(b, _Code):
            lines += ["```sh", b.text, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def _html_inline(text: str) -> str:
    """Escape, then turn `code` spans into <code>."""
    parts = html.escape(text).split("`")
    return "".join(f"<code>{p}</code>" if i % 2 else p for i, p in enumerate(parts))


_CSS = """
body { font: 15px/1.5 system-ui, -apple-system, "Segoe UI", sans-serif; color: #222;
       max-width: 1180px; margin: 2em auto; padding: 0 1.5em; }
h1 { font-size: 1.8em; border-bottom: 2px solid #4C72B0; padding-bottom: .2em; }
h2 { font-size: 1.35em; margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1.1em; margin-top: 1.5em; }
figure { margin: 1.5em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption { color: #555; font-size: .92em; margin-top: .3em; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0 1em; }
th, td { border: 1px solid #ddd; padding: .25em .6em; text-align: right; white-space: nowrap; }
th { background: #f4f6fa; }
td:first-child, th:first-child { text-align: left; }
tr:nth-child(even) td { background: #fafafa; }
code, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; font-size: .9em; }
pre { background: #f6f8fa; padding: .8em 1em; overflow-x: auto; }
"""


def _data_uri(path: Path) -> str:
    mime = "image/svg+xml" if path.suffix == ".svg" else "image/png"
    return f"data:{mime};base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _html(blocks: Sequence[Any], title: str) -> str:
    body: list[str] = []
    for b in blocks:
        if isinstance(b, _Heading):
            body.append(f"<h{b.level}>{_html_inline(b.text)}</h{b.level}>")
        elif isinstance(b, _Text):
            text = _html_inline(b.text).replace("  \n", "<br>\n")
            body.append(f"<p>{text}</p>")
        elif isinstance(b, _Table):
            table = b.raw_html or format_table(b.headers, [[str(c) for c in r] for r in b.rows],
                                               "html")
            body.append(f'<div class="scroll">{table}</div>')
        elif isinstance(b, _Image):
            body.append(f'<figure><img src="{_data_uri(b.path)}" alt="{html.escape(b.alt)}">'
                        f"<figcaption>{_html_inline(b.caption)}</figcaption></figure>")
        elif isinstance(b, _Code):
            body.append(f"<pre>{html.escape(b.text)}</pre>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<style>{_CSS}</style>\n</head>\n<body>\n" + "\n".join(body)
            + "\n</body>\n</html>\n")
