"""The ``mleval`` commands over stored runs: schema, compare, power, calibrate, report,
merge, history (registered by :func:`pytest_mleval.cli.build_parser`)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

__all__ = [
    "add_calibrate",
    "add_compare",
    "add_history",
    "add_merge",
    "add_power",
    "add_report",
    "add_report_commands",
    "add_schema",
]


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.which == "results":
        from ..fielddocs import with_field_docs
        from ..results.records import RunResults

        with_field_docs(RunResults)
        schema = RunResults.model_json_schema()
        schema["title"] = "pytest-mleval results"
    else:
        from ..cases.jsonschema import eval_file_json_schema

        # Metric names and options come from the registry's options models.
        schema = eval_file_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    print(json.dumps(schema, indent=2))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..report.regression_verdict import comparison_comment, regression_verdict_terminal
    from ..report.summary import comparison_markdown, comparison_terminal
    from ..results.compare import not_whole_warning, regression_check
    from ..results.records import load_results

    base, cand = load_results(args.baseline), load_results(args.candidate)
    metrics = args.metrics
    # The same rule as the run's regression gate: each suite's margin and gating metrics come
    # from the candidate's results unless given here.
    comparison, gates = regression_check(
        base,
        cand,
        margin=args.margin,
        metrics=metrics,
        alpha=args.alpha,
        seed=args.seed,
        confidence=args.confidence,
    )
    partial = not_whole_warning(cand, "candidate")
    if partial:
        comparison.warnings.insert(0, partial)
    data = comparison.model_dump(mode="json")
    # The safety probes paired by case with the baseline: is the candidate safer? (Their
    # metrics, e.g. canary_absent, are in the comparison above and gate as any other.)
    from ..report.summary_safety import safety_comparison_lines
    from ..results.safety import safety_summary

    safety = safety_summary(cand, baseline=base, confidence=args.confidence, alpha=args.alpha)
    paired = [r for r in safety.comparisons if r.against == "baseline"] if safety else []
    code = 1 if comparison.regressed else 0
    # The verdict in words, beside the tables: the exit status alone told a reader nothing.
    if args.format == "md":
        tables = comparison_markdown(data)
        print(
            comparison_comment(
                comparison, gates, tables, safety_comparison_lines(paired, markdown=True)
            )
        )
    elif args.format == "json":
        if paired:
            data["safety"] = [r.model_dump(mode="json") for r in paired]
        data["regressed"] = comparison.regressed
        data["gates"] = [g.model_dump(mode="json") for g in gates]
        print(json.dumps(data, indent=2))
    else:
        print(
            "\n".join(
                comparison_terminal(data)
                + safety_comparison_lines(paired)
                + regression_verdict_terminal(comparison, gates, code)
            )
        )
    return code


def _binary(arr: Any) -> bool:
    """Pass/fail outcomes (every value 0 or 1): paired proportions, not paired means."""
    return bool(((arr == 0.0) | (arr == 1.0)).all())


def _binary_power(args: argparse.Namespace, n: int, sd_diff: float) -> None:
    """Connor's (1987) paired-proportion formulas: the test the gate runs on pass/fail."""
    from .. import stats

    # For 0/1 outcomes the variance of a paired difference is the share of cases that flip.
    discordant = min(sd_diff * sd_diff, 1.0)
    print(
        f"  pass/fail outcomes: paired proportions (Connor 1987), expected share of cases "
        f"flipping between runs {discordant:.4f}"
    )
    mde = stats.min_detectable_effect_binary(
        n, discordant=discordant, alpha=args.alpha, power=args.power
    )
    print(
        f"  minimum detectable effect at n={n} (alpha={args.alpha:g}, power={args.power:g}): "
        f"{mde:.4f}"
    )
    if args.effect is None:
        return
    if abs(args.effect) > discordant:
        print(
            f"  cases needed to detect {args.effect:g}: a change that large needs more than "
            f"{discordant:.4f} of the cases to flip; lower --correlation if runs differ more"
        )
        return
    need = stats.required_n_binary(
        args.effect, discordant=discordant, alpha=args.alpha, power=args.power
    )
    verdict = "enough" if need <= n else f"{need - n} more needed"
    print(f"  cases needed to detect {args.effect:g}: {need} ({verdict})")


