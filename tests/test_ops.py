"""Operations hardening (issue 9, round 2): locks, secrets, timezones, templates, YAML, SMTP stalls.

Real parts on loopback: CLI processes, a raw socket server that never answers, the WSGI app.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import http.client
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from click.testing import CliRunner
from helpers import (
    FeedPaper,
    QuietHandler,
    db_dump,
    digestbot,
    http_server,
    ledger,
    not_due_soon,
    subscriber,
    write_feed,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_daemon import spawn  # noqa: F401  (a fixture)
from test_hostile import call, signed, web_app  # noqa: F401  (web_app is a fixture)

from digestbot.cli import cli
from digestbot.config import Env
from digestbot.delivery.email import SmtpSettings
from digestbot.lock import LockHeld, runner_lock, sender_lock
from digestbot.schedule import ScheduleError, get_timezone
from digestbot.store import Store
from digestbot.text import mask_url


def argv(workdir, *args: str, db: Path | None = None) -> list[str]:
    """The command line of a `python -m digestbot` process on the workdir's config and database."""
    options = ["--config", str(workdir.config), "--db", str(db or workdir.db)]
    return [sys.executable, "-m", "digestbot", *options, *args]


# --- 7. one sender per database file, however its path is spelled -------------------------------


@pytest.fixture
def db_spellings(tmp_path: Path) -> dict[str, Path]:
    """One database file under several names: its real path, a symlink, a detour, a linked folder."""
    real = tmp_path / "data" / "digestbot.db"
    real.parent.mkdir()
    real.touch()
    (tmp_path / "link.db").symlink_to(real)
    (tmp_path / "linked-data").symlink_to(real.parent, target_is_directory=True)
    (tmp_path / "other").mkdir()
    return {
        "real": real,
        "symlink": tmp_path / "link.db",
        "detour": tmp_path / "other" / ".." / "data" / "digestbot.db",
        "linked-folder": tmp_path / "linked-data" / "digestbot.db",
    }


@pytest.mark.parametrize("kind", ["sender", "runner"])
@pytest.mark.parametrize("spelling", ["symlink", "detour", "linked-folder", "relative"])
def test_the_lock_follows_the_database_file_not_its_spelling(db_spellings, monkeypatch, kind, spelling):
    make = sender_lock if kind == "sender" else runner_lock
    if spelling == "relative":
        monkeypatch.chdir(db_spellings["real"].parent)
        other = Path("digestbot.db")
    else:
        other = db_spellings[spelling]
    holder = make(db_spellings["real"])
    holder.acquire()
    try:
        with pytest.raises(LockHeld, match=rf"pid {os.getpid()}"):
            make(other).acquire(wait=0)
    finally:
        holder.release()
    second = make(other)
    second.acquire(wait=0)  # free again once the first let go
    second.release()


def test_send_through_a_symlink_waits_for_the_sender_on_the_real_path(workdir, monkeypatch, smtp_server):
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2501.00001", "Imitation learning", "Imitation learning.")]
    )
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n", subscriber("alice", "imitation")
    )
    workdir.use_smtp(smtp_server.url)
    digestbot(workdir, "fetch")
    link = workdir.path / "alias.db"
    link.symlink_to(workdir.db)
    monkeypatch.setattr("digestbot.cli.SENDER_WAIT", 0.2)

    holder = sender_lock(workdir.db)
    holder.acquire()
    try:
        result = CliRunnerWithDb(workdir, link).invoke("send", expect=1)
    finally:
        holder.release()

    assert re.search(r"another digestbot process \(pid \d+\) is sending", result.output)
    assert smtp_server.messages == []
    assert ledger(workdir.db) == []


def test_a_scheduler_through_a_symlink_refuses_to_start_beside_one_on_the_real_path(workdir):
    workdir.write_config("", subscriber("alice", "imitation"))
    link = workdir.path / "alias.db"
    link.symlink_to(workdir.db)
    holder = runner_lock(workdir.db)
    holder.acquire()
    try:
        proc = subprocess.run(
            argv(workdir, "run", db=link),
            cwd=workdir.path,
            capture_output=True,
            text=True,
            timeout=30,
        )
    finally:
        holder.release()
    assert proc.returncode == 2, proc.stderr
    assert f"another digestbot process (pid {os.getpid()}) is running the scheduler" in proc.stderr


