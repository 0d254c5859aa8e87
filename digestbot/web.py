"""The HTTP app (a Flask app, served by waitress): Slack endpoints, one-click unsubscribe,
rating links, health, and (when the YAML has `web:`) the self-service pages of web_pages.py.

- `POST /slack/commands`: the v0 signature (HMAC-SHA256 over `v0:timestamp:body` with
  SLACK_SIGNING_SECRET, compared in constant time, timestamps older than 5 minutes refused) is
  checked on the raw body before anything is parsed or stored: 401 otherwise.
- `POST /slack/events`: the same check; answers Slack's url_verification challenge.
- `GET /unsubscribe?t=TOKEN` shows a confirmation page and changes nothing (mail scanners
  follow links); `POST` (the button, or RFC 8058 one-click from the mail client) pauses that
  subscriber. A forged or altered token gets 400 and changes nothing.
- `GET /healthz`: 200 when the database answers.
Malformed requests get 4xx, never a traceback; bodies are limited in size. A request opens
the database once at most (`request_store`); the mail sent off the request opens its own.

The requests these endpoints accept carry their own proof (Slack's signature, or a signed
token naming the subscriber that only the mail it was sent in holds, which no other site can
know), and RFC 8058's one-click POST comes without cookies: they are exempt from the cookie-
bound CSRF check the web pages' forms get. Every response carries the security headers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import resource
import secrets
import signal
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import jinja2
from flask import Blueprint, Flask, Response, current_app, render_template, request, send_from_directory
from flask_wtf.csrf import CSRFError, CSRFProtect
from slack_sdk.signature import SignatureVerifier
from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix

from .config import Config, Env
from .links import read_feedback_token, read_token
from .ratings import rating_note
from .render import TemplateLoader, compile_problems, template_search
from .signals import STOP_SIGNALS, ignore_stop_signals, release_early
from .store import DigestGone, RatingRefused, Store, StoreError
from .text import is_number
from .web_context import (
    CSRF_REFUSED,
    AppContext,
    close_store,
    ctx,
    json_response,
    origin,
    request_store,
)

log = logging.getLogger(__name__)
MAX_BODY = 64 * 1024
BAD_RATING_LINK = (
    "This rating link is not valid: your mail program may have cut it. Use the link in the digest"
    " again, or copy all of it into the address bar."
)
BAD_UNSUBSCRIBE_LINK = (
    "This unsubscribe link is not valid: your mail program may have cut it. Use the link at the foot"
    " of the digest again, or write to whoever set this digest up for you."
)
DB_DOWN = "The digest database is unavailable right now; nothing was changed. Try again later."
SESSION_HOURS = 2  # how long a manage page stays signed in after its link was opened

# No inline script or style anywhere: the pages' JavaScript and CSS are static files.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self';"
    " form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Frame-Options": "DENY",  # frame-ancestors for browsers that predate it
    "X-Content-Type-Options": "nosniff",
    # same-origin: the CSRF check compares Referer on HTTPS; no other site sees our URLs.
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

StartResponse = Callable[[str, list[tuple[str, str]]], object]


class HttpError(Exception):
    def __init__(self, status: str, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


def template_dirs(config: Config) -> list[str]:
    """Page templates are looked up like digest templates: the user's folder first."""
    return template_search(config.templates)


PAGE_TEMPLATES = tuple(
    f"web/{name}"
    for name in (
        "base.html",
        "message.html",
        "unsubscribe.html",
        "feedback.html",
        "signup.html",
        "check_inbox.html",
        "confirm.html",
        "closed.html",
        "link.html",
        "manage.html",
        "_profile_fields.html",
        "_preview.html",
        "_macros.html",
        "mail_base.html",
        "mail_confirm.txt",
        "mail_confirm.html",
        "mail_manage.txt",
        "mail_manage.html",
    )
)


def page_template_problems(config: Config) -> list[str]:
    """The web pages' templates (the user's folder first) that do not compile, as
    `file:line: template: message`; `digestbot check` reports them."""
    env = jinja2.Environment(loader=TemplateLoader(template_dirs(config)), autoescape=True)
    return compile_problems(env, PAGE_TEMPLATES)


