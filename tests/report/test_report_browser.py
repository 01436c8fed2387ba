"""The HTML report in a real browser: Debian's headless Chromium driven over the DevTools protocol.

Chromium is installed by ``scripts/ensure_system_deps.sh`` when missing; the tests skip (with the
reason) only where it cannot be installed. Never a downloaded browser.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_report import HOSTILE, comparison_dict, make_run

from pytest_mleval.report.html import write_report

ROOT = Path(__file__).resolve().parents[2]
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--window-size=1400,1000",
]


def find_chromium() -> str | None:
    """Debian's chromium, installed through scripts/ensure_system_deps.sh when missing."""
    found = shutil.which("chromium")
    if found:
        return found
    script = ROOT / "scripts" / "ensure_system_deps.sh"
    subprocess.run(["bash", str(script), "chromium"], capture_output=True, timeout=900, check=False)
    return shutil.which("chromium")


class Chromium:
    """A headless Chromium page driven over the Chrome DevTools protocol (one websocket)."""

    def __init__(self, binary: str) -> None:
        import websocket

        self.profile = tempfile.mkdtemp(prefix="mleval-chromium-")
        self.proc = subprocess.Popen(
            [
                binary,
                *FLAGS,
                f"--user-data-dir={self.profile}",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        port_file = Path(self.profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not (port_file.exists() and port_file.read_text().strip()):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                self.close()
                raise RuntimeError("chromium did not open its DevTools port")
            time.sleep(0.05)
        port = int(port_file.read_text().split()[0])
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as resp:
            targets = json.load(resp)
        page = next(t for t in targets if t["type"] == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self._id = 0
        self.events: list[dict[str, Any]] = []
        for domain in ("Page", "Runtime", "Log"):
            self.send(f"{domain}.enable")

    def send(self, method: str, **params: Any) -> dict[str, Any]:
        self._id += 1
        self.ws.send(json.dumps({"id": self._id, "method": method, "params": params}))
        while True:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == self._id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                result: dict[str, Any] = msg.get("result", {})
                return result
            if "method" in msg:
                self.events.append(msg)

    def wait_event(self, method: str, timeout: float = 60) -> dict[str, Any]:
        for ev in self.events:
            if ev["method"] == method:
                self.events.remove(ev)
                return ev
        self.ws.settimeout(timeout)
        try:
            while True:
                msg = json.loads(self.ws.recv())
                if msg.get("method") == method:
                    return msg
                if "method" in msg:
                    self.events.append(msg)
        finally:
            self.ws.settimeout(60)

    def eval(self, expression: str) -> Any:
        res = self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in res:
            raise RuntimeError(f"{expression!r}: {res['exceptionDetails']}")
        return res["result"].get("value")

    def open(self, path: Path) -> None:
        self.events.clear()
        self.send("Page.navigate", url=path.resolve().as_uri())
        self.wait_event("Page.loadEventFired")
        self.wait_until("window.__mlevalReady !== undefined")

    def wait_until(self, expression: str, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while not self.eval(f"Boolean({expression})"):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {expression}")
            time.sleep(0.02)

    def click(self, selector: str) -> None:
        """A real mouse click at the centre of the element (scrolled into view first)."""
        box = self.eval(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); e.scrollIntoView({{block: 'center'}});"
            " const r = e.getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            self.send(
                "Input.dispatchMouseEvent",
                type=kind,
                x=box[0],
                y=box[1],
                button="left",
                clickCount=1,
            )

    def type_into(self, selector: str, text: str) -> None:
        self.eval(f"document.querySelector({json.dumps(selector)}).focus()")
        self.send("Input.insertText", text=text)

    def select(self, selector: str, value: str) -> None:
        self.eval(
            f"(() => {{ const s = document.querySelector({json.dumps(selector)}); s.value = {json.dumps(value)};"
            " s.dispatchEvent(new Event('change', {bubbles: true})); })()"
        )

    def errors(self) -> list[str]:
        """JavaScript exceptions, console errors and browser log errors seen so far."""
        # A round trip flushes pending events into self.events.
        self.eval("1")
        out = []
        for ev in self.events:
            p = ev.get("params", {})
            if ev["method"] == "Runtime.exceptionThrown":
                out.append(json.dumps(p["exceptionDetails"])[:500])
            elif ev["method"] == "Runtime.consoleAPICalled" and p.get("type") in (
                "error",
                "assert",
            ):
                out.append(json.dumps(p.get("args"))[:500])
            elif ev["method"] == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(p["entry"].get("text", "")[:500])
        return out

    def screenshot(self, path: Path, *, full: bool = False) -> Path:
        params: dict[str, Any] = {"format": "png"}
        if full:
            params["captureBeyondViewport"] = True
            h = self.eval("document.documentElement.scrollHeight")
            params["clip"] = {
                "x": 0,
                "y": 0,
                "width": 1400,
                "height": min(int(h), 6000),
                "scale": 1,
            }
        data = self.send("Page.captureScreenshot", **params)["data"]
        path.write_bytes(base64.b64decode(data))
        return path

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="session")
def chromium_binary() -> str:
    binary = find_chromium()
    if binary is None:
        pytest.skip(
            "Debian's chromium is not installed and scripts/ensure_system_deps.sh could not install it"
        )
    return binary


@pytest.fixture(scope="session")
def browser(chromium_binary: str) -> Iterator[Chromium]:
    b = Chromium(chromium_binary)
    try:
        yield b
    finally:
        b.close()


@pytest.fixture
def page(browser: Chromium) -> Iterator[Chromium]:
    browser.send("Page.setBypassCSP", enabled=False)
    yield browser
    browser.send("Page.navigate", url="about:blank")


def _visible_rows(b: Chromium) -> list[str]:
    rows = b.eval(
        "Array.from(document.querySelectorAll('#case-rows tr.case-row')).map(r => r.innerText)"
    )
    assert isinstance(rows, list)
    return [str(r) for r in rows]


def _png_size(path: Path) -> tuple[int, int]:
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return int.from_bytes(head[16:20], "big"), int.from_bytes(head[20:24], "big")


def test_report_renders_without_errors_and_screenshots(page: Chromium, tmp_path: Path) -> None:
    run = make_run(300)
    run.comparison = comparison_dict(run)
    report = write_report(tmp_path / "report.html", run, baseline=make_run(300, seed=5))
    page.open(report)
    assert page.errors() == []
    assert len(_visible_rows(page)) == 200  # the first page of rows, the rest on demand
    assert "showing 200 of 300 matching" in page.eval(
        "document.getElementById('count').textContent"
    )
    shot = page.screenshot(tmp_path / "top.png", full=True)
    width, height = _png_size(shot)
    assert width == 1400 and height > 2000
    # Charts are drawn: histogram bars and per-case delta bars have height.
    assert page.eval("document.querySelectorAll('#distributions svg rect.bar').length") > 10
    assert page.eval("document.querySelectorAll('#distributions svg rect.delta').length") > 100
    page.click("#more")
    assert len(_visible_rows(page)) == 300
    page.click("#case-rows tr.case-row")
    page.wait_until("document.querySelector('#case-rows tr.detail')")
    detail = page.eval("document.querySelector('#case-rows tr.detail').innerText")
    for heading in ("INPUT", "OUTPUT", "EXPECTED", "DIFF", "SCORES", "BASELINE OUTPUT", "CALL"):
        assert heading in detail.upper()
    assert "LCS F1" in detail and "latency" in detail and "tokens" in detail
    assert '"verdict": "supported"' in detail  # judge data, pretty-printed
    page.screenshot(tmp_path / "detail.png")
    assert page.errors() == []
    if os.environ.get("MLEVAL_KEEP_SCREENSHOTS"):
        dest = Path(os.environ["MLEVAL_KEEP_SCREENSHOTS"])
        dest.mkdir(parents=True, exist_ok=True)
        for p in tmp_path.glob("*.png"):
            shutil.copy(p, dest / p.name)


def test_search_filters_and_sorting_change_the_visible_rows(page: Chromium, tmp_path: Path) -> None:
    run = make_run(120)
    report = write_report(tmp_path / "report.html", run)
    page.open(report)
    assert len(_visible_rows(page)) == 120

    page.type_into("#q", "case-0001")
    page.wait_until("document.querySelectorAll('#case-rows tr.case-row').length === 10")
    assert all("case-0001" in r for r in _visible_rows(page))

    page.eval(
        "(() => { const q = document.getElementById('q'); q.value = ''; q.dispatchEvent(new Event('input')); })()"
    )
    page.wait_until("document.querySelectorAll('#case-rows tr.case-row').length === 120")

    page.select("#f-status", "2")
    errored = [c for c in run.cases if c.error]
    rows = _visible_rows(page)
    assert len(rows) == len(errored) > 0 and all("errored" in r for r in rows)

    page.select("#f-status", "")
    page.select("#f-suite", "1")
    rows = _visible_rows(page)
    assert len(rows) == sum(1 for c in run.cases if c.suite == "rag-qa")
    assert all("rag-qa" in r for r in rows)

    page.select("#f-suite", "")
    page.select("#f-tag", "smoke")
    assert len(_visible_rows(page)) == sum(1 for c in run.cases if "smoke" in c.tags)

    page.select("#f-tag", "")
    page.click("th[data-sort=lat]")
    lat = page.eval(
        "Array.from(document.querySelectorAll('#case-rows tr.case-row td:nth-child(7)')).map(t => t.textContent)"
    )
    values = [float(t.split()[0]) for t in lat if t != "–"]
    assert values == sorted(values) and lat[-1] == "–"  # missing latencies last
    page.click("th[data-sort=lat]")
    lat = page.eval(
        "Array.from(document.querySelectorAll('#case-rows tr.case-row td:nth-child(7)')).map(t => t.textContent)"
    )
    values = [float(t.split()[0]) for t in lat if t != "–"]
    assert values == sorted(values, reverse=True)
    assert page.errors() == []


def test_word_diff_marks_changed_words(page: Chromium, tmp_path: Path) -> None:
    report = write_report(tmp_path / "report.html", make_run(3))
    page.open(report)
    ops = page.eval(
        "window.__mlevalWordDiff('refunds take five business days', 'refunds take 5 business days now')"
    )
    assert ops == [
        ["=", "refunds"],
        ["=", "take"],
        ["-", "five"],
        ["+", "5"],
        ["=", "business"],
        ["=", "days"],
        ["+", "now"],
    ]
    page.click("#case-rows tr.case-row")
    page.wait_until("document.querySelector('#case-rows tr.detail pre.diff')")
    deleted = page.eval(
        "Array.from(document.querySelectorAll('pre.diff del')).map(e => e.textContent)"
    )
    inserted = page.eval(
        "Array.from(document.querySelectorAll('pre.diff ins')).map(e => e.textContent)"
    )
    case = make_run(3).cases[0]
    exp_words, out_words = str(case.expected).split(), str(case.output).split()
    assert all(w in exp_words for w in deleted) and all(w in out_words for w in inserted)
    assert (deleted or inserted) or exp_words == out_words


def test_flipped_case_link_filters_the_table(page: Chromium, tmp_path: Path) -> None:
    run = make_run(40)
    run.comparison = comparison_dict(run)
    page.open(write_report(tmp_path / "report.html", run))
    page.click("button.case-link[data-case='case-00004']")
    rows = _visible_rows(page)
    assert len(rows) == 1 and "case-00004" in rows[0]


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "csp-bypassed"])
def test_hostile_outputs_never_execute(page: Chromium, tmp_path: Path, bypass_csp: bool) -> None:
    # With the page's CSP bypassed, only the escaping stands between the data and execution.
    page.send("Page.setBypassCSP", enabled=bypass_csp)
    hook = page.send(
        "Page.addScriptToEvaluateOnNewDocument",
        source="window.__alerts = 0; window.alert = function () { window.__alerts += 1; };",
    )
    try:
        run = make_run(24, hostile=True)
        run.suites[0].description = HOSTILE[0]
        run.gates[0].message = HOSTILE[1]
        run.comparison = comparison_dict(run)
        run.comparison["suites"][0]["flipped_to_fail"] = [HOSTILE[1]]
        page.open(write_report(tmp_path / "hostile.html", run))
        for i in range(6):
            page.click(f"#case-rows tr.case-row[data-i='{i}']")
        page.type_into("#q", '"><img src=x')
        page.wait_until("document.querySelectorAll('#case-rows tr.case-row').length < 24")
        assert all("onerror" in r for r in _visible_rows(page))
        page.eval("new Promise(r => setTimeout(r, 300))")  # let any broken image fire onerror
        assert page.eval("window.__alerts") == 0
        assert page.eval("window.__pwned") is None
        assert page.eval("document.querySelectorAll('img').length") == 0
        assert page.eval("document.querySelectorAll('script').length") == 2
        text = page.eval("document.body.innerText")
        assert HOSTILE[0] in text
        assert "onerror=alert(1)>" in text
        dialogs = [e for e in page.events if e["method"] == "Page.javascriptDialogOpening"]
        assert dialogs == []
        assert page.errors() == []
    finally:
        page.send("Page.removeScriptToEvaluateOnNewDocument", identifier=hook["identifier"])


@pytest.mark.parametrize("kind", ["empty", "errors-only", "bare"])
def test_degenerate_runs_render_in_the_browser(page: Chromium, tmp_path: Path, kind: str) -> None:
    from pytest_mleval.results.records import CaseResult, RunResults

    if kind == "empty":
        run = RunResults()
    elif kind == "errors-only":
        run = RunResults(
            cases=[
                CaseResult(suite="s", case_id=f"c{i}", error="TargetError: boom") for i in range(4)
            ]
        )
    else:
        # Sub-millisecond latency and tiny costs (a local python: target) format too.
        bare = CaseResult(suite="s", case_id="bare")
        tiny = CaseResult(suite="s", case_id="tiny", latency_ms=0.157, cost_usd=3e-9, output="x")
        run = RunResults(cases=[bare, tiny])
    page.open(write_report(tmp_path / f"{kind}.html", run))
    assert page.errors() == []
    rows = _visible_rows(page)
    assert len(rows) == len(run.cases)
    if run.cases:
        page.click("#case-rows tr.case-row")
        page.wait_until("document.querySelector('#case-rows tr.detail')")
        assert page.errors() == []


APP = """
def answer(case):
    if case.id == "bad":
        raise RuntimeError("the target <b>exploded</b>")
    return {"output": "You have 30 days to return an item.", "context": ["Returns: 30 days."], "retrieved": ["d1"]}
"""

SUITE = """
suite: support
target: python:app:answer
metrics:
  - rouge_l: {threshold: 0.5}
  - levenshtein
cases:
  - id: refund
    input: How long to return?
    expected: You have 30 days to return an item.
    tags: [policy]
    metrics:
      - contains: {value: "30 days"}
  - id: other
    input: Shipping time?
    expected: Shipping takes 3 to 5 days.
  - id: bad
    input: "<script>alert(1)</script>"
    expected: whatever
"""


def test_report_of_a_real_plugin_run(page: Chromium, pytester: pytest.Pytester) -> None:
    """The plugin's own results file (whatever its stage of aggregation) renders cleanly."""
    from pytest_mleval.results.records import load_results

    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", support=SUITE)
    pytester.syspathinsert()
    pytester.runpytest_inprocess("-p", "no:cacheprovider")
    run = load_results(pytester.path / "reports" / "mleval-results.json")
    assert {c.case_id for c in run.cases} == {"refund", "other", "bad"}
    page.open(write_report(pytester.path / "report.html", run))
    assert page.errors() == []
    rows = _visible_rows(page)
    assert len(rows) == 3 and any("errored" in r and "exploded" in r for r in rows)
    page.select("#f-status", "2")
    page.click("#case-rows tr.case-row")
    page.wait_until("document.querySelector('#case-rows tr.detail')")
    detail = page.eval("document.querySelector('#case-rows tr.detail').innerText")
    assert "the target <b>exploded</b>" in detail and "<script>alert(1)</script>" in detail
    assert not page.eval(
        "Array.from(document.querySelectorAll('b')).some(e => e.textContent === 'exploded')"
    )
    assert page.errors() == []