class CliRunnerWithDb:
    """The real CLI on the workdir's config, with the database given as `db`."""

    def __init__(self, workdir, db: Path):
        self.workdir, self.db = workdir, db

    def invoke(self, *args: str, expect: int = 0):
        from click.testing import CliRunner

        from digestbot.cli import cli

        result = CliRunner().invoke(cli, ["--config", str(self.workdir.config), "--db", str(self.db), *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise result.exception
        assert result.exit_code == expect, f"exit {result.exit_code}, wanted {expect}:\n{result.output}"
        return result


# --- 14. timezones that are not zone files ----------------------------------------------------------

ODD_ZONES = {
    "folder": "America/Argentina",
    "long": "Europe/" + "x" * 300,
    "nul": "Europe/Ber\x00lin",
    "dotdot": "Europe/../UTC",
    "absolute": "/etc/localtime",
    "trailing-slash": "Europe/Berlin/",
    "empty-part": "Europe//Berlin",
    "dot": ".",
}


@pytest.mark.parametrize("case", list(ODD_ZONES))
def test_get_timezone_says_unknown_timezone_for_anything_that_is_not_a_zone(case):
    with pytest.raises(ScheduleError, match="unknown timezone"):
        get_timezone(ODD_ZONES[case])


@pytest.mark.parametrize("case", ["folder", "long", "dotdot", "absolute", "trailing-slash"])
def test_check_reports_an_odd_timezone_as_unknown(workdir, case):
    zone = ODD_ZONES[case]
    workdir.write_config("", subscriber("alice", "imitation") + f"  timezone: '{zone}'\n")
    result = digestbot(workdir, "check", expect=2)
    assert re.search(r"subscriptions\.yaml:\d+: subscribers\[0\]\.timezone: unknown timezone", result.output)
    assert "Traceback" not in result.output


@pytest.mark.parametrize("zone", ["America/Argentina", "Europe/" + "x" * 300], ids=["folder", "long"])
def test_digest_schedule_with_an_odd_timezone_answers_unknown_timezone(web_app, workdir, zone):  # noqa: F811
    from urllib.parse import urlencode

    def command(text: str):
        body = urlencode(
            {"user_id": "U0TZ", "channel_id": "D0TZ", "command": "/digest", "text": text}
        ).encode()
        return call(web_app, "POST", "/slack/commands", body=body, headers=signed(body))

    assert command("subscribe robots").status == 200
    answer = command(f"schedule daily 08:00 {zone}")
    assert answer.status == 200, answer.body[:300]
    assert b"unknown timezone" in answer.body


def test_the_default_zone_of_a_template_date_survives_an_odd_timezone():
    from digestbot.render import _zone

    assert str(_zone("America/Argentina")) == "UTC"


# --- 18. YAML alias bombs and other shapes that blow up a reader ------------------------------------

BILLION_LAUGHS = """\
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""

MERGE_BOMB = "a0: &a0 {x: 1, y: 2}\n" + "".join(
    f"a{n}: &a{n} {{<<: [*a{n - 1}, *a{n - 1}, *a{n - 1}, *a{n - 1}]}}\n" for n in range(1, 30)
)

HOSTILE_YAML = {
    "billion-laughs": (BILLION_LAUGHS, r":\d+: yaml: too many aliases"),
    "merge-bomb": (MERGE_BOMB, r":\d+: yaml: too many aliases"),
    "recursive-alias": ("a: &a [1, *a]\n", r":\d+: yaml: too many aliases"),
    "deeply-nested": ("a: " + "[" * 50_000 + "]" * 50_000 + "\n", r":\d+: yaml: nested too deeply"),
}


@pytest.mark.parametrize("case", list(HOSTILE_YAML))
def test_check_refuses_yaml_that_expands_without_bound(workdir, case):
    text, message = HOSTILE_YAML[case]
    workdir.config.write_text(text, encoding="utf-8")
    proc = subprocess.run(
        argv(workdir, "check"),
        cwd=workdir.path,
        capture_output=True,
        text=True,
        timeout=20,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert re.search(message, proc.stderr), proc.stderr
    assert "Traceback" not in proc.stderr
    assert not workdir.db.exists()


def test_a_few_aliases_are_still_fine(workdir):
    workdir.write_config(
        "",
        "- id: alice\n  email: alice@example.org\n  keywords: &kw [imitation learning, robot*]\n"
        f"  schedule: {not_due_soon()}\n"
        "- id: bob\n  email: bob@example.org\n  keywords: *kw\n",
    )
    result = digestbot(workdir, "check")
    assert "2 subscriber(s)" in result.output


# --- shared helpers ---------------------------------------------------------------------------------


class StallingServer:
    """A TCP server on loopback that accepts connections and never says a word."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.accepted: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        self.sock.settimeout(0.05)
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted.append(conn)

    @property
    def connections(self) -> int:
        return len(self.accepted)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for conn in self.accepted:
            conn.close()
        self.sock.close()


@pytest.fixture
def stalling_server() -> Iterator[StallingServer]:
    server = StallingServer()
    yield server
    server.close()


# --- 9. the SMTP password never shows -----------------------------------------------------------

PASSWORD_CHARS = st.characters(min_codepoint=33, max_codepoint=126) | st.sampled_from("äø€")
passwords = st.text(PASSWORD_CHARS, min_size=6, max_size=24).map(lambda p: "Pw" + p)


@given(password=passwords, user=st.sampled_from(["", "digest", "digest@example.org"]))
@settings(max_examples=300, deadline=None)
def test_mask_url_hides_any_password(password, user):
    for written in (password, quote(password, safe="")):
        url = f"smtp://{user}:{written}@mail.example.org:587"
        masked = mask_url(url)
        assert password not in masked and written not in masked, masked
        assert masked.endswith("mail.example.org:587")


@pytest.mark.parametrize("char", ["/", "?", "#"])
def test_an_smtp_url_with_an_unencoded_special_character_is_refused_without_echoing_it(workdir, char):
    password = f"Secret{char}Pass99"
    workdir.write_config("", subscriber("alice", "imitation"))
    workdir.use_smtp(f"smtp://digest:{password}@127.0.0.1:2525")

    for command in (["check"], ["send"], ["run", "--once"]):
        result = digestbot(workdir, *command, expect=2)
        assert "environment: DIGESTBOT_SMTP_URL" in result.output, result.output
        assert "percent-encode" in result.output
        assert password not in result.output and "Secret" not in result.output
    with pytest.raises(ValueError) as refused:
        SmtpSettings.from_url(f"smtp://digest:{password}@127.0.0.1:2525")
    assert "Secret" not in str(refused.value)

    status = digestbot(workdir, "status")
    assert "Secret" not in status.output and "digest:***@127.0.0.1:2525" in status.output


def test_an_unencoded_at_sign_in_the_user_info_is_clear_and_accepted():
    found = SmtpSettings.from_url("smtp://digest@example.org:p@ss:word@mail.example.org:2525")
    assert (found.username, found.password, found.host, found.port) == (
        "digest@example.org",
        "p@ss:word",
        "mail.example.org",
        2525,
    )
    assert mask_url("smtp://digest@example.org:p@ss:word@mail.example.org:2525") == (
        "smtp://digest@example.org:***@mail.example.org:2525"
    )


def test_a_percent_encoded_password_reaches_the_server_decoded():
    settings_ = SmtpSettings.from_url("smtp://digest%40example.org:Se%2Fcr%3Fet%23%40@mail.example.org")
    assert (settings_.username, settings_.password) == ("digest@example.org", "Se/cr?et#@")
    assert (settings_.host, settings_.port, settings_.starttls) == ("mail.example.org", 587, "require")
    assert "Se" not in settings_.describe().split("@")[0].split(":", 1)[-1]


@pytest.mark.parametrize(
    "url",
    [
        "smtp://mail.example.org:99999",
        "smtp://mail.example.org:port",
        "smtp://",
        "smtp://:pw@",
        "http://mail.example.org",
        "smtp://mail example.org",
        "smtp://mail.example.org/path?x=1",
    ],
)
def test_malformed_smtp_urls_are_refused(url):
    with pytest.raises(ValueError, match="DIGESTBOT_SMTP_URL"):
        SmtpSettings.from_url(url)
    assert Env(smtp_url=url).problems()


@pytest.fixture(scope="module")
def closed_port() -> int:
    from conftest import free_port

    return free_port()


@given(password=passwords, encoded=st.booleans())
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_no_output_or_log_line_holds_the_smtp_password(workdir, closed_port, password, encoded):
    written = quote(password, safe="") if encoded else password
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2501.00001", "Imitation learning", "Imitation learning.")]
    )
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n", subscriber("alice", "imitation")
    )
    workdir.use_smtp(f"smtp://digest:{written}@127.0.0.1:{closed_port}")
    outputs = []
    for command, codes in (
        (["check"], (0, 2)),
        (["fetch"], (0,)),
        (["-vv", "send", "--force"], (1, 2)),
        (["-vv", "run", "--once"], (0, 1, 2)),
        (["status"], (0,)),
    ):
        result = CliRunner().invoke(cli, ["--config", str(workdir.config), "--db", str(workdir.db), *command])
        assert result.exit_code in codes, (command, result.output)
        outputs.append(result.output + (repr(result.exception) if result.exception else ""))
    with Store(workdir.db) as store:
        outputs += [d.last_error or "" for d in store.digests()]
    for out in outputs:
        assert password not in out and written not in out, out