def create_app(config: Config, env: Env, db_path: Path, clock: Callable[[], float] = time.time) -> Flask:
    """The Flask app for these settings (nothing happens at import: everything is made here)."""
    app = Flask("digestbot.web", static_folder=None, template_folder=None)
    app.jinja_loader = TemplateLoader(template_dirs(config))  # UTF-8, a byte order mark dropped
    https = bool(env.base_url and env.base_url.startswith("https://"))
    prefix = urlsplit(env.base_url or "").path.rstrip("/")  # https://uni.example/digest: "/digest"
    app.config.update(
        APPLICATION_ROOT=prefix or "/",  # the session cookie's path
        SECRET_KEY=_derive(env.secret, "flask-session") if env.secret else secrets.token_hex(32),
        MAX_CONTENT_LENGTH=MAX_BODY,
        MAX_FORM_MEMORY_SIZE=MAX_BODY,
        SESSION_COOKIE_NAME="digestbot_session",
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SECURE=https,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
        # Over HTTPS the pages want the post's Origin (else its Referer) to be ours: their own
        # check (web_pages._same_site_post), since Flask-WTF's wants a Referer, which some
        # browsers are set never to send, and ignores the Origin every browser sends.
        WTF_CSRF_SSL_STRICT=False,
        PREFERRED_URL_SCHEME="https" if https else "http",
    )
    app.extensions["digestbot"] = AppContext(config, env, db_path, clock)
    csrf = CSRFProtect(app)
    csrf.exempt(links)
    app.register_blueprint(links)
    if config.web is not None:
        from .web_pages import pages

        app.register_blueprint(pages)
        if config.web.proxies:
            app.wsgi_app = ProxyFix(app.wsgi_app, x_for=config.web.proxies, x_proto=config.web.proxies)
    if env.base_url:
        app.wsgi_app = PublicHost(app.wsgi_app, public_host(env.base_url))
    if prefix:
        app.wsgi_app = Mounted(app.wsgi_app, prefix)
    app.register_error_handler(Exception, _error)
    # The pages' frame links its title home only where there is a home page (the sign-up).
    app.context_processor(lambda: {"site_pages": "pages" in app.blueprints})
    app.before_request(_refresh_config)
    app.after_request(_headers)
    app.teardown_appcontext(close_store)
    return app


class Mounted:
    """The app served under the base URL's path (`/digest` of https://uni.example/digest), so
    that its links, forms and redirects (url_for, from SCRIPT_NAME) stay under it, whether the
    proxy in front passes `/digest/...` on or strips the prefix."""

    def __init__(self, app: Callable, prefix: str):
        self.app = app
        self.prefix = prefix

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if path == self.prefix or path.startswith(self.prefix + "/"):
            path = path[len(self.prefix) :]
        environ["SCRIPT_NAME"], environ["PATH_INFO"] = self.prefix, path or "/"
        return self.app(environ, start_response)


class PublicHost:
    """The app as the host of DIGESTBOT_BASE_URL, whatever Host header the proxy in front passes
    on (nginx sends its upstream's, 127.0.0.1:8080, unless told `proxy_set_header Host`): the
    CSRF check compares a form's Referer with the host, and a browser posts from the public one."""

    def __init__(self, app: Callable, host: str):
        self.app = app
        self.host = host

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        environ["HTTP_HOST"] = self.host
        return self.app(environ, start_response)


def public_host(base_url: str) -> str:
    """The Host a browser names for `base_url` (Origin and Referer carry it so): the scheme's own
    port left out, in lower case: https://Digest.Uni.Example:443/x is digest.uni.example."""
    _, host, port = origin(base_url) or ("", urlsplit(base_url).netloc, None)
    host = f"[{host}]" if ":" in host else host  # an IPv6 literal
    return host if port is None else f"{host}:{port}"


def _derive(secret: str, purpose: str) -> str:
    return hmac.new(secret.encode(), f"digestbot-{purpose}".encode(), hashlib.sha256).hexdigest()


