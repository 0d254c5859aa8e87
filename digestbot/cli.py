"""The `digestbot` command. Thin: parse options, call the library, print, pick the exit code.

Exit codes: 0 done; 1 done with failures (a source or a delivery failed); 2 usage or config error.
"""

from __future__ import annotations

import codecs
import contextlib
import difflib
import io
import json
import logging
import os
import shlex
import signal
import socket
import sys
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path

import click

from . import __version__
from .arxiv_ids import arxiv_id, problem_note
from .collect import (
    LIKED_API,
    LIKED_SOURCE,
    SourceOutcome,
    fetch_all,
    not_on_arxiv,
    not_on_arxiv_warning,
    pace_through,
    refresh_sources,
    source_health,
    waiting_until,
)
from .config import (
    NOT_EXPANDED,
    Config,
    ConfigError,
    Env,
    SourceConfig,
    check_database,
    load_config,
    names_a_variable,
    other_notation,
)
from .delivery import DeliveryError
from .delivery.email import deliverability_warnings
from .digest import DigestRunner, Outcome, make_renderer
from .lock import LockHeld, LockWaitStopped, runner_lock, sender_lock
from .logs import SafeFormatter, environment_secrets, escape_controls, tag_log_lines
from .ratings import rating_note
from .render import template_problem
from .schedule import get_timezone, held_until, next_due, parse_schedule
from .signals import Signals, release_early
from .sources import HttpClient
from .store import (
    RatingRefused,
    Store,
    StoreError,
    StoreOutdated,
    StoreUrlError,
    StoreWriteError,
    SubscriberState,
    is_postgres,
    now_utc,
    probe_sqlite,
)
from .text import mask_url, one_line
from .web import ServerLimits

EXIT_OK, EXIT_FAILURES, EXIT_USAGE = 0, 1, 2
EXIT_INTERRUPTED = 130  # Ctrl-C (128 + SIGINT, as shells report it): the work was left unfinished
log = logging.getLogger("digestbot")


@dataclass
class App:
    """What every command needs, loaded on first use."""

    config_path: Path
    db_option: str | None
    verbose: int
    db_given_as: str = "--db"  # or DIGESTBOT_DB: where db_option came from, for messages
    _config: Config | None = None
    _store: Store | None = None
    should_stop: Callable[[], bool] | None = None  # a stop signal: the store's waits end at once

    @property
    def config(self) -> Config:
        if self._config is None:
            try:
                self._config = load_config(self.config_path)
            except ConfigError as e:
                for problem in e.problems:
                    _complain(str(problem))
                _complain(f"{len(e.problems)} problem(s) in {self.config_path}; nothing was changed.")
                raise SystemExit(EXIT_USAGE) from None
        return self._config

    @cached_property  # checked once: commands read it many times
    def db_path(self) -> Path | str:
        """The SQLite file, or the postgresql:// URL (see `db_shown` for messages). One that
        digestbot cannot use (`mysql://...`, a PostgreSQL URL without a database) is a usage
        error: it was once opened as a SQLite file named `mysql:/...`."""
        if self.db_option:
            try:
                check_database(self.db_option, password_allowed=True)
            except ValueError as e:
                _complain(f"Error: {self.db_given_as}: {e}")  # never quotes the URL
                raise SystemExit(EXIT_USAGE) from None
        given, where = self.db_option or self.config.database or Path("digestbot.db"), self.db_named_by
        if is_postgres(given):
            return given
        path = Path(given).expanduser()  # as the YAML's (an EnvironmentFile or .env expands no ~)
        problem = _sqlite_path_problem(path)
        if problem:  # `check` said OK to it, and every other command failed to open it
            _complain(f"Error: {where}: {problem}")
            raise SystemExit(EXIT_USAGE)
        return path

    @property
    def db_named_by(self) -> str:
        """Where the database setting was given, for messages: --db, DIGESTBOT_DB or the YAML."""
        return self.db_given_as if self.db_option else f"{self.config.path}: database"

    @property
    def db_shown(self) -> str:
        """The database as messages name it: a URL's password masked."""
        return str(self.db_path) if not is_postgres(self.db_path) else mask_url(str(self.db_path))

    @property
    def store(self) -> Store:
        if self._store is None:
            self.config  # noqa: B018 - validate first: a broken config must not even create a database
            self._store = self.open_store()
        return self._store

    def open_store(self, upgrade: bool = True) -> Store:
        """The database opened (`upgrade=False`: to read only, see Store); a URL that cannot
        be used exits 2 naming the setting."""
        try:
            return Store(self.db_path, should_stop=self.should_stop, upgrade=upgrade)
        except StoreUrlError as e:
            _complain(f"Error: {self.db_named_by}: {e}")
            raise SystemExit(EXIT_USAGE) from None

    @property
    def env(self) -> Env:
        """The environment's settings, checked: a bad one is a usage error (exit 2)."""
        env = Env.from_environ()
        problems = env.problems(web=self.config.web is not None)
        if problems:
            for problem in problems:
                _complain(f"environment: {problem}")
            raise SystemExit(EXIT_USAGE)
        return env

    def check_templates(self) -> None:
        """Exit 2 listing what is wrong with the templates, before anything is rendered or sent."""
        problems = make_renderer(self.config.templates).problems()
        if problems:
            for problem in problems:
                _complain(problem)
            _complain(f"{len(problems)} template problem(s); nothing was sent or recorded.")
            raise SystemExit(EXIT_USAGE)

    def sync(self) -> dict[str, int]:
        return self.store.sync_subscribers(self.config.subscribers, former_ids=self.config.former_ids)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()


def _sqlite_path_problem(path: Path) -> str | None:
    """Why a SQLite database cannot be at `path` (a folder there, a file where a folder of its
    path should be, a folder on its way that takes no new file: read-only, another user's; a
    variable written in it, which nothing expands), or None."""
    if path.is_dir():
        return f"{path} is a folder, not a SQLite file: name a file, such as {path / 'digestbot.db'}"
    if path.exists():
        return None
    if names_a_variable(str(path)):  # a folder named `$HOME` would be made
        return f"{path}: {NOT_EXPANDED}"
    for folder in path.parents:
        if folder.exists():
            if not folder.is_dir():
                return f"{folder} is a file, not a folder: {path} cannot be made"
            refused = _refuses_new_file(folder)
            return f"{path} cannot be made: {folder} takes no new file ({refused})" if refused else None
    return None


def _refuses_new_file(folder: Path) -> str | None:
    """Why `folder` takes no new file, or None. Tried, not judged from its mode (root passes
    every mode check, and a read-only mount is not in the mode): a file without a name (Linux's
    O_TMPFILE, else one removed at once), so `check` leaves nothing behind."""
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as e:
        return e.strerror or str(e)
    return None


