"""Dataset files (JSONL, CSV, JSON, YAML) as eval cases, with a field mapping.

Errors name the data file and the row's line, like errors in eval files.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from ..errors import EvalFileError
from ._yaml import DATASET_FILE_SHAPE, node_line, read_yaml, validate_case
from .schema import Case, DatasetSpec

__all__ = ["load_dataset"]

_CASE_FIELDS = set(Case.model_fields)
# Fields read as text (as in eval files): a JSON float there keeps how it was written.
_TEXT_FIELDS = frozenset(("id", "input", "expected", "context", "tags", "cluster", "relevant"))


class _JsonFloat(float):
    """A JSON number with a fraction or exponent that remembers how it was written.

    ``json.loads`` reads ``12.50`` as 12.5 and ``1e3`` as 1000.0, which ``exact`` then compared
    as "12.5" / "1000.0"; in a text field the file's own spelling is the text.
    """

    source: str

    def __new__(cls, text: str) -> _JsonFloat:
        number = super().__new__(cls, text)
        number.source = text
        return number


class _JsonProblem(ValueError):
    """What Python's json reads but JSON has not: a key given twice, NaN or Infinity."""


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            # The last one silently won (`"input"` twice: the case ran on the second).
            raise _JsonProblem(f"key {key!r} given twice in one object")
        out[key] = value
    return out


def _constant(token: str) -> Any:
    raise _JsonProblem(f"{token} is not a JSON number (a value must be finite)")


def _json(text: str) -> Any:
    return json.loads(
        text, parse_float=_JsonFloat, object_pairs_hook=_pairs, parse_constant=_constant
    )