def _refresh_config() -> None:
    """The YAML as it is now (when it changed): the pages, their mail and their templates
    follow an edit as the worker does, without a restart."""
    if ctx().refresh():
        current_app.jinja_loader = TemplateLoader(template_dirs(ctx().config))
        if current_app.jinja_env.cache is not None:  # templates: may name another folder now
            current_app.jinja_env.cache.clear()


def _headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def _error(e: Exception) -> Response:
    method, path = request.method, request.path
    if isinstance(e, HttpError):
        status, body = int(e.status[:3]), e.message
    elif isinstance(e, CSRFError):
        status, body = 400, CSRF_REFUSED
    elif isinstance(e, HTTPException):
        status = e.code or 500
        body = {
            404: "not found",
            405: "method not allowed",
            413: "request body too large",
        }.get(status, e.name.lower())
    elif isinstance(e, StoreError):  # the database, not the request: one line, and try again later
        log.error("%s %s: %s", method, path, e)
        if _shown_in_a_browser():  # a page of the site says it
            page = render_template("web/message.html", title="Try again later", message=DB_DOWN)
            response = Response(page, 503, mimetype="text/html")
        else:
            response = _text(DB_DOWN, 503)
        response.headers["Retry-After"] = "60"
        return response
    else:
        log.exception("error handling %s %s", method, path)
        return _text("internal error", 500)
    log.info("%s %s -> %s", method, path, status)
    if _shown_in_a_browser():
        response = Response(
            render_template("web/message.html", title="Sorry", message=body), status, mimetype="text/html"
        )
    else:
        response = _text(body, status)
    if isinstance(e, HTTPException):  # what the error says beyond its body: a 405's Allow, ...
        for name, value in e.get_headers():
            if name.lower() != "content-type":
                response.headers[name] = value
    return response


# The links of a digest a reader opens in a browser: their refusals are pages too, not a line
# of plain text (which a browser shows as a bare monospace line).
_READER_LINKS = frozenset(
    {"links.unsubscribe_page", "links.unsubscribe", "links.feedback_page", "links.feedback"}
)


def _shown_in_a_browser() -> bool:
    """Whether this request's answer is a page a person reads (the sign-up and manage pages, an
    unsubscribe or rating link), not an API's or a probe's."""
    return request.method in ("GET", "POST") and (
        request.blueprint == "pages" or request.endpoint in _READER_LINKS
    )


def _text(body: str, status: int = 200) -> Response:
    return Response(body, status, mimetype="text/plain")


class WebApp:
    """The WSGI application: the Flask app for these settings. One per process; `close` when done."""

    def __init__(self, config: Config, env: Env, db_path: Path, clock: Callable[[], float] = time.time):
        self.flask = create_app(config, env, db_path, clock)

    def __call__(self, environ: dict, start_response: StartResponse) -> Iterable[bytes]:
        return self.flask(environ, start_response)

    def close(self) -> None:
        self.flask.extensions["digestbot"].close()


links = Blueprint("links", __name__)


# --- Slack ----------------------------------------------------------------------------


def _verified_body() -> bytes:
    body = request.get_data(cache=True)
    c = ctx()
    if c.verifier is None:
        raise HttpError(
            "503 Service Unavailable", "Slack is not configured (SLACK_SIGNING_SECRET is not set)"
        )
    timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
    signature = request.headers.get("X-Slack-Signature", "")
    if not (timestamp and signature and _signature_ok(c.verifier, body, timestamp, signature)):
        if timestamp and signature:  # signed, but not as we sign: maybe Slack, set up wrong
            _log_refusal(c, timestamp)
        raise HttpError("401 Unauthorized", "invalid request signature")
    return body


SIGNATURE_WINDOW = 300  # seconds: slack-sdk's verifier refuses a timestamp further off
REFUSAL_LOG_EVERY = 60.0  # seconds between two warnings of one kind (forged requests may flood)


