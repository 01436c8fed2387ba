"""Hostile text in the Markdown summary and the terminal stays text.

The summary is rendered with cmark-gfm (GitHub's own Markdown parser, through cmarkgfm) with
raw HTML let through and without GitHub's tag filter, the strictest setting: any tag, heading,
link or image in the output must then come from the summary's own template, never from a
suite name, a case id, an error text or a metric name.
"""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import cmarkgfm  # type: ignore[import-untyped]
import pytest

from pytest_mleval.report.escaping import md_code, md_text, term_text
from pytest_mleval.report.summary import comparison_terminal, render_summary, terminal_lines
from pytest_mleval.results.records import (
    Aggregate,
    CaseResult,
    GateResult,
    MetricScore,
    RunResults,
    SuiteInfo,
)

# Every kind of markup an attacker could try: closing the summary's <details>, tags with
# handlers, a script, a fake heading and gate line on a line of their own, links, images,
# emphasis, a table row, math, a mention, bare URLs and e-mail addresses.
HOSTILE = (
    "boom </details> <img src=x onerror=alert(1)> <script>alert(1)</script>\n\n"
    "## Gates: all passed ✅\n"
    "| fake | row |\n|---|---|\n"
    "[link](http://evil.example/a) ![img](http://evil.example/x.png) <a href='//e'>a</a> "
    "**bold** _em_ ~~gone~~ $x^2$ &amp; &lt;b&gt; @octocat www.evil.example mail@evil.example "
    "<!-- hidden --> \\[esc\\] `code` ``` fence"
)
HOSTILE_SUITE = "evil | suite <i>x</i> # [l](http://x.example) `s`"
HOSTILE_IDS = ["we`ird``id", "`lead", "trail`", " spaced ", "pipe|id <b>", "x\ny"]

# The tags the summary's own template writes; nothing else may appear.
OWN_TAGS = {
    "h2",
    "h3",
    "h4",
    "p",
    "table",
    "thead",
    "tbody",
    "tr",
    "th",
    "td",
    "code",
    "strong",
    "details",
    "summary",
    "ul",
    "li",
    "blockquote",
}


def render(markdown: str) -> str:
    """GitHub's parser, raw HTML passed through (the strictest check: nothing is filtered)."""
    from cmarkgfm.cmark import Options  # type: ignore[import-untyped]

    return str(
        cmarkgfm.markdown_to_html_with_extensions(
            markdown,
            options=Options.CMARK_OPT_UNSAFE,
            extensions=["table", "autolink", "strikethrough", "tasklist"],
        )
    )


class Html(HTMLParser):
    """Tags and the text of selected elements of rendered HTML."""

    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.comments: list[str] = []
        self.texts: dict[str, list[str]] = {}
        self._open: list[tuple[str, list[str]]] = []
        self.feed(html)
        self.close()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._open.append((tag, []))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self._open) - 1, -1, -1):
            if self._open[i][0] == tag:
                name, parts = self._open.pop(i)
                self.texts.setdefault(name, []).append("".join(parts))
                break

    def handle_data(self, data: str) -> None:
        for _, parts in self._open:
            parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.comments.append(data)


def shown(text: str) -> str:
    """What a reader sees of ``text``: line breaks as spaces, zero-width spaces invisible."""
    return re.sub(r"\s+", " ", text.replace("\u200b", "")).strip()


def assert_only_own_markup(html: str) -> Html:
    page = Html(html)
    foreign = set(page.tags) - OWN_TAGS
    assert not foreign, f"tags from the input survived: {foreign}\n{html}"
    assert not page.comments, page.comments
    assert "<a " not in html and "<img" not in html and "<script" not in html
    assert page.tags.count("details") == len(page.texts.get("details", []))
    return page


def hostile_run() -> RunResults:
    suite = HOSTILE_SUITE
    cases = [
        CaseResult(suite=suite, case_id=cid, passed=False, error=f"RuntimeError: {HOSTILE}")
        for cid in HOSTILE_IDS
    ]
    cases.append(
        CaseResult(
            suite=suite,
            case_id="scored",
            passed=False,
            scores={"<b>m</b>|x": MetricScore(score=0.1, passed=False)},
        )
    )
    return RunResults.model_validate(
        {
            "meta": {"started_at": "2026-01-01T00:00:00Z", "git_sha": "abc`def<b>0123"},
            "suites": [SuiteInfo(name=suite, n_cases=len(cases)).model_dump()],
            "cases": [c.model_dump() for c in cases],
            "aggregates": [
                Aggregate(
                    suite=suite,
                    metric="pass_rate",
                    estimate=0.0,
                    ci_low=0.0,
                    ci_high=0.3,
                    n=len(cases),
                    method="wilson",
                ).model_dump(),
                Aggregate(
                    suite=suite,
                    metric="## fake [m](http://x.example)|",
                    estimate=0.5,
                    ci_low=0.1,
                    ci_high=0.9,
                    n=len(cases),
                    method="t",
                ).model_dump(),
            ],
            "gates": [
                GateResult(
                    suite=suite,
                    metric="pass_rate",
                    stat="mean",
                    on="estimate",
                    passed=False,
                    message=HOSTILE,
                ).model_dump()
            ],
            "comparison": comparison(suite),
            "variants": [
                {**comparison(suite), "candidate_suite": "<b>c</b>", "baseline_suite": "[b](x)"}
            ],
        }
    )


