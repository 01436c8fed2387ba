"""HTML report at scale: file size and time to open a 10,000-case run in headless Chromium.

Reference, measured side by side: the same cases rendered the usual way, server-side, every case a
table row with its details in the page (jinja2, autoescaped), as most report tools do.

    .venv/bin/python bench/bench_report.py [--cases 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "report"))

from test_report import comparison_dict, make_run  # noqa: E402
from test_report_browser import Chromium, find_chromium  # noqa: E402

from pytest_mleval.report.html import write_report  # noqa: E402
from pytest_mleval.results.records import RunResults  # noqa: E402

REFERENCE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>reference</title>
<style>td{border-bottom:1px solid #ddd;padding:3px;vertical-align:top}pre{white-space:pre-wrap}</style>
</head><body><h1>{{ n }} cases</h1><table>
{% for c in cases %}<tr><td>{{ 'passed' if c.passed else 'failed' }}</td><td>{{ c.suite }}</td>
<td>{{ c.case_id }}</td><td><details><summary>{{ (c.output or '')[:80] }}</summary>
<pre>{{ c.input }}</pre><pre>{{ c.output }}</pre><pre>{{ c.expected }}</pre>
{% for d in c.context %}<pre>{{ d }}</pre>{% endfor %}
<table>{% for k, s in c.scores.items() %}<tr><td>{{ k }}</td><td>{{ s.score }}</td>
<td>{{ s.explanation or '' }}</td></tr>{% endfor %}</table>
<p>{{ c.latency_ms }} ms, {{ c.usage.total_tokens }} tokens, ${{ c.cost_usd }}</p></details></td></tr>
{% endfor %}</table><script>window.__mlevalReady = performance.now();</script></body></html>"""

# Resolves (in page time, ms since navigation start) on the first frame painted after the
# table is rendered.
MEASURE = """window.__benchDone = new Promise(function (resolve) {
  (function check() {
    if (window.__mlevalReady !== undefined) {
      requestAnimationFrame(function () { requestAnimationFrame(function () { resolve(performance.now()); }); });
    } else { setTimeout(check, 5); }
  })();
});"""


def render_reference(run: RunResults, path: Path) -> Path:
    import jinja2

    env = jinja2.Environment(autoescape=True)
    path.write_text(
        env.from_string(REFERENCE).render(n=len(run.cases), cases=run.cases), encoding="utf-8"
    )
    return path


def open_ms(b: Chromium, path: Path) -> float:
    b.events.clear()
    b.send("Page.navigate", url=path.resolve().as_uri())
    b.wait_event("Page.loadEventFired", timeout=120)
    return float(b.eval("window.__benchDone"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()

    binary = find_chromium()
    if binary is None:
        sys.exit("chromium is not installed (scripts/ensure_system_deps.sh)")
    t0 = time.perf_counter()
    run = make_run(args.cases)
    baseline = make_run(args.cases, seed=1)
    run.comparison = comparison_dict(run)
    build_s = time.perf_counter() - t0

    with tempfile.TemporaryDirectory() as tmp:
        out, ref = Path(tmp) / "report.html", Path(tmp) / "reference.html"
        t0 = time.perf_counter()
        write_report(out, run, baseline=baseline)
        render_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        render_reference(run, ref)
        ref_render_s = time.perf_counter() - t0
        size, ref_size = out.stat().st_size, ref.stat().st_size

        b = Chromium(binary)
        try:
            b.send("Page.addScriptToEvaluateOnNewDocument", source=MEASURE)
            ours, theirs = [], []
            for _ in range(args.runs):  # interleaved, so both see the same machine load
                ours.append(open_ms(b, out))
                theirs.append(open_ms(b, ref))
            open_ms(b, out)
            search = b.eval(
                "(() => { const t = performance.now(); const n = window.__mlevalFilter({q: 'refund store'});"
                " return [performance.now() - t, n]; })()"
            )
            rows = b.eval("document.querySelectorAll('#case-rows tr.case-row').length")
            errors = b.errors()
        finally:
            b.close()

    mine, ref_ms = statistics.median(ours), statistics.median(theirs)
    print(f"cases: {args.cases:,} (test data built in {build_s:.1f} s)")
    print(f"render (python):   report {render_s:.2f} s   reference {ref_render_s:.2f} s")
    print(
        f"file size:         report {size / 1e6:.2f} MB   reference {ref_size / 1e6:.2f} MB   ratio {size / ref_size:.2f}x   (goal < 15 MB)"
    )
    print(
        f"open until table painted (median of {args.runs}): report {mine:.0f} ms {sorted(round(x) for x in ours)}"
        f"   reference {ref_ms:.0f} ms {sorted(round(x) for x in theirs)}   ratio {mine / ref_ms:.2f}x   (goal ~3000 ms)"
    )
    print(
        f"search 'refund store' over all cases: {search[0]:.0f} ms, {search[1]:,} matches; rows in the DOM after opening: {rows}"
    )
    print(f"javascript errors: {len(errors)}")
    if errors:
        print("\n".join(errors))
        sys.exit(1)


if __name__ == "__main__":
    main()