FEED_TOKEN = "f33d-t0ken-kept-private"


class _TokenFeed(QuietHandler):
    """A private feed: its url carries an access token; a redirect keeps it in the query."""

    def do_GET(self):
        if self.path.startswith("/old"):
            self.send_response(302)
            self.send_header("Location", self.path.replace("/old", "/feed", 1))
            self.end_headers()
            return
        self.send_body(b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title></channel></rss>')


def test_debug_output_never_shows_a_feeds_token(workdir):
    # `-vv` turns on urllib3's debug lines, which print each request's path with its query:
    # a private feed's `?token=…` was in the output people paste into bug reports.
    with http_server(_TokenFeed) as root:
        workdir.write_config(
            f"- name: private\n  type: rss\n  url: {root}/old?token={FEED_TOKEN}\n", subscriber("alice", "x")
        )
        result = CliRunner().invoke(
            cli, ["--config", str(workdir.config), "--db", str(workdir.db), "-vv", "fetch"]
        )
    assert result.exit_code == 0, result.output
    assert "GET /old?" in result.output and "GET /feed?" in result.output  # the debug lines are there
    assert FEED_TOKEN not in result.output, result.output


# --- 11, 12. `digestbot serve`: slow clients, malformed bodies, forged log lines -------------------

SIGNING = "ops-signing-secret"


def _limit_open_files(soft: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_NOFILE, (soft, resource.getrlimit(resource.RLIMIT_NOFILE)[1]))


class Served:
    """A real `digestbot serve` process on a free loopback port."""

    def __init__(self, workdir, *options: str, open_files: int | None = None):
        """`open_files`: the process's soft limit on open files (ulimit -n)."""
        from conftest import free_port

        self.port = free_port()
        env = {**os.environ, "SLACK_SIGNING_SECRET": SIGNING}
        self.popen = subprocess.Popen(
            argv(workdir, "serve", "--port", str(self.port), *options),
            cwd=workdir.path,
            env=env,
            stderr=subprocess.PIPE,
            text=True,
            preexec_fn=(lambda: _limit_open_files(open_files)) if open_files else None,
        )
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        deadline = time.monotonic() + 15
        while not any("serving on" in line for line in self.lines):
            assert self.popen.poll() is None, "".join(self.lines)
            assert time.monotonic() < deadline, "".join(self.lines)
            time.sleep(0.02)

    def _read(self) -> None:
        for line in self.popen.stderr:
            self.lines.append(line)

    def request(self, method: str, path: str, body: bytes = b"", headers=None, timeout: float = 5.0):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def stop(self) -> str:
        """SIGTERM it, check it stopped cleanly (exit 0), and return what it logged."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(5)
        self._reader.join(5)
        assert self.popen.returncode == 0, "".join(self.lines)
        return "".join(self.lines)


@pytest.fixture
def served(workdir) -> Iterator[Callable[..., Served]]:
    workdir.write_config("", subscriber("alice", "imitation"))
    digestbot(workdir, "sync")
    started: list[Served] = []

    def start(*options: str, open_files: int | None = None) -> Served:
        started.append(Served(workdir, *options, open_files=open_files))
        return started[-1]

    yield start
    for server in started:
        server.stop()


def slack_signed(body: bytes) -> dict[str, str]:
    """Slack's v0 signature over raw bytes (slack-sdk's helper wants text)."""
    timestamp = str(int(time.time()))
    digest = hmac.new(SIGNING.encode(), b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": "v0=" + digest.hexdigest(),
        "Content-Type": "application/json",
    }


def test_150_idle_connections_do_not_starve_healthz(served):
    server = served()
    idle = []
    try:
        for n in range(150):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
            if n % 2:  # half say nothing, half start a request and never finish it
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            idle.append(sock)
        status, body = server.request("GET", "/healthz", timeout=5)
        assert (status, json.loads(body)) == (200, {"status": "ok"})
    finally:
        for sock in idle:
            sock.close()


def test_the_connection_limit_stays_under_the_open_files_limit(served):
    server = served("--connection-limit", "5000", open_files=200)
    log = "".join(server.lines)
    assert "open-files limit (200, ulimit -n) allows: using 136" in log
    assert "at most 136 connections" in log
    assert server.request("GET", "/healthz")[0] == 200


def test_serve_takes_its_limits_as_options(workdir, served):
    result = digestbot(workdir, "serve", "--help")
    for option in ("--threads", "--connection-limit", "--channel-timeout"):
        assert option in result.output

    server = served("--threads", "3", "--connection-limit", "40", "--channel-timeout", "1")
    assert "3 threads, at most 40 connections" in "".join(server.lines)
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=10)
    try:
        started = time.monotonic()
        assert idle.recv(1) == b""  # the server closed the idle connection
        assert time.monotonic() - started < 5  # after about 1 s, not the default 30 s
    finally:
        idle.close()
    assert server.request("GET", "/healthz")[0] == 200


MALFORMED_EVENTS = {
    "nested-arrays": b"[" * 30_000 + b"]" * 30_000,  # all within the 64 KiB body limit
    "nested-objects": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "huge-number": b'{"type": "url_verification", "challenge": ' + b"9" * 60_000 + b"}",
    "bad-utf8": b'{"type": "url_verification", "challenge": "\xff\xfe"}',
    "not-an-object": b'"url_verification"',
    "a-list": b'[{"type": "url_verification"}]',
    "challenge-not-text": b'{"type": "url_verification", "challenge": {"x": [1, 2]}}',
    "nan": b'{"type": "url_verification", "challenge": NaN}',
}


def test_malformed_signed_event_bodies_get_a_4xx_and_no_traceback(served):
    server = served()
    for case, body in MALFORMED_EVENTS.items():
        status, answer = server.request("POST", "/slack/events", body=body, headers=slack_signed(body))
        assert 400 <= status < 500 or (status == 200 and b"Traceback" not in answer), (case, status, answer)
        assert status != 500, (case, answer)
    log = server.stop()
    assert "Traceback" not in log and "RecursionError" not in log, log


def test_request_text_cannot_forge_a_log_line(served):
    server = served()
    server.request("GET", "/nowhere%0AFORGED-path%0D%0AFORGED-cr")
    server.request("GET", "/unsubscribe?t=%0AFORGED-query")
    form = urlencode(
        {"user_id": "U0LOG", "channel_id": "D0LOG", "command": "/digest", "text": "list\nFORGED-command"}
    ).encode()
    headers = {**slack_signed(form), "Content-Type": "application/x-www-form-urlencoded"}
    status, _ = server.request("POST", "/slack/commands", body=form, headers=headers)
    assert status == 200
    log = server.stop()
    assert "FORGED-path" in log and "FORGED-command" in log  # the requests were logged
    for line in log.splitlines():
        assert not line.startswith("FORGED"), log
        assert "\r" not in line, log


# --- 17. SIGTERM storms -------------------------------------------------------------------------

SLOW_CONFIG_LOAD = """
import sys, time
import digestbot.cli
_load = digestbot.cli.load_config
def _slow_load(path):
    print("loading the config", file=sys.stderr, flush=True)
    time.sleep(0.5)
    return _load(path)