def _cmd_power(args: argparse.Namespace) -> int:
    import numpy as np

    from .. import stats
    from ..results.aggregate import is_raw_measure, per_case
    from ..results.records import PASS_RATE, load_results, metric_kind

    run = load_results(args.baseline)
    suites = sorted({c.suite for c in run.cases})
    if args.suite:
        suites = [args.suite]
    metric = None if args.metric == PASS_RATE else args.metric
    shown = 0
    for suite in suites:
        cases = [c for c in run.cases if c.suite == suite]
        _, values, _, _ = per_case(cases, metric)
        if not values:
            if args.suite:
                print(f"{suite}: no scores for {args.metric!r}")
            continue
        shown += 1
        arr = np.asarray(values, dtype=float)
        sd = float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
        # One run gives the spread of scores, not of paired differences: for two runs with
        # correlation rho, sd(diff) = sd * sqrt(2 (1 - rho)).
        sd_diff = sd * float(np.sqrt(2.0 * (1.0 - args.correlation)))
        n = len(arr)
        print(f"suite {suite}, metric {args.metric}: n={n}, mean={arr.mean():.4f}, sd={sd:.4f}")
        print(f"  assumed correlation of paired runs {args.correlation:g}: sd(diff)={sd_diff:.4f}")
        if sd == 0:
            # A perfect (or constant) baseline has no spread to plan with: a variance bound
            # valid on [0, 1] still gives a case count.
            report = stats.constant_baseline_report(
                n,
                float(arr.mean()),
                args.effect,
                binary=_binary(arr),
                alpha=args.alpha,
                power=args.power,
                raw=metric is not None and is_raw_measure(metric_kind(cases, metric), values),
                pass_rate=metric is None,
            )
            print("\n".join(report))
            continue
        if sd_diff == 0:
            print(
                "  every score is identical: any non-zero change is detectable; no estimate needed"
            )
            continue
        if _binary(arr):
            _binary_power(args, n, sd_diff)
            continue
        mde = stats.min_detectable_effect(n, sd_diff=sd_diff, alpha=args.alpha, power=args.power)
        print(
            f"  minimum detectable effect at n={n} (alpha={args.alpha:g}, power={args.power:g}): "
            f"{mde:.4f}"
        )
        if args.effect is not None:
            need = stats.required_n(
                args.effect, sd_diff=sd_diff, alpha=args.alpha, power=args.power
            )
            verdict = "enough" if need <= n else f"{need - n} more needed"
            print(f"  cases needed to detect {args.effect:g}: {need} ({verdict})")
    if not shown:
        print(
            f"mleval power: no suite in {args.baseline} has scores for {args.metric!r}",
            file=sys.stderr,
        )
        return 2
    return 0


def _cmd_label_plan(args: argparse.Namespace) -> int:
    """``--target-width``: the human-scale interval now and the labels a narrower one needs."""
    from ..judges.calibrate import label_advice, labels_from_file, labels_from_suites
    from ..results.records import load_results

    if not args.results:
        print("mleval calibrate: --target-width needs --results", file=sys.stderr)
        return 2
    run = load_results(args.results)
    if args.labels:
        labels = labels_from_file(
            args.labels,
            run,
            metric=args.metric,
            human=args.human,
            id_column=args.id_column,
            suite=args.suite,
        )
    else:
        labels = labels_from_suites(run, metric=args.metric)
    if args.suite:
        labels = {k: v for k, v in labels.items() if k == args.suite}
    advice = label_advice(
        run, labels, metric=args.metric, target_width=args.target_width, confidence=args.confidence
    )
    if not advice:
        where = args.labels or "the suites' labels:"
        print(
            f"mleval calibrate: no suite has 2 or more cases labelled in {where} and scored by "
            f"{args.metric!r} in {args.results}",
            file=sys.stderr,
        )
        return 2
    print("\n\n".join(a.render() for a in advice))
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from ..judges.calibrate import calibrate, judge_labels_from_results, load_pairs

    if args.target_width is not None:
        return _cmd_label_plan(args)
    if not args.labels:
        print(
            "mleval calibrate: give a labels file (or --results with --target-width)",
            file=sys.stderr,
        )
        return 2
    if args.results:
        judged = judge_labels_from_results(args.results, args.metric)
        humans, _ = load_pairs(args.labels, human=args.human, judge=args.id_column)
        ids = load_pairs(args.labels, human=args.id_column, judge=args.id_column)[0]
        pairs = [(h, judged[str(i)]) for h, i in zip(humans, ids, strict=True) if str(i) in judged]
        if not pairs:
            print("mleval calibrate: no labelled case found in the results", file=sys.stderr)
            return 2
        human, judge = [p[0] for p in pairs], [p[1] for p in pairs]
    else:
        human, judge = load_pairs(args.labels, human=args.human, judge=args.judge)
    print(calibrate(human, judge).render())
    return 0