def _setup_logging(verbose: int, default: int) -> None:
    level = {0: default, 1: logging.INFO}.get(verbose, logging.DEBUG)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        SafeFormatter(
            "%(asctime)s %(levelname)-7s %(name)s: %(message)s", "%Y-%m-%d %H:%M:%S", environment_secrets()
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # Libraries log at INFO about every request; keep them out unless asked for debug output.
    for noisy in ("urllib3", "slack_sdk", "slack_bolt", "apscheduler", "mail.log"):
        logging.getLogger(noisy).setLevel(logging.DEBUG if verbose > 1 else logging.WARNING)


def _complain(text: object) -> None:
    """One line on stderr. What the user typed (an id, a path) is part of many: its control
    characters are written as escapes, so none clears the screen or forges a line."""
    click.echo(escape_controls(str(text)), err=True)


class _Group(click.Group):
    """Turns a database that cannot be used into one line and a meaningful exit code."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.ClickException as e:  # a usage error: it may quote what was typed
            e.message = escape_controls(e.message)
            raise
        except KeyboardInterrupt:  # click said "Aborted!", exit 1: as if done with failures
            _complain("Interrupted: stopped before it finished.")
            raise SystemExit(EXIT_INTERRUPTED) from None
        except StoreWriteError as e:
            sends = ctx.invoked_subcommand in ("send", "run")  # `sync` or `migrate` sends nothing
            then = " Nothing more is sent until the database can record it." if sends else ""
            end = "" if str(e).endswith((".", "?", "!")) else "."  # libpq's own ends "...TCP/IP connections?"
            _complain(f"Stopped: {e}{end}{then}")
            raise SystemExit(EXIT_FAILURES) from None
        except StoreError as e:
            _complain(f"Error: {e}")
            raise SystemExit(EXIT_USAGE) from None


class _EnvOption(click.Option):
    """An option that may come from an environment variable: a bad value taken from there is
    reported under the variable's name (click named the option, which was never typed)."""

    def get_error_hint(self, ctx: click.Context) -> str:
        if self.envvar and ctx.get_parameter_source(self.name) == click.core.ParameterSource.ENVIRONMENT:
            return f"{self.envvar} (in the environment)"
        return super().get_error_hint(ctx)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option(
    "--config",
    "config_path",
    cls=_EnvOption,
    envvar="DIGESTBOT_CONFIG",
    default="subscriptions.yaml",
    show_default=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="The subscriptions file (env DIGESTBOT_CONFIG).",
)
@click.option(
    "--db",
    "db_option",
    envvar="DIGESTBOT_DB",
    default=None,
    help="SQLite file or postgresql://user@host/dbname URL (env DIGESTBOT_DB; else the YAML's 'database:'; else ./digestbot.db).",
)
@click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
@click.version_option(__version__, prog_name="digestbot")
@click.pass_context
def cli(ctx: click.Context, config_path: Path, db_option: str | None, verbose: int) -> None:
    """digestbot: personalized digests of new papers, by email or Slack.

    Collects papers from arXiv, Hugging Face and any RSS/Atom feed, ranks them for each
    subscriber by their keywords, authors and liked papers, and delivers each subscriber's
    digest on their own schedule. Start with `digestbot init`, then `digestbot run --once`.
    Exit codes: 0 done, 1 done with failures (a source or a delivery failed), 2 usage or
    configuration error (nothing changed), 130 interrupted by Ctrl-C.

    Examples:

    \b
      digestbot init && digestbot run --once
      digestbot --config lab/digest.yaml --db lab/digest.db status
      DIGESTBOT_SMTP_URL=smtps://digest:PASSWORD@mail.example.org:465 digestbot send
      digestbot preview alice --help
    """
    if ctx.invoked_subcommand not in _TAKE_SIGNALS:
        release_early()  # a signal held while the command started acts now, as it would have
    # One-shot commands print their own report; the daemon's log *is* its report.
    _setup_logging(verbose, logging.ERROR)
    app = App(config_path.expanduser(), db_option, verbose)  # DIGESTBOT_CONFIG=~/... from an EnvironmentFile
    if ctx.get_parameter_source("db_option") == click.core.ParameterSource.ENVIRONMENT:
        app.db_given_as = "DIGESTBOT_DB"
    ctx.obj = app
    ctx.call_on_close(app.close)


pass_app = click.make_pass_decorator(App)
# The commands that install handlers of their own (Signals; serve's): a signal held early is theirs.
_TAKE_SIGNALS = ("run", "send", "fetch", "serve")


# --- init / check / sync ----------------------------------------------------------------------


@cli.command()
@pass_app
def init(app: App) -> None:
    """Write a starter subscriptions.yaml (never over an existing one) and create the database.

    Examples:

    \b
      digestbot init
      digestbot --config lab/digest.yaml init
    """
    from .starter import starter_yaml

    path = app.config_path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        written = _write_new(path, starter_yaml())
    except OSError as e:
        _cannot_write(path, e)
    if not written and path.is_symlink() and not path.exists():
        click.echo(f"{escape_controls(str(path))} is a link to a file that is not there; left as it is.")
    elif not written:
        click.echo(f"{escape_controls(str(path))} already exists; left as it is.")
    else:
        click.echo(f"Wrote {escape_controls(str(path))}: a bundled sample feed and one example subscriber.")
        command = escape_controls(_same_files_command(click.get_current_context().find_root(), app))
        click.echo(f"Edit it, then run:\n  {command} check && {command} run --once")
    app.store.ping()  # opening the store creates the database and its schema
    click.echo(f"Database ready: {escape_controls(app.db_shown)}")


def _write_new(path: Path, text: str) -> bool:
    """Write `text` to a file that must not exist yet (False, nothing written, if it does, even
    if it appeared since a look); a write that fails halfway leaves no half a file."""
    try:
        handle = path.open("x", encoding="utf-8")
    except FileExistsError:
        return False
    try:
        with handle:
            handle.write(text)
    except OSError:
        path.unlink(missing_ok=True)
        raise
    return True


def _same_files_command(root: click.Context, app: App) -> str:
    """`digestbot` with the --config and --db given on this command line, so that the command
    `init` suggests works on the files it wrote (a bare `digestbot check` read ./subscriptions.yaml)."""
    words = ["digestbot"]
    commandline = click.core.ParameterSource.COMMANDLINE
    if root.get_parameter_source("config_path") == commandline:
        words += ["--config", shlex.quote(str(app.config_path))]
    if root.get_parameter_source("db_option") == commandline:
        words += ["--db", shlex.quote(app.db_shown)]
    return " ".join(words)


@cli.command()
@pass_app
def check(app: App) -> None:
    """Validate the config and the environment; exit 2 listing every problem
    (file:line: field: message).

    Examples:

    \b
      digestbot check
      digestbot --config bad.yaml check
      DIGESTBOT_BASE_URL=https://digest.example.org DIGESTBOT_SECRET=S3CRET digestbot check
    """
    config = app.config
    app.env  # noqa: B018  (exit 2 naming what is wrong in the environment)
    app.db_path  # noqa: B018  (exit 2 for a --db or DIGESTBOT_DB digestbot cannot use)
    _check_writable(app)
    if not is_postgres(app.db_path) and app.db_path.exists():
        probe_sqlite(app.db_path)  # what the other commands would refuse it for, read only
    app.check_templates()
    if config.web is not None:
        from .web import page_template_problems

        problems = page_template_problems(config)
        for problem in problems:
            _complain(problem)
        if problems:
            _complain(f"{len(problems)} web page template problem(s).")
            raise SystemExit(EXIT_USAGE)
    click.echo(
        f"{escape_controls(str(config.path))}: OK ({len(config.sources)} source(s), {len(config.subscribers)} subscriber(s))"
    )
    env = Env.from_environ()
    for warning in _database_warnings(app) + _mail_warnings(app, env) + _template_warnings(app, env):
        click.echo(f"warning: {warning}")


def _template_warnings(app: App, env: Env) -> list[str]:
    """Email templates that leave out the unsubscribe link digests carry (base URL and secret set)."""
    if not (env.base_url and env.secret and any(s.email for s in app.config.subscribers)):
        return []
    return make_renderer(app.config.templates).unsubscribe_missing()


def _check_writable(app: App) -> None:
    """Exit 2 for a SQLite file this process may not write (its mode or owner, a read-only mount
    or file), or an outbox folder it may not write or create while digests go there: `check` said
    OK, and fetch, send and run stopped at their first write. Only `check` asks: `status` and
    `preview` read such a file well (a backup, looked at)."""
    path = app.db_path
    if not is_postgres(path) and path.exists() and not os.access(path, os.W_OK):
        _complain(
            f"Error: {app.db_named_by}: {escape_controls(str(path))} cannot be written: fetch, send and run"
            " record papers and digests there (give the user digestbot runs as write access to it)"
        )
        raise SystemExit(EXIT_USAGE)
    env = app.env
    if env.smtp_url and env.slack_bot_token:
        return  # the outbox is not used
    folder = next((p for p in (env.outbox, *env.outbox.parents) if p.exists()), Path("."))
    if not os.access(folder, os.W_OK | os.X_OK):  # a file there is Env.problems' to say
        unset = " and ".join(
            n
            for n, v in (("DIGESTBOT_SMTP_URL", env.smtp_url), ("SLACK_BOT_TOKEN", env.slack_bot_token))
            if not v
        )
        _complain(
            f"Error: DIGESTBOT_OUTBOX: {escape_controls(str(env.outbox))} cannot be written: with {unset} unset,"
            f" digests are written there ({escape_controls(str(folder))} takes no new file: give the user"
            " digestbot runs write access to it, or set DIGESTBOT_OUTBOX to a folder it may write)"
        )
        raise SystemExit(EXIT_USAGE)


def _mail_warnings(app: App, env: Env) -> list[str]:
    emails = tuple(s.email for s in app.config.subscribers if s.email)
    return deliverability_warnings(env.smtp_url, env.base_url, env.secret, emails, app.config.email_from)


def _last_warning(store, name: str, state: dict) -> str | None:
    """A source's last warning; for liked papers, naming only ids someone still likes."""
    if name == LIKED_SOURCE:
        return not_on_arxiv_warning(store, set(store.missing_likes()))
    return state.get("last_warning")


def _health(store, source: SourceConfig | None, state: dict, now: datetime) -> str:
    """A source's health in `status`: waiting out a server's Retry-After (its own, or one a
    source on its host got), else `source_health`'s word, else ok; "" for one not configured."""
    if source is None:
        return ""
    if until := waiting_until(store, source.name, source.location, now):
        return f"waiting until {until:%Y-%m-%d %H:%M} UTC, as the server asked (Retry-After)"
    return (source_health(source, state, now) or "ok") if state else ""


def _database_warnings(app: App) -> list[str]:
    """What `check` warns of from the database: sources that failed or need a look, liked
    papers it lacks or arXiv did not know. Read only: an existing database, never upgraded
    (that would stop the older workers still running on it), nothing created."""
    if not (is_postgres(app.db_path) or app.db_path.exists()):
        return []
    try:
        store = app.open_store(upgrade=False)
    except StoreOutdated:
        return []  # told once the first command that uses it has upgraded it
    except StoreError as e:  # a server down: the config is still checked
        return [f"sources and liked papers not checked against the database: {one_line(str(e))}"]
    with store:
        liked = {a for sub in app.config.subscribers for a in sub.profile.likes}
        return _source_problems(store, app.config) + (_liked_problems(store, liked) if liked else [])


def _source_problems(store: Store, config: Config) -> list[str]:
    """Sources whose last fetch failed, or which need a look (`source_health`), as `status`
    shows them; not when fetched at another url since (the edit may fix it)."""
    out, now = [], now_utc()
    for source in config.sources:
        state = store.source_state(source.name)
        if state.get("location") != source.location:
            continue
        if health := source_health(source, state, now):
            out.append(f"source {source.name} is {health}")
        elif state.get("last_error"):
            out.append(f"source {source.name} failed at its last fetch: {state['last_error']}")
    return out


def _liked_problems(store: Store, liked: set[str]) -> list[str]:
    unknown = not_on_arxiv(store)
    missing = [a for a in store.missing_likes(liked) if a not in unknown]
    out = []
    if missing:
        shown = ", ".join(missing[:10]) + (" …" if len(missing) > 10 else "")
        out.append(
            f"{len(missing)} liked paper(s) not in the database yet, fetched from arXiv at the next fetch: {shown}"
        )
    last = store.source_state(LIKED_SOURCE)
    if warning := not_on_arxiv_warning(store, liked):
        out.append(f"liked papers: {warning}")
    if last.get("last_error"):
        out.append(f"liked papers could not be fetched last time: {last['last_error']}")
    return out


@cli.command()
@pass_app
def sync(app: App) -> None:
    """Load the YAML subscribers into the database (all or nothing).

    Subscribers no longer in the YAML are deactivated; their history is kept.
    fetch, send and run do this first on their own.

    Examples:

    \b
      digestbot sync
    """
    counts = app.sync()
    click.echo(", ".join(f"{n} {what}" for what, n in counts.items()))


# --- fetch --------------------------------------------------------------------------------


def _progress(total: int | None, label: str):
    """A rich progress bar on a terminal; None (no bar) when output is piped or logged."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )
    progress.add_task(label, total=total)
    return progress


def _fetch(app: App, names: tuple[str, ...] = (), client: HttpClient | None = None) -> list[SourceOutcome]:
    sources = [s for s in app.config.sources if not names or s.name in names]
    progress = _progress(len(sources), "Fetching")

    def on_done(outcome: SourceOutcome) -> None:
        if progress:
            progress.advance(progress.task_ids[0])
        click.echo(_source_line(outcome))

    if progress:
        progress.start()
    try:
        return fetch_all(app.store, sources, pace_through(app.store, client or HttpClient()), on_done=on_done)
    finally:
        if progress:
            progress.stop()


def _source_line(o: SourceOutcome) -> str:
    """One source's outcome; what its server said is shown as one line of plain text."""
    if o.error:
        return f"  {o.name}: FAILED: {one_line(o.error)}"
    if o.stopped:
        return f"  {o.name}: not fetched: stopping (fetched at the next run)"
    if o.waiting_until:
        return f"  {o.name}: waiting until {o.waiting_until:%Y-%m-%d %H:%M} UTC, as the server asked (Retry-After)"
    if o.not_modified:
        return f"  {o.name}: not modified since the last fetch"
    skipped = f", {o.skipped} skipped" if o.skipped else ""
    caught = f" ({o.caught_up} caught up from missed days)" if o.caught_up else ""
    warnings = "".join(f"\n    warning: {one_line(w)}" for w in o.warnings)
    return f"  {o.name}: {o.new} new{caught}, {o.known} already known{skipped}{warnings}"


@cli.command()
@click.option(
    "--source",
    "names",
    multiple=True,
    metavar="NAME",
    help=f'Fetch only this source (repeatable; "{LIKED_SOURCE}": only the liked papers not stored yet).',
)
@pass_app
def fetch(app: App, names: tuple[str, ...]) -> None:
    """Fetch sources and store new papers; prints new / already known / errors per source.

    Exit 0 done, 1 a source failed, 130 Ctrl-C (the fetch in flight is cut short, nothing of it
    stored; the rest left for the next run).

    Examples:

    \b
      digestbot fetch
      digestbot fetch --source arxiv-cs-lg --source hf-daily
    """
    unknown = set(names) - {s.name for s in app.config.sources} - {LIKED_SOURCE}  # only those
    if unknown:
        typed = ", ".join(_guessed(n, [s.name for s in app.config.sources]) for n in sorted(unknown))
        raise click.UsageError(f"no source named {typed} in {app.config.path}")
    with _stop_signals() as signals:  # Ctrl-C cuts the fetch in flight, and stores nothing of it
        app.sync()
        outcomes = _fetch(app, names, client=HttpClient(cancel=signals.stop))
        failed = [o for o in outcomes if not o.ok]
        waiting = sum(1 for o in outcomes if o.waiting_until)
        stopped = sum(1 for o in outcomes if o.stopped)
        click.echo(
            f"Fetched {len(outcomes) - stopped} source(s): {sum(o.new for o in outcomes)} new paper(s),"
            f" {len(failed)} failed"
            + (f", {waiting} waiting" if waiting else "")
            + (f", {stopped} not fetched (stopping)." if stopped else ".")
        )
        raise SystemExit(_exit_code(signals, bool(failed)))


def _exit_code(signals: Signals, failed: bool) -> int:
    """0 or 1 as the work went; 130 when Ctrl-C cut it short (SIGTERM is a service's clean stop: 0)."""
    if signals.stopped_by == signal.SIGINT:
        return EXIT_INTERRUPTED
    return EXIT_FAILURES if failed else EXIT_OK


# --- send / preview -----------------------------------------------------------------------


SENDER_WAIT = 30.0  # seconds `send` waits for another sender (the worker's dispatch) to finish


def _never() -> bool:
    return False


def _send(
    app: App, only: set[str] | None, force: bool, dry_run: bool, should_stop: Callable[[], bool] = _never
) -> list[Outcome]:
    if dry_run:
        return _send_locked(app, only, force, dry_run, should_stop)
    lock = sender_lock(app.db_path)
    try:
        lock.acquire(wait=SENDER_WAIT, stop=should_stop)
    except LockWaitStopped as e:  # a stop signal while another sender held it: nothing was sent
        click.echo(f"Not sending: {e}; nothing was sent.", err=True)
        return []
    except LockHeld as e:
        _complain(f"Not sending: {e}. Try again when it is done.")
        raise SystemExit(EXIT_FAILURES) from None
    try:
        return _send_locked(app, only, force, dry_run, should_stop)
    finally:
        lock.release()


def _send_locked(
    app: App, only: set[str] | None, force: bool, dry_run: bool, should_stop: Callable[[], bool] = _never
) -> list[Outcome]:
    client = pace_through(app.store, HttpClient())

    def refresh(names: list[str]) -> None:
        sources = [s for s in app.config.sources if s.name in names]
        for outcome in refresh_sources(app.store, sources, client, holder=runner.lease_holder):
            line = _source_line(outcome).replace("  ", "  refetched ", 1)
            click.echo(
                line
                + (
                    " (trending digests use the counts of the last fetch)"
                    if outcome.error or outcome.waiting_until
                    else ""
                )
            )

    unsynced = app.config.subscribers if dry_run else None  # a dry run records nothing (see send)
    runner = DigestRunner(app.store, app.config, app.env, refresh=refresh, unsynced=unsynced)
    progress = _progress(None, "Sending")

    def on_done(outcome: Outcome) -> None:
        if progress:
            progress.advance(progress.task_ids[0])
        line = _outcome_line(outcome)
        if line:
            click.echo(line)

    if progress:
        progress.start()
    try:
        outcomes = runner.run(
            only=only, force=force, dry_run=dry_run, on_done=on_done, should_stop=should_stop
        )
    except DeliveryError as e:  # a dry run renders each digest: a template failed on one
        _complain(f"Dry run stopped: {e}")
        raise SystemExit(EXIT_USAGE) from None
    finally:
        if progress:
            progress.stop()
    if not outcomes and should_stop():
        click.echo("  stopping: the digests due are left for the next run")
    elif not outcomes and only is None and (soonest := _soonest(app.store, now_utc())):
        click.echo(f"  nobody is due now; next: {soonest}")
    elif only and not should_stop():  # a subscriber asked for by name: why nothing went to them
        for line in _not_due(app.store, sorted(only - {o.subscriber_id for o in outcomes}), now_utc()):
            click.echo(line)
    sent = [o for o in outcomes if o.status == "sent"]
    failed = [o for o in outcomes if o.failed]
    empty = [o for o in outcomes if o.status == "empty"]
    if dry_run:
        would = [o for o in outcomes if o.status == "dry-run"]
        click.echo(
            f"Dry run: {len(would)} digest(s) would be sent, {len(empty)} subscriber(s) with nothing new."
        )
    else:
        click.echo(
            f"Digests: {len(sent)} sent, {len(failed)} failed, {len(empty)} subscriber(s) with nothing new."
        )
    return outcomes


def _outcome_line(o: Outcome) -> str | None:
    """One digest's outcome; a mail server's or Slack's reply is shown as one line of plain text."""
    o = replace(o, error=one_line(o.error)) if o.error else o
    if o.status == "sent":
        return f"  {o.subscriber_id}: sent {o.papers} paper(s) ({o.matched} matched) to {o.destination}"
    if o.status == "dry-run":
        return f"  {o.subscriber_id}: would send {o.papers} paper(s) ({o.matched} matched) to {o.destination}"
    if o.status == "failed":
        return f"  {o.subscriber_id}: FAILED (kept, will retry): {o.error}"
    if o.status == "given-up":
        return f"  {o.subscriber_id}: FAILED (given up after retries): {o.error}"
    if o.status == "cancelled":
        return f"  {o.subscriber_id}: waiting digest cancelled ({o.error})"
    if o.status == "stopped":
        return (
            f"  {o.subscriber_id}: stopping before its turn under DIGESTBOT_SMTP_RATE: left for the next run"
        )
    return None


@cli.command()
@click.option(
    "--subscriber", "subscribers", multiple=True, metavar="ID", help="Only this subscriber (repeatable)."
)
@click.option(
    "--force", is_flag=True, help="Treat every subscriber as due now, and retry waiting digests now."
)
@click.option(
    "--dry-run", is_flag=True, help="Render and report what would be sent; record and send nothing."
)
@pass_app
def send(app: App, subscribers: tuple[str, ...], force: bool, dry_run: bool) -> None:
    """Build and deliver the digests that are due (and retry failed ones).

    Exit 0 when every digest went out, 1 when one failed (it is kept and retried later), 130
    when Ctrl-C stopped it (the digest in flight is finished, the rest left for the next run).

    Examples:

    \b
      digestbot send
      digestbot send --dry-run
      digestbot send --subscriber alice --subscriber bob --force
    """
    with _stop_signals() as signals:  # as `run --once`: a digest being sent is not cut off
        app.should_stop = signals.stop.is_set
        app.env  # noqa: B018  (checked before anything changes)
        app.check_templates()
        if not dry_run:  # a dry run reads the YAML over the store and records nothing
            app.sync()
        _check_subscribers(app, subscribers, sending=True, dry=dry_run)
        outcomes = _send(app, set(subscribers) or None, force, dry_run, should_stop=signals.stop.is_set)
        raise SystemExit(_exit_code(signals, any(o.failed for o in outcomes)))


def _guessed(typed: str, known) -> str:
    """`alcie (did you mean alice?)`, or the id as it was typed when nothing is close."""
    close = difflib.get_close_matches(typed, list(known), n=1)
    return f"{typed} (did you mean {close[0]}?)" if close else typed


def _check_subscribers(app: App, ids: tuple[str, ...], sending: bool = False, dry: bool = False) -> None:
    """A usage error for an id that is not a subscriber, or one no digest is sent to: one
    removed from the YAML (kept, deactivated) and, when `sending`, one who is paused. `dry`: as
    the YAML read would make them (Store.as_synced), nothing written."""
    known = {s.subscriber.id: s.subscriber for s in app.store.subscribers(include_inactive=True)}
    if dry:
        synced = {s.subscriber.id: s.subscriber for s in app.store.as_synced(app.config.subscribers)}
        known = {sid: replace(sub, active=False) for sid, sub in known.items()} | synced
    unknown = [i for i in ids if i not in known]
    if unknown:
        raise click.UsageError(f"unknown subscriber(s): {', '.join(_guessed(i, known) for i in unknown)}")
    gone = [i for i in ids if not known[i].active]
    if gone:
        raise click.UsageError(
            f"no digest goes to {', '.join(gone)}: no longer in {app.config.path} (deactivated, history kept)"
        )
    paused = [i for i in ids if sending and known[i].paused]
    if paused:
        raise click.UsageError(
            f"no digest goes to {', '.join(paused)}: paused (unsubscribed); `digestbot status` lists them"
        )


@cli.command()
@click.argument("subscriber_id", metavar="ID")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "eml", "slack", "json"], case_sensitive=False),
    default="text",
    show_default=True,
    help="Email text, email HTML, the whole email as sent (eml: headers and both parts), Slack "
    "Block Kit JSON, or the ranking as JSON (for scripts).",
)
@click.option(
    "-o",
    "--output",
    type=click.Path(dir_okay=False, allow_dash=True, path_type=Path),
    help="Write to FILE instead of stdout (- is stdout).",
)
@pass_app
def preview(app: App, subscriber_id: str, fmt: str, output: Path | None) -> None:
    """Render a subscriber's next digest as it would be sent now; records nothing.

    --format json prints {"subscriber", "total", "papers": [{"key", "arxiv_id", "title",
    "score", "why"}]}, best first, at most max_papers.

    Examples:

    \b
      digestbot preview alice
      digestbot preview alice --format html -o alice.html
      digestbot preview alice --format eml | spamassassin -t
      digestbot preview alice --format json
    """
    if output is not None and str(output) == "-":  # the usual name for stdout: it wrote a file "-"
        output = None
    ascii_only = output is None and not _takes_unicode(sys.stdout)  # JSON escapes what it can't show
    app.check_templates()
    _check_subscribers(app, (subscriber_id,), dry=True)  # the YAML read over the store: nothing written
    runner = DigestRunner(app.store, app.config, app.env, unsynced=app.config.subscribers)
    digest = runner.preview(subscriber_id)
    if fmt == "json":
        _emit(ranking_json(subscriber_id, digest, ascii_only), output, len(digest.matches) if digest else 0)
        return
    if digest is None or not digest.matches:
        _complain(f"No new matching papers for {subscriber_id}: nothing would be sent.")
        return
    if fmt == "eml":
        if not digest.subscriber.email:
            raise click.UsageError(f"{subscriber_id} gets Slack digests: use --format slack")
        try:
            message, shown = runner.deliverer.composed(digest)
        except DeliveryError as e:  # the template failed on this digest's data
            _complain(str(e))
            raise SystemExit(EXIT_USAGE) from None
        _emit(message.data.decode("utf-8"), output, shown)  # fewer when cut for Gmail's clip
        return
    links = runner.deliverer.links(digest.subscriber)  # the footer's links, as the digest is sent
    shown = len(digest.matches)
    try:
        if fmt == "slack":
            body = json.dumps(runner.renderer.slack(digest, **links), indent=2, ensure_ascii=ascii_only)
        else:
            parts = runner.renderer.email(digest, **links)
            body = parts.html if fmt == "html" else f"Subject: {parts.subject}\n\n{parts.text}"
            shown = parts.shown
    except Exception as e:  # the template failed on this digest's data
        where = runner.renderer.path_of("digest.slack.json" if fmt == "slack" else "digest.html")
        _complain(template_problem(e, where))
        raise SystemExit(EXIT_USAGE) from None
    _emit(body, output, shown)