digestbot.cli.load_config = _slow_load
"""


def catches_sigterm(pid: int) -> bool:
    """Whether the process has a handler for SIGTERM (Linux: the SigCgt mask in /proc)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    mask = int(re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M).group(1), 16)
    return bool(mask & (1 << (signal.SIGTERM - 1)))


def storm(proc, start: Callable[[], bool], limit: float = 20.0) -> int:
    """Once `start()` holds, SIGTERM the process every 2 ms until it exits; its exit code."""
    deadline = time.monotonic() + limit
    while not start():
        assert proc.popen.poll() is None, proc.output
        assert time.monotonic() < deadline, proc.output
        time.sleep(0.001)
    sent = 0
    while proc.popen.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(ProcessLookupError):
            proc.signal(signal.SIGTERM)
            sent += 1
        time.sleep(0.002)
    assert sent >= 1
    return proc.finish(10)


@pytest.fixture
def daemon_workdir(workdir):
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2501.00001", "Imitation learning", "Imitation learning.")]
    )
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n", subscriber("alice", "imitation")
    )
    return workdir


def test_a_sigterm_storm_while_run_loads_its_config_ends_in_exit_0(daemon_workdir, spawn):  # noqa: F811
    proc = spawn("run", prelude=SLOW_CONFIG_LOAD)
    rc = storm(proc, lambda: "loading the config" in proc.output)
    assert rc == 0, proc.output
    assert "received SIGTERM" in proc.output
    assert proc.output.count("received SIGTERM") == 1  # logged once, not once per signal


