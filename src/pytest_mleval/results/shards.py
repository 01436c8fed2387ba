"""Sharded runs (``--mleval-shard I/N``) and merging their results files (core).

A case lands in the shard that a SHA-256 of its suite and case id names (never Python's
``hash``, which changes between processes), so every runner agrees without talking to the
others. A suite's variants (``SUITE[VARIANT]``) use the suite's own name and a case's repeats
share its id: all of one case's runs are in one shard, so the paired comparisons between
variants and repeats never cross shards.

:func:`merge_shards` checks that the shards belong together (one split, one commit, one
fingerprint of the eval files and the options that change results, each shard once), then
hands the union of their cases to :func:`.run.assemble_run`, the function a run ends with:
aggregates, intervals, gates, variant sets and the baseline comparison are computed over the
union, never averaged across shards. Pure functions: nothing written, no pytest.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from ..errors import ResultsFileError
from .records import CallUse, CaseResult, CollectionError, RunMeta, RunResults, ShardInfo

__all__ = [
    "RESULT_OPTIONS",
    "case_shard",
    "file_sha256",
    "merge_shards",
    "node_shard",
    "result_options",
    "settings_from_flags",
    "shard_fingerprint",
    "shard_index",
]

RESULT_OPTIONS = (
    "model",
    "judge-model",
    "repeats",
    "seed",
    "confidence",
    "regression-margin",
    "regression-metrics",
    "sequential",
    "variants",
    "max-prompt-chars",
    "max-output-chars",
    "max-cost",
)
"""Flags whose value changes a run's results: shards merge only when these agree. (Where
outputs go, concurrency, the cache mode and the client change how a run runs, not what it
finds, so shards may differ in them.)"""


def shard_index(key: str, count: int) -> int:
    """The shard (1 to ``count``) of ``key``: the first 8 bytes of its SHA-256, mod ``count``."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count + 1


def case_shard(suite: str, case_id: str, count: int) -> int:
    """The shard of a case of ``suite`` (the suite's own name, never a variant's)."""
    return shard_index(f"case\x00{suite}\x00{case_id}", count)


def node_shard(nodeid: str, count: int) -> int:
    """The shard of a test that is not an eval case, by its pytest node id."""
    return shard_index(f"node\x00{nodeid}", count)