def _log_refusal(c: AppContext, timestamp: str) -> None:
    """Warn (at most once a minute for each kind) why a signed Slack request was refused: a
    clock off by more than the window, else a signature that is not SLACK_SIGNING_SECRET's.
    Both make every /digest fail in Slack, and the fix differs."""
    if not (
        is_number(timestamp) and len(timestamp) <= 20
    ):  # no time Slack sends (int() refuses 4,300 digits)
        return
    off = c.clock() - int(timestamp)
    if abs(off) > SIGNATURE_WINDOW:
        kind = "clock"
        why = (
            f"its timestamp is {abs(off):.0f} s {'behind' if off > 0 else 'ahead of'} this machine's clock"
            f" (over {SIGNATURE_WINDOW} s: a replayed request, or this machine's clock is wrong: check NTP)"
        )
    else:
        kind = "secret"
        why = (
            "its signature does not match SLACK_SIGNING_SECRET (if /digest fails in Slack, set it to the"
            " app's Signing Secret: Basic Information, App Credentials)"
        )
    now = time.monotonic()
    if now - c.refusals_logged.get(kind, -REFUSAL_LOG_EVERY) >= REFUSAL_LOG_EVERY:
        c.refusals_logged[kind] = now
        log.warning("refused a Slack request to %s: %s", request.path, why)


def _signature_ok(verifier: SignatureVerifier, body: bytes, timestamp: str, signature: str) -> bool:
    # slack-sdk's verifier raises on some malformed input (a non-numeric timestamp, a body
    # that is not UTF-8, a non-ASCII signature): all of that is simply not a valid request.
    if not is_number(timestamp) or not signature.isascii():
        return False
    try:
        return verifier.is_valid(body, timestamp, signature)
    except (ValueError, TypeError, UnicodeDecodeError):
        return False


@links.post("/slack/commands")
def slack_command() -> Response:
    # Slack's ssl_check probe is the one unsigned request: answer it without touching anything.
    if (
        not request.headers.get("X-Slack-Signature")
        and form_fields(request.get_data(cache=True)).get("ssl_check") == "1"
    ):
        return _text("")
    form = form_fields(_verified_body())
    if form.get("ssl_check") == "1":
        return _text("")
    if "user_id" not in form:
        raise HttpError("400 Bad Request", "not a slash command payload")
    return json_response(ctx().slack.command(form))


@links.post("/slack/interactive")
def slack_interactive() -> Response:
    """Slack interactivity (the digest's rating buttons): verified like commands."""
    form = form_fields(_verified_body())
    ctx().slack.interaction(json_object(form.get("payload", "").encode()))
    return _text("")


@links.post("/slack/events")
def slack_event() -> Response:
    event = json_object(_verified_body())
    if event.get("type") == "url_verification":
        return json_response({"challenge": str(event.get("challenge", ""))})
    return _text("")


# --- unsubscribe ----------------------------------------------------------------------


def _subscriber_from_token(token: str) -> str:
    secret = ctx().env.secret
    sid = read_token(token, secret) if token and secret else None
    if sid is None:
        raise HttpError("400 Bad Request", BAD_UNSUBSCRIBE_LINK)
    return ctx().config.current_id(sid)


def _page(template: str, **values) -> Response:
    return Response(render_template(template, **values), mimetype="text/html")


@links.get("/unsubscribe")
def unsubscribe_page() -> Response:
    token = request.args.get("t", "")
    _subscriber_from_token(token)
    return _page("web/unsubscribe.html", token=token)


@links.post("/unsubscribe")
def unsubscribe() -> Response:
    token = request.args.get("t") or request.form.get("t", "")
    sid = _subscriber_from_token(token)
    # Whether or not the subscriber still exists, the answer is the same: it reveals nothing.
    if request_store().set_paused(sid, True):
        log.info("unsubscribed %s by one-click link", sid)
    return _page(
        "web/message.html", title="Unsubscribed", message="You will not receive this paper digest any more."
    )


# --- thumbs up / down from email ----------------------------------------------------


def _feedback_target(token: str) -> tuple[str, str]:
    secret = ctx().env.secret
    found = read_feedback_token(token, secret) if token and secret else None
    if found is None:
        raise HttpError("400 Bad Request", BAD_RATING_LINK)
    return ctx().config.current_id(found[0]), found[1]