def _cannot_write(path: Path, error: OSError) -> None:
    """Exit 2: a file the user named cannot be written (a missing folder, a file in the way)."""
    _complain(f"Error: cannot write {path}: {error.strerror or error}")
    raise SystemExit(EXIT_USAGE) from None


def _emit(body: str, output: Path | None, n: int) -> None:
    if output:
        try:
            output.write_text(body, encoding="utf-8")
        except OSError as e:
            _cannot_write(output, e)
        click.echo(f"Wrote {escape_controls(str(output))} ({n} paper(s)).")
    else:
        click.echo(body)


def _takes_unicode(stream) -> bool:
    """Whether a text stream's encoding has every character (a latin-1 terminal's has not)."""
    try:
        return codecs.lookup(getattr(stream, "encoding", None) or "ascii").name.startswith("utf")
    except LookupError:
        return False


def ranking_json(subscriber_id: str, digest, ascii_only: bool = False) -> str:
    """`{"subscriber", "total", "papers": [{"key", "arxiv_id", "title", "score", "why"}]}`, best
    first, at most max_papers: the shape scripts rely on (DESIGN.md). `ascii_only`: characters
    beyond ASCII as \\u escapes (the same JSON, for a terminal that cannot show them)."""
    papers = [
        {
            "key": m.paper.key,
            "arxiv_id": m.paper.arxiv_id,
            "title": m.paper.display_title,
            "score": m.score,
            "why": list(m.why),
        }
        for m in (digest.matches if digest else [])
    ]
    total = digest.total_matched if digest else 0
    return json.dumps(
        {"subscriber": subscriber_id, "total": total, "papers": papers}, indent=2, ensure_ascii=ascii_only
    )


