"""The ledger's promises (never the same paper twice, nothing lost) under crashes and resource
failures, as a real process, disk and database show them: `kill -9` of a real `digestbot`
process at chosen points (inside the fetch's commit, after the relay accepted a message and
before the ledger recorded it, between the parts of a Slack digest, while an outbox file is
written), a database file damaged in its middle, and outbox names already taken.

The kills are exact: a few lines run in the child before digestbot starts (`prelude`) make it
SIGKILL itself at that point, with no cleanup, as the kernel would. Every test checks what
arrived (the SMTP sink and its Message-IDs, the outbox files, the Slack stand-in's posts, the
ledger rows), not what was called.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys

import pytest
import test_daemon as daemon
from helpers import FeedPaper, digestbot, ledger, subscriber, write_feed
from test_daemon import spawn  # noqa: F401 - a fixture
from test_email_delivery import ids
from test_slack import TOKEN, many, paper_ids, slack_sub
from test_slack import setup as slack_setup

from digestbot.delivery.email import OutboxTransport

NARWHAL = FeedPaper(
    "2403.10001",
    "Narwhal navigation with sparse rewards",
    "We study narwhal navigation. Narwhals steer with sparse rewards in icy water.",
)
FEED = """
- name: feed
  type: arxiv_rss
  url: feed.xml
