"""``--mleval-redact`` for what pytest itself shows and writes: reports and log records.

The run's records are redacted by :mod:`..results.redaction` when the session publishes them;
this plugin covers the rest of what leaves the process: each test and collection report's
failure text (the terminal, ``--junitxml``, xdist's transport) and its captured output, and
the log records of the plugin's own loggers and litellm's, and the lines pytest writes to its
log file (``--log-file``) and live log (``log_cli``) from any logger, a target's included.
Registered in every process (xdist workers build their reports themselves), only when the
option is on. ``caplog`` is left alone: a test's own assertions on its records read them raw.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Generator
from typing import Any

import pytest

from ..safety.pii import redact_text

__all__ = ["LOGGERS", "RedactFilter", "RedactingFormatter", "RedactionPlugin", "redact_report"]

LOGGERS = ("pytest_mleval", "pytest_mleval.inference", "LiteLLM", "LiteLLM Router", "LiteLLM Proxy")
"""The loggers whose records are redacted: the plugin's own and litellm's (which may log
requests and answers). A logger's filter sees only the records made on it, hence each name."""


class RedactFilter(logging.Filter):
    """Redacts a record's message and its traceback text before any handler sees them."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is left to logging's own error handling
            return True
        clean = redact_text(message)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and not record.exc_text:
            # Formatters print exc_text when it is set instead of formatting exc_info again.
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = redact_text(text)
        elif record.exc_text:
            record.exc_text = redact_text(record.exc_text)
        return True


class RedactingFormatter(logging.Formatter):
    """Another formatter's lines, redacted (the record itself is left as it is)."""

    def __init__(self, inner: logging.Formatter | None) -> None:
        super().__init__()
        self.inner = inner or logging.Formatter()

    def format(self, record: logging.LogRecord) -> str:
        return redact_text(self.inner.format(record))


# The handlers of pytest's logging plugin that write lines out of the process; the capture
# handlers' text reaches the report's sections, redacted there.
_PYTEST_LOG_HANDLERS = ("log_file_handler", "log_cli_handler")


def redact_report(
    report: pytest.TestReport | pytest.CollectReport, clean: Callable[[str], str] = redact_text
) -> None:
    """Redact a report in place: its failure text (longrepr) and captured sections.

    A traceback keeps its structure (colours, the short summary's message) with each of its
    texts redacted; should any PII remain in its rendering (a shape not known here), the
    rendering's redacted text replaces it (pytest shows a text longrepr as it is). ``clean``
    is what redacts a text: personal data by default, secrets for every eval case's report
    (``inference.scrubbing.scrub``).
    """
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        # A skip: (path, line, reason).
        path, line, reason = longrepr
        report.longrepr = (path, line, clean(str(reason)))
    elif isinstance(longrepr, str):
        report.longrepr = clean(longrepr)
    elif longrepr is not None:
        text = str(longrepr)
        if clean(text) != text:
            _redact_repr(longrepr, clean)
            text = str(longrepr)
            cleaned = clean(text)
            if cleaned != text:
                report.longrepr = cleaned
    report.sections = [(title, clean(content)) for title, content in report.sections]


def _lines(lines: Any, clean: Callable[[str], str]) -> list[str]:
    return [clean(str(line)) for line in lines]


def _redact_location(location: Any, clean: Callable[[str], str]) -> None:
    if location is not None and isinstance(getattr(location, "message", None), str):
        location.message = clean(location.message)


def _redact_traceback(traceback: Any, clean: Callable[[str], str]) -> None:
    """pytest's ReprTraceback, in place: every entry's lines, arguments, locals, location."""
    if traceback is None:
        return
    for entry in getattr(traceback, "reprentries", ()):
        entry.lines = _lines(entry.lines, clean)
        funcargs = getattr(entry, "reprfuncargs", None)
        if funcargs is not None:
            funcargs.args = [
                (name, clean(value) if isinstance(value, str) else value)
                for name, value in funcargs.args
            ]
        locals_ = getattr(entry, "reprlocals", None)
        if locals_ is not None:
            locals_.lines = _lines(locals_.lines, clean)
        _redact_location(getattr(entry, "reprfileloc", None), clean)
    if isinstance(getattr(traceback, "extraline", None), str):
        traceback.extraline = clean(traceback.extraline)


def _redact_repr(longrepr: Any, clean: Callable[[str], str]) -> None:
    """pytest's exception repr (a chain, or one exception), in place, by its public fields."""
    chain = getattr(longrepr, "chain", None)
    if chain is not None:
        for traceback, crash, _ in chain:
            _redact_traceback(traceback, clean)
            _redact_location(crash, clean)
        longrepr.chain = [
            (traceback, crash, None if descr is None else clean(descr))
            for traceback, crash, descr in chain
        ]
    # The last link's traceback and crash (the same objects as the chain's, or a lone one's).
    _redact_traceback(getattr(longrepr, "reprtraceback", None), clean)
    _redact_location(getattr(longrepr, "reprcrash", None), clean)
    sections = getattr(longrepr, "sections", None)
    if sections:
        longrepr.sections = [(title, clean(body), sep) for title, body, sep in sections]


class RedactionPlugin:
    """The pytest hooks of ``--mleval-redact`` (see the module docstring)."""

    def __init__(self) -> None:
        self._filter = RedactFilter()

    def install(self) -> None:
        """Attach the log filter to :data:`LOGGERS`."""
        for name in LOGGERS:
            logging.getLogger(name).addFilter(self._filter)

    def uninstall(self) -> None:
        """Detach it again (an in-process pytester run must not leave it behind)."""
        for name in LOGGERS:
            logging.getLogger(name).removeFilter(self._filter)

    @pytest.hookimpl(wrapper=True)
    def pytest_runtest_makereport(
        self, item: pytest.Item, call: pytest.CallInfo[None]
    ) -> Generator[None, pytest.TestReport, pytest.TestReport]:
        report = yield
        redact_report(report)
        return report

    @pytest.hookimpl(wrapper=True)
    def pytest_make_collect_report(
        self, collector: pytest.Collector
    ) -> Generator[None, pytest.CollectReport, pytest.CollectReport]:
        report = yield
        redact_report(report)
        return report

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionstart(self, session: pytest.Session) -> None:
        # pytest's logging plugin registers late in configure: its handlers exist by now.
        logging_plugin = session.config.pluginmanager.get_plugin("logging-plugin")
        for name in _PYTEST_LOG_HANDLERS:
            handler = getattr(logging_plugin, name, None)
            if isinstance(handler, logging.Handler) and not isinstance(
                handler.formatter, RedactingFormatter
            ):
                handler.setFormatter(RedactingFormatter(handler.formatter))

    def pytest_unconfigure(self, config: Any) -> None:
        self.uninstall()
