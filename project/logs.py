"""Log lines an operator can follow and share: which request and which file each one is
about, JSON lines when LOG_FORMAT=json, and no secret in any of them.

- `log_context(request_id=…, file_id=…, task_id=…)` binds fields for everything logged in
  this context (a request, a Celery task); `extra={"file_id": …}` names a file on one line.
- `ContextFilter` copies the bound fields onto every record a handler writes, so lines of
  Django, Celery and uvicorn carry them too.
- `RedactingFilter` masks credentials in each message and traceback before any formatter
  sees them: a bearer token, a URL's password, `password=`/`token=`/`signature=` values,
  and the configured secrets themselves (SECRET_KEY, METRICS_TOKEN, the database and S3
  passwords). File contents are never logged at all: only ids, sizes, kinds and statuses.
"""

import contextlib
import contextvars
import logging
import re

from pythonjsonlogger.json import JsonFormatter

FIELDS = ("request_id", "file_id", "task_id")
context: dict[str, contextvars.ContextVar] = {
    field: contextvars.ContextVar(field, default=None) for field in FIELDS
}
REDACTED = "[redacted]"
SECRET_PATTERNS = (
    (re.compile(r"(?i)\b(bearer)\s+[^\s,;'\"]+"), r"\1 " + REDACTED),
    (re.compile(r"(?i)(\w+://[^:/@\s]*:)[^@\s]+@"), r"\1" + REDACTED + "@"),
    (
        re.compile(
            r"(?i)\b(password|passwd|secret|token|api[_-]?key|access[_-]?key|"
            r"signature|credential)(['\"]?\s*[=:]\s*['\"]?)[^\s&,;'\"]+"
        ),
        r"\1\2" + REDACTED,
    ),
)
# Shorter configured values are not searched for: they would mask ordinary words.
MIN_SECRET_LENGTH = 8


@contextlib.contextmanager
def log_context(**fields):
    """Bind `fields` (of FIELDS) to every line logged inside the block."""
    tokens = [
        (context[name], context[name].set(str(value)))
        for name, value in fields.items()
        if value is not None
    ]
    try:
        yield
    finally:
        for variable, token in reversed(tokens):
            variable.reset(token)


def bind(**fields) -> list:
    """`log_context` for code with separate start and end hooks (Celery's signals)."""
    return [
        (context[name], context[name].set(str(value)))
        for name, value in fields.items()
        if value is not None
    ]


def unbind(tokens: list) -> None:
    for variable, token in reversed(tokens):
        variable.reset(token)


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        for name, variable in context.items():
            if getattr(record, name, None) is None:
                setattr(record, name, variable.get())
        return True


def configured_secrets() -> list[str]:
    """The secret values of the settings, longest first (read when first needed: the
    logging configuration is built while the settings load)."""
    from django.conf import settings

    values = [
        settings.SECRET_KEY,
        getattr(settings, "METRICS_TOKEN", ""),
        getattr(settings, "AWS_SECRET_ACCESS_KEY", ""),
    ]
    values += [database.get("PASSWORD") for database in settings.DATABASES.values()]
    return sorted(
        {value for value in values if value and len(value) >= MIN_SECRET_LENGTH},
        key=len,
        reverse=True,
    )


def redact(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    for pattern, replacement in SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFilter(logging.Filter):
    def __init__(self, name: str = ""):
        super().__init__(name)
        self.secrets: list[str] | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets is None:
            self.secrets = configured_secrets()
        record.msg, record.args = redact(record.getMessage(), self.secrets), None
        if record.exc_info:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            record.exc_text, record.exc_info = redact(text, self.secrets), None
        return True


class JsonLines(JsonFormatter):
    """One JSON object a line with a fixed set of keys: whatever else a library attaches to
    a record (Django's `request`, a scope) never reaches the output."""

    KEYS = frozenset({"time", "level", "logger", "message", "exc_info", "stack_info", *FIELDS})

    def __init__(self, *args, **kwargs):
        super().__init__(
            "{asctime}{levelname}{name}{message}",
            *args,
            style="{",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            **kwargs,
        )

    def add_fields(self, log_data, record, message_dict) -> None:
        super().add_fields(log_data, record, message_dict)
        for key in [
            key for key, value in log_data.items() if key not in self.KEYS or value is None
        ]:
            del log_data[key]


class HumanLines(logging.Formatter):
    """The plain format, with the bound ids in brackets when there are any."""

    def format(self, record: logging.LogRecord) -> str:
        ids = " ".join(
            f"{name}={getattr(record, name)}"
            for name in FIELDS
            if getattr(record, name, None) is not None
        )
        line = super().format(record)
        return f"{line} [{ids}]" if ids else line


def logging_config(*, json_lines: bool, level: str) -> dict:
    """The LOGGING setting: one console handler, filtered and formatted as above; uvicorn's
    own loggers go through it too (at the level its --log-level set)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"context": {"()": ContextFilter}, "redact": {"()": RedactingFilter}},
        "formatters": {
            "json": {"()": JsonLines},
            "human": {
                "()": HumanLines,
                "format": "%(asctime)s %(levelname)s %(name)s: %(message)s",
            },
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json_lines else "human",
                "filters": ["context", "redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            name: {"handlers": ["console"], "propagate": False}
            for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        },
    }
