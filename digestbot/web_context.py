"""What the web views share, apart from the app that routes to them (web.py) so that the
self-service pages (web_pages.py) can use it without importing the app: the AppContext, the
request's one database store, JSON answers."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from pathlib import Path
from urllib.parse import urlsplit

from flask import Response, current_app, g
from slack_sdk.signature import SignatureVerifier

from .config import Config, ConfigError, Env, files_stamp, load_config
from .slack_app import SlackService
from .store import Store
from .text import mask_url

log = logging.getLogger(__name__)
MAIL_QUEUE = 100  # page mails waiting at most (each can take the SMTP timeout when the relay stalls)
MAIL_DRAIN_SECONDS = 10.0  # how long a stopping server still sends the mail queued
RELOAD_SECONDS = 2.0  # how often a request looks whether the YAML changed


CSRF_REFUSED = "This form has expired or did not come from this site: reload the page and try again."


class AppContext:
    """What the views share: settings, the database path, the clock, Slack, the mail thread."""

    def __init__(self, config: Config, env: Env, db_path: Path, clock: Callable[[], float]):
        self.config = config
        self.env = env
        self.db_path = db_path
        self.clock = clock
        self.slack = SlackService(config, env, db_path)
        self.verifier = (
            SignatureVerifier(env.slack_signing_secret, clock=_Clock(clock))
            if env.slack_signing_secret
            else None
        )
        # Mail the pages send goes out from here, so that an answer takes as long whether or
        # not a mail was sent (and says nothing about who is subscribed).
        self.mailer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="web-mail")
        self._queued: set[Future] = set()
        self._lock = threading.Lock()
        self.refusals_logged: dict[str, float] = {}  # when web._log_refusal last warned, by kind
        self._stamp = files_stamp(config)
        self._looked = clock()
        self._reloading = threading.Lock()

    def refresh(self) -> bool:
        """Re-read the YAML (at most every RELOAD_SECONDS) when it, or a library file it names,
        changed, as the worker does; True when a new config is in force. A broken edit, or one
        that needs the server built anew (the pages turned on or off, `web.proxies`), is logged
        and the config in force goes on."""
        now = self.clock()
        if abs(now - self._looked) < RELOAD_SECONDS or not self._reloading.acquire(blocking=False):
            return False  # looked lately, or another request is reading it (a large file takes seconds)
        try:
            self._looked, stamp = now, files_stamp(self.config)
            if stamp == self._stamp:
                return False
            self._stamp = stamp
            try:
                config = load_config(self.config.path)
            except ConfigError as e:
                problems = " | ".join(str(p) for p in e.problems)
                log.error(
                    "%s changed but has problems; still serving the previous config: %s",
                    self.config.path,
                    problems,
                )
                return False
            if _web_shape(config) != _web_shape(self.config):
                log.warning(
                    "%s: web: turned on or off, or web.proxies changed: restart digestbot serve to take it;"
                    " still serving the previous config",
                    self.config.path,
                )
                return False
            if config.database != self.config.database:
                log.warning(
                    "%s: database: changed; this server goes on with %s until it is restarted",
                    config.path,
                    mask_url(str(self.db_path)),
                )
            self.config = self.slack.config = config
            self._stamp = files_stamp(config)  # the files the new config names (a library: added)
        finally:
            self._reloading.release()
        log.info("%s changed: serving its new config", self.config.path)
        return True

    def submit_mail(self, work: Callable[[], None]) -> bool:
        """Queue `work` (a page's mail) for the mail thread; False, logged, when MAIL_QUEUE are
        waiting already: a stalled relay makes every mail wait out the SMTP timeout, and a queue
        without end would hold memory and the server's shutdown. The reader can ask again."""
        with self._lock:
            self._queued = {f for f in self._queued if not f.done()}
            if len(self._queued) >= MAIL_QUEUE:
                log.warning("web mail queue is full (%d waiting): not sent", len(self._queued))
                return False
            self._queued.add(self.mailer.submit(work))
        return True

    def open_store(self) -> Store:
        """A store of its own, for work off the request (the mail thread); close it when done.
        A request uses `request_store()`."""
        return Store(self.db_path)

    def close(self) -> None:
        """Stop: the mail queued goes out for up to MAIL_DRAIN_SECONDS, then what has not
        started is dropped (logged) and the mail in flight finishes (within the SMTP timeout),
        so that stopping takes a bounded time whatever the relay does."""
        with self._lock:
            queued = set(self._queued)
        _, waiting = wait(queued, timeout=MAIL_DRAIN_SECONDS)
        dropped = sum(f.cancel() for f in waiting)
        if dropped:
            log.warning("stopping: %d web mail(s) not sent (the readers can ask again)", dropped)
        self.mailer.shutdown(wait=True)
        self.slack.close()


def _web_shape(config: Config) -> tuple:
    """What of the config the app is built with, not read per request: a change takes a restart."""
    return (config.web is not None, config.web.proxies if config.web else 0)


def ctx() -> AppContext:
    return current_app.extensions["digestbot"]


def request_store() -> Store:
    """The request's store: opened on first use, kept on `flask.g` and closed when the request
    ends (`_close_store`), so a request opens the database once at most. It opens no
    transaction: each of its writes is one, as with a store of its own. Only for the request's
    own thread: work off the request opens its own (`AppContext.open_store`)."""
    if "store" not in g:
        g.store = ctx().open_store()
    return g.store


def close_store(_error: BaseException | None) -> None:
    opened = g.pop("store", None)
    if opened is not None:
        try:
            opened.close()
        except Exception as e:  # the answer is made already: say so, and do not spoil it
            log.warning("closing the request's database store: %s", e)


class _Clock:
    """slack-sdk's SignatureVerifier takes a clock object with a now() method."""

    def __init__(self, fn: Callable[[], float]):
        self.fn = fn

    def now(self) -> float:
        return self.fn()


DEFAULT_PORTS = {"https": 443, "http": 80}


def origin(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) of a URL as browsers compare origins: in lower case, the scheme's
    own port as none (https://Digest.Example:443 is https://digest.example); None when its
    port is no number."""
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname or "", None if port == DEFAULT_PORTS.get(scheme) else port


def json_response(data: dict, status: int = 200) -> Response:
    """`data` as an application/json answer."""
    return Response(json.dumps(data), status, mimetype="application/json")