def _default_output(results: Path) -> Path:
    from ..report.html import REPORT_FILE
    from ..results.records import RESULTS_FILE

    if results.name == RESULTS_FILE:
        return results.with_name(REPORT_FILE)
    return results.with_suffix(".html")


def _cmd_report(args: argparse.Namespace) -> int:
    from ..report.history import DEFAULT_FILE, resolve_url
    from ..report.html import write_report
    from ..results.records import load_results

    results = Path(args.results)
    run = load_results(results)
    baseline = load_results(args.baseline) if args.baseline else None
    if baseline is not None:
        from ..results.rebaseline import with_baseline

        run = with_baseline(run, baseline)
    url: str | None = None
    if args.history:
        url = resolve_url(args.history)
    elif not args.no_history and (results.parent / DEFAULT_FILE).exists():
        url = resolve_url(str(results.parent / DEFAULT_FILE))
    output = args.output or _default_output(results)
    out = write_report(output, run, baseline=baseline, history_url=url)
    print(f"mleval: wrote {out}")
    return 0


def _cmd_merge(args: argparse.Namespace) -> int:
    from ..report.outputs import OutputPlan, Written, write_outputs
    from ..results.records import load_results
    from ..results.shards import file_sha256, merge_shards

    shards = [(str(path), load_results(path)) for path in args.shards]
    baseline_path = args.baseline
    if baseline_path is None:
        # The shards' own --mleval-baseline, where it is here too (a CI job downloads it).
        named = shards[0][1].meta.flags.get("baseline")
        if named and shards[0][1].meta.shard and Path(named).is_file():
            baseline_path = named
    baseline = load_results(baseline_path) if baseline_path else None
    run, notes = merge_shards(
        shards,
        root=Path(args.root).resolve(),
        baseline=baseline,
        baseline_sha256=file_sha256(baseline_path) if baseline_path else None,
    )
    output = Path(args.output)
    written = Written()
    plan = OutputPlan(report_dir=output.parent, history=args.history, results_file=output)
    write_outputs(run, plan, written, baseline=baseline)
    for note in [*notes, *written.errors]:
        print(f"mleval merge: {note}", file=sys.stderr)
    for why in run.meta.incomplete:
        print(f"mleval merge: INCOMPLETE: {why}", file=sys.stderr)
    n_cases = len({(c.suite, c.case_id) for c in run.cases})
    print(
        f"mleval merge: {len(shards)} shard(s), {n_cases} case(s), "
        f"{sum(not g.passed for g in run.gates)} of {len(run.gates)} gate(s) failed"
    )
    if args.junitxml:
        # The shards' own --junitxml carry the cases; the gates only the merge decides.
        from ..report.junit import write_gates_junit

        junit = Path(args.junitxml)
        try:
            write_gates_junit(
                junit, run, str(Path(args.root).resolve()), incomplete=run.meta.incomplete
            )
            written.paths.append(junit)
        except OSError as exc:
            print(f"mleval merge: could not write {junit}: {exc}", file=sys.stderr)
            return 1
    for path in written.paths:
        print(f"mleval: wrote {path}")
    # A merge that is incomplete, or a run that failed, fails the job that merges.
    return 1 if run.meta.incomplete or run.meta.exit_status not in (0, 5) else 0