def comparison(suite: str) -> dict[str, Any]:
    return {
        "baseline_sha": "0123`<i>x</i>",
        "baseline_started_at": "2026-01-01\x1b[2K",
        "warnings": [HOSTILE],
        "suites": [
            {
                "suite": suite,
                "n_matched": 3,
                "metrics": [
                    {
                        "metric": "<img src=x>|m",
                        "baseline": 1.0,
                        "candidate": 0.5,
                        "diff": -0.5,
                        "ci_low": -0.7,
                        "ci_high": -0.3,
                        "p_adjusted": 0.01,
                        "verdict": "regressed",
                        "regression": True,
                        "gating": True,
                    }
                ],
                "flipped_to_fail": HOSTILE_IDS,
                "flipped_to_pass": ["[p](http://x.example)"],
            }
        ],
        "only_in_baseline": HOSTILE_IDS,
        "only_in_candidate": ["</details>"],
    }


def test_hostile_run_renders_no_markup_of_its_own() -> None:
    markdown = render_summary(hostile_run())
    page = assert_only_own_markup(render(markdown))
    # One h2 (the title) and no heading that is not the summary's own: the fake
    # "## Gates: all passed" and "## fake" stay text.
    assert page.texts["h2"] == ["pytest-mleval results"]
    for heading in page.texts.get("h3", []) + page.texts.get("h4", []):
        assert "Gates: all passed" not in heading
    assert shown(HOSTILE_SUITE) in [shown(h) for h in page.texts["h3"]]
    # Still shown, as text: the reader sees what the target raised.
    cells_and_items = page.texts["td"] + page.texts["li"]
    assert any(shown(HOSTILE) in shown(t) for t in page.texts["td"]), "gate message"
    assert any(
        shown("</details> <img src=x onerror=alert(1)>") in shown(t) for t in page.texts["li"]
    )
    assert any("<b>m</b>|x" in t for t in cells_and_items)


def test_case_ids_with_backticks_are_whole_code_spans() -> None:
    page = Html(render(render_summary(hostile_run())))
    codes = page.texts["code"]
    for cid in HOSTILE_IDS:
        # The code span shows exactly the id (a line break collapses to one space).
        assert cid.replace("\n", " ") in codes, (cid, codes)
    assert "abc`def<b>0123"[:10] in codes  # the commit


def test_table_rows_keep_their_columns() -> None:
    markdown = render_summary(hostile_run())
    html = render(markdown)
    for table in re.findall(r"<table>.*?</table>", html, flags=re.S):
        widths = {
            len(re.findall(r"<t[hd][ >]", row)) for row in re.findall(r"<tr>.*?</tr>", table, re.S)
        }
        assert len(widths) == 1, table


@pytest.mark.parametrize(
    "text",
    [
        HOSTILE,
        HOSTILE_SUITE,
        *HOSTILE_IDS,
        "__init__ rouge_l a*b*c x_1_ \\ \\\\ \\`",
        "<",
        "1. list\n- item\n> quote\n    code\n=== ---",
        "\u202egnp.exe\x00\x07",
    ],
)
def test_md_text_round_trips_through_gfm(text: str) -> None:
    # In a paragraph and in a table cell, the rendered text is the input, nothing more.
    for markdown, tag, prefix in (
        (f"x {md_text(text)}", "p", "x "),
        (f"| h |\n|---|\n| {md_text(text)} |", "td", ""),
    ):
        page = assert_only_own_markup(render(markdown))
        got = shown(page.texts[tag][0])[len(prefix) :].strip()
        want = shown(re.sub(r"[\x00-\x08\x0e-\x1f\u202e]", "\ufffd", text))
        assert got == want, (markdown, got)
        assert set(page.tags) == {tag} | (
            {"table", "thead", "tr", "th", "tbody"} if tag == "td" else set()
        )


@pytest.mark.parametrize("text", ["a`b", "``", "`", "a ``` b", " x ", "x|y", "`|`", "plain"])
def test_md_code_round_trips_through_gfm(text: str) -> None:
    page = Html(render(f"x {md_code(text)} y"))
    assert page.texts["code"] == [text]
    cell = Html(render(f"| h |\n|---|\n| {md_code(text, table=True)} |"))
    assert cell.texts["code"] == [text]