def test_a_sigterm_storm_from_the_first_handler_through_shutdown_ends_in_exit_0(daemon_workdir, spawn):  # noqa: F811
    for _ in range(3):  # the window at exit is narrow: try it a few times
        proc = spawn("run")
        rc = storm(proc, lambda proc=proc: catches_sigterm(proc.pid))
        assert rc == 0, proc.output


def test_a_sigterm_storm_during_a_working_run_finishes_it_and_exits_0(daemon_workdir, spawn):  # noqa: F811
    proc = spawn("run")
    proc.wait_for(r"digest \d+ to alice: 1 papers")
    rc = storm(proc, lambda: True)
    assert rc == 0, proc.output
    assert proc.stderr[-1].rstrip().endswith("stopped")
    assert [d.status for d in ledger(daemon_workdir.db)] == ["sent"]


def test_sigterm_stops_run_once_between_digests_and_exits_0(daemon_workdir, spawn):  # noqa: F811
    proc = spawn("run", "--once", prelude=SLOW_CONFIG_LOAD)
    rc = storm(proc, lambda: "loading the config" in proc.output)
    assert rc == 0, proc.output


class Trickle(http.server.BaseHTTPRequestHandler):
    """Answers 200 and then one byte every 0.2 s, forever: no read timeout ever fires."""

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/rss+xml")
        self.end_headers()
        self.server.started.set()
        with contextlib.suppress(OSError):
            while not self.server.closing.is_set():
                self.wfile.write(b" ")
                self.wfile.flush()
                time.sleep(0.2)

    def log_message(self, *args):
        pass