def _cmd_history(args: argparse.Namespace) -> int:
    from ..report.history import metric_trend, recent_runs, resolve_url

    url = resolve_url(args.url)
    if args.metric:
        suite, sep, metric = args.metric.partition(":")
        if not sep:
            from ..errors import ConfigError

            raise ConfigError(f"--metric takes SUITE:METRIC, got {args.metric!r}")
        points = metric_trend(url, suite, metric, args.limit)
        if not points:
            print(f"no recorded values of {suite}:{metric}")
            return 0
        print(f"{'run':>5}  {'started':<25} {'commit':<10} {'estimate':>9}  {'CI':<19} {'n':>6}")
        for p in points:
            ci = f"[{p.ci_low:.3f}, {p.ci_high:.3f}]"
            # "(not whole)": over part of the cases, or beside a file that could not be collected.
            print(
                f"{p.run_id:>5}  {p.started_at:<25} {(p.git_sha or '')[:10]:<10} "
                f"{p.estimate:>9.4f}  {ci:<19} {p.n:>6}" + ("  (not whole)" if p.incomplete else "")
            )
        return 0
    from ..results.units import fmt_usd

    runs = recent_runs(url, args.limit)
    if not runs:
        print(f"no runs recorded in {url}")
        return 0
    print(
        f"{'run':>5}  {'status':<10} {'started':<25} {'commit':<10} {'branch':<16} "
        f"{'results':>7} {'passed':>7} {'errors':>6} {'gates':>7} {'cost':>11} {'time s':>8}"
    )
    for r in runs:
        rate = f"{r.pass_rate:.1%}" if r.pass_rate is not None else "–"
        gates = f"{r.gates_total - r.gates_failed}/{r.gates_total}"
        print(
            f"{r.id:>5}  {r.status:<10} {r.started_at:<25} {(r.git_sha or '')[:10]:<10} "
            f"{(r.git_branch or '')[:16]:<16} {r.n_cases:>7} {rate:>7} {r.n_errored:>6} "
            f"{gates:>7} {fmt_usd(r.cost_usd):>11} {r.duration_s:>8.1f}"
            + (f"  not whole: {r.incomplete}" if r.incomplete else "")
        )
    return 0


def _level(text: str) -> float:
    """An argparse type: a level strictly between 0 and 1 (alpha, confidence, power)."""
    from ..results.compare import check_levels

    value = _number(text)
    try:
        check_levels(alpha=value)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"must be between 0 and 1 (exclusive), got {text}"
        ) from None
    return value


