"""The published HTML report as a reader sees it: opened in headless Chromium.

A checking script is put in front of a copy of ``report.html``: it records every
error the page logs or throws, waits for the images, and writes what it found into
the page, which ``chromium --dump-dom`` prints. A screenshot is kept as an artifact
(``$ROUTEBENCH_ARTIFACTS``, default the test's temporary folder). Skips without
Debian's ``chromium``, unless ROUTEBENCH_REQUIRE_SERVERS=1 (CI), where it fails.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from _reportdata import small_run
from _servers import missing
from test_report import _simulation

from routebench.cli import main
from routebench.reports import write_json

pytestmark = pytest.mark.servers

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

# runs before the page's own content: collects errors, then checks images and tables
PROBE = """<script>
window.__errors = [];
window.addEventListener('error', e => window.__errors.push('error: ' + (e.message || e.type)),
                        true);
const _ce = console.error;
console.error = (...a) => { window.__errors.push('console.error: ' + a.join(' ')); _ce(...a); };
window.addEventListener('load', () => {
  // after 'load' every image has loaded or failed; a broken one has no natural size
  const imgs = [...document.images];
  const decoded = imgs.map(i => i.complete && i.naturalWidth > 0 && i.naturalHeight > 0);
  const tables = [...document.querySelectorAll('table')].map(t => {
    const head = t.querySelectorAll('thead th, tr:first-child th').length;
    const rows = [...t.querySelectorAll('tbody tr')].map(r => r.children.length);
    return {head, rows};
  });
  const out = document.createElement('pre');
  out.id = 'routebench-probe';
  out.textContent = JSON.stringify({images: imgs.length, decoded, tables,
                                    errors: window.__errors});
  document.body.appendChild(out);
});
</script>"""

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars"]


def _chromium(args: list[str], profile: Path, timeout: float = 90) -> str:
    proc = subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args],
                          capture_output=True, text=True, timeout=timeout)
    return proc.stdout


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    if CHROMIUM is None:
        missing("chromium is not installed (Debian package chromium)")
    d = tmp_path_factory.mktemp("browser")
    inputs = [write_json(d / "static.json", small_run(("ring", "jump", "maglev"), nodes=(5, 20))),
              write_json(d / "sim.json", _simulation(d))]
    out = d / "out"
    assert main(["report", *map(str, inputs), "-o", str(out), "-q"]) == 0
    return out / "report.html"


def test_report_renders_in_a_browser(page, tmp_path):
    html = page.read_text(encoding="utf-8")
    probed = tmp_path / "probed.html"
    probed.write_text(re.sub(r"<head>", "<head>" + PROBE, html, count=1), encoding="utf-8")
    dom = _chromium(["--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
                    tmp_path / "profile1")
    m = re.search(r'<pre id="routebench-probe">(.*?)</pre>', dom, re.S)
    assert m, "the probe did not run: " + dom[-500:]
    found = json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&")
                       .replace("&lt;", "<").replace("&gt;", ">"))
    assert found["errors"] == []
    assert found["images"] >= 5 and all(found["decoded"]), found["decoded"]
    assert found["tables"], "no tables"
    for i, t in enumerate(found["tables"]):
        assert t["rows"], f"table {i} has no rows"
        assert all(n == t["head"] for n in t["rows"]), f"table {i}: {t}"


def test_report_screenshot_is_kept(page, tmp_path):
    where = Path(os.environ.get("ROUTEBENCH_ARTIFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    shot = where / "report.png"
    _chromium(["--window-size=1280,2400", f"--screenshot={shot}", page.as_uri()],
              tmp_path / "profile2")
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