# --- feedback -----------------------------------------------------------------------------


VOTES = {"up": 1, "down": -1, "clear": None}


@cli.command()
@click.argument("subscriber_id", metavar="SUBSCRIBER")
@click.argument("paper_ref", metavar="PAPER")
@click.argument("vote", type=click.Choice(list(VOTES), case_sensitive=False))
@pass_app
def feedback(app: App, subscriber_id: str, paper_ref: str, vote: str) -> None:
    """Rate a paper a subscriber received: up (more like this), down (less), or clear.

    PAPER is an arXiv id, an arXiv URL, or the paper's key or link. The next digest uses it: papers like
    the ones rated up rise (and may come by similarity alone), papers like those rated down sink.
    Only papers from the subscriber's own digests can be rated.

    Examples:

    \b
      digestbot feedback alice 2303.04137 up
      digestbot feedback alice https://arxiv.org/abs/2303.04137v2 down
      digestbot feedback alice hep-th/9901001 clear
    """
    app.sync()
    _check_subscribers(app, (subscriber_id,))
    ref = paper_ref.strip()
    aid = arxiv_id(ref)
    # its key, else the arXiv id's, else a stored paper's link (a post keyed by its guid)
    keys = (
        [ref]
        if app.store.paper(ref) is not None
        else [f"arxiv:{aid}"]
        if aid
        else app.store.keys_by_link(ref)
    )
    if not keys:
        raise click.UsageError(
            f"{ref[:80]!r} is not an arXiv id (2303.04137, hep-th/9901001), an arXiv URL, or the key"
            f" or link of a stored paper{problem_note(ref)}"
        )
    paper, refused = None, None
    for key in keys:  # a link two feeds reported: the paper of the two this subscriber received
        try:
            paper = app.store.rate(subscriber_id, key, VOTES[vote], origin="cli")
            break
        except RatingRefused as e:  # not stored, or not a paper this subscriber received
            refused = refused or e
    if paper is None:
        raise click.UsageError(str(refused)) from None
    said = {"up": "rated up", "down": "rated down", "clear": "rating cleared"}[vote]
    click.echo(f"{subscriber_id}: {said}: {paper.display_title}")
    if vote != "clear" and (note := rating_note([s.subscriber for s in app.store.rated_for(subscriber_id)])):
        click.echo(f"  {note}")