def test_md_text_limit_cuts_before_escaping() -> None:
    out = md_text("<" * 1000, limit=10)
    assert out == "&lt;" * 9 + "…"


def test_terminal_lines_show_control_characters_as_escapes() -> None:
    run = hostile_run()
    run.suites[0].name = "s\ngate s: PASS all fine\x1b[32m"
    run.gates[0].suite = run.suites[0].name
    run.gates[0].message = "real\rgate s: PASS\x1b[2K"
    lines = [line for line, _ in terminal_lines(run)] + comparison_terminal(run.comparison or {})
    for line in lines:
        assert not re.search(r"[\x00-\x1f\x7f]", line), repr(line)
    assert any("s\\ngate s: PASS all fine\\x1b[32m" in line for line in lines)
    assert any("real\\rgate s: PASS\\x1b[2K" in line for line in lines)
    assert term_text("é ü 漢字 ok") == "é ü 漢字 ok"


# -- end to end: a real run with a hostile target, case ids and suite name ------------------

APP = f"""
HOSTILE = {HOSTILE!r}

def answer(case):
    if case.id.startswith("boom"):
        raise RuntimeError(HOSTILE)
    return "fine"
"""

SUITE = """
suite: "evil | suite <i>x</i> # [l](http://x.example)"
target: python:app:answer
metrics:
  - contains: {value: "fine"}
gates:
  - {metric: pass_rate, min: 0.9}
cases:
  - {id: "boom`tick``s", input: a}
  - {id: "boom <img src=x onerror=alert(1)>", input: b}
  - {id: ok, input: c}
"""


def test_end_to_end_hostile_summary(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(app=APP)
    pytester.makefile(".eval.yaml", evil=SUITE)
    pytester.syspathinsert()
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, errors=2)
    markdown = (pytester.path / "reports" / "mleval-summary.md").read_text()
    html = render(markdown)
    page = assert_only_own_markup(html)
    assert page.texts["h2"] == ["pytest-mleval results"]
    assert "Gates: all passed" not in " ".join(page.texts.get("h3", []))
    assert shown("evil | suite <i>x</i> # [l](http://x.example)") in map(shown, page.texts["h3"])
    assert "boom`tick``s" in page.texts["code"]
    assert "boom <img src=x onerror=alert(1)>" in page.texts["code"]
    # The exception text is shown (as text) under its case, inside the one <details>.
    assert page.tags.count("details") == 1
    assert any("</details> <img src=x onerror=alert(1)>" in t for t in page.texts["li"])
    data = json.loads((pytester.path / "reports" / "mleval-results.json").read_text())
    assert HOSTILE in {c["error"].split(": ", 1)[-1] for c in data["cases"] if c["error"]}


def test_end_to_end_with_a_baseline(pytester: pytest.Pytester, tmp_path: Path) -> None:
    # The comparison section (flipped cases, only-in lists) escapes the same ids.
    pytester.makepyfile(app="def answer(case):\n    return 'fine'\n")
    pytester.makefile(".eval.yaml", evil=SUITE)
    pytester.syspathinsert()
    pytester.runpytest("--mleval-save-baseline", "base.json")
    pytester.makepyfile(app=APP)
    pytester.runpytest("--mleval-baseline", "base.json")
    markdown = (pytester.path / "reports" / "mleval-summary.md").read_text()
    page = assert_only_own_markup(render(markdown))
    assert page.texts["code"].count("boom`tick``s") >= 2  # flipped list and failing list


def test_case_failure_report_shows_control_characters_as_escapes() -> None:
    # A model's output is printed in the failure report: an ANSI escape or a carriage return
    # in it must not erase or recolour lines, nor print a fake "PASSED" over the real line.
    from pytest_mleval.collect import format_failure
    from pytest_mleval.metrics.registry import Scored

    result = CaseResult(
        suite="s\x1b[31m",
        case_id="c\rPASSED",
        expected="line one\nline two",
        output="line one\n\x1b[2K\rline two PASSED\x1b[0m\u202e",
    )
    scored = [
        Scored(
            name="m\x1b[1m",
            score=0.0,
            threshold=1.0,
            max=None,
            passed=False,
            weight=1.0,
            explanation="why\r\x1b[32mok",
        )
    ]
    report = format_failure(result, scored)
    assert not re.search(r"[\x00-\x09\x0b-\x1f\x7f\u202e]", report), repr(report)
    assert "+\\x1b[2K\\rline two PASSED\\x1b[0m\\u202e" in report  # the diff keeps its lines
    assert report.splitlines()[0] == "case s\\x1b[31m::c\\rPASSED failed"
    assert "why\\r\\x1b[32mok" in report
    only_output = format_failure(result.model_copy(update={"expected": None}), scored)
    assert "output: line one\n" in only_output and "\x1b" not in only_output