def _base_suite(case: CaseResult) -> str:
    """The suite a case's variant varies (``s`` for ``s[a]``)."""
    suffix = f"[{case.variant}]" if case.variant else ""
    if suffix and case.suite.endswith(suffix):
        return case.suite[: -len(suffix)]
    return case.suite


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def result_options(
    flags: Mapping[str, Any], ini: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The options of :data:`RESULT_OPTIONS` that have a value, plus ini keys that change
    results (``ini:NAME``), for a shard's fingerprint."""
    out = {k: flags[k] for k in RESULT_OPTIONS if flags.get(k) is not None}
    for key, value in sorted((ini or {}).items()):
        if value:
            out[f"ini:{key}"] = value
    return out


def shard_fingerprint(files: Mapping[str, str], options: Mapping[str, Any]) -> str:
    """SHA-256 over the eval files' hashes and the result options: equal for one run's shards."""
    text = json.dumps({"files": dict(files), "options": dict(options)}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def settings_from_flags(flags: Mapping[str, Any]) -> Any:
    """The :class:`.run.RunSettings` a run with these flags (``RunMeta.flags``) assembled with."""
    from .run import RunSettings

    names = [m.strip() for m in str(flags.get("regression-metrics") or "").split(",")]
    return RunSettings(
        confidence=float(flags.get("confidence", 0.95)),
        seed=int(flags.get("seed", 0)),
        regression_margin=float(flags.get("regression-margin") or 0.0),
        regression_metrics=tuple(n for n in names if n) or None,
        sequential=bool(flags.get("sequential", False)),
        repeats=int(flags["repeats"]) if flags.get("repeats") else None,
    )


def _differences(name: str, info: ShardInfo, ref_name: str, ref: ShardInfo) -> str:
    """What makes two shards' fingerprints differ, in words."""
    what = []
    for rel in sorted(set(info.files) | set(ref.files)):
        if rel not in info.files:
            what.append(f"eval file {rel} is in {ref_name} only")
        elif rel not in ref.files:
            what.append(f"eval file {rel} is in {name} only")
        elif info.files[rel] != ref.files[rel]:
            what.append(f"eval file {rel} differs")
    for key in sorted(set(info.options) | set(ref.options)):
        if info.options.get(key) != ref.options.get(key):
            what.append(
                f"option {key} is {info.options.get(key)!r} here, {ref.options.get(key)!r} there"
            )
    return "; ".join(what) or "fingerprints differ"


def _check(shards: Sequence[tuple[str, RunResults]]) -> tuple[list[ShardInfo], list[int]]:
    """The shards' infos (by index) and the missing indices; raises when they do not belong
    together."""
    if not shards:
        raise ResultsFileError("mleval merge: no shard files given")
    infos: dict[int, tuple[str, ShardInfo]] = {}
    ref_name, ref_run = shards[0]
    ref = ref_run.meta.shard
    for name, run in shards:
        info = run.meta.shard
        if info is None:
            raise ResultsFileError(
                f"{name}: not a shard's results (no meta.shard; run it with --mleval-shard I/N)"
            )
        assert ref is not None  # the first file passed the check above
        if info.count != ref.count:
            raise ResultsFileError(
                f"{name}: shard {info.index}/{info.count}, but {ref_name} is shard "
                f"{ref.index}/{ref.count}: shards of different splits do not merge"
            )
        if run.meta.git_sha != ref_run.meta.git_sha:
            raise ResultsFileError(
                f"{name}: ran at commit {run.meta.git_sha or 'unknown'}, {ref_name} at "
                f"{ref_run.meta.git_sha or 'unknown'}: shards from different commits do not merge"
            )
        if info.fingerprint != ref.fingerprint:
            raise ResultsFileError(
                f"{name}: another configuration than {ref_name} "
                f"({_differences(name, info, ref_name, ref)}): shards do not merge"
            )
        if info.baseline_sha256 != ref.baseline_sha256:
            raise ResultsFileError(
                f"{name}: compared with another baseline than {ref_name}: shards do not merge"
            )
        if info.index in infos:
            raise ResultsFileError(
                f"{name}: shard {info.index}/{info.count} again (also {infos[info.index][0]})"
            )
        infos[info.index] = (name, info)
    missing = [i for i in range(1, ref.count + 1) if i not in infos] if ref else []
    return [infos[i][1] for i in sorted(infos)], missing


def _check_cases(shards: Sequence[tuple[str, RunResults]]) -> None:
    """Every case is in the shard its hash names, and in one shard only."""
    seen: dict[tuple[str, str, int], str] = {}
    for name, run in shards:
        info = run.meta.shard
        assert info is not None
        for c in run.cases:
            key = (c.suite, c.case_id, c.repeat)
            if key in seen:
                raise ResultsFileError(
                    f"{name}: case {c.suite}::{c.case_id} (repeat {c.repeat}) is also in "
                    f"{seen[key]}: shards overlap"
                )
            seen[key] = name
            if c.file and Path(c.file).suffix in (".yaml", ".yml"):
                want = case_shard(_base_suite(c), c.case_id, info.count)
                if want != info.index:
                    raise ResultsFileError(
                        f"{name}: case {c.suite}::{c.case_id} belongs to shard {want}/"
                        f"{info.count}, not {info.index}: not a shard of this split"
                    )


def _check_files(info: ShardInfo, root: Path) -> None:
    """The eval files the suites are read back from are the ones the shards ran."""
    for rel, digest in sorted(info.files.items()):
        path = root / rel
        if not path.is_file():
            raise ResultsFileError(
                f"eval file {rel} not found under {root}: run mleval merge in the checkout "
                "the shards ran in (or pass --root)"
            )
        if file_sha256(path) != digest:
            raise ResultsFileError(
                f"eval file {path} changed since the shards ran: the suites' gates and "
                "settings would not be the ones the shards used"
            )


def _check_suites(info: ShardInfo, root: Path) -> None:
    """Every eval file loads here: a suite that does not would lose its gates silently."""
    from ..cases.suite import load_suite
    from ..errors import MlevalError

    for rel in sorted(info.files):
        path = root / rel
        if path.suffix not in (".yaml", ".yml"):
            continue
        try:
            load_suite(path)
        except MlevalError as exc:
            raise ResultsFileError(
                f"eval file {rel} does not load here ({exc}): install what the shards had "
                "(the same extras) before merging"
            ) from None


def _rebase(case: CaseResult, shard_root: str, root: Path) -> CaseResult:
    """A case's file under ``root`` (the shards may have run in another directory)."""
    file = _rebase_path(case.file, shard_root, root)
    return case if file == case.file else case.model_copy(update={"file": file})


def _rebase_path(file: str | None, shard_root: str, root: Path) -> str | None:
    """``file`` under ``root`` instead of ``shard_root`` (as it was when outside it)."""
    if not file or not shard_root:
        return file
    try:
        rel = Path(file).relative_to(shard_root)
    except ValueError:
        return file
    return str(root / rel)


def _sum(a: Any, b: Any) -> Any:
    """Two engines' summaries added (counts and costs; other values kept from the first)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: _sum(a[k], b[k]) if k in a and k in b else a.get(k, b.get(k)) for k in a | b}
    if isinstance(a, int | float) and isinstance(b, int | float) and not isinstance(a, bool):
        return a + b
    return a


def _exit_status(statuses: Sequence[int | None], gates_failed: bool) -> int:
    """The merged run's exit status, as pytest would have ended one run over every case."""
    known = [s for s in statuses if s is not None]
    worst = [s for s in known if s in (2, 3, 4)]  # interrupted, internal error, usage error
    if worst:
        return max(worst)
    if gates_failed or any(s not in (0, 5) for s in known):
        return 1
    return 5 if known and all(s == 5 for s in known) else 0


def merge_shards(
    shards: Sequence[tuple[str, RunResults]],
    *,
    root: Path,
    baseline: RunResults | None = None,
    baseline_sha256: str | None = None,
) -> tuple[RunResults, list[str]]:
    """One run from its shards' results, assembled as an unsharded run over the same cases.

    Args:
        shards: ``(file name, results)`` of each shard, as given.
        root: The checkout the suites' eval files are read from (the shards' rootdir here).
        baseline: The baseline to compare the merged run with (as ``--mleval-baseline``).
        baseline_sha256: The baseline file's SHA-256 (it must be the one the shards used).

    Returns:
        ``(run, notes)``: the merged run (its ``meta.incomplete`` names missing shards), and
        what the reader should be told.

    Raises:
        ResultsFileError: A file that is not a shard, shards of different splits, commits,
            configurations or baselines, a shard given twice, overlapping shards, eval files
            missing or changed under ``root``, a baseline other than the shards'.
    """
    from .run import Gathered, NotSelected, assemble_run, sum_calls

    infos, missing = _check(shards)
    _check_cases(shards)
    ref_run = shards[0][1]
    ref = infos[0]
    _check_files(ref, root)
    _check_suites(ref, root)
    if ref.baseline_sha256 and baseline is None:
        raise ResultsFileError(
            "the shards were compared with a baseline: pass it with --baseline (or run "
            "mleval merge where their --mleval-baseline path is)"
        )
    if baseline is not None and baseline_sha256 != ref.baseline_sha256:
        raise ResultsFileError(
            "the baseline given is not the one the shards were run with"
            if ref.baseline_sha256
            else "the shards ran without a baseline: compare the merged run with mleval compare"
        )
    by_index = sorted(shards, key=lambda s: s[1].meta.shard.index if s[1].meta.shard else 0)
    cases: list[CaseResult] = []
    errors: list[CollectionError] = []
    incomplete: list[str] = []
    inference: Any = None
    outside: list[dict[str, CallUse]] = []
    unselected: dict[str, NotSelected] = {}
    for _name, run in by_index:
        info = run.meta.shard
        assert info is not None
        cases.extend(_rebase(c, info.root, root) for c in run.cases)
        for e in run.collection_errors:
            if all(e.nodeid != other.nodeid for other in errors):
                errors.append(e)
        incomplete.extend(f"shard {info.index}/{info.count}: {why}" for why in run.meta.incomplete)
        engine = run.usage.get("inference")
        if engine is not None:
            inference = engine if inference is None else _sum(inference, engine)
        calls = run.usage.get("outside_calls") or {}
        outside.append({m: CallUse.model_validate(u) for m, u in calls.items()})
        for s in run.suites:
            if not s.n_cases and s.not_run and not s.skipped:
                # The user's selection left it out in this shard; if no shard ran a case of it,
                # the merged run reads partial, as the unsharded run would.
                file = _rebase_path(s.file, info.root, root) or ""
                unselected.setdefault(s.name, NotSelected(file, s.not_run, s.unchecked_gates))
    # One unsharded run reports its cases in collection order; so does the merged run.
    place = {
        n: p for _, run in by_index if run.meta.shard for n, p in run.meta.shard.positions.items()
    }
    last = len(place)
    cases.sort(key=lambda c: place.get(c.nodeid, last))
    if missing:
        incomplete.insert(
            0,
            f"{len(missing)} of {ref.count} shard(s) missing: "
            + ", ".join(f"{i}/{ref.count}" for i in missing),
        )
    metas = [run.meta for _, run in by_index]
    flags = {k: v for k, v in ref_run.meta.flags.items() if k != "shard"}
    meta = RunMeta(
        tool_version=ref_run.meta.tool_version,
        started_at=min(m.started_at for m in metas),
        finished_at=max(m.finished_at for m in metas),
        duration_s=max(m.duration_s for m in metas),
        git_sha=ref_run.meta.git_sha,
        git_branch=ref_run.meta.git_branch,
        python=ref_run.meta.python,
        platform=ref_run.meta.platform,
        models=sorted({m for meta in metas for m in meta.models}),
        flags=flags,
        seed=ref_run.meta.seed,
        incomplete=incomplete,
        # The order is restored; each shard's positions need not be kept again.
        merged_from=[i.model_copy(update={"positions": {}}) for i in infos],
    )
    gathered = Gathered(
        meta=meta,
        cases=cases,
        collection_errors=errors,
        baseline=baseline,
        inference=inference,
        outside_calls=sum_calls(*outside),
        unselected=unselected,
    )
    run, notes = assemble_run(gathered, settings_from_flags(ref_run.meta.flags))
    if any(vs.win_rates for _, r in shards for vs in r.variant_sets):
        notes.append(
            "judge_variants: the pairwise judge's win rates are not recomputed by mleval merge "
            "(they need the judge model); the merged run leaves them out"
        )
    run.meta.exit_status = _exit_status(
        [m.exit_status for m in metas], any(not g.passed for g in run.gates)
    )
    return run, notes