# --- run ----------------------------------------------------------------------------------


@cli.command()
@click.option("--once", is_flag=True, help="Fetch all sources, send what is due, and exit.")
@click.option(
    "--processes",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Worker processes on this machine (one core each); they share the work through the database.",
)
@click.option("--member", type=int, default=None, hidden=True)  # one process of --processes N
@click.option("--parent", type=int, default=None, hidden=True)  # that group's pid: stop when it is gone
@pass_app
def run(app: App, once: bool, processes: int, member: int | None, parent: int | None) -> None:
    """The scheduler: fetch sources on their intervals and send digests on each subscriber's schedule.

    With --once: fetch everything, send what is due, exit (0 ok, 1 something failed).
    SIGTERM/SIGINT: the work in flight is finished, the rest left for the next run, exit 0
    (with --once, Ctrl-C exits 130, as `fetch` and `send` do: the round was not finished).
    On PostgreSQL, several `run` workers (on several machines) share the work: each source is
    fetched once per interval, each digest built and sent by one worker (README, Scaling).

    Examples:

    \b
      digestbot run --once
      digestbot -v run
      digestbot run --processes 4
    """
    if once and processes > 1:
        raise click.UsageError("--once runs in one process: leave out --processes")
    if not once and app.verbose == 0:  # before the handlers: they log a signal held at start-up
        logging.getLogger().setLevel(logging.INFO)
    with _stop_signals() as signals:  # first: a signal while the config loads must not kill us
        raise SystemExit(_run(app, once, signals, processes, member, parent))


