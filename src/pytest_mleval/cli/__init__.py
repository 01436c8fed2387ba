"""The ``mleval`` command."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..errors import MlevalError

__all__ = ["main"]


def _cmd_schema(args: argparse.Namespace) -> int:
    if args.which == "results":
        from ..results.records import RunResults

        schema = RunResults.model_json_schema()
        schema["title"] = "pytest-mleval results"
    else:
        from ..cases.schema import eval_file_json_schema

        # Metric names and options come from the registry's options models.
        schema = eval_file_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    print(json.dumps(schema, indent=2))
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..report.summary import comparison_markdown, comparison_terminal
    from ..results.compare import regression_check
    from ..results.records import load_results

    base, cand = load_results(args.baseline), load_results(args.candidate)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
    # The same rule as the run's regression gate: each suite's margin and gating metrics come
    # from the candidate's results unless given here.
    comparison, _ = regression_check(
        base,
        cand,
        margin=args.margin,
        metrics=metrics,
        alpha=args.alpha,
        seed=args.seed,
        confidence=args.confidence,
    )
    data = comparison.model_dump(mode="json")
    if args.format == "md":
        print("\n".join(comparison_markdown(data)))
    elif args.format == "json":
        print(json.dumps(data, indent=2))
    else:
        print("\n".join(comparison_terminal(data)))
    return 1 if comparison.regressed else 0


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
    from ..results.records import load_results, metric_kind

    run = load_results(args.baseline)
    suites = sorted({c.suite for c in run.cases})
    if args.suite:
        suites = [args.suite]
    metric = None if args.metric == "pass_rate" else args.metric
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


def _cmd_cache(args: argparse.Namespace) -> int:
    from ..inference.cache import cache_clear, cache_prune, cache_stats

    if args.action == "stats":
        print(json.dumps(cache_stats(args.path), indent=2))
    elif args.action == "clear":
        print(f"removed {cache_clear(args.path)} entries from {args.path}")
    else:
        if args.older_than_days is None and args.max_mb is None:
            print("mleval cache prune: give --older-than-days and/or --max-mb", file=sys.stderr)
            return 2
        removed = cache_prune(args.path, older_than_days=args.older_than_days, max_mb=args.max_mb)
        print(f"removed {removed} entries from {args.path}")
    return 0


def _cmd_litellm_server(args: argparse.Namespace) -> int:
    from ..inference.forkserver import list_servers, stop_servers

    if args.action == "status":
        servers = list_servers()
        for path, pid in servers:
            print(f"running: pid {pid}, socket {path}")
        if not servers:
            print("no warm litellm server is running")
    else:
        print(f"stopped {stop_servers()} warm litellm server(s)")
    return 0


def _cmd_calibrate(args: argparse.Namespace) -> int:
    from ..judges.calibrate import calibrate, judge_labels_from_results, load_pairs

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


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``mleval`` (each subcommand registers itself here)."""
    parser = argparse.ArgumentParser(prog="mleval", description="pytest-mleval utilities")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("schema", help="print a JSON Schema (eval files or results)")
    p.add_argument("which", choices=["cases", "results"])
    p.set_defaults(func=_cmd_schema)

    p = sub.add_parser("compare", help="paired comparison of two results files")
    p.add_argument("baseline", help="baseline results JSON")
    p.add_argument("candidate", help="candidate results JSON")
    p.add_argument("--format", choices=["text", "md", "json"], default="text")
    p.add_argument(
        "--margin",
        type=float,
        default=None,
        help="non-inferiority margin for every suite (default: each suite's own, else 0)",
    )
    p.add_argument(
        "--metrics",
        default=None,
        help="comma-separated gating metrics for every suite (default: each suite's own "
        "regression_metrics, else every metric in both runs but latency and cost)",
    )
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--confidence", type=float, default=0.95)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_cmd_compare)

    p = sub.add_parser("power", help="sample size and minimum detectable effect from a run")
    p.add_argument("--baseline", required=True, help="results JSON whose spread is used")
    p.add_argument("--metric", required=True, help="metric name, or pass_rate")
    p.add_argument("--effect", type=float, default=None, help="difference to detect")
    p.add_argument("--suite", default=None)
    p.add_argument("--alpha", type=float, default=0.05)
    p.add_argument("--power", type=float, default=0.8)
    p.add_argument(
        "--correlation", type=float, default=0.5, help="assumed correlation of paired runs"
    )
    p.set_defaults(func=_cmd_power)

    p = sub.add_parser("cache", help="inspect or trim the model-call cache")
    p.add_argument("action", choices=["stats", "clear", "prune"])
    p.add_argument(
        "--path", default=".mleval/cache.sqlite", help="cache file (default: .mleval/cache.sqlite)"
    )
    p.add_argument("--older-than-days", type=float, default=None, help="prune: drop older entries")
    p.add_argument(
        "--max-mb", type=float, default=None, help="prune: drop oldest until under this size"
    )
    p.set_defaults(func=_cmd_cache)

    p = sub.add_parser(
        "litellm-server", help="show or stop the warm litellm servers (--mleval-litellm-server)"
    )
    p.add_argument("action", choices=["status", "stop"])
    p.set_defaults(func=_cmd_litellm_server)

    p = sub.add_parser("calibrate", help="agreement of judge scores with human labels")
    p.add_argument("labels", help="JSONL or CSV with human labels (and judge scores, or case ids)")
    p.add_argument("--human", default="human", help="column of human labels (default: human)")
    p.add_argument("--judge", default="judge", help="column of judge scores (default: judge)")
    p.add_argument("--results", default=None, help="results JSON whose judge scores to use")
    p.add_argument("--metric", default="judge", help="judge metric in the results (default: judge)")
    p.add_argument("--id-column", default="id", help="column of SUITE::CASE ids with --results")
    p.set_defaults(func=_cmd_calibrate)

    for register in _extra_commands():
        register(sub)
    return parser


def _extra_commands() -> list[Callable[[Any], None]]:
    """Subcommands contributed by other modules: each takes the subparsers object."""
    from ..report.html import add_report_commands
    from .finetune import add_finetune_commands

    return [add_report_commands, add_finetune_commands]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``mleval`` console script.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        The exit status: the subcommand's, 2 on an ``MlevalError``, 141 (128 + SIGPIPE, as a
        shell reports a process killed by a closed pipe) when the reader of stdout went away.
    """
    try:
        try:
            return _run(argv)
        finally:
            # Flush inside the guard (also on argparse's SystemExit after --help): output
            # still buffered would otherwise meet the closed pipe in the interpreter's own
            # flush at exit, which prints an error no handler can catch.
            sys.stdout.flush()
    except BrokenPipeError:
        return _closed_pipe()


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.func(args)
    except MlevalError as exc:
        print(f"mleval: error: {exc}", file=sys.stderr)
        return 2
    return code


def _closed_pipe() -> int:
    """Quiet exit when stdout's reader closed early (``mleval jobs list | head``)."""
    # Python's documented recipe: the interpreter flushes stdout again at exit, and that flush
    # would raise once more; pointing fd 1 at devnull gives it somewhere to go.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # pragma: no cover - stdout without a file descriptor
        pass
    return 141