@pytest.fixture
def trickling_feed() -> Iterator[http.server.ThreadingHTTPServer]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    server.started, server.closing = threading.Event(), threading.Event()
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.closing.set()
    server.shutdown()
    server.server_close()


def test_sigterm_stops_run_within_seconds_while_a_fetch_trickles(workdir, spawn, trickling_feed):  # noqa: F811
    url = f"http://127.0.0.1:{trickling_feed.server_address[1]}/feed.xml"
    workdir.write_config(f"- name: slow\n  type: rss\n  url: {url}\n", subscriber("alice", "imitation"))
    proc = spawn("run")
    assert trickling_feed.started.wait(15), proc.output

    proc.signal(signal.SIGTERM)

    assert proc.finish(10) == 0, proc.output
    assert proc.stderr[-1].rstrip().endswith("stopped")


# --- 16. a stalled or refusing SMTP server costs one timeout per run --------------------------------

CROWD = [f"s{n:02d}" for n in range(20)]


@pytest.fixture
def twenty_due(workdir):
    """20 email subscribers, each due with one matching paper; SMTP timeouts of half a second."""
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2501.00001", "Imitation learning", "Imitation learning.")]
    )
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n",
        "".join(subscriber(sid, "imitation") for sid in CROWD),
    )
    workdir.monkeypatch.setenv("DIGESTBOT_SMTP_TIMEOUT", "0.5")
    digestbot(workdir, "fetch")
    return workdir


def assert_all_kept(workdir, reason: str) -> None:
    digests = ledger(workdir.db)
    assert sorted(d.subscriber_id for d in digests) == CROWD
    assert {d.status for d in digests} == {"pending"}
    for d in digests:
        assert re.search(reason, d.last_error or ""), d.last_error
        assert "not tried again this run" in d.last_error
        assert d.next_attempt_at is not None


def test_a_stalled_smtp_server_is_tried_once_per_run_not_once_per_digest(twenty_due, stalling_server):
    twenty_due.use_smtp(f"smtp://127.0.0.1:{stalling_server.port}")

    result = digestbot(twenty_due, "send", expect=1)

    assert 1 <= stalling_server.connections <= 2, stalling_server.connections
    assert_all_kept(
        twenty_due,
        r"cannot reach SMTP server smtp://127\.0\.0\.1:\d+: unavailable \(stalled at \d\d:\d\d UTC\)",
    )
    assert "Digests: 0 sent, 20 failed" in result.output
    before = stalling_server.connections
    digestbot(twenty_due, "send", "--force", expect=1)  # the next run tries the server again
    assert before < stalling_server.connections <= before + 2


def test_a_refusing_smtp_server_is_tried_once_per_run(twenty_due, closed_smtp_url):
    twenty_due.use_smtp(closed_smtp_url)
    digestbot(twenty_due, "send", expect=1)
    assert_all_kept(twenty_due, r"unavailable \(connection refused at \d\d:\d\d UTC\)")


class BusyServer(StallingServer):
    """Turns every connection away with `421 too busy`: at once, or after greeting, at EHLO."""

    def __init__(self, at_ehlo: bool) -> None:
        self.at_ehlo = at_ehlo
        super().__init__()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted.append(conn)
            with contextlib.suppress(OSError):
                if self.at_ehlo:
                    conn.sendall(b"220 mail.example.org ESMTP\r\n")
                    conn.recv(1024)
                conn.sendall(b"421 4.3.2 too busy, try later\r\n")
                conn.close()

    def close(self) -> None:
        self.sock.close()
        self._thread.join(5)


@pytest.mark.parametrize("at_ehlo", [False, True], ids=["greeting", "ehlo"])
def test_a_server_answering_4xx_on_connect_is_tried_once_per_run(twenty_due, at_ehlo):
    busy = BusyServer(at_ehlo)
    try:
        twenty_due.use_smtp(f"smtp://127.0.0.1:{busy.port}")
        digestbot(twenty_due, "send", expect=1)
        assert busy.connections == 1
    finally:
        busy.close()
    assert_all_kept(twenty_due, r"unavailable \(answered 421 4\.3\.2 too busy, try later at \d\d:\d\d UTC\)")


def test_a_working_server_still_gets_every_digest_over_one_connection(twenty_due, smtp_server):
    twenty_due.use_smtp(smtp_server.url)
    digestbot(twenty_due, "send")
    assert sorted(to for m in smtp_server.messages for to in m.rcpt_tos) == sorted(
        f"{sid}@example.org" for sid in CROWD
    )
    assert smtp_server.connections == 1