def _plain(value: Any) -> Any:
    """``value`` with every :class:`_JsonFloat` a plain float (nothing of the reader leaks)."""
    if isinstance(value, _JsonFloat):
        return float(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _as_written(value: Any) -> Any:
    """A text field's value: a JSON float (or one in a list) as written; the rest typed."""
    if isinstance(value, _JsonFloat):
        return value.source
    if isinstance(value, list):
        return [v.source if isinstance(v, _JsonFloat) else _plain(v) for v in value]
    return _plain(value)


def _guess_format(path: Path) -> str:
    suffix = path.suffix.lower()
    return {
        ".jsonl": "jsonl",
        ".ndjson": "jsonl",
        ".csv": "csv",
        ".json": "json",
        ".yaml": "yaml",
        ".yml": "yaml",
    }.get(suffix, "")


def _rows(path: Path, fmt: str, *, eval_file: Path) -> Iterator[tuple[int, Any]]:
    """Yield (line number, row) pairs; line numbers are 1-based where the format has them."""
    try:
        # utf-8-sig: spreadsheets and Windows editors save "UTF-8" with a byte order mark,
        # which would otherwise glue itself to a CSV header's first column (or break JSON).
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise EvalFileError(
            f"dataset file not found: {path}", path=str(eval_file), field="dataset"
        ) from None
    except UnicodeDecodeError as exc:
        raise EvalFileError.not_utf8(exc, str(path), field="dataset") from None
    except OSError as exc:
        raise EvalFileError(
            f"cannot read dataset: {exc}", path=str(path), field="dataset"
        ) from None
    if fmt == "jsonl":
        # Lines end at "\n" only: str.splitlines also splits at U+2028, U+0085 and form
        # feeds, which JSON allows raw inside a string (one row became two broken ones).
        for lineno, line in enumerate(text.split("\n"), start=1):
            if not line.strip():
                continue
            try:
                yield lineno, _json(line)
            except json.JSONDecodeError as exc:
                raise EvalFileError(
                    f"invalid JSON: {exc.msg}", path=str(path), line=lineno
                ) from None
            except _JsonProblem as exc:
                raise EvalFileError(f"invalid JSON: {exc}", path=str(path), line=lineno) from None
    elif fmt == "csv":
        yield from _csv_rows(text, path)
    elif fmt in ("json", "yaml"):
        if fmt == "json":
            try:
                data = _json(text)
            except json.JSONDecodeError as exc:
                raise EvalFileError(
                    f"invalid JSON: {exc.msg}", path=str(path), line=exc.lineno
                ) from None
            except _JsonProblem as exc:
                raise EvalFileError(f"invalid JSON: {exc}", path=str(path)) from None
            root = None
        else:
            data, root = read_yaml(path, DATASET_FILE_SHAPE)
        if isinstance(data, dict) and "cases" in data:
            data = data["cases"]
            prefix: tuple[Any, ...] = ("cases",)
        else:
            prefix = ()
        if not isinstance(data, list):
            raise EvalFileError(
                "a dataset must be a list of rows (or {cases: [...]})", path=str(path)
            )
        for index, row in enumerate(data):
            found = node_line(root, (*prefix, index)) if root is not None else None
            yield found or index + 1, row
    else:
        raise EvalFileError(
            f"unsupported dataset format {path.suffix!r} (use jsonl, csv, json or yaml)",
            path=str(eval_file),
            field="dataset",
        )


def _csv_rows(text: str, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    """CSV rows as header -> value, each with its line; a malformed row is a dataset error.

    A row with more or fewer fields than the header, or a quote that is never closed, would
    otherwise become a case with shifted or missing fields (csv's DictReader fills them with
    None, or swallows the rest of the file into one field).
    """
    # Rows are read whole before they are yielded: the csv module's cell limit is process
    # state, raised for this read only (a long document in one cell is a normal input).
    limit = csv.field_size_limit(_CELL_LIMIT)
    try:
        rows = list(_csv_records(text, path))
    finally:
        csv.field_size_limit(limit)
    yield from rows


_CELL_LIMIT = 1 << 30
"""The longest CSV cell read (characters); the csv module's default is 131,072."""


def _csv_records(text: str, path: Path) -> Iterator[tuple[int, dict[str, str]]]:
    # newline="": lines end at "\n", "\r\n" or "\r", as the csv module wants them; never at
    # U+2028, U+0085 or a form feed inside a cell, where str.splitlines split one row in two.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            problem = str(exc)
            if "unexpected end of data" in problem:
                problem = "a quoted field is never closed (unterminated quote)"
            raise EvalFileError(
                f"malformed CSV row: {problem}", path=str(path), line=start
            ) from None
        line, start = start, reader.line_num + 1
        if not row:
            continue  # a blank line
        if header is None:
            twice = sorted({c for c in row if row.count(c) > 1})
            if twice:
                # The last column of a name silently won, dropping the other's values.
                raise EvalFileError(
                    f"malformed CSV header: {', '.join(map(repr, twice))} named more than once",
                    path=str(path),
                    line=line,
                )
            header = row
            continue
        if len(row) != len(header):
            raise EvalFileError(
                f"malformed CSV row: {len(row)} field(s) where the header has {len(header)} "
                f"({', '.join(header)})",
                path=str(path),
                line=line,
            )
        # The case's line is where its row ends, as before (default ids use it).
        yield reader.line_num, dict(zip(header, row, strict=True))


def _coerce_csv_value(key: str, value: Any) -> Any:
    """A CSV cell of a structured field (a list of passages, metrics, vars) read as JSON
    when it is written as JSON. ``expected`` is text as written: the exact output
    ``[1, 2]`` must match the cell ``[1, 2]`` (give alternatives in JSONL or YAML)."""
    if not isinstance(value, str):
        return value
    stripped = value.strip()
    if key in ("context", "metrics", "vars", "relevant", "metadata") and stripped[:1] in "[{":
        try:
            return json.loads(stripped)
        except json.JSONDecodeError:
            return value
    return value


def _keep(key: str, value: Any) -> Any:
    return value


def load_dataset(
    path: Path, spec: DatasetSpec, *, eval_file: Path
) -> Iterator[tuple[Case, Path, int | None]]:
    """Read cases from a dataset file, applying the field mapping.

    Columns that are neither case fields nor mapped become template ``vars``.
    """
    fmt = spec.format or _guess_format(path)
    mapping: Mapping[str, str] = spec.mapping
    unknown = set(mapping) - _CASE_FIELDS
    if unknown:
        raise EvalFileError(
            f"mapping names unknown case fields {sorted(unknown)}; valid: {sorted(_CASE_FIELDS)}",
            path=str(eval_file),
            field="dataset.mapping",
        )
    stem = path.stem
    # Only a CSV cell is text that may spell JSON; a JSON row's strings are already text.
    coerce = _coerce_csv_value if fmt == "csv" else _keep
    for count, (line, row) in enumerate(_rows(path, fmt, eval_file=eval_file)):
        if spec.limit is not None and count >= spec.limit:
            break
        if not isinstance(row, dict):
            raise EvalFileError(
                f"a dataset row must be an object, got {type(row).__name__}",
                path=str(path),
                line=line,
            )
        data: dict[str, Any] = {}
        used: set[str] = set()
        for case_field, column in mapping.items():
            if column not in row:
                raise EvalFileError(
                    f"column {column!r} not found; available: {sorted(map(str, row))}",
                    path=str(path),
                    line=line,
                    field=case_field,
                )
            data[case_field] = coerce(case_field, row[column])
            used.add(column)
        extra_vars: dict[str, Any] = {}
        for key, value in row.items():
            if key in used or key is None:
                continue
            if key in _CASE_FIELDS and key not in data:
                data[key] = coerce(key, value)
            elif key not in _CASE_FIELDS:
                extra_vars[str(key)] = value
        if extra_vars:
            merged = dict(extra_vars)
            merged.update(data.get("vars") or {})
            data["vars"] = merged
        data = {k: _as_written(v) if k in _TEXT_FIELDS else _plain(v) for k, v in data.items()}
        if fmt == "csv":
            # A blank cell is a missing value (a row not yet labelled), not the empty text:
            # as "" a blank `expected` let a target that returned "" pass `exact`.
            for key in ("context", "tags", "expected", "id"):
                if data.get(key) == "":
                    data.pop(key)
        default_id = f"{stem}-{line}"
        yield (
            validate_case(
                data, default_id=default_id, path=path, line_of=lambda loc, line=line: line
            ),
            path,
            line,
        )