"""


def kill_at(target: str, call: int = 1, after: bool = False, when: str = "True") -> str:
    """Python for a child process (`spawn(..., prelude=...)`): it SIGKILLs itself at the
    `call`-th call of `target` ("module:Class.method" or "module:function") for which the
    expression `when` (on the call's `args`) holds, before it runs (or, `after`, once it returned)."""
    module, _, path = target.partition(":")
    owner, _, name = path.rpartition(".")
    return f"""
import importlib, os, signal
_owner = importlib.import_module({module!r})
for _part in {owner!r}.split(".") if {owner!r} else []:
    _owner = getattr(_owner, _part)
_real = getattr(_owner, {name!r})
_seen = [0]
def _die():
    os.kill(os.getpid(), signal.SIGKILL)
def _wrapped(*args, **kwargs):
    hit = False
    if {when}:
        _seen[0] += 1
        hit = _seen[0] == {call}
    if hit and not {after}:
        _die()
    result = _real(*args, **kwargs)
    if hit and {after}:
        _die()
    return result
setattr(_owner, {name!r}, _wrapped)
"""


def killed(spawn, *args: str, prelude: str):  # noqa: F811
    """Run digestbot with `prelude` and check that it died of SIGKILL, not otherwise."""
    proc = spawn(*args, prelude=prelude)
    rc = proc.finish(30)
    assert rc == -signal.SIGKILL, f"digestbot {' '.join(args)} was not killed (exit {rc}):\n{proc.output}"
    return proc


def finish(spawn, *args: str):  # noqa: F811
    proc = spawn(*args)
    rc = proc.finish(30)
    assert rc == 0 and "Traceback" not in proc.output, f"exit {rc}:\n{proc.output}"
    return proc


ANIMALS = ("axolotl", "capybara", "narwhal", "okapi")


def animals(workdir) -> dict[str, set[str]]:
    """Four email subscribers, each with two papers of their own; who should get what."""
    papers = {
        sid: [daemon.topic_paper(2 * i + 1, sid), daemon.topic_paper(2 * i + 2, sid)]
        for i, sid in enumerate(ANIMALS)
    }
    daemon.write_listing(workdir.path / "feed.xml", [p for ps in papers.values() for p in ps])
    workdir.write_config(daemon.local_source(), "".join(daemon.subscriber_yaml(sid, sid) for sid in ANIMALS))
    return {daemon.address(sid): ids(*ps) for sid, ps in papers.items()}


def arrived_once(mails, wanted: dict[str, set[str]], repeated: int = 0) -> None:
    """Everyone got their papers; at most `repeated` digests came twice, each with one Message-ID."""
    received = daemon.by_recipient(mails)
    assert set(received) == set(wanted), f"lost: {sorted(set(wanted) - set(received))}"
    twice = {to for to, got in received.items() if len(got) > 1}
    assert len(twice) <= repeated, f"repeated: {sorted(twice)}"
    for to, got in received.items():
        assert [m.papers for m in got] == [frozenset(wanted[to])] * len(got)
        assert len({m.message_id for m in got}) == 1 and len(got) <= 2


def cli(workdir, *args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`python -m digestbot` as a user types it, on the workdir's config and database."""
    return subprocess.run(
        [sys.executable, "-m", "digestbot", "--config", str(workdir.config), "--db", str(workdir.db), *args],
        capture_output=True,
        text=True,
        cwd=workdir.path,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


# --- a database file damaged in its middle ----------------------------------------------------


def damage(db, table: str = "papers") -> None:
    """Overwrite the root page of one table of a SQLite file with garbage: the header and the
    schema still read (it opens), that table does not (a bad sector, a torn copy)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        page = conn.execute("PRAGMA page_size").fetchone()[0]
        root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
    with open(db, "r+b") as f:
        f.seek((root - 1) * page)
        f.write(b"\xa5" * page)


@pytest.mark.parametrize(
    ("command", "table"),
    [(["send"], "papers"), (["fetch"], "papers"), (["status"], "subscribers")],
)
def test_a_database_damaged_in_its_middle_gets_one_line_naming_it_not_a_traceback(workdir, command, table):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    damage(workdir.db, table)

    proc = cli(workdir, *command)

    assert "Traceback" not in proc.stderr, proc.stderr
    assert proc.returncode == 2, proc.stderr
    assert str(workdir.db) in proc.stderr and "corrupt" in proc.stderr
    assert "restore a backup" in proc.stderr
    assert not list(workdir.outbox.glob("*")) if workdir.outbox.exists() else True


def test_a_worker_whose_database_turns_out_damaged_stops_with_exit_2_saying_so(workdir, spawn):  # noqa: F811
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, subscriber("alice", "narwhal"))
    digestbot(workdir, "fetch")
    damage(workdir.db)

    worker = spawn("run")

    assert worker.finish(30) == 2, worker.output
    assert "Traceback" not in worker.output
    assert "corrupt" in worker.output and "restore a backup" in worker.output
    assert "this worker stops" in worker.output


# --- kill -9 at chosen points -------------------------------------------------------------------

BASE = "digestbot.store.base"


@pytest.mark.parametrize(
    ("where", "call", "after", "repeated"),
    [
        (f"{BASE}:Store.begin_attempt", 2, True, 0),  # the attempt recorded, nothing sent yet
        (f"{BASE}:Store.mark_sent", 2, False, 1),  # the relay took it, the ledger never heard
    ],
    ids=["after-attempt", "accepted-not-recorded"],
)
def test_kill_9_at_each_step_of_a_send_loses_nothing_and_repeats_at_most_the_one_in_flight(
    workdir,
    smtp_server,
    spawn,  # noqa: F811
    where,
    call,
    after,
    repeated,
):
    wanted = animals(workdir)
    workdir.use_smtp(smtp_server.url)
    killed(spawn, "run", "--once", prelude=kill_at(where, call, after))

    finish(spawn, "run", "--once")
    if repeated:
        finish(spawn, "send", "--force")  # nothing new: nothing more goes out

    mails = daemon.smtp_mails(smtp_server)
    arrived_once(mails, wanted, repeated)
    assert len(mails) == len(ANIMALS) + repeated
    records = ledger(workdir.db)
    assert [r.status for r in records] == ["sent"] * len(ANIMALS)
    assert {r.message_id for r in records} == {m.message_id for m in mails}


def test_kill_9_inside_the_fetch_commit_leaves_nothing_and_the_rerun_sends_each_once(
    workdir,
    smtp_server,
    spawn,  # noqa: F811
):
    wanted = animals(workdir)
    workdir.use_smtp(smtp_server.url)
    killed(spawn, "run", "--once", prelude=kill_at(f"{BASE}:_paper_values", 3))  # the third paper's row
    with contextlib.closing(sqlite3.connect(workdir.db)) as conn:
        assert conn.execute("SELECT COUNT(*) FROM papers").fetchone()[0] == 0  # all or nothing
    assert smtp_server.messages == []

    finish(spawn, "run", "--once")

    arrived_once(daemon.smtp_mails(smtp_server), wanted)
    assert len(smtp_server.messages) == len(ANIMALS)


def test_kill_9_while_an_outbox_file_is_written_leaves_no_partial_file_behind(workdir, spawn):  # noqa: F811
    wanted = animals(workdir)
    # killed with the second digest's bytes in the temporary file, before its rename
    killed(spawn, "run", "--once", prelude=kill_at("digestbot.delivery.email:_place", 2))

    finish(spawn, "run", "--once")
    finish(spawn, "send", "--force")

    files = sorted(p.name for p in workdir.outbox.iterdir())
    assert all(name.endswith(".eml") and not name.startswith(".") for name in files), files
    mails = daemon.outbox_mails(workdir.outbox)
    arrived_once(mails, wanted)
    assert len(files) == len(ANIMALS)


# --- outbox names already taken ------------------------------------------------------------------


def eml(message_id: str, body: str) -> bytes:
    return f"Message-ID: {message_id}\r\nSubject: digest\r\n\r\n{body}\r\n".encode()


def test_an_outbox_name_already_taken_by_another_message_is_never_written_over(tmp_path):
    outbox = OutboxTransport(tmp_path / "outbox")
    theirs = eml("<digest.alice.1@other-database>", "an earlier digest")  # another database's digest 1
    mine = eml("<digest.alice.1@this-database>", "this digest")
    first = outbox.write("20261201-080000-alice-1", theirs, ".eml")

    placed = outbox.write("20261201-080000-alice-1", mine, ".eml")
    again = outbox.write(
        "20261201-080000-alice-1", mine.replace(b"this digest", b"re-rendered digest"), ".eml"
    )  # a retry
    payload = b'{"channel": "#ml", "messages": []}'
    json_1 = outbox.write("20261201-080000-ml-2", payload, ".slack.json")
    json_2 = outbox.write("20261201-080000-ml-2", payload.replace(b"[]", b"[{}]"), ".slack.json")

    assert first.read_bytes() == theirs
    assert placed == again == first.with_name("20261201-080000-alice-1-2.eml")
    assert b"re-rendered" in placed.read_bytes()  # the same message (Message-ID): replaced
    assert json_2 != json_1 and json_1.read_bytes() == payload
    assert sorted(p.name for p in outbox.folder.iterdir()) == [
        "20261201-080000-alice-1-2.eml",
        "20261201-080000-alice-1.eml",
        "20261201-080000-ml-2-2.slack.json",
        "20261201-080000-ml-2.slack.json",
    ]


# --- kill -9 between the parts of a Slack digest ------------------------------------------------

FAST_SLACK = """
import functools, digestbot.digest, digestbot.delivery.slack as _slack
digestbot.digest.SlackTransport = functools.partial(_slack.SlackTransport, interval=0.0)
"""


@pytest.mark.parametrize("part", [1, 2])
def test_kill_9_between_the_parts_of_a_slack_digest_posts_each_part_once_but_the_one_in_flight(
    workdir,
    slack_api,
    spawn,  # noqa: F811
    part,
):
    items = many(120)  # three messages
    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)
    slack_setup(workdir, items, slack_sub("ml", "#ml-papers", max_papers=200))
    # Slack took part `part`; killed before the ledger recorded it
    killed(spawn, "run", "--once", prelude=FAST_SLACK + kill_at(f"{BASE}:Store.set_parts_sent", part))
    assert len(slack_api.posts) == part

    rerun = spawn("run", "--once", prelude=FAST_SLACK)
    assert rerun.finish(30) == 0, rerun.output

    posts = [p.body for p in slack_api.posts]
    parts = [p["text"][-5:] for p in posts]
    assert parts == [f"({n}/3)" for n in [*range(1, part + 1), *range(part if part > 1 else 1, 4)]]
    [record] = ledger(workdir.db)
    delivered = [aid for body in posts for aid in paper_ids(body)]
    assert sorted(set(delivered)) == sorted(i.aid for i in items)  # none lost
    again = len(delivered) - len(set(delivered))
    assert again == len(paper_ids(posts[part - 1]))  # only the part in flight came twice
    assert (record.status, record.parts_sent) == ("sent", 3)


@pytest.mark.parametrize("outbox", ["a-file/digests", "a-file/digests/2026"])
def test_an_outbox_under_a_file_is_refused_before_anything_is_recorded(workdir, outbox):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, subscriber("alice", "narwhal"))
    (workdir.path / "a-file").write_text("the operator's notes\n")

    proc = cli(workdir, "run", "--once", env={"DIGESTBOT_OUTBOX": outbox})

    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "DIGESTBOT_OUTBOX must name a folder: a-file is a file" in proc.stderr
    assert ledger(workdir.db) == []
    assert (workdir.path / "a-file").read_text() == "the operator's notes\n"


# --- a SQLite file another process keeps locked -------------------------------------------------

PATIENCE = "import digestbot.store.sqlite as _sqlite\n_sqlite.OPEN_PATIENCE = 1.0\n"  # not 30 s


@contextlib.contextmanager
def locked(db):
    """Another process's write transaction on `db`, held until the block ends."""
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys\n"
            f"c = sqlite3.connect({str(db)!r}, isolation_level=None)\n"
            "c.execute('CREATE TABLE IF NOT EXISTS other_tool (x)')\n"
            "c.execute('BEGIN EXCLUSIVE'); c.execute('INSERT INTO other_tool VALUES (1)')\n"
            "print('locked', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        yield
    finally:
        holder.stdin.close()
        holder.wait(10)


@pytest.mark.parametrize("state", ["new", "in-use"])
def test_a_database_locked_by_another_process_is_a_passing_failure_that_says_so(workdir, spawn, state):  # noqa: F811
    wanted = animals(workdir)
    if state == "in-use":
        digestbot(workdir, "fetch")
    with locked(workdir.db):
        proc = spawn("run", "--once", prelude=PATIENCE)
        rc = proc.finish(30)
    assert rc == 1, proc.output  # the database could not be reached: exit 1, not a usage error
    assert "Traceback" not in proc.output
    assert f"{workdir.db}" in proc.output and "locked" in proc.output
    assert "another process kept it locked" in proc.output
    assert not workdir.outbox.exists() or not list(workdir.outbox.iterdir())

    finish(spawn, "run", "--once")
    arrived_once(daemon.outbox_mails(workdir.outbox), wanted)


# --- kill -9 of the parent of `run --processes N` -----------------------------------------------


def alive(pid: int) -> bool:
    """Whether process `pid` still runs (a zombie nobody reaped does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False


def test_the_workers_of_a_group_whose_parent_was_killed_stop_instead_of_sending_unlocked(
    workdir,
    slow_smtp_server,
    spawn,  # noqa: F811
):
    wanted = {
        daemon.address(sid): ids(daemon.topic_paper(i + 1, sid))
        for i, sid in enumerate(f"s{n:02d}" for n in range(12))
    }
    daemon.write_listing(
        workdir.path / "feed.xml", [daemon.topic_paper(i + 1, f"s{i:02d}") for i in range(12)]
    )
    workdir.write_config(
        daemon.local_source(), "".join(daemon.subscriber_yaml(f"s{i:02d}", f"s{i:02d}") for i in range(12))
    )
    workdir.use_smtp(slow_smtp_server.url)
    group = spawn("run", "--processes", "2")
    started = group.wait_for("started 2 worker processes")
    members = [int(p) for p in started.rpartition("pids ")[2].split(", ")]
    try:
        daemon.wait_until(lambda: len(slow_smtp_server.messages) >= 2, 30, "two digests at the SMTP server")
        group.kill()  # SIGKILL: the parent and its locks are gone, not its members
        # they finish the digest in flight and stop, as on SIGTERM: nothing sends without the lock
        daemon.wait_until(lambda: not any(alive(pid) for pid in members), 10, "the members to stop")
    finally:
        for pid in members:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    slow_smtp_server.handler.delay = 0.0

    finish(spawn, "run", "--once")  # the lock is free: a new runner sends the rest

    arrived_once(daemon.smtp_mails(slow_smtp_server), wanted)
    assert len(slow_smtp_server.messages) == len(wanted)
    assert [r.status for r in ledger(workdir.db)] == ["sent"] * len(wanted)


# --- one inbox, two subscriber ids: a hand-over must not repeat a paper ------------------------

BLOG = """<?xml version="1.0"?>
<rss version="2.0"><channel><title>A lab blog</title><link>https://lab.example.org/</link>
<item><title>Narwhal navigation with sparse rewards</title>
<link>https://arxiv.org/abs/2403.10001</link><description>Narwhals, briefly.</description></item>
<item><title>Sea ice at night</title>
<link>https://arxiv.org/abs/2403.10002</link><description>Ice floes and what lives under them.</description></item>
</channel></rss>
"""
TWO_SOURCES = """
- name: blog
  type: rss
  url: blog.xml
- name: feed
  type: arxiv_rss
  url: feed.xml
"""


@pytest.mark.parametrize("likes", [False, True], ids=["keywords", "keywords-and-a-liked-paper"])
def test_a_paper_revised_after_a_hand_over_is_not_sent_again_to_the_same_inbox(workdir, backend, likes):
    from digestbot.models import Profile, Subscriber
    from digestbot.store import Store

    (workdir.path / "blog.xml").write_text(BLOG)
    daemon.write_listing(workdir.path / "feed.xml", [])
    workdir.write_config(TWO_SOURCES, subscriber("alice", "quokka"))
    digestbot(workdir, "fetch")  # the blog reports the paper first, with a line for an abstract
    with Store(workdir.db) as store:
        reader = Subscriber("web-bob", Profile(("narwhal",)), email="bob@example.org", origin="web")
        store.save_web_subscriber(reader)
    digestbot(workdir, "send", "--force")
    assert [m.to for m in daemon.outbox_mails(workdir.outbox)] == ["bob@example.org"]

    # the operator puts the reader in the YAML: that subscriber takes the address over
    bob = subscriber("bob", "narwhal") + ("  like: ['2403.10002']\n" if likes else "")  # ranked by seeds
    workdir.write_config(TWO_SOURCES, subscriber("alice", "quokka") + bob)
    digestbot(workdir, "sync")
    write_feed(workdir.path / "feed.xml", [NARWHAL])  # arXiv's full record: the paper is revised
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--force")

    got = [m for m in daemon.outbox_mails(workdir.outbox) if "2403.10001" in m.papers]
    assert len(got) == 1, "the inbox got the same paper twice"


# --- a digest another worker is sending is not set aside under it -------------------------------


def test_a_retry_in_flight_at_another_worker_is_not_held_as_possibly_delivered(db_target):
    from datetime import UTC, datetime, timedelta

    from digestbot.models import Profile, Subscriber
    from digestbot.store import Store

    now = datetime.now(UTC)
    with Store(db_target) as a, Store(db_target) as b:
        a.sync_subscribers([Subscriber("alice", Profile(("narwhal",)), email="alice@example.org")], now)
        digest = a.create_digest("alice", [], 1, a.max_rev(), now, "<m@x>", "email", "alice@example.org")
        a.begin_attempt(digest, now)  # a worker died with it at the relay
        # worker A claims alice and retries: its attempt is in flight
        assert a.claim_subscribers(["alice"], "worker-a", now, timedelta(seconds=120)) == ["alice"]
        a.begin_attempt(digest, now)

        held = b.hold_unconfirmed(now + timedelta(seconds=1))  # worker B starts a run meanwhile
        a.mark_attempt_failed(digest, "SMTP error: 451 try again later", now + timedelta(minutes=5))

        assert held == [] and a.digest(digest).status == "pending"  # refused: it is sent later
        a.begin_attempt(digest, now + timedelta(minutes=5))  # the next try dies at the relay too
        assert b.hold_unconfirmed(now + timedelta(minutes=10)) == [digest]  # nobody holds alice
        assert a.digest(digest).status == "unknown"


def test_a_slack_digest_killed_twice_part_way_still_posts_the_parts_never_posted(workdir, slack_api, spawn):  # noqa: F811
    items = many(200)  # five messages
    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", TOKEN)
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", slack_api.url)
    slack_setup(workdir, items, slack_sub("ml", "#ml-papers", max_papers=200))
    digestbot(workdir, "fetch")
    # killed with part 2 at Slack, unrecorded; then the retry records part 2 and dies with part 3
    killed(spawn, "send", prelude=FAST_SLACK + kill_at(f"{BASE}:Store.set_parts_sent", 2))
    killed(spawn, "send", prelude=FAST_SLACK + kill_at(f"{BASE}:Store.set_parts_sent", 2))

    rerun = spawn("send", prelude=FAST_SLACK)
    assert rerun.finish(30) == 0, rerun.output

    parts = [p.body["text"][-5:] for p in slack_api.posts]
    assert parts == ["(1/5)", "(2/5)", "(2/5)", "(3/5)", "(3/5)", "(4/5)", "(5/5)"]
    delivered = {aid for p in slack_api.posts for aid in paper_ids(p.body)}
    assert delivered == {i.aid for i in items}  # the parts no attempt had reached went out
    [record] = ledger(workdir.db)
    assert (record.status, record.parts_sent) == ("sent", 5)


def test_the_outbox_sweeps_the_temporary_files_of_dead_writers_only(tmp_path):
    from digestbot.delivery import email as transport

    folder = tmp_path / "outbox"
    folder.mkdir()
    host = transport._HOST
    dead = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True
    )
    left = {
        "dead": folder / f".tmp-{host}-{dead.stdout.strip()}-abc123.part",  # its writer is gone
        "mine-before": folder / f".tmp-{host}-{os.getpid()}-old999.part",  # a dead writer had our pid
        "old-style": folder / ".tmp-1przzh6a.eml",  # an older version's, a day old
    }
    kept = {
        "alive": folder / f".tmp-{host}-{os.getppid()}-live01.part",  # a live writer of this machine
        "elsewhere": folder / ".tmp-otherhost-1-remote.part",  # another machine's, sharing the folder
        "old-style-new": folder / ".tmp-ab12cd34.eml",
    }
    for path in [*left.values(), *kept.values()]:
        path.write_bytes(b"Message-ID: <half@x>\r\n")
    os.utime(left["old-style"], (0, 0))

    placed = OutboxTransport(folder).write("20261201-080000-alice-1", eml("<m@x>", "a digest"), ".eml")

    assert sorted(p.name for p in folder.iterdir()) == sorted([placed.name, *(p.name for p in kept.values())])


def test_a_file_size_limit_below_a_message_says_so_and_leaves_nothing_in_the_outbox(tmp_path):
    child = f"""
import resource
from digestbot.delivery import DeliveryError
from digestbot.delivery.email import OutboxTransport
resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))
try:
    OutboxTransport({str(tmp_path / "outbox")!r}).write("20261201-080000-alice-1", b"x" * 20000, ".eml")
except DeliveryError as e:
    print(e)
"""
    done = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, timeout=30)

    assert "Traceback" not in done.stderr, done.stderr
    assert "File too large" in done.stdout and "file size limit" in done.stdout, done.stdout
    assert list((tmp_path / "outbox").iterdir()) == []