@pytest.mark.parametrize("value", ["soon", "0", "-1", "1e9"])
def test_a_bad_smtp_timeout_is_an_environment_error(workdir, value):
    workdir.write_config("", subscriber("alice", "imitation"))
    workdir.monkeypatch.setenv("DIGESTBOT_SMTP_TIMEOUT", value)
    result = digestbot(workdir, "check", expect=2)
    assert "environment: DIGESTBOT_SMTP_TIMEOUT" in result.output


# --- 15. templates are checked before anything is sent --------------------------------------------

BROKEN_TEMPLATES = {
    "syntax-html": (
        "digest.html",
        "<p>{% for p in papers %}{{ p.title }}</p>\n",
        r"digest\.html:1: template: ",
    ),
    "syntax-subject": ("digest.subject.txt", "{{ total }\n", r"digest\.subject\.txt:1: template: "),
    "undefined-name": (
        "digest.txt",
        "Hello\n{{ subscriber.id }}\n{{ no_such_thing }}\n",
        r"digest\.txt:3: template: 'no_such_thing' is undefined",
    ),
    "undefined-field": (
        "digest.txt",
        "{% for p in papers %}\n{{ p.doi }}\n{% endfor %}\n",
        r"digest\.txt:2: template: .*'doi'",
    ),
    "slack-not-json": (
        "digest.slack.json",
        "{{ total }} papers\n",
        r"digest\.slack\.json:\d+: template: .*JSON",
    ),
    "slack-syntax": ("digest.slack.json", "{% if %}\n", r"digest\.slack\.json:1: template: "),
}


@pytest.fixture
def own_templates(workdir):
    """A subscriber due with a matching paper, and a `templates:` folder of the user's own."""
    folder = workdir.path / "mytemplates"
    folder.mkdir()
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2501.00001", "Imitation learning", "Imitation learning.")]
    )
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n",
        subscriber("alice", "imitation"),
        extra_yaml="templates: mytemplates",
    )
    digestbot(workdir, "fetch")
    return folder


@pytest.mark.parametrize("case", list(BROKEN_TEMPLATES))
def test_check_preview_and_send_report_a_broken_template_with_its_line(workdir, own_templates, case):
    name, text, message = BROKEN_TEMPLATES[case]
    (own_templates / name).write_text(text, encoding="utf-8")
    before = db_dump(workdir.db)

    for command in (["check"], ["preview", "alice"], ["send", "--dry-run"], ["send"], ["run", "--once"]):
        result = digestbot(workdir, *command, expect=2)
        assert re.search(message, result.output), (command, result.output)
        assert str(own_templates / name) in result.output
        assert "Traceback" not in result.output
    assert db_dump(workdir.db) == before  # nothing recorded: no digest waits on a broken template
    assert not workdir.outbox.exists() or not list(workdir.outbox.iterdir())


def test_the_default_templates_pass_check_and_render_with_strict_undefined(workdir, own_templates):
    digestbot(workdir, "check")
    for fmt in ("text", "html", "slack"):
        digestbot(workdir, "preview", "alice", "--format", fmt)
    digestbot(workdir, "send")
    [eml] = list(workdir.outbox.glob("*.eml"))
    assert "1 new paper for you" in eml.read_text(encoding="utf-8")


def test_a_template_broken_while_the_worker_runs_keeps_digests_unrecorded(workdir, own_templates, caplog):
    from digestbot.config import load_config
    from digestbot.daemon import Worker

    with Store(workdir.db) as store:
        worker = Worker(load_config(workdir.config), store, Env.from_environ())
        (own_templates / "digest.txt").write_text("{{ nope }}\n", encoding="utf-8")
        with caplog.at_level("ERROR"):
            assert worker.dispatch() == []
        assert store.digests() == []
    assert any("digest.txt:1: template: 'nope' is undefined" in r.getMessage() for r in caplog.records)


def test_a_template_that_fails_on_a_paper_with_few_fields_is_caught_by_check(workdir, own_templates):
    # An arXiv paper has no upvotes: None + 1 fails. `check` renders a sample whose papers carry
    # only a title and a link too, not only one with every field filled.
    (own_templates / "digest.txt").write_text("{{ papers[0].upvotes + 1 }} upvotes\n", encoding="utf-8")
    for command in (["check"], ["preview", "alice"], ["send", "--dry-run"]):
        result = digestbot(workdir, *command, expect=2)
        assert re.search(r"digest\.txt:1: template: unsupported operand", result.output), result.output
        assert "Traceback" not in result.output
    assert ledger(workdir.db) == []