START_WAIT, START_WAIT_MAX = 5.0, 60.0  # seconds between a worker's tries to reach its database


def _first_sync(app: App, signals: Signals) -> dict[str, int] | None:
    """The worker's first sync, waited for while its PostgreSQL cannot be reached (the machine
    booted before the database, the server restarts): tried again, 5 s apart doubling to a
    minute, each time logged, instead of an exit that systemd's restart limit (5 in 10 s) or a
    Procfile runner (one process gone stops them all) turns into a worker that stays down.
    None: a stop came first."""
    pause = START_WAIT
    while True:
        try:
            return app.sync()
        except StoreWriteError as e:
            if signals.stop.is_set():  # the wait for the database was cut short by it
                log.info("stopped before starting")
                return None
            if app._store is not None or not is_postgres(app.db_path):
                raise  # reached, but it takes no writes (a standby, a full disk): as any other command
            log.error(
                "cannot start yet: %s; trying again in %d s (the worker starts once the database answers)",
                e,
                pause,
            )
        if signals.stop.wait(pause):
            log.info("stopped before starting")
            return None
        pause = min(pause * 2, START_WAIT_MAX)


def _other_scheduler(app: App) -> str | None:
    """Who already runs the scheduler on this SQLite database, if anyone: asked before the
    first sync, so a second `run` (another config, on the same database) changes nothing."""
    lock = runner_lock(app.db_path)
    try:
        lock.acquire(wait=0)
    except LockHeld as e:
        return str(e)
    lock.release()
    return None


@contextlib.contextmanager
def _stop_signals() -> Iterator[Signals]:
    """SIGTERM/SIGINT set `stop` instead of killing the process (a digest cut off mid-SMTP is
    pending in the ledger though the server has it: the next send would mail it again)."""
    signals = Signals().install()
    try:
        yield signals
    finally:
        if _process_ends_with_command:
            signals.ignore()  # exiting now: the interpreter's shutdown must not die of a late signal
        else:
            signals.restore()


def _run(
    app: App,
    once: bool,
    signals: Signals,
    processes: int = 1,
    member: int | None = None,
    parent: int | None = None,
) -> int:
    from .daemon import run_forever

    if member is not None:
        tag_log_lines(f"[worker {member}]")
    app.should_stop = signals.stop.is_set
    app.env  # noqa: B018  (checked before anything changes)
    app.check_templates()
    if not once and member is None and (running := _other_scheduler(app)):
        log.error("not starting: %s; nothing was changed", running)
        return EXIT_USAGE  # a set-up to fix: a restart (systemd's) would only meet it again
    counts = app.sync() if once else _first_sync(app, signals)
    if counts is None:
        return EXIT_OK
    if processes > 1:
        from .group import run_group

        app.store.close()  # the members open their own
        return run_group(processes, app.config_path, app.db_path, app.verbose, signals)
    if not once:
        return run_forever(app.config, app.store, app.env, signals, member=member, parent=parent)
    click.echo(f"Subscribers: {counts['added'] + counts['updated'] + counts['unchanged']} active.")
    click.echo("Fetching sources:")
    fetched = _fetch(app, client=HttpClient(cancel=signals.stop))
    click.echo("Sending digests:")
    outcomes = _send(app, None, force=False, dry_run=False, should_stop=signals.stop.is_set)
    return _exit_code(signals, any(not o.ok for o in fetched) or any(o.failed for o in outcomes))


# --- serve --------------------------------------------------------------------------------


def _limit_option(flag: str, attr: str, lo: int, hi: int, help: str):
    """A `serve` option for one of waitress's limits, defaulting to ServerLimits'."""
    default = getattr(ServerLimits(), attr)
    return click.option(
        flag, attr, default=default, show_default=True, type=click.IntRange(lo, hi), help=help
    )


@cli.command()
@click.option(
    "--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0 for all)."
)
@click.option(
    "--port",
    cls=_EnvOption,
    default=8080,
    show_default=True,
    envvar="PORT",
    type=click.IntRange(1, 65535),
    help="Port to listen on (env PORT).",
)
@_limit_option("--threads", "threads", 1, 256, "Worker threads.")
@_limit_option(
    "--connection-limit",
    "connection_limit",
    10,
    100_000,
    "Connections open at once; more wait. Keep it under the open-files limit (ulimit -n).",
)
@_limit_option("--channel-timeout", "channel_timeout", 1, 3600, "Seconds an idle connection is kept open.")
@pass_app
def serve(app: App, host: str, port: int, threads: int, connection_limit: int, channel_timeout: int) -> None:
    """The HTTP app: /slack/commands (and /slack/events, /slack/interactive), /unsubscribe, /feedback, /healthz,
    and with `web:` in the YAML the sign-up and manage pages (/, /manage, /manage/link).

    With SLACK_APP_TOKEN set, Slack commands also arrive over Socket Mode (no public URL needed).

    Examples:

    \b
      digestbot serve
      digestbot serve --host 0.0.0.0 --port 8080 --threads 16
      PORT=9000 digestbot serve
    """
    from .slack_app import SlackService, connect_socket_mode, socket_mode_client
    from .web import serve as serve_http

    if app.verbose == 0:
        logging.getLogger().setLevel(logging.INFO)
    _check_listen(host, port)
    app.sync()
    env = app.env
    if env.slack_app_token:
        service = SlackService(app.config, env, app.db_path)
        # Slack out of reach is logged and retried: the HTTP pages (unsubscribe...) serve meanwhile
        if connect_socket_mode(socket_mode_client(service, env), threading.Event()):
            log.info("connected to Slack over Socket Mode")
    limits = ServerLimits(threads=threads, connection_limit=connection_limit, channel_timeout=channel_timeout)
    serve_http(app.config, env, app.db_path, host, port, limits)


