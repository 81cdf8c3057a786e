"""Structured logging: JSON lines to ``run.log``, readable lines to the console.

One processor chain serves both structlog loggers (:func:`get_logger`) and the stdlib
``logging`` records of every ``safety_eval.*`` logger, so existing
``logging.getLogger("safety_eval.x").info("%s", ...)`` calls need no change.

* :func:`configure` sets the level and the console handler (stderr, human-readable).
* :func:`attach_run_log` adds a handler writing one JSON object per event to
  ``<run_dir>/run.log`` (appending, so a resumed run continues the same file) and binds
  ``run_id`` for every event until the returned handle is closed.
* :func:`bind_model` binds ``model`` for the events inside a ``with`` block.

Every line of ``run.log`` has the keys ``timestamp`` (ISO 8601, UTC), ``level``,
``logger``, ``run_id``, ``model`` (``null`` outside a model) and ``event`` (the
message), plus any key-value pairs passed to a structlog logger. Exceptions are
rendered as a plain ``exception`` string (never with local variables, which could
hold prompts or keys).

``run_id`` and ``model`` live in context variables. A thread started inside a run
does not inherit them; its events get the ``run_id`` of the run log it lands in and
the model most recently bound by :func:`bind_model`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import sys
import threading
import traceback
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

__all__ = [
    "LOGGER_ROOT",
    "RUN_LOG",
    "RunLogHandle",
    "attach_run_log",
    "bind_model",
    "bound_context",
    "configure",
    "get_logger",
]

LOGGER_ROOT = "safety_eval"
RUN_LOG = "run.log"
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")

_CONSOLE_MARK = "_safety_eval_console"
_RUN_LOG_MARK = "_safety_eval_run_log"
_KEY_ORDER = ("timestamp", "level", "logger", "run_id", "model", "event")
_CONSOLE_HIDDEN = {"timestamp", "level", "logger", "run_id", "event", "exception"}

_METHOD_LEVELS = {"warn": "warning", "exception": "error", "fatal": "critical", "msg": "info"}

_lock = threading.Lock()
_structlog_ready = False
# What a thread that did not inherit the context variables falls back to.
_fallback: dict[str, Any] = {"model": None}


def _add_level(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    record = event_dict.get("_record")
    if isinstance(record, logging.LogRecord):
        event_dict.setdefault("level", record.levelname.lower())
    else:
        event_dict.setdefault("level", _METHOD_LEVELS.get(method, method))
    return event_dict


def _shared_chain() -> list[Processor]:
    """What every event gets, whether it came from structlog or from stdlib logging."""
    return [
        structlog.contextvars.merge_contextvars,
        _add_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True, key="timestamp"),
    ]


def _render_exception(logger: WrappedLogger, method: str, event_dict: EventDict) -> EventDict:
    """``exc_info`` -> a plain ``exception`` string (no locals, no colours)."""
    exc_info = event_dict.pop("exc_info", None)
    if exc_info:
        if exc_info is True:
            exc_info = sys.exc_info()
        elif isinstance(exc_info, BaseException):
            exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
        if isinstance(exc_info, tuple) and exc_info[0] is not None:
            event_dict["exception"] = "".join(traceback.format_exception(*exc_info)).rstrip()
    stack = event_dict.pop("stack_info", None)
    if stack and isinstance(stack, str):
        event_dict["stack"] = stack
    return event_dict


def _ensure_structlog() -> None:
    """Route structlog loggers into stdlib logging (idempotent).

    Until :func:`configure` adds handlers, events behave like plain stdlib records:
    nothing is ever printed to stdout (which the CLI keeps for the run directory).
    """
    global _structlog_ready
    with _lock:
        if _structlog_ready:
            return
        structlog.configure(
            processors=[
                structlog.stdlib.filter_by_level,
                *_shared_chain(),
                structlog.stdlib.PositionalArgumentsFormatter(),
                structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
            ],
            logger_factory=structlog.stdlib.LoggerFactory(),
            wrapper_class=structlog.stdlib.BoundLogger,
            cache_logger_on_first_use=False,
        )
        _structlog_ready = True


def get_logger(name: str = LOGGER_ROOT, **initial: Any) -> structlog.stdlib.BoundLogger:
    """A structlog logger writing through the ``safety_eval`` handlers.

    ``name`` is put under ``safety_eval.`` when it is not already, so every event
    reaches ``run.log`` and the console.
    """
    _ensure_structlog()
    if name != LOGGER_ROOT and not name.startswith(LOGGER_ROOT + "."):
        name = f"{LOGGER_ROOT}.{name}"
    logger: structlog.stdlib.BoundLogger = structlog.stdlib.get_logger(name, **initial)
    return logger


class _ConsoleRenderer:
    """``LEVEL message key=value ...``: short, no colours, no timestamps."""

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
        level = str(event_dict.get("level", method)).upper()
        event = event_dict.get("event", "")
        parts = [level, str(event)]
        for key, value in event_dict.items():
            if key in _CONSOLE_HIDDEN or key.startswith("_") or value is None:
                continue
            parts.append(f"{key}={value}")
        text = " ".join(parts)
        exception = event_dict.get("exception")
        if exception:
            text += "\n" + str(exception)
        return text


class _JsonRenderer:
    """One JSON object per line, with the fixed keys first."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id

    def __call__(self, logger: WrappedLogger, method: str, event_dict: EventDict) -> str:
        event_dict.setdefault("run_id", self.run_id)
        event_dict.setdefault("model", _fallback.get("model"))
        ordered: dict[str, Any] = {key: event_dict.get(key) for key in _KEY_ORDER}
        for key, value in event_dict.items():
            if key not in ordered and not key.startswith("_"):
                ordered[key] = value
        return json.dumps(ordered, ensure_ascii=False, default=str)


