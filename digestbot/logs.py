"""Log lines fit for a log file: one line per record, and no secret in any of them.

Request text (paths, query strings, what a user typed after /digest, header values) reaches log
calls as arguments: control characters in them are written as escapes (`\\n`, `\\x1b`), so
nobody can forge a log line. The secrets digestbot reads from the environment are replaced by
`***` wherever they would appear, tracebacks included.
"""

from __future__ import annotations

import logging
import numbers
import os
import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote

from .text import split_url

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
SECRET_VARIABLES = ("DIGESTBOT_SECRET", "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN")
_MIN_SECRET_CHARS = 4  # shorter ones would blank out ordinary words


def escape_controls(text: str) -> str:
    """`text` with control characters (CR, LF, ESC, NEL, U+2028...) written as escapes."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def _safe_arg(arg: object) -> object:
    if isinstance(arg, str):
        return escape_controls(arg)
    if isinstance(arg, numbers.Number) or arg is None:
        return arg  # keeps %d and %.2f working
    text = str(arg)  # an exception, a path...: escaped only when it needs it, so %r still works
    return escape_controls(text) if _CONTROL.search(text) else arg


def environment_secrets(environ: Mapping[str, str] | None = None) -> list[str]:
    """The secret values in the environment: tokens, signing secrets, the SMTP password."""
    e = os.environ if environ is None else environ
    found = [e.get(name, "") for name in SECRET_VARIABLES]
    smtp = e.get("DIGESTBOT_SMTP_URL", "")
    userinfo = split_url(smtp)[1] or ""
    if ":" in userinfo:
        password = userinfo.partition(":")[2]
        found += [password, unquote(password)]
    return sorted({s for s in found if len(s) >= _MIN_SECRET_CHARS}, key=len, reverse=True)


# Libraries that log each request's path at debug level (`-vv`): a feed's url may carry its
# token or key in the query (`?token=…`), which no log line repeats.
_REQUEST_LOGGERS = ("urllib3", "requests")
_QUERY = re.compile(r"\?[^\s\"']*")


def _no_query(arg: object) -> object:
    """A request library's log argument with any query string cut to `?…`."""
    safe = _safe_arg(arg)
    return _QUERY.sub("?…", safe) if isinstance(safe, str) else safe


class SafeFormatter(logging.Formatter):
    """A Formatter that escapes control characters in a record's arguments and masks secrets."""

    def __init__(self, fmt: str, datefmt: str | None = None, secrets: Iterable[str] = ()):
        super().__init__(fmt, datefmt)
        self.secrets = list(secrets)

    def format(self, record: logging.LogRecord) -> str:
        if record.args:
            record = logging.makeLogRecord(record.__dict__)
            safe = _no_query if record.name.startswith(_REQUEST_LOGGERS) else _safe_arg
            if isinstance(record.args, Mapping):
                record.args = {k: safe(v) for k, v in record.args.items()}
            else:
                record.args = tuple(safe(a) for a in record.args)
        text = super().format(record)
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


class _Tagged(logging.Filter):
    """Adds a tag to each record's logger name: `digestbot.digest [worker 1]: ...`."""

    def __init__(self, tag: str):
        super().__init__()
        self.tag = tag

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.endswith(self.tag):
            record.name = f"{record.name} {self.tag}"
        return True


def tag_log_lines(tag: str) -> None:
    """From now on every log line of this process says `tag` after its logger's name (the
    members of `run --processes N` share one stderr: which worker said it?)."""
    for handler in logging.getLogger().handlers:
        handler.addFilter(_Tagged(tag))