def _check_listen(host: str, port: int) -> None:
    """Exit 2 saying why when `serve` could not listen there (a host that does not resolve, a
    port in use or not ours to take), before anything starts: waitress raised a traceback."""
    try:
        for family, kind, proto, _, address in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM):
            with socket.socket(family, kind, proto) as probe:
                probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as waitress does
                probe.bind(address)
    except OSError as e:  # socket.gaierror is one
        _complain(f"Error: cannot listen on {host}:{port}: {e.strerror or e}")
        raise SystemExit(EXIT_USAGE) from None


# --- status -------------------------------------------------------------------------------


STATUS_ROWS = 50  # subscribers, and undelivered digests, that `status` lists without --all


def _no_database(app: App) -> bool:
    """Whether the database has none of digestbot's tables yet (a SQLite file: is not there)."""
    if not is_postgres(app.db_path):
        return not Path(app.db_path).exists()
    try:
        app.open_store(upgrade=False).close()
    except StoreOutdated as e:
        return e.version == 0
    return False


@cli.command()
@click.option(
    "--all",
    "every",
    is_flag=True,
    help=f"List every subscriber and undelivered digest (else the first {STATUS_ROWS} of each, and how many more).",
)
@pass_app
def status(app: App, every: bool) -> None:
    """Sources (last fetch, last error), subscribers (last digest, next due), undelivered digests.

    Examples:

    \b
      digestbot status
      digestbot status --all
      DIGESTBOT_DB=postgresql://digest@db.example.org/digest digestbot status
    """
    from rich.console import Console
    from rich.table import Table

    # A SQLite file that is not there is not created (with the folders on its way), nor are
    # digestbot's tables in a PostgreSQL database without them: a typo in --db showed an empty
    # database, as if every paper and digest had been lost.
    missing = _no_database(app)
    store, now = (Store(":memory:") if missing and app.config else app.store), now_utc()
    # No markup or emoji codes: the table shows mail servers' and feeds' replies, as they are.
    console = Console(
        highlight=False,
        markup=False,
        emoji=False,
        soft_wrap=False,
        width=200 if not sys.stdout.isatty() else None,
    )

    t = Table(title="Sources", title_justify="left")
    for col in ("source", "type", "last fetch", "last ok", "last new", "failures", "health", "last error"):
        t.add_column(col)
    configured = {s.name for s in app.config.sources}
    stored = {r["name"]: r for r in store.sources()}
    for name in sorted(configured | set(stored)):
        r = stored.get(name, {})
        cfg = app.config.source(name) or (LIKED_API if name == LIKED_SOURCE else None)
        _add_row(
            t,
            name + ("" if cfg else " (not in config)"),
            r.get("type") or next((s.type for s in app.config.sources if s.name == name), ""),
            _ago(r.get("last_fetch_at"), now) or "never",
            _ago(r.get("last_ok_at"), now) or "never",
            str(r.get("last_new") if r.get("last_new") is not None else "-"),
            str(r.get("failures") or 0),
            _health(store, cfg, r, now),
            r.get("last_error")
            or (f"warning: {warning}" if (warning := _last_warning(store, name, r)) else ""),
        )
    console.print(t)

    t = Table(title="Subscribers", title_justify="left")
    for col in ("subscriber", "to", "schedule", "last digest", "next due", "papers sent", "state"):
        t.add_column(col)
    states = store.subscribers(include_inactive=True)
    sent = store.delivery_summary()
    retries = store.retry_times(now=now)
    limit = None if every else STATUS_ROWS
    for state in states[:limit]:
        sub = state.subscriber
        last, count = sent.get(sub.id, (None, 0))
        _add_row(
            t,
            sub.id,
            sub.email or sub.slack or "",
            f"{sub.schedule} ({sub.timezone})",
            _ago(last.isoformat() if last else None, now) or "never",
            _next_due(state, now, retries.get(sub.id)),
            str(count),
            _subscriber_state(state),
        )
    console.print(t)
    _more(console, "subscribers", [_subscriber_state(s) for s in states[STATUS_ROWS:] if not every])
    held = store.held(now)
    if held:  # several workers: a claim or lease of a worker that died holds until then
        console.print("Held by workers now (a worker that died holds them until then):")
        for holder, what, until in held:
            shown = f" until {until:%Y-%m-%d %H:%M:%S} UTC" if until else ""
            console.print(escape_controls(f"  {holder} holds {what}{shown}"))

    waiting = sorted(
        (d for state in ("pending", "failed", "unknown") for d in store.digests(status=state)),
        key=lambda d: d.id,
    )
    if waiting:
        t = Table(title="Undelivered digests", title_justify="left")
        for col in ("digest", "subscriber", "status", "created", "attempts", "next try", "last error"):
            t.add_column(col)
        for d in waiting[:limit]:
            _add_row(
                t,
                str(d.id),
                d.subscriber_id,
                d.status,
                _ago(d.created_at.isoformat(), now),
                str(d.attempts),
                f"{d.next_attempt_at:%Y-%m-%d %H:%M} UTC" if d.next_attempt_at else "-",
                d.last_error or "",
            )
        console.print(t)
        _more(console, "undelivered digests", [d.status for d in waiting[STATUS_ROWS:] if not every])
    else:
        console.print("No undelivered digests.")
    env = Env.from_environ()
    email_via = f"SMTP {mask_url(env.smtp_url)}" if env.smtp_url else f"the outbox folder {env.outbox}"
    slack_via = "the Slack API" if env.slack_bot_token else f"the outbox folder {env.outbox}"
    console.print(escape_controls(f"Email digests go to {email_via}; Slack digests to {slack_via}."))
    for warning in _mail_warnings(app, env):
        console.print(f"warning: {warning}")
    if missing:
        store.close()
        console.print(
            f"No database at {escape_controls(app.db_shown)} yet: nothing was fetched or sent with it"
            " (`digestbot init` or `digestbot run --once` creates it; a typo in --db, DIGESTBOT_DB or database:?)."
        )
    else:
        console.print(f"{store.count_papers()} papers in {escape_controls(app.db_shown)}.")


def _subscriber_state(state) -> str:
    sub = state.subscriber
    return "inactive" if not sub.active else "paused" if sub.paused else "active"


def _more(console, what: str, left_out: list[str]) -> None:
    """The line under a table `status` cut: how many rows it left out, by state."""
    if left_out:
        by_state = ", ".join(
            f"{n:,} {s}" for s, n in sorted(Counter(left_out).items(), key=lambda kv: -kv[1])
        )
        console.print(
            f"… and {len(left_out):,} more {what} ({by_state}): digestbot status --all lists every one"
        )