def _margin(text: str) -> float:
    """An argparse type: a regression margin, checked as the regression rule checks it."""
    from ..results.compare import check_margin

    try:
        return check_margin(_number(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a finite number >= 0, got {text}") from None


def _metric_names(text: str) -> list[str]:
    """An argparse type: comma-separated metric names, at least one (``","`` gated nothing)."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"names no metric ({text!r}); leave it out to gate every metric in both runs"
        )
    return names


def _positive(text: str) -> float:
    """An argparse type: a finite number above 0 (an effect to detect, an interval width)."""
    value = _number(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


def _correlation(text: str) -> float:
    """An argparse type: a correlation, in [-1, 1]."""
    value = _number(text)
    if not (math.isfinite(value) and -1.0 <= value <= 1.0):
        raise argparse.ArgumentTypeError(f"must be a correlation in [-1, 1], got {text}")
    return value


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None


def add_schema(sub: Any) -> None:
    """Register ``mleval schema``."""
    p = sub.add_parser("schema", help="print a JSON Schema (eval files or results)")
    p.add_argument("which", choices=["cases", "results"])
    p.set_defaults(func=_cmd_schema)


def add_compare(sub: Any) -> None:
    """Register ``mleval compare``."""
    p = sub.add_parser("compare", help="paired comparison of two results files")
    p.add_argument("baseline", help="baseline results JSON")
    p.add_argument("candidate", help="candidate results JSON")
    p.add_argument("--format", choices=["text", "md", "json"], default="text")
    p.add_argument(
        "--margin",
        type=_margin,
        default=None,
        help="non-inferiority margin for every suite (default: each suite's own, else 0)",
    )
    p.add_argument(
        "--metrics",
        type=_metric_names,
        default=None,
        help="comma-separated gating metrics for every suite (default: each suite's own "
        "regression_metrics, else every metric in both runs but latency and cost)",
    )
    p.add_argument("--alpha", type=_level, default=0.05)
    p.add_argument("--confidence", type=_level, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_compare)


def add_power(sub: Any) -> None:
    """Register ``mleval power``."""
    p = sub.add_parser("power", help="sample size and minimum detectable effect from a run")
    p.add_argument("--baseline", required=True, help="results JSON whose spread is used")
    p.add_argument("--metric", required=True, help="metric name, or pass_rate")
    p.add_argument(
        "--effect", type=_positive, default=None, help="size of the difference to detect (> 0)"
    )
    p.add_argument("--suite", default=None)
    p.add_argument("--alpha", type=_level, default=0.05)
    p.add_argument("--power", type=_level, default=0.8)
    p.add_argument(
        "--correlation", type=_correlation, default=0.5, help="assumed correlation of paired runs"
    )
    p.set_defaults(func=_cmd_power)


def add_calibrate(sub: Any) -> None:
    """Register ``mleval calibrate``."""
    p = sub.add_parser(
        "calibrate",
        help="agreement of judge scores with human labels; with --target-width, the labels a "
        "human-scale interval that narrow needs",
    )
    p.add_argument(
        "labels",
        nargs="?",
        default=None,
        help="JSONL or CSV with human labels (and judge scores, or case ids); with "
        "--target-width, optional: the labels: of the run's eval files are used",
    )
    p.add_argument("--human", default="human", help="column of human labels (default: human)")
    p.add_argument("--judge", default="judge", help="column of judge scores (default: judge)")
    p.add_argument("--results", default=None, help="results JSON whose judge scores to use")
    p.add_argument("--metric", default="judge", help="judge metric in the results (default: judge)")
    p.add_argument("--id-column", default="id", help="column of SUITE::CASE ids with --results")
    p.add_argument(
        "--target-width",
        type=_positive,
        default=None,
        help="with --results: the judge metric on the human scale (PPI++) and how many labels "
        "its interval needs to be this wide",
    )
    p.add_argument("--suite", default=None, help="only this suite (plain case ids are its)")
    p.add_argument("--confidence", type=_level, default=0.95)
    p.set_defaults(func=_cmd_calibrate)


def add_report(sub: Any) -> None:
    """Register ``mleval report``."""
    from ..results.records import RESULTS_FILE

    p = sub.add_parser("report", help="render a stored run as a self-contained HTML file")
    p.add_argument("results", help=f"results JSON (e.g. reports/{RESULTS_FILE})")
    p.add_argument(
        "-o", "--output", default=None, help="output HTML (default: beside the results file)"
    )
    p.add_argument("--baseline", default=None, help="baseline results JSON: paired comparison")
    p.add_argument(
        "--history",
        default=None,
        help="run-history URL or SQLite file for metric trends "
        "(default: mleval-history.sqlite beside the results file, if present)",
    )
    p.add_argument("--no-history", action="store_true", help="leave the metric trends out")
    p.set_defaults(func=_cmd_report)


def add_merge(sub: Any) -> None:
    """Register ``mleval merge``."""
    from ..results.records import RESULTS_FILE

    p = sub.add_parser(
        "merge",
        help="combine the results files of --mleval-shard runs into one run (aggregates, "
        "gates and the baseline comparison over every case)",
    )
    p.add_argument("shards", nargs="+", help="the shards' results JSON files")
    p.add_argument(
        "-o",
        "--output",
        default=f"reports/{RESULTS_FILE}",
        help="merged results JSON; the summary and HTML report go beside it (default: %(default)s)",
    )
    p.add_argument(
        "--baseline",
        default=None,
        help="the baseline the shards ran with (default: their --mleval-baseline path, if "
        "it exists here)",
    )
    p.add_argument(
        "--root",
        default=".",
        help="the checkout whose eval files the shards ran (default: the current directory)",
    )
    p.add_argument(
        "--history",
        default=None,
        help="run-history URL (default: SQLite beside the merged results)",
    )
    p.add_argument(
        "--junitxml",
        default=None,
        help="also write the merged run's gates as JUnit XML test cases (the shards' own "
        "--junitxml files carry the cases)",
    )
    p.set_defaults(func=_cmd_merge)


def add_history(sub: Any) -> None:
    """Register ``mleval history``."""
    p = sub.add_parser("history", help="list recorded runs, or one metric's trend")
    p.add_argument(
        "--url",
        default=None,
        help="SQLAlchemy URL or SQLite file (default: reports/mleval-history.sqlite)",
    )
    p.add_argument("--limit", type=int, default=20, help="how many runs (default 20)")
    p.add_argument("--metric", default=None, help="SUITE:METRIC: that metric's trend instead")
    p.set_defaults(func=_cmd_history)


def add_report_commands(sub: Any) -> None:
    """Register ``mleval report`` and ``mleval history`` on the ``mleval`` subparsers."""
    add_report(sub)
    add_history(sub)
