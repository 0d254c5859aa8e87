"""The HTTP app (WSGI, served by waitress): Slack endpoints, one-click unsubscribe, health.

- `POST /slack/commands`: the v0 signature (HMAC-SHA256 over `v0:timestamp:body` with
  SLACK_SIGNING_SECRET, compared in constant time, timestamps older than 5 minutes refused) is
  checked on the raw body before anything is parsed or stored: 401 otherwise.
- `POST /slack/events`: the same check; answers Slack's url_verification challenge.
- `GET /unsubscribe?t=TOKEN` shows a confirmation page and changes nothing (mail scanners
  follow links); `POST` (the button, or RFC 8058 one-click from the mail client) pauses that
  subscriber. A forged or altered token gets 400 and changes nothing.
- `GET /healthz`: 200 when the database answers.
Malformed requests get 4xx, never a traceback; bodies are limited in size.
"""

from __future__ import annotations

import json
import logging
import resource
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from html import escape
from pathlib import Path
from urllib.parse import parse_qs

from slack_sdk.signature import SignatureVerifier

from .config import Config, Env
from .links import read_feedback_token, read_token
from .signals import STOP_SIGNALS, ignore_stop_signals
from .slack_app import SlackService
from .store import Store, StoreError, StoreWriteError

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
BAD_RATING_LINK = "This rating link is not valid."

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class HttpError(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class WebApp:
    """The WSGI application. One per process; it opens a Store per request."""

    def __init__(self, config: Config, env: Env, db_path: Path, clock: Callable[[], float] = time.time):
        self.config = config
        self.env = env
        self.db_path = db_path
        self.slack = SlackService(config, env, db_path)
        self.verifier = (
            SignatureVerifier(env.slack_signing_secret, clock=_Clock(clock))
            if env.slack_signing_secret
            else None
        )

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "/")
        try:
            status, headers, body = self.route(method, path, environ)
        except HttpError as e:
            status, headers, body = (
                e.status,
                [("Content-Type", "text/plain; charset=utf-8")],
                e.message.encode(),
            )
        except StoreError as e:  # the database, not the request: one line, and try again later
            log.error("%s %s: %s", method, path, e)
            status, headers, body = (
                "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=utf-8"), ("Retry-After", "60")],
                b"The digest database is unavailable right now; nothing was changed. Try again later.",
            )
        except Exception:
            log.exception("error handling %s %s", method, path)
            status, headers, body = (
                "500 Internal Server Error",
                [("Content-Type", "text/plain")],
                b"internal error",
            )
        if status[:1] in "45":
            log.info("%s %s -> %s", method, path, status)
        headers = [*headers, ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
        start_response(status, headers)
        return [body]

    def route(self, method: str, path: str, environ: dict) -> tuple[str, list, bytes]:
        routes = {
            ("POST", "/slack/commands"): self.slack_command,
            ("POST", "/slack/events"): self.slack_event,
            ("GET", "/unsubscribe"): self.unsubscribe_page,
            ("POST", "/unsubscribe"): self.unsubscribe,
            ("GET", "/feedback"): self.feedback_page,
            ("POST", "/feedback"): self.feedback,
            ("POST", "/slack/interactive"): self.slack_interactive,
            ("GET", "/healthz"): self.health,
            ("HEAD", "/healthz"): self.health,
        }
        handler = routes.get((method, path))
        if handler is None:
            if any(p == path for _, p in routes):
                raise HttpError("405 Method Not Allowed", "method not allowed")
            raise HttpError("404 Not Found", "not found")
        return handler(environ)

    # --- Slack ----------------------------------------------------------------------------

    def _verified_body(self, environ: dict) -> bytes:
        body = read_body(environ)
        if self.verifier is None:
            raise HttpError(
                "503 Service Unavailable", "Slack is not configured (SLACK_SIGNING_SECRET is not set)"
            )
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", "")
        signature = environ.get("HTTP_X_SLACK_SIGNATURE", "")
        if not (timestamp and signature and self._signature_ok(body, timestamp, signature)):
            raise HttpError("401 Unauthorized", "invalid request signature")
        return body

    def _signature_ok(self, body: bytes, timestamp: str, signature: str) -> bool:
        # slack-sdk's verifier raises on some malformed input (a non-numeric timestamp, a body
        # that is not UTF-8, a non-ASCII signature): all of that is simply not a valid request.
        if not timestamp.isdigit() or not signature.isascii():
            return False
        try:
            return self.verifier.is_valid(body, timestamp, signature)
        except (ValueError, TypeError, UnicodeDecodeError):
            return False

    def slack_command(self, environ: dict) -> tuple[str, list, bytes]:
        if not environ.get("HTTP_X_SLACK_SIGNATURE") and _is_ssl_check(environ):
            return "200 OK", [("Content-Type", "text/plain")], b""
        form = form_fields(self._verified_body(environ))
        if form.get("ssl_check") == "1":
            return "200 OK", [("Content-Type", "text/plain")], b""
        if "user_id" not in form:
            raise HttpError("400 Bad Request", "not a slash command payload")
        return _json(self.slack.command(form))

    def slack_interactive(self, environ: dict) -> tuple[str, list, bytes]:
        """Slack interactivity (the digest's rating buttons): verified like commands."""
        form = form_fields(self._verified_body(environ))
        self.slack.interaction(json_object(form.get("payload", "").encode()))
        return "200 OK", [("Content-Type", "text/plain")], b""

    def slack_event(self, environ: dict) -> tuple[str, list, bytes]:
        event = json_object(self._verified_body(environ))
        if event.get("type") == "url_verification":
            return _json({"challenge": str(event.get("challenge", ""))})
        return "200 OK", [("Content-Type", "text/plain")], b""

    # --- unsubscribe ----------------------------------------------------------------------

    def _subscriber_from_token(self, token: str) -> str:
        sid = read_token(token, self.env.secret) if token and self.env.secret else None
        if sid is None:
            raise HttpError("400 Bad Request", "This unsubscribe link is not valid.")
        return sid

    def unsubscribe_page(self, environ: dict) -> tuple[str, list, bytes]:
        token = _query(environ).get("t", "")
        self._subscriber_from_token(token)
        return _page(
            "Unsubscribe from paper digests?",
            '<p>Click the button to stop receiving this paper digest.</p><form method="post" action="unsubscribe?t='
            + escape(token, quote=True)
            + '"><button type="submit">Unsubscribe</button></form>',
        )

    def unsubscribe(self, environ: dict) -> tuple[str, list, bytes]:
        form = form_fields(read_body(environ))
        token = _query(environ).get("t") or form.get("t", "")
        sid = self._subscriber_from_token(token)
        with Store(self.db_path) as store:
            # Whether or not the subscriber still exists, the answer is the same: it reveals nothing.
            if store.set_paused(sid, True):
                log.info("unsubscribed %s by one-click link", sid)
        return _page("Unsubscribed", "<p>You will not receive this paper digest any more.</p>")

    # --- thumbs up / down from email ----------------------------------------------------

    def _feedback_target(self, token: str) -> tuple[str, str]:
        found = read_feedback_token(token, self.env.secret) if token and self.env.secret else None
        if found is None:
            raise HttpError("400 Bad Request", BAD_RATING_LINK)
        return found

    def feedback_page(self, environ: dict) -> tuple[str, list, bytes]:
        """The page a rating link opens: it records nothing (mail scanners follow links); its
        buttons POST the rating."""
        query = _query(environ)
        token = query.get("t", "")
        _, key = self._feedback_target(token)
        with Store(self.db_path) as store:
            paper = store.paper(key)
        if paper is None:
            raise HttpError("400 Bad Request", BAD_RATING_LINK)
        chosen = query.get("vote") if query.get("vote") in ("up", "down") else "up"
        buttons = "".join(
            f'<button type="submit" name="vote" value="{vote}"{" autofocus" if vote == chosen else ""}>{label}</button> '
            for vote, label in (("up", "More like this"), ("down", "Less like this"))
        )
        return _page(
            "Rate this paper",
            f"<p><strong>{escape(paper.title)}</strong></p><p>Your next digests will bring more papers like the"
            f' ones you rate up, fewer like the ones you rate down.</p><form method="post" action="feedback">'
            f'<input type="hidden" name="t" value="{escape(token, quote=True)}">{buttons}</form>',
        )

    def feedback(self, environ: dict) -> tuple[str, list, bytes]:
        form = form_fields(read_body(environ))
        sid, key = self._feedback_target(form.get("t") or _query(environ).get("t", ""))
        vote = {"up": 1, "down": -1}.get(form.get("vote", ""))
        if vote is None:
            raise HttpError("400 Bad Request", "Choose more or less like this.")
        record_rating(self.db_path, sid, key, vote, "email")
        return _page("Thanks", "<p>Noted: your next digest takes it into account.</p>")

    # --- health ---------------------------------------------------------------------------

    def health(self, environ: dict) -> tuple[str, list, bytes]:
        try:
            with Store(self.db_path) as store:
                ok = store.ping()
        except Exception as e:
            log.warning("health check: database error: %s", e)
            ok = False
        if not ok:
            return _json({"status": "error", "database": "unreachable"}, "503 Service Unavailable")
        return _json({"status": "ok"})

    def close(self) -> None:
        self.slack.close()


class _Clock:
    """slack-sdk's SignatureVerifier takes a clock object with a now() method."""

    def __init__(self, fn: Callable[[], float]):
        self.fn = fn

    def now(self) -> float:
        return self.fn()


def read_body(environ: dict) -> bytes:
    """The request body, refusing anything over MAX_BODY (413) before reading it all."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise HttpError("400 Bad Request", "bad Content-Length") from None
    if length > MAX_BODY:
        raise HttpError("413 Payload Too Large", "request body too large")
    stream = environ.get("wsgi.input")
    return stream.read(length) if stream is not None and length > 0 else b""


MAX_FORM_FIELDS = 100


def form_fields(body: bytes) -> dict[str, str]:
    """A urlencoded body as {name: first value}; 400 for one with absurdly many fields."""
    try:
        pairs = parse_qs(
            body.decode("utf-8", "replace"), keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS
        )
    except ValueError:
        raise HttpError("400 Bad Request", "too many form fields") from None
    return {k: v[0] for k, v in pairs.items()}


def json_object(body: bytes) -> dict:
    """A JSON object body; 400 for anything else: not JSON, not UTF-8, nested too deep for the
    parser, a number too long to convert, NaN, or JSON that is not an object."""
    try:
        data = json.loads(body, parse_constant=_no_constant)
    except (ValueError, RecursionError):
        raise HttpError("400 Bad Request", "expected a JSON object") from None
    if not isinstance(data, dict):
        raise HttpError("400 Bad Request", "expected a JSON object")
    return data


def _no_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _is_ssl_check(environ: dict) -> bool:
    # Slack's ssl_check probe is the one unsigned request: answer it without touching anything.
    body = read_body(environ)
    environ["wsgi.input"] = _Replay(body)
    return form_fields(body).get("ssl_check") == "1"


class _Replay:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, n: int = -1) -> bytes:
        out, self.data = (self.data, b"") if n < 0 else (self.data[:n], self.data[n:])
        return out


def _query(environ: dict) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}


def _json(data: dict, status: str = "200 OK") -> tuple[str, list, bytes]:
    return status, [("Content-Type", "application/json; charset=utf-8")], json.dumps(data).encode()


def record_rating(db_path: Path, sid: str, key: str, vote: int, origin: str) -> None:
    """Record a rating from a link or a button; a paper the subscriber never received is a 400."""
    with Store(db_path) as store:
        try:
            store.rate(sid, key, vote, origin)
        except StoreWriteError:
            raise
        except StoreError:
            raise HttpError("400 Bad Request", BAD_RATING_LINK) from None
    log.info("rating %+d from %s for %s (%s)", vote, sid, key, origin)


def _page(title: str, body_html: str) -> tuple[str, list, bytes]:
    html = (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title></head>"
        '<body style="font-family: sans-serif; max-width: 32em; margin: 3em auto; padding: 0 1em">'
        f"<h1>{escape(title)}</h1>{body_html}</body></html>"
    )
    return "200 OK", [("Content-Type", "text/html; charset=utf-8")], html.encode()


@dataclass(frozen=True)
class ServerLimits:
    """How waitress shares itself out, so that slow or idle clients cannot starve the rest.

    waitress reads a whole request before a thread sees it, so slow clients cost connections,
    not threads: `connection_limit` is how many may be open at once (waitress's default, 100,
    is what 110 idle connections exhausted), `channel_timeout` how long one may sit idle, and
    `cleanup_interval` how often idle ones are closed.
    """

    threads: int = 8
    connection_limit: int = 1000
    channel_timeout: int = 30
    cleanup_interval: int = 5
    backlog: int = 1024
    max_request_header_size: int = 16 * 1024  # Slack's headers are a few hundred bytes

    def adjustments(self) -> dict:
        """waitress's settings for these limits (and the fixed ones digestbot always uses)."""
        return {
            "threads": self.threads,
            "connection_limit": self.connection_limit,
            "channel_timeout": self.channel_timeout,
            "cleanup_interval": min(self.cleanup_interval, self.channel_timeout),
            "backlog": self.backlog,
            "max_request_header_size": self.max_request_header_size,
            "max_request_body_size": MAX_BODY,
            "inbuf_overflow": MAX_BODY,  # a body is at most this: keep it in memory
            "asyncore_use_poll": True,  # select() cannot watch sockets numbered over 1024
            "expose_tracebacks": False,
        }


OPEN_FILES_RESERVE = 64  # file descriptors kept for the database, logs, Slack and the like


def fit_open_files(limits: ServerLimits) -> ServerLimits:
    """`limits` with the connection limit lowered, if need be, under the process's open-files
    limit: past it, accepting a connection fails and the server stops answering anyone."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or limits.connection_limit <= soft - OPEN_FILES_RESERVE:
        return limits
    fitted = max(soft - OPEN_FILES_RESERVE, 1)
    log.warning(
        "connection limit %d is over what the open-files limit (%d, ulimit -n) allows: using %d",
        limits.connection_limit,
        soft,
        fitted,
    )
    return replace(limits, connection_limit=fitted)


def create_server(app: Callable, host: str, port: int, limits: ServerLimits = ServerLimits()):
    """A waitress server for `app` (not yet running; call `.run()`)."""
    import waitress

    return waitress.create_server(app, host=host, port=port, **limits.adjustments())


def serve(
    config: Config, env: Env, db_path: Path, host: str, port: int, limits: ServerLimits = ServerLimits()
) -> None:
    """Serve the app with waitress (a production WSGI server) until interrupted."""
    app = WebApp(config, env, db_path)
    limits = fit_open_files(limits)
    server = create_server(app, host, port, limits)
    log.info(
        "serving on http://%s:%s (Slack commands at /slack/commands; %d threads, at most %d connections)",
        host,
        port,
        limits.threads,
        limits.connection_limit,
    )
    _stop_on_signals()
    try:
        server.run()
    except KeyboardInterrupt:
        log.info("stopping: requests in flight are finished first")
    finally:
        server.close()
        app.close()
        log.info("stopped")


def _stop_on_signals() -> None:
    """SIGTERM (systemd, docker stop) stops the server as Ctrl-C does, and exits 0; the signals
    that follow are ignored, so a storm of them cannot cut the shutdown short."""

    def stop(_signum: int, _frame: object) -> None:
        ignore_stop_signals()
        raise KeyboardInterrupt

    for sig in STOP_SIGNALS:
        signal.signal(sig, stop)