def _formatter(renderer: Processor) -> logging.Formatter:
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared_chain(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            _render_exception,
            renderer,
        ],
    )


def configure(level: str = "INFO", console: bool = True, stream: TextIO | None = None) -> None:
    """Set the ``safety_eval`` log level and (re)install the console handler.

    ``level`` is one of DEBUG, INFO, WARNING, ERROR, CRITICAL (any case), as given to
    ``--log-level``. The console handler writes human-readable lines to ``stream``
    (default: stderr); ``console=False`` removes it (``run.log`` handlers stay).
    """
    name = level.upper()
    if name not in LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LEVELS)}, not {level!r}")
    _ensure_structlog()
    root = logging.getLogger(LOGGER_ROOT)
    root.setLevel(name)
    root.propagate = False
    for handler in list(root.handlers):
        if getattr(handler, _CONSOLE_MARK, False):
            root.removeHandler(handler)
    if console:
        handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
        handler.setFormatter(_formatter(_ConsoleRenderer()))
        setattr(handler, _CONSOLE_MARK, True)
        root.addHandler(handler)


@dataclass
class RunLogHandle:
    """What :func:`attach_run_log` returns; ``close()`` (or ``with``) detaches it."""

    path: Path
    run_id: str
    handler: logging.Handler
    _tokens: Mapping[str, Any] = field(default_factory=dict, repr=False)
    _closed: bool = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        logging.getLogger(LOGGER_ROOT).removeHandler(self.handler)
        self.handler.close()
        with contextlib.suppress(ValueError, LookupError):
            # a token made in another context (thread) cannot be reset here
            structlog.contextvars.reset_contextvars(**self._tokens)

    def __enter__(self) -> RunLogHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def attach_run_log(
    run_dir: Path, run_id: str, level: str | None = None, file_name: str = RUN_LOG
) -> RunLogHandle:
    """Write every ``safety_eval`` event as a JSON line to ``run_dir/run.log``.

    Binds ``run_id`` in the context for the current thread until the handle closes.
    ``level`` filters this file only (default: whatever the logger lets through, set by
    :func:`configure`). The file is appended to, so a resumed run keeps one log.
    """
    _ensure_structlog()
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / file_name
    handler = logging.FileHandler(path, mode="a", encoding="utf-8")
    if level is not None:
        handler.setLevel(level.upper())
    handler.setFormatter(_formatter(_JsonRenderer(run_id)))
    setattr(handler, _RUN_LOG_MARK, True)
    root = logging.getLogger(LOGGER_ROOT)
    if root.level == logging.NOTSET:
        root.setLevel(logging.INFO)
    root.propagate = False
    root.addHandler(handler)
    tokens = structlog.contextvars.bind_contextvars(run_id=run_id)
    return RunLogHandle(path, run_id, handler, tokens)


@contextlib.contextmanager
def bind_model(model: str | None) -> Iterator[None]:
    """Bind ``model`` to every event logged inside the block (nesting restores)."""
    previous = _fallback.get("model")
    tokens = structlog.contextvars.bind_contextvars(model=model)
    _fallback["model"] = model
    try:
        yield
    finally:
        _fallback["model"] = previous
        with contextlib.suppress(ValueError, LookupError):
            structlog.contextvars.reset_contextvars(**tokens)


def bound_context() -> MutableMapping[str, Any]:
    """The context variables bound now (``run_id``, ``model``, ...), for tests and tools."""
    return dict(structlog.contextvars.get_contextvars())
