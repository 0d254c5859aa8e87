"""Faults of the command line found by trying to break it: output that goes nowhere, what a
user typed echoed back, settings from the environment, databases that cannot be one, `--help`.

The output tests run the real `python -m digestbot` in a child process, with its stdout or
stderr a pipe nobody reads any more, or closed: the way `digestbot run --once | grep -q FAILED`
or a process manager leaves them.
"""

from __future__ import annotations

import json
import os
import pty
import re
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from helpers import SOURCES, FeedPaper, digestbot, ledger, subscriber, write_feed

from digestbot.cli import cli
from digestbot.store import Store

ROOT = Path(__file__).resolve().parent.parent


def _papers(n: int = 3) -> list[FeedPaper]:
    return [FeedPaper(f"2401.{i:05d}", f"Robot learning {i}", "A robot learns.") for i in range(1, n + 1)]


def _setup(workdir, subscribers: int = 3) -> None:
    write_feed(workdir.path / "feed.xml", _papers())
    workdir.write_config(SOURCES, "".join(subscriber(f"s{i}", "robot") for i in range(subscribers)))


def _child(workdir, *args: str, stdout=None, stderr=None, shell_redirect: str = ""):
    """`python -m digestbot ARGS` in the workdir; `shell_redirect` (`>&-`) is applied by sh."""
    command = [sys.executable, "-m", "digestbot", "--config", str(workdir.config), "--db", str(workdir.db)]
    command += args
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if shell_redirect:
        quoted = " ".join(f"'{a}'" for a in command)
        command = ["sh", "-c", f"exec {quoted} {shell_redirect}"]
    return subprocess.run(command, cwd=workdir.path, env=env, stdout=stdout, stderr=stderr, timeout=60)


def _closed_pipe() -> int:
    """The write end of a pipe whose reader has gone (as after `| head -1` has read its line)."""
    read, write = os.pipe()
    os.close(read)
    return write


# --- output that goes nowhere -------------------------------------------------------------


def _hung_up_terminal() -> int:
    """A terminal whose other end has gone (an ssh session dropped): writes fail with EIO."""
    master, slave = pty.openpty()
    os.close(master)
    return slave


@pytest.mark.parametrize("gone", [_closed_pipe, _hung_up_terminal])
@pytest.mark.parametrize("args", [("run", "--once"), ("send",)])
def test_a_reader_that_went_away_does_not_stop_the_round(workdir, args, gone):
    """`digestbot run --once | grep -q FAILED`: grep quits at its first match. The next line
    printed raised BrokenPipeError and click exited 1 in silence: the digests not yet sent were
    left for the next run, and `send` stopped after the first. A terminal that hung up (the ssh
    session of `digestbot run --once` dropped) did the same with EIO, and a traceback: exit 120,
    nothing fetched or sent."""
    _setup(workdir)
    if args == ("send",):
        digestbot(workdir, "fetch")
    pipe = gone()
    try:
        done = _child(workdir, *args, stdout=pipe, stderr=subprocess.PIPE)
    finally:
        os.close(pipe)
    assert b"Traceback" not in done.stderr and b"BrokenPipe" not in done.stderr, done.stderr
    assert done.returncode == 0, done.stderr
    assert len(list(workdir.outbox.glob("*.eml"))) == 3  # every subscriber's digest went out


def test_status_into_a_closed_pipe_exits_0_without_a_traceback(workdir):
    _setup(workdir)
    digestbot(workdir, "run", "--once")
    pipe = _closed_pipe()
    try:
        done = _child(workdir, "status", stdout=pipe, stderr=subprocess.PIPE)
    finally:
        os.close(pipe)
    assert done.stderr == b"" and done.returncode == 0


def test_a_closed_stdout_is_no_traceback(workdir):
    """`digestbot status >&-`: sys.stdout is None; status died of `None.isatty()`."""
    _setup(workdir)
    digestbot(workdir, "fetch")
    done = _child(workdir, "status", stderr=subprocess.PIPE, shell_redirect=">&-")
    assert done.stderr == b"" and done.returncode == 0, done.stderr