def test_a_template_that_fails_only_on_real_data_is_reported_cleanly_and_kept(workdir, own_templates):
    # Passes on both samples (titles of 36 and 13 characters); the real title has 18.
    (own_templates / "digest.txt").write_text(
        "{{ 100 // (papers[0].title | length - 18) }}\n", encoding="utf-8"
    )
    digestbot(workdir, "check")
    for command in (["preview", "alice"], ["send", "--dry-run"]):
        result = digestbot(workdir, *command, expect=2)
        assert re.search(r"digest\.txt:1: template: integer division", result.output), result.output
        assert "Traceback" not in result.output
    result = digestbot(workdir, "send", expect=1)
    [record] = ledger(workdir.db)
    assert record.status == "pending"  # kept: fixing the template delivers it
    assert re.search(r"digest\.txt:1: template: integer division.*fix the template", record.last_error)


# --- 9/12. what reaches a log line ----------------------------------------------------------------


def formatted(record_args: tuple, exc: BaseException | None = None, environ: dict | None = None) -> str:
    import logging

    from digestbot.logs import SafeFormatter, environment_secrets

    formatter = SafeFormatter("%(levelname)s %(message)s", secrets=environment_secrets(environ or {}))
    record = logging.LogRecord(
        "digestbot.test", logging.WARNING, __file__, 1, "seen %s and %r", record_args, None
    )
    if exc is not None:
        try:
            raise exc
        except BaseException:
            record.exc_info = sys.exc_info()
    return formatter.format(record)


SECRETS = {
    "DIGESTBOT_SECRET": "unsub-S3cret-value",
    "SLACK_BOT_TOKEN": "xoxb-1234-5678-abcdef",
    "SLACK_SIGNING_SECRET": "signing-0123456789",
    "SLACK_APP_TOKEN": "xapp-1-A0-999-zzz",
    "DIGESTBOT_SMTP_URL": "smtp://digest:p%2Fss-W0rd@mail.example.org:587",
}


@pytest.mark.parametrize("name", list(SECRETS))
def test_a_log_line_never_holds_a_secret_from_the_environment(name):
    secret = SECRETS[name] if name != "DIGESTBOT_SMTP_URL" else "p/ss-W0rd"
    line = formatted((f"url?token={secret}", secret), RuntimeError(f"failed with {secret}"), SECRETS)
    assert secret not in line and "***" in line
    assert "W0rd" not in line and "p%2Fss" not in line


def test_control_characters_in_log_arguments_are_escaped():
    line = formatted(("GET /x\nFORGED line\r\x1b[31m", "\u2028next"))
    assert "\n" not in line and "\r" not in line and "\x1b" not in line and "\u2028" not in line
    assert "\\nFORGED line\\r\\x1b[31m" in line


# --- 16, sibling: Slack that is unreachable or refuses the token -----------------------------------


@pytest.fixture
def five_slack_due(workdir):
    write_feed(
        workdir.path / "feed.xml", [FeedPaper("2501.00001", "Imitation learning", "Imitation learning.")]
    )
    workdir.write_config(
        "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n",
        "".join(
            f"- id: ch{n}\n  slack: '#papers-{n}'\n  keywords: [imitation]\n  schedule: {not_due_soon()}\n"
            for n in range(5)
        ),
    )
    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test-token")
    digestbot(workdir, "fetch")
    return workdir


def test_a_revoked_slack_token_is_tried_once_per_run(five_slack_due, slack_api):
    five_slack_due.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)
    slack_api.fail("chat.postMessage", "invalid_auth", times=10)
    digestbot(five_slack_due, "send", expect=1)
    assert len(slack_api.posts) == 1
    digests = ledger(five_slack_due.db)
    assert len(digests) == 5 and {d.status for d in digests} == {"pending"}
    assert all("invalid_auth" in d.last_error for d in digests)
    assert sum("not tried again this run" in d.last_error for d in digests) == 4  # all but the first


def test_an_unreachable_slack_api_is_tried_once_per_run(five_slack_due, closed_port):
    five_slack_due.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", f"http://127.0.0.1:{closed_port}/api/")
    digestbot(five_slack_due, "send", expect=1)
    digests = ledger(five_slack_due.db)
    assert len(digests) == 5 and {d.status for d in digests} == {"pending"}
    assert all("cannot reach the Slack API" in d.last_error for d in digests)
    assert sum("not tried again this run" in d.last_error for d in digests) == 4


@pytest.mark.parametrize("url", ["http://[", "https://[::1", "ftp://digest.example.org", "http://"])
def test_a_malformed_base_url_is_an_environment_error_not_a_crash(workdir, url):
    workdir.write_config("", subscriber("alice", "imitation"))
    workdir.monkeypatch.setenv("DIGESTBOT_BASE_URL", url)
    workdir.monkeypatch.setenv("DIGESTBOT_SECRET", "s3cret-for-links")
    result = digestbot(workdir, "check", expect=2)
    assert "environment: DIGESTBOT_BASE_URL must be an http(s) URL" in result.output
