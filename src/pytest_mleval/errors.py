"""The exception tree of pytest-mleval.

Every error the package raises on purpose derives from :class:`MlevalError`, so callers can
catch the whole family at once and tests can assert on the precise kind.
"""

from __future__ import annotations

__all__ = [
    "AuthenticationError",
    "BaselineError",
    "BudgetExceededError",
    "CacheMissError",
    "ConfigError",
    "EvalFileError",
    "FinetuneError",
    "IndexCorruptError",
    "InferenceError",
    "MetricError",
    "MissingDependencyError",
    "MlevalError",
    "ProviderError",
    "RateLimitError",
    "ResultsFileError",
    "TargetError",
    "TimeoutError",
]


class MlevalError(Exception):
    """Base class of every error raised by pytest-mleval."""


class ConfigError(MlevalError):
    """A flag, ini value or configuration file is invalid."""


class MissingDependencyError(MlevalError, ImportError):
    """An optional dependency is needed but not installed; the message says how to install it."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        self.package = package
        self.extra = extra
        super().__init__(
            f"{purpose} needs the optional package {package!r}: "
            f"pip install 'pytest-mleval[{extra}]'"
        )


class EvalFileError(MlevalError):
    """An eval file or dataset cannot be loaded; names file, line, case id and field."""

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        line: int | None = None,
        case_id: str | None = None,
        field: str | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.line = line
        self.case_id = case_id
        self.field = field
        super().__init__(self.describe())

    def describe(self) -> str:
        """Return ``path:line: case 'id', field 'x': message`` with the parts that are known."""
        where = ""
        if self.path:
            where = self.path if self.line is None else f"{self.path}:{self.line}"
        parts = []
        if self.case_id is not None:
            parts.append(f"case {self.case_id!r}")
        if self.field:
            parts.append(f"field {self.field!r}")
        head = ", ".join(parts)
        text = f"{head}: {self.message}" if head else self.message
        return f"{where}: {text}" if where else text

    @classmethod
    def not_utf8(
        cls, exc: UnicodeDecodeError, path: str, field: str | None = None
    ) -> EvalFileError:
        """The error of a file that is not UTF-8, at the line of its first undecodable byte
        (a byte offset alone left the user to count the file's bytes)."""
        data = bytes(exc.object)
        line = data[: exc.start].count(b"\n") + 1
        message = (
            f"not UTF-8 text: byte 0x{data[exc.start]:02x} ({exc.reason}); save the file as UTF-8"
        )
        return cls(message, path=path, line=line, field=field)


class TargetError(MlevalError):
    """A target specification cannot be resolved or a target returned something unusable."""


class MetricError(MlevalError):
    """A metric is unknown, misconfigured, or failed while scoring."""


class ResultsFileError(MlevalError):
    """A results file is missing, corrupt, or of an unsupported schema version."""


class BaselineError(ResultsFileError):
    """A baseline results file cannot be used for comparison."""


class InferenceError(MlevalError):
    """A model call failed; the message never contains an API key."""

    retryable: bool = False


class ProviderError(InferenceError):
    """The provider answered with a server error, a malformed reply, or could not be reached."""

    retryable = True


class RateLimitError(ProviderError):
    """The provider refused the call for its rate limit (HTTP 429)."""

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class TimeoutError(ProviderError):
    """The call did not finish within its per-call timeout."""


class AuthenticationError(InferenceError):
    """The provider rejected the credentials; never retried."""


class CacheMissError(InferenceError):
    """``--mleval-cache replay`` found no recorded answer for a call."""


class BudgetExceededError(InferenceError):
    """``--mleval-max-cost`` was reached, so no new calls are issued."""


class FinetuneError(MlevalError):
    """A fine-tuning job failed, or a job operation (cancel, resume) cannot be done."""


class IndexCorruptError(MlevalError):
    """A persisted retrieval index cannot be read (the RAG pipeline rebuilds it, warning)."""