def test_a_closed_stderr_does_not_stop_the_round(workdir):
    """`digestbot run --once 2>&-` (sys.stderr is None): the progress bar's `isatty()` check
    raised before the first source was fetched, and the traceback went nowhere: exit 1."""
    _setup(workdir)
    done = _child(workdir, "-v", "run", "--once", stdout=subprocess.PIPE, shell_redirect="2>&-")
    assert done.returncode == 0, done.stdout
    assert b"Digests: 3 sent" in done.stdout
    assert len(list(workdir.outbox.glob("*.eml"))) == 3


# --- a terminal that cannot show every character --------------------------------------------


def _unicode_setup(workdir) -> None:
    write_feed(workdir.path / "feed.xml", [FeedPaper("2401.00001", "Robot ünï … 🤖 learning", "A robot.")])
    workdir.write_config(SOURCES, subscriber("s0", "robot") + subscriber("s1", "robot"))
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--subscriber", "s0")


@pytest.mark.parametrize(
    "encoding, args",
    [
        ("ascii", ("status",)),
        ("latin-1", ("preview", "s1")),
        ("latin-1", ("preview", "s1", "--format", "slack")),
        ("latin-1", ("feedback", "s0", "2401.00001", "up")),
    ],
)
def test_a_terminal_without_utf8_shows_what_it_can(workdir, monkeypatch, encoding, args):
    """PYTHONIOENCODING=latin-1 (or a latin-1 locale): a title's `…` or an emoji ended `preview`
    and `feedback` with UnicodeEncodeError; on ascii, `status` (rich writes to sys.stdout as
    it is) did, for an outbox path or an error with a non-ASCII character."""
    _unicode_setup(workdir)
    monkeypatch.setenv("PYTHONIOENCODING", encoding)
    monkeypatch.setenv("DIGESTBOT_OUTBOX", str(workdir.outbox.with_name("outbox-ünï")))
    done = _child(workdir, *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert b"Traceback" not in done.stderr, done.stderr.decode(errors="replace")
    assert done.returncode == 0
    assert b"Robot" in done.stdout or args == ("status",)


def test_preview_json_on_a_terminal_without_utf8_is_still_the_same_json(workdir, monkeypatch):
    _unicode_setup(workdir)
    monkeypatch.setenv("PYTHONIOENCODING", "latin-1")
    done = _child(
        workdir, "preview", "s1", "--format", "json", stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    assert done.returncode == 0, done.stderr
    ranking = json.loads(done.stdout.decode("ascii"))  # every character beyond ASCII escaped
    assert ranking["papers"][0]["title"] == "Robot ünï … 🤖 learning"


# --- what a user typed, echoed back ---------------------------------------------------------

HOSTILE = "x\x1b]0;pwned\x07\x1b[2J\nFAKE: all sent"  # sets the window title, clears the screen


@pytest.mark.parametrize(
    "args",
    [
        ("preview", HOSTILE),
        ("send", "--subscriber", HOSTILE),
        ("feedback", HOSTILE, "2401.00001", "up"),
        ("fetch", "--source", HOSTILE),
        ("preview", "s0", "-o", f"/nonexistent/{HOSTILE}"),
        ("--config", f"/nonexistent/{HOSTILE}.yaml", "check"),
        ("--db", f"nowhere/{HOSTILE}/", "status"),
    ],
)
def test_what_a_user_typed_is_echoed_without_its_control_characters(workdir, args):
    """An id, a source name or a path typed with escape sequences reached the terminal as they
    were (click strips only colour codes, and only when not on a terminal): a window title
    set, a screen cleared, a line forged. They are written as escapes, and still exit 2."""
    _setup(workdir, subscribers=1)
    digestbot(workdir, "fetch")
    if args[0] not in ("--config", "--db"):
        args = ("--config", str(workdir.config), "--db", str(workdir.db), *args)
    result = CliRunner().invoke(cli, list(args), color=True)  # color: as on a terminal
    assert result.exit_code == (0 if "status" in args else 2), result.output
    assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output)
    assert "\nFAKE" not in result.output
    assert "\\x1b" in result.output  # shown, as an escape


def test_status_of_a_database_that_is_not_there_says_so_and_creates_nothing(workdir):
    """`digestbot --db typo.db status` created typo.db (and any folders on its way) and showed
    an empty database: it looked as if every paper and digest had been lost."""
    _setup(workdir, subscribers=1)
    digestbot(workdir, "run", "--once")
    typo = workdir.path / "nowhere" / "digestbot.db"
    result = CliRunner().invoke(cli, ["--config", str(workdir.config), "--db", str(typo), "status"])
    assert result.exit_code == 0
    assert f"No database at {typo} yet: nothing was fetched or sent with it" in result.output
    assert "papers in" not in result.output
    assert not typo.parent.exists()


# --- databases that cannot be one -----------------------------------------------------------


@pytest.mark.parametrize("command", ["check", "status", "fetch"])
@pytest.mark.parametrize("given", ["--db", "DIGESTBOT_DB", "database:"])
def test_a_database_path_that_is_a_folder_is_a_usage_error_check_sees(workdir, monkeypatch, command, given):
    """`--db data` (a folder): `check` said OK, and every other command failed to open it."""
    _setup(workdir, subscribers=1)
    (workdir.path / "data").mkdir()
    args = ["--config", str(workdir.config)]
    if given == "--db":
        args += ["--db", "data"]
    elif given == "DIGESTBOT_DB":
        monkeypatch.setenv("DIGESTBOT_DB", "data")
    else:
        workdir.config.write_text("database: data\n" + workdir.config.read_text(encoding="utf-8"))
    result = CliRunner().invoke(cli, [*args, command])
    assert result.exit_code == 2, result.output
    where = f"{workdir.config}: database" if given == "database:" else given
    shown = workdir.path / "data" if given == "database:" else Path("data")
    assert f"Error: {where}: {shown} is a folder, not a SQLite file" in result.output


def test_a_database_under_a_file_is_a_usage_error_check_sees(workdir):
    _setup(workdir, subscribers=1)
    result = CliRunner().invoke(
        cli, ["--config", str(workdir.config), "--db", "subscriptions.yaml/x.db", "check"]
    )
    assert result.exit_code == 2
    assert "Error: --db: subscriptions.yaml is a file, not a folder" in result.output


# --- settings from the environment ----------------------------------------------------------


@pytest.mark.parametrize(
    "variable, value, args, said",
    [
        ("DIGESTBOT_CONFIG", ".", ["check"], "Invalid value for DIGESTBOT_CONFIG (in the environment): "),
        ("PORT", "eighty", ["serve"], "Invalid value for PORT (in the environment): 'eighty' is not"),
        ("PORT", "0", ["serve"], "Invalid value for PORT (in the environment): 0 is not in the range"),
    ],
)
def test_a_bad_value_from_the_environment_names_the_variable(
    workdir, monkeypatch, variable, value, args, said
):
    """`PORT=eighty digestbot serve` said "Invalid value for '--port'", an option nobody typed."""
    _setup(workdir, subscribers=1)
    monkeypatch.setenv(variable, value)
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 2
    assert said in result.output, result.output
    assert "'--port'" not in result.output and "'--config'" not in result.output


def test_the_same_bad_value_typed_still_names_the_option(workdir):
    result = CliRunner().invoke(cli, ["serve", "--port", "eighty"])
    assert result.exit_code == 2 and "Invalid value for '--port'" in result.output


@pytest.mark.parametrize(
    "variable, value",
    [
        ("DIGESTBOT_BASE_URL", "https://digest.example.org\r"),  # an env file saved on Windows
        ("DIGESTBOT_BASE_URL", "https://digest example.org"),
        ("DIGESTBOT_SLACK_API_URL", "https://slack.com/api/\n"),
        ("SLACK_BOT_TOKEN", "xoxb-1234-abcd\r"),
        ("SLACK_SIGNING_SECRET", "abc def"),
        ("DIGESTBOT_OUTBOX", "outbox\r"),
    ],
)
def test_a_setting_with_a_line_end_in_it_is_refused_by_name(workdir, monkeypatch, variable, value):
    """DIGESTBOT_BASE_URL='https://...\\r' passed `check`, and every digest's unsubscribe links
    (headers and body) carried the CR: broken in every mail; a token's CR breaks every Slack
    call's header. Named, never echoed (a token is a secret), exit 2."""
    _setup(workdir, subscribers=1)
    monkeypatch.setenv("DIGESTBOT_SECRET", "s3cret-for-links")
    monkeypatch.setenv(variable, value)
    for command in ("check", "send"):
        result = digestbot(workdir, command, expect=2)
        assert f"environment: {variable} holds a" in result.output
        assert value.strip() not in result.output or variable == "DIGESTBOT_OUTBOX"
    assert not workdir.outbox.exists() and not list(workdir.path.glob("outbox*"))


def test_an_outbox_under_a_file_is_refused_before_anything_is_sent(workdir, monkeypatch):
    _setup(workdir, subscribers=1)
    monkeypatch.setenv("DIGESTBOT_OUTBOX", str(workdir.config / "outbox"))
    result = digestbot(workdir, "run", "--once", expect=2)
    assert f"DIGESTBOT_OUTBOX must name a folder: {workdir.config} is a file" in result.output


# --- init -----------------------------------------------------------------------------------


def test_the_command_init_suggests_works_on_the_files_it_wrote(workdir):
    """`digestbot --config lab/digest.yaml --db lab/papers.db init` told the user to run
    `digestbot check && digestbot run --once`, which read ./subscriptions.yaml: not found."""
    args = ["--config", "lab/digest.yaml", "--db", "lab/papers.db", "init"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    suggested = result.output.split("Edit it, then run:\n  ")[1].splitlines()[0]
    for command in suggested.split(" && "):
        words = shlex.split(command)
        assert words[0] == "digestbot"
        ran = CliRunner().invoke(cli, words[1:])
        assert ran.exit_code == 0, (command, ran.output)
    assert "sent" in ran.output and (workdir.path / "lab" / "papers.db").exists()
    assert not (workdir.path / "subscriptions.yaml").exists()


def test_init_never_writes_over_a_file_even_a_link_to_nowhere(workdir):
    """A config path that is a symlink whose target is gone: `exists()` is False for it, and
    init wrote its starter through the link; it creates only a file that is not there."""
    target = workdir.path / "elsewhere.yaml"
    (workdir.path / "subscriptions.yaml").symlink_to(target)
    result = CliRunner().invoke(cli, ["init"])
    assert "subscriptions.yaml is a link to a file that is not there; left as it is" in result.output
    assert not target.exists()


# --- --help ---------------------------------------------------------------------------------


def _examples(help_text: str) -> list[list[str]]:
    """The digestbot command lines under `Examples:` (env assignments, pipes and && split off)."""
    block = help_text.split("Examples:\n\n", 1)[1].split("\n\n", 1)[0]
    found = []
    for line in block.splitlines():
        for part in line.replace("&&", "|").split("|"):
            words = shlex.split(part)
            while words and "=" in words[0] and not words[0].startswith("-"):
                words.pop(0)  # DIGESTBOT_DB=... digestbot status
            if words and words[0] == "digestbot":
                found.append(words[1:])
    return found


@pytest.mark.parametrize("command", [None, *sorted(cli.commands)])
def test_every_command_s_help_gives_examples_that_parse(command):
    """`--help` showed options and no example of using them. Every example shown is a command
    line digestbot accepts: its command, options, arguments and choices."""
    result = CliRunner().invoke(cli, [command, "--help"] if command else ["--help"])
    assert result.exit_code == 0
    examples = _examples(result.output)
    assert examples, result.output
    for words in examples:
        at = next(i for i, w in enumerate(words) if w in cli.commands)
        name = words[at]
        assert command in (None, name), words
        if "--help" in words:
            continue
        with cli.make_context("digestbot", words[: at + 1]) as ctx:
            cli.commands[name].make_context(name, words[at + 1 :], parent=ctx)  # raises if it does not parse


# --- a stop signal --------------------------------------------------------------------------


@pytest.mark.parametrize(("stop", "code"), [(signal.SIGTERM, 0), (signal.SIGINT, 130)])
def test_send_stopped_by_a_signal_finishes_the_digest_in_flight(workdir, slow_smtp_server, stop, code):
    """`digestbot send` killed by SIGTERM (systemd, `timeout`, a cron wrapper) died mid-SMTP: the
    server had the message, the ledger said pending, and the next send mailed it again.
    `run --once` already finished the work in flight; `send` now does too, and exits 0 (a
    service's clean stop), or 130 after Ctrl-C (the digests left were not sent: not "done")."""
    slow_smtp_server.handler.delay = 0.5
    _setup(workdir, subscribers=3)
    digestbot(workdir, "fetch")
    workdir.use_smtp(slow_smtp_server.url)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "digestbot", "--config", str(workdir.config), "--db", str(workdir.db)]
    child = subprocess.Popen(
        [*command, "send"], cwd=workdir.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 15
    while not slow_smtp_server.messages:  # the first digest is at the server, awaiting its 250
        assert time.monotonic() < deadline and child.poll() is None
        time.sleep(0.01)
    child.send_signal(stop)
    _, err = child.communicate(timeout=20)
    assert child.returncode == code, err
    assert b"Traceback" not in err
    sent = [d for d in ledger(workdir.db) if d.status == "sent"]
    assert len(sent) == len(slow_smtp_server.messages) == 1  # confirmed and recorded, not pending
    assert not [d for d in ledger(workdir.db) if d.status != "sent"]  # the others: not begun
    slow_smtp_server.handler.delay = 0
    digestbot(workdir, "send")  # the next send: the other two, and that one not again
    assert sorted(m.rcpt_tos[0] for m in slow_smtp_server.messages) == [
        "s0@example.org",
        "s1@example.org",
        "s2@example.org",
    ]


def test_a_mistyped_id_or_source_gets_a_suggestion_and_a_format_any_case(workdir):
    _setup(workdir, subscribers=1)
    digestbot(workdir, "fetch")
    assert (
        "unknown subscriber(s): s0x (did you mean s0?)"
        in digestbot(workdir, "preview", "s0x", expect=2).output
    )
    assert (
        "no source named fede (did you mean feed?)"
        in digestbot(workdir, "fetch", "--source", "fede", expect=2).output
    )
    ranking = json.loads(digestbot(workdir, "preview", "s0", "--format", "JSON").output)  # was refused
    assert ranking["subscriber"] == "s0" and len(ranking["papers"]) == 3


# --- a --config that is not a subscriptions file ------------------------------------------


def test_a_config_that_never_ends_is_refused_not_read_forever(workdir):
    """`--config /dev/zero check` read until memory ran out."""
    done = _child(workdir, "--config", "/dev/zero", "check", stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert done.returncode == 2
    assert b"/dev/zero: over 64 MB: not a subscriptions file" in done.stderr


def test_a_config_that_is_not_utf8_names_the_line(workdir):
    _setup(workdir, subscribers=1)
    text = workdir.config.read_bytes().replace(b"s0@example.org", b"s0@exampl\xe9.org")
    workdir.config.write_bytes(text.replace(b"\n", b"\r\n"))  # and saved with Windows line ends
    line = text[: text.index(b"\xe9")].count(b"\n") + 1
    result = digestbot(workdir, "check", expect=2)
    assert (
        f"{workdir.config}:{line}: file: not UTF-8 (byte 0xe9 on this line): save the file as UTF-8"
        in result.output
    )
    workdir.config.write_bytes(text.replace(b"\xe9", b"e").replace(b"\n", b"\r\n"))
    digestbot(workdir, "check")


def test_preview_into_dash_is_stdout_not_a_file_named_dash(workdir):
    _setup(workdir, subscribers=1)
    digestbot(workdir, "fetch")
    result = digestbot(workdir, "preview", "s0", "--format", "json", "-o", "-")
    assert json.loads(result.output)["subscriber"] == "s0"
    assert not (workdir.path / "-").exists()


def _refuses_new_files(folder: Path) -> bool:
    try:
        (folder / "digestbot-probe.db").open("x").close()
    except OSError:
        return True
    (folder / "digestbot-probe.db").unlink()
    return False


READ_ONLY = Path("/sys/kernel")  # sysfs: no process, root included, makes a file there


@pytest.mark.skipif(not READ_ONLY.is_dir() or not _refuses_new_files(READ_ONLY), reason="needs Linux sysfs")
@pytest.mark.parametrize("command", ["check", "run"])
def test_a_database_in_a_folder_that_takes_no_new_file_is_a_usage_error_check_sees(workdir, command):
    """`--db` in a folder nobody may write (read-only, another user's): `check` said OK, and every
    other command stopped with SQLite's `unable to open database file`, naming no reason."""
    _setup(workdir, subscribers=1)
    db = READ_ONLY / "sub" / "digestbot.db"
    args = ["check"] if command == "check" else ["run", "--once"]
    result = CliRunner().invoke(cli, ["--config", str(workdir.config), "--db", str(db), *args])
    assert result.exit_code == 2, result.output
    assert f"Error: --db: {db} cannot be made: {READ_ONLY} takes no new file (" in result.output
    assert "OK" not in result.output and "Fetching" not in result.output


@pytest.mark.parametrize("command", ["check", "init", "sync", "status"])
def test_file_names_echoed_by_a_command_that_worked_come_without_their_control_characters(
    workdir, monkeypatch, command
):
    """The same escape sequences in a config or database file's name, when the command worked:
    `check`'s `NAME: OK`, `init`'s `Database ready: NAME` and `status`'s `Email digests go to
    the outbox folder NAME` wrote them to the terminal raw."""
    _setup(workdir, subscribers=1)
    if command == "status":  # the one command that shows the environment's settings unchecked
        digestbot(workdir, "sync")
        workdir.db.rename(workdir.path / f"{HOSTILE}.db")
        monkeypatch.setenv("DIGESTBOT_OUTBOX", str(workdir.path / HOSTILE))
    config = workdir.path / f"{HOSTILE}.yaml"
    workdir.config.rename(config)
    db = workdir.path / f"{HOSTILE}.db"
    result = CliRunner().invoke(cli, ["--config", str(config), "--db", str(db), command], color=True)
    assert result.exit_code == 0, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output, repr(result.output)
    assert "\nFAKE" not in result.output


def test_send_to_a_subscriber_who_is_not_due_says_when_they_are(workdir):
    """`digestbot send --subscriber s0` the day after s0's digest printed `Digests: 0 sent, 0
    failed, 0 subscriber(s) with nothing new.` and nothing else: why not, and when? The line
    `nobody is due now; next: ...` was only for a send to everyone."""
    _setup(workdir, subscribers=2)
    digestbot(workdir, "run", "--once")
    result = digestbot(workdir, "send", "--subscriber", "s1")
    at = re.search(r"schedule: daily (\d\d:\d\d)", workdir.config.read_text(encoding="utf-8"))[1]
    assert re.search(
        rf"(?m)^  s1: not due now; next: \w{{3}} \d\d \w{{3}} {at} UTC \(--force sends it now\)\n",
        result.output,
    )
    assert "s0" not in result.output


def test_send_to_a_subscriber_whose_digest_waits_for_a_retry_says_until_when(workdir, monkeypatch):
    _setup(workdir, subscribers=1)
    monkeypatch.setenv("DIGESTBOT_SMTP_URL", "smtp://127.0.0.1:1")  # nobody listens: refused
    digestbot(workdir, "run", "--once", expect=1)
    result = digestbot(workdir, "send", "--subscriber", "s0")
    (retry,) = [d.next_attempt_at for d in ledger(workdir.db, "pending")]
    said = f"  s0: a digest waits to be retried at {retry:%Y-%m-%d %H:%M} UTC (--force retries it now)\n"
    assert said in result.output


@pytest.fixture
def read_only_db(workdir):
    """The workdir's database made read-only for every process, root included (`chattr +i`)."""
    _setup(workdir, subscribers=1)
    digestbot(workdir, "run", "--once")
    if subprocess.run(["chattr", "+i", str(workdir.db)], capture_output=True).returncode != 0:
        pytest.skip("needs chattr +i (ext4 and CAP_LINUX_IMMUTABLE)")
    yield workdir.db
    subprocess.run(["chattr", "-i", str(workdir.db)], check=True)


def test_a_database_nobody_may_write_is_a_problem_check_names(workdir, read_only_db):
    """A read-only database file (its mode, a read-only mount): `check` said OK, and fetch, send
    and run then stopped at their first write ('attempt to write a readonly database')."""
    result = digestbot(workdir, "check", expect=2)
    assert f"Error: --db: {read_only_db} cannot be written: fetch, send and run record" in result.output
    assert "OK" not in result.output
    digestbot(workdir, "status")  # reading it still works


@pytest.fixture
def sealed(tmp_path):
    """A folder nobody may write in, root included (`chattr +i`)."""
    folder = tmp_path / "sealed"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("needs chattr +i (ext4 and CAP_LINUX_IMMUTABLE)")
    yield folder
    subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.mark.parametrize("where", ["the-folder", "inside-it"])
def test_an_outbox_that_cannot_be_written_is_a_problem_check_names(workdir, monkeypatch, sealed, where):
    """An outbox folder nobody may write (or create): `check` said OK, and every digest of the
    run then failed to be written, pending, with the exit code 1."""
    outbox = sealed if where == "the-folder" else sealed / "outbox"
    _setup(workdir, subscribers=1)
    monkeypatch.setenv("DIGESTBOT_OUTBOX", str(outbox))
    result = digestbot(workdir, "check", expect=2)
    assert f"Error: DIGESTBOT_OUTBOX: {outbox} cannot be written" in result.output
    # With SMTP and Slack both set, the outbox is not used: nothing to say.
    monkeypatch.setenv("DIGESTBOT_SMTP_URL", "smtp://127.0.0.1:1")
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-2-3")
    digestbot(workdir, "check")


# --- status at scale -----------------------------------------------------------------------------
# Fault: `status` with 20,000 subscribers printed a 20,000-row table and took 28 s (two thirds of
# it rich laying out the rows; on PostgreSQL, two queries per subscriber on top), and a backlog
# of 100,000 undelivered digests as many rows. It now lists the first STATUS_ROWS of each and
# says how many more, by state; `--all` lists every one. The per-subscriber figures come from
# two grouped queries, whatever the number of rows.


def test_status_lists_the_first_rows_and_counts_the_rest(workdir, monkeypatch):
    import re

    monkeypatch.setattr("digestbot.cli.STATUS_ROWS", 5)
    _setup(workdir, subscribers=8)
    monkeypatch.setenv("DIGESTBOT_SMTP_URL", "smtp://127.0.0.1:1")  # refused: 8 undelivered digests
    digestbot(workdir, "run", "--once", expect=1)

    shown = digestbot(workdir, "status").output
    assert re.findall(r"^│ (s\d) ", shown, re.M) == ["s0", "s1", "s2", "s3", "s4"], shown
    assert len(re.findall(r"^│ \d+ +│ s\d ", shown, re.M)) == 5  # undelivered digests
    assert "… and 3 more subscribers (3 active): digestbot status --all lists every one" in shown
    assert "… and 3 more undelivered digests (3 pending): digestbot status --all lists every one" in shown

    every = digestbot(workdir, "status", "--all").output
    assert re.findall(r"^│ (s\d) ", every, re.M) == [f"s{i}" for i in range(8)]
    assert len(re.findall(r"^│ \d+ +│ s\d ", every, re.M)) == 8
    assert "more subscribers" not in every


def test_fetch_takes_the_liked_papers_line_status_shows_as_a_source(workdir):
    """`status` lists "liked papers" among the sources, and `fetch --source "liked papers"` was a
    usage error ("no source named liked papers"); it now fetches only those (found by hunt26)."""
    _setup(workdir, subscribers=1)
    result = digestbot(workdir, "fetch", "--source", "liked papers")
    assert "Fetched 0 source(s)" in result.output and "feed:" not in result.output


# --- every environment variable digestbot reads is in the README's table ---------------------
# Fault: `digestbot serve` reads its port from PORT (as Heroku-style platforms set it), but the
# README's Environment table, the one place an operator looks up what the environment sets,
# named neither it nor what DIGESTBOT_SLACK_API_URL is for ("see the Slack section", which never
# mentions it). Every variable the code reads is now a row of the table, and this test keeps it so.


class _Reads(dict):
    """An environment that remembers which names were looked up in it."""

    def __init__(self):
        super().__init__()
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)


def _environment_table() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("### Environment", 1)[1].split("\n## ", 1)[0]
    return "\n".join(line for line in section.splitlines() if line.startswith("| `"))


def test_every_environment_variable_digestbot_reads_is_a_row_of_the_readmes_table():
    from digestbot.config import Env

    env = _Reads()
    Env.from_environ(env)
    commands = [cli, *cli.commands.values()]
    envvars = {p.envvar for c in commands for p in c.params if isinstance(p.envvar, str)}
    read = env.asked | envvars
    assert {"DIGESTBOT_SMTP_URL", "DIGESTBOT_DB", "PORT"} <= read  # the lookups were seen
    table = _environment_table()
    missing = sorted(name for name in read if f"`{name}`" not in table)
    assert not missing, f"read from the environment but not in the README's table: {missing}"


# --- status: the next digest of a subscriber who gets none -----------------------------------
# Fault: `digestbot status` showed "now" (or the next scheduled time) as the next digest of a
# paused subscriber (one-click unsubscribe, `/digest pause`) and of one removed from the YAML,
# who get no digest at all; the "nobody is due now; next: ..." line of `run` already left them
# out. Their next due is "-" now: the state column says why.


def _status_cells(output: str) -> dict[str, list[str]]:
    """The Subscribers table of `status` by subscriber: its cells, stripped."""
    table = output.split("Subscribers", 1)[1].split("No undelivered", 1)[0]
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│")]
    return {cells[0]: cells for cells in rows if cells and cells[0]}


def test_status_shows_no_next_digest_for_a_paused_or_removed_subscriber(workdir, monkeypatch):
    monkeypatch.setenv("COLUMNS", "200")
    _setup(workdir, subscribers=3)
    digestbot(workdir, "sync")
    with Store(workdir.db) as store:
        store.set_paused("s1", True)
    workdir.write_config(SOURCES, subscriber("s0", "robot") + subscriber("s1", "robot"))  # s2 removed
    digestbot(workdir, "sync")

    rows = _status_cells(digestbot(workdir, "status").output)
    assert {sid: (cells[4], cells[6]) for sid, cells in rows.items()} == {
        "s0": ("now", "active"),
        "s1": ("-", "paused"),
        "s2": ("-", "inactive"),
    }
    digestbot(workdir, "run", "--once")
    assert [d.subscriber_id for d in ledger(workdir.db)] == ["s0"]  # as the table said


# --- A dry run records nothing ---------------------------------------------------------------
# Fault: `preview` and `send --dry-run` ("record nothing", the README says) first wrote the YAML
# into the database, as fetch, send and run do: `digestbot --config trial.yaml send --dry-run`
# deactivated every subscriber trial.yaml leaves out and cancelled their digests waiting for a
# retry, papers never delivered (found by hunt27). Both now read the YAML's subscribers over the
# stored ledger positions and write nothing.


@pytest.mark.parametrize("command", [("send", "--dry-run"), ("preview", "s2")], ids=["dry-run", "preview"])
def test_a_dry_run_on_another_yaml_changes_nothing_in_the_database(workdir, monkeypatch, command):
    from conftest import write_config

    _setup(workdir, subscribers=2)
    monkeypatch.setenv("DIGESTBOT_SMTP_URL", "smtp://127.0.0.1:1")  # refused: both digests wait
    digestbot(workdir, "run", "--once", expect=1)
    before = {d.subscriber_id: d.status for d in ledger(workdir.db)}
    assert before == {"s0": "pending", "s1": "pending"}

    trial = write_config(
        workdir.path / "trial.yaml", SOURCES, subscriber("s0", "learns") + subscriber("s2", "learns")
    )
    args = ["--config", str(trial), "--db", str(workdir.db), *command]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "Robot learning" in result.output or "s2: would send 3 paper(s)" in result.output, result.output

    assert {d.subscriber_id: d.status for d in ledger(workdir.db)} == before
    with Store(workdir.db) as store:
        states = {s.subscriber.id: s.subscriber for s in store.subscribers(include_inactive=True)}
    assert states["s1"].active and states["s0"].profile.keywords == ("robot",) and "s2" not in states