@links.get("/feedback")
def feedback_page() -> Response:
    """The page a rating link opens: it records nothing (mail scanners follow links); its
    buttons POST the rating."""
    token = request.args.get("t", "")
    sid, key = _feedback_target(token)
    paper = request_store().paper(key)
    if paper is None:
        raise HttpError("400 Bad Request", BAD_RATING_LINK)
    if request_store().digest_gone(sid):
        return _digest_gone()
    chosen = request.args.get("vote") if request.args.get("vote") in ("up", "down") else "up"
    return _page("web/feedback.html", token=token, paper=paper, chosen=chosen)


@links.post("/feedback")
def feedback() -> Response:
    sid, key = _feedback_target(request.form.get("t") or request.args.get("t", ""))
    vote = {"up": 1, "down": -1}.get(request.form.get("vote", ""))
    if vote is None:
        raise HttpError("400 Bad Request", "Choose more or less like this.")
    try:
        record_rating(request_store(), sid, key, vote, "email")
    except DigestGone:
        return _digest_gone()
    note = rating_note([state.subscriber for state in request_store().rated_for(sid)])
    said = f"Noted. {note}" if note else "Noted: your next digest takes it into account."
    return _page("web/message.html", title="Thanks", message=said)


GONE_RATING = (
    "This digest is no longer sent (the bot's operator removed it), so a rating would change"
    " nothing: nothing was recorded."
)


def _digest_gone() -> Response:
    return _page("web/message.html", title="Digest no longer sent", message=GONE_RATING)


# --- health ---------------------------------------------------------------------------


@links.get("/healthz")
def health() -> Response:
    try:
        ok = request_store().ping()
    except Exception as e:
        log.warning("health check: database error: %s", e)
        ok = False
    if not ok:
        return json_response({"status": "error", "database": "unreachable"}, 503)
    return json_response({"status": "ok"})


@links.get("/static/<path:name>")
def static_file(name: str) -> Response:
    """The pages' CSS and JavaScript (templates/web/static/, overridable like templates). The
    name is the visitor's: werkzeug joins it safely and takes any name the file system refuses
    (outside the folder, too long, a NUL) for a missing file."""
    for folder in template_dirs(ctx().config):
        try:
            response = send_from_directory(Path(folder) / "web" / "static", name, max_age=3600)
        except NotFound:
            continue
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response
    raise HttpError("404 Not Found", "not found")


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


def record_rating(store: Store, sid: str, key: str, vote: int, origin: str) -> None:
    """Record a rating from a link or a button; a paper the subscriber never received is a 400
    (a database that cannot take it is the 503 of any StoreError); DigestGone for a digest no
    longer sent."""
    try:
        store.rate(sid, key, vote, origin)
    except DigestGone:
        raise
    except RatingRefused:
        raise HttpError("400 Bad Request", BAD_RATING_LINK) from None
    log.info("rating %+d from %s for %s (%s)", vote, sid, key, origin)


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


def create_server(
    app: Callable, host: str, port: int, limits: ServerLimits = ServerLimits(), proxies: int = 0
):
    """A waitress server for `app` (not yet running; call `.run()`). waitress drops the
    X-Forwarded-* headers unless told otherwise: with `proxies` (the YAML's web.proxies) it
    keeps them for the app, which trusts exactly that many hops (werkzeug's ProxyFix)."""
    import waitress

    return waitress.create_server(
        app, host=host, port=port, clear_untrusted_proxy_headers=not proxies, **limits.adjustments()
    )


def serve(
    config: Config, env: Env, db_path: Path, host: str, port: int, limits: ServerLimits = ServerLimits()
) -> None:
    """Serve the app with waitress (a production WSGI server) until interrupted."""
    app = WebApp(config, env, db_path)
    limits = fit_open_files(limits)
    server = create_server(app, host, port, limits, config.web.proxies if config.web else 0)
    log.info(
        "serving on http://%s:%s (%s%s; %d threads, at most %d connections)",
        host,
        port,
        "Slack commands at /slack/commands"
        if env.slack_signing_secret
        else "Slack commands over HTTP are off: SLACK_SIGNING_SECRET is not set",
        "; sign-up and manage pages at /" if config.web else "",
        limits.threads,
        limits.connection_limit,
    )
    try:
        _stop_on_signals()  # in the try: a stop held while `serve` started is delivered here
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
    release_early()  # one that came while `serve` started: a stop now, as from here on