@cli.command()
@click.option(
    "--to",
    "target",
    required=True,
    metavar="URL",
    help="The PostgreSQL database: postgresql://user@host/dbname.",
)
@pass_app
def migrate(app: App, target: str) -> None:
    """Copy this SQLite database (--db) into PostgreSQL, then check the copy.

    Everything is copied (papers, sources, subscribers, the ledger, feedback) in one transaction
    and checked: the same rows in every table, the same ledger. Safe to rerun: rows already
    there are refreshed, nothing is doubled. A target already used by workers is refused.
    Stop `digestbot run` first; afterwards set DIGESTBOT_DB (or `database:`) to the URL.

    Examples:

    \b
      digestbot --db digestbot.db migrate --to postgresql://digest@db.example.org/digest
    """
    from .store.copy import copy_database

    if not is_postgres(target):  # a PostgreSQL database in another notation: the URL to write
        other = other_notation(target)
        raise click.UsageError(
            f"--to: {other}" if other else f"--to must be a postgresql:// URL, not {mask_url(target)!r}"
        )
    try:
        check_database(target, password_allowed=True)
    except ValueError as e:
        raise click.UsageError(f"--to: {e}") from None
    if is_postgres(app.db_path):
        raise click.UsageError(
            "migrate copies a SQLite database: --db (or DIGESTBOT_DB) must name the SQLite file"
        )
    if not Path(app.db_path).exists():
        raise click.UsageError(f"no SQLite database at {app.db_shown}: nothing to migrate")
    # The file itself, not through the config (app.store reads the YAML first): a copy of the
    # database taken elsewhere, or a YAML mid-edit, needs no YAML to be copied. Opened before
    # the target, which opening gives digestbot's tables.
    with Store(app.db_path) as source:
        try:
            destination = Store(target)
        except StoreUrlError as e:
            raise click.UsageError(f"--to: {e}") from None
        shown = destination.path

        def progress(table: str, done: int, total: int) -> None:
            if done == total:
                click.echo(f"  {table}: {total:,} row(s)")

        click.echo(escape_controls(f"Copying {app.db_shown} into {shown}:"))
        try:
            report = copy_database(source, destination, progress)
        finally:
            destination.close()
    click.echo(
        f"Checked: the same rows in all {len(report.counts)} tables, and the same ledger"
        f" ({report.counts['digests']:,} digests, {report.counts['digest_items']:,} papers sent or waiting)."
    )
    click.echo(escape_controls(f"Done. Point digestbot at it: DIGESTBOT_DB={shown}"))


def _add_row(table, *cells: str) -> None:
    """A row of a `status` table, each cell one line of plain text: what a mail server, a feed or
    the Slack API said (a digest's or source's last error) reaches the terminal without its
    control characters (rich prints an escape sequence as it is: `ESC [2J` clears the screen)."""
    table.add_row(*(one_line(c) for c in cells))


def _next_due(state: SubscriberState, now: datetime, retry_at: datetime | None = None) -> str:
    """`now`, the next fire time in the subscriber's zone (not before the retry of a digest that
    waits, at `retry_at`), or what is wrong with their settings; `-` for one paused or no longer
    configured, who gets no digest (the state column says so)."""
    if state.subscriber.paused or not state.subscriber.active:
        return "-"
    try:
        upcoming = held_until(_upcoming(state, now), retry_at)
    except ValueError as e:  # stored before a stricter check; status still shows everyone
        return f"? ({e})"
    if upcoming is None:
        return ""
    if upcoming <= now:
        return "now"
    return f"{upcoming.astimezone(get_timezone(state.subscriber.timezone)):%a %d %b %H:%M} {state.subscriber.timezone}"


def _upcoming(state: SubscriberState, now: datetime) -> datetime | None:
    """When the subscriber's next digest is due (the epoch for one never run: at once); None for
    a schedule that never fires again. Raises ValueError for a schedule or zone it cannot read."""
    if state.last_run_at is None:
        return datetime.min.replace(tzinfo=UTC)
    return next_due(
        parse_schedule(state.subscriber.schedule),
        get_timezone(state.subscriber.timezone),
        state.last_run_at,
        state.schedule_moved,
        now,
    )


def _not_due(store: Store, ids: list[str], now: datetime) -> list[str]:
    """Why a send asked for these subscribers sent them nothing: a digest waiting to be retried,
    or their next scheduled time, as `status` shows it."""
    states = {s.subscriber.id: s for s in store.subscribers(ids=ids)}
    retries = store.retry_times(now=now)
    lines = []
    for sid in ids:
        retry = retries.get(sid)
        if retry is not None and retry > now:
            lines.append(
                f"  {sid}: a digest waits to be retried at {retry:%Y-%m-%d %H:%M} UTC (--force retries it now)"
            )
        elif sid in states and (due := _next_due(states[sid], now, retry)) not in ("", "now"):
            lines.append(f"  {sid}: not due now; next: {due} (--force sends it now)")
    return lines


def _soonest(store: Store, now: datetime) -> str:
    """Who is due next and when, as `status` shows it ("" when no one ever is)."""
    due = []
    retries = store.retry_times(now=now)
    for state in store.subscribers():
        try:
            upcoming = held_until(_upcoming(state, now), retries.get(state.subscriber.id))
        except ValueError:
            continue
        if upcoming is not None and not state.subscriber.paused:  # subscribers(): the active ones
            due.append((upcoming, state.subscriber.id, state))
    if not due:
        return ""
    _, sid, state = min(due, key=lambda d: (d[0], d[1]))
    return f"{sid} ({_next_due(state, now, retries.get(sid))})"


def _ago(iso: str | None, now: datetime) -> str:
    if not iso:
        return ""
    when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = int((now - when).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} ago"
    return "just now"


_process_ends_with_command = False  # set by main(); not when a test invokes `cli` in-process


class _OutputGoneOk(io.RawIOBase):
    """A standard stream's file descriptor whose reader may leave: once a write finds the pipe
    closed (`digestbot run --once | grep -q FAILED` after grep's match) or the terminal hung up
    (EIO: the ssh session dropped), or the output cannot take more (a log file's full disk), the
    descriptor is pointed at /dev/null and the command goes on. Printing is a report of the work,
    never a reason to stop it halfway (click exited 1 at the first line that found the pipe
    gone). A descriptor that would block (EAGAIN) is not gone: that error stays."""

    def __init__(self, fd: int):
        super().__init__()
        self.fd = fd

    def writable(self) -> bool:
        return True

    def fileno(self) -> int:
        return self.fd

    def isatty(self) -> bool:
        return os.isatty(self.fd)

    def write(self, data) -> int:
        try:
            return os.write(self.fd, data)
        except BlockingIOError:
            raise
        except OSError:
            _to_devnull(self.fd)
            return len(data)


def _to_devnull(fd: int) -> None:
    devnull = os.open(os.devnull, os.O_WRONLY)
    if devnull != fd:  # fd was closed: open() took its number
        os.dup2(devnull, fd)
        os.close(devnull)


def _steady_streams() -> None:
    """stdout and stderr that take every write: a closed descriptor (`>&-`, which leaves
    sys.stdout None) becomes /dev/null (else the next file opened would take its number, and
    what is printed would land in it), a pipe whose reader left swallows what follows, and a
    character the terminal's encoding lacks (a title's `…` on latin-1) is shown as `?`
    instead of ending the command with UnicodeEncodeError."""
    for fd, name in ((1, "stdout"), (2, "stderr")):
        try:
            os.fstat(fd)
        except OSError:
            _to_devnull(fd)
        old = getattr(sys, name)
        errors = getattr(old, "errors", None) or "strict"
        stream = io.TextIOWrapper(
            io.BufferedWriter(_OutputGoneOk(fd)),
            encoding=getattr(old, "encoding", None) or "utf-8",
            errors="replace" if errors == "strict" else errors,
            line_buffering=True,
        )
        setattr(sys, name, stream)


def main() -> None:
    global _process_ends_with_command
    _process_ends_with_command = True
    _steady_streams()
    cli(prog_name="digestbot")
