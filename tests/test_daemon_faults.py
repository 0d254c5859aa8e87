"""Faults found hunting in the worker and its run loop (`digestbot run`, daemon.py, group.py).

Each test names the fault it pins down. They run the real CLI (in process, or as real
processes for signals and crashes) against real parts on loopback: a local HTTP server for
feeds, the outbox or aiosmtpd for mail, real SQLite files.
"""

from __future__ import annotations

import http.server
import logging
import os
import re
import signal
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from helpers import FeedPaper, digestbot, http_server, ledger, raw_sql, write_feed
from test_daemon import Move, bot, digests_across_a_move, outbox_mails, spawn, utc  # noqa: F401  (fixtures)
from test_guarantees import fill, small_disk
from test_ops import SLOW_CONFIG_LOAD, Trickle
from test_web import confirmed, site, start_site  # noqa: F401  (fixtures)

from digestbot.config import Env, load_config
from digestbot.daemon import Worker
from digestbot.lock import sender_lock
from digestbot.slack_commands import CommandHandler
from digestbot.sources import HttpClient
from digestbot.store import SCHEMA_VERSION, Store

NARWHAL = FeedPaper("2403.00001", "Narwhal tusks as sensors", "Narwhal tusks sense salinity.")


FEED = "- name: feed\n  type: arxiv_rss\n  url: feed.xml\n"  # the local feed.xml, as write_feed writes it


def narwhal_reader(sid: str = "alice") -> str:
    return f"- id: {sid}\n  email: {sid}@example.org\n  keywords: [narwhal]\n  schedule: daily 08:00\n"


def narwhal_config(workdir):
    """The workdir's feed (one narwhal paper) and config (alice reads about narwhals), loaded."""
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    return load_config(workdir.config)


def synced_worker(workdir, store: Store, config) -> Worker:
    """A Worker in process on the workdir's config, its subscribers synced, mail to the outbox."""
    store.sync_subscribers(config.subscribers)
    return Worker(config, store, Env(outbox=workdir.outbox), client=HttpClient(sleep=lambda s: None))


# --- a source waiting on a Retry-After is not a failure -----------------------------------
# Fault: after a server answered 429 with Retry-After, every `run --once` (and `fetch`) until
# that time exited 1 and printed the source as FAILED, though nothing had failed: digestbot
# was only keeping to the wait the server asked for. A cron job or a CI check wrapping
# `run --once` then alarmed every run for up to a day.


class LimitedFeed(http.server.BaseHTTPRequestHandler):
    """Answers 429 with a Retry-After of an hour; counts the requests that reached it."""

    hits = 0
    lock = threading.Lock()

    def do_GET(self):
        with LimitedFeed.lock:
            LimitedFeed.hits += 1
        self.send_response(429)
        self.send_header("Retry-After", "3600")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_source_waiting_on_its_retry_after_is_reported_as_waiting_and_exits_0(workdir):
    LimitedFeed.hits = 0
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    with http_server(LimitedFeed) as url:
        sources = f"- name: feed\n  type: arxiv_rss\n  url: feed.xml\n- name: limited\n  type: rss\n  url: {url}/feed\n"
        workdir.write_config(sources, narwhal_reader())

        first = digestbot(workdir, "run", "--once", expect=1)  # the 429 itself is a failure
        assert "limited: FAILED" in first.output and "3600" in first.output

        again = digestbot(workdir, "run", "--once", expect=0)
        fetched = digestbot(workdir, "fetch", expect=0)
    assert LimitedFeed.hits == 1  # the wait was kept: no second request
    for result in (again, fetched):
        line = next(ln for ln in result.output.splitlines() if "limited:" in ln)
        assert "FAILED" not in line, result.output
        assert re.search(r"limited: waiting until \d{4}-\d\d-\d\d \d\d:\d\d UTC", line), line
        assert "the server asked" in line
    assert "0 failed, 1 waiting" in fetched.output, fetched.output


# --- the members of `run --processes N` do not outlive their parent ------------------------
# Fault: with the parent of `run --processes 2` killed (kill -9, the OOM killer, a process
# manager that signals only the pid it started), its members ran on as orphans with nobody
# holding the single-runner and sender locks for them: a second `digestbot run` started beside
# them on the same SQLite file, and nothing would ever stop them.


def alive(pid: int) -> bool:
    """Whether the process runs (a zombie waiting for its reaper does not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_the_members_stop_when_the_parent_of_the_group_is_killed(workdir, spawn):  # noqa: F811
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    group = spawn("run", "--processes", "2")
    line = group.wait_for(r"started 2 worker processes: pids")
    pids = [int(p) for p in re.findall(r"\d+", line.split("pids", 1)[1])]
    group.wait_for(r"digestbot running")
    try:
        group.signal(signal.SIGKILL)
        deadline = time.monotonic() + 15
        while any(alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(alive(p) for p in pids), (
            f"members still running after the parent died:\n{group.output}"
        )
    finally:
        for pid in pids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
    group.finish(10)
    # Linux's PR_SET_PDEATHSIG sends them SIGTERM at once; elsewhere they notice the parent gone.
    assert group.output.count("]: stopped") == 2, group.output


# --- a config edit the database cannot take yet --------------------------------------------
# Fault: the worker re-reads an edited YAML at its next dispatch and syncs the subscribers into
# the database; when that write failed (disk full, database locked too long) the error escaped
# the dispatch job (APScheduler logged a traceback, every minute the disk stayed full, with no
# back-off), and the edit was marked as read: once the disk had room again the worker went on
# with the old config until the YAML was edited once more, the new subscriber never served.


@pytest.mark.sqlite_only  # the SQLite file on a full disk
@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small file system needs root")
def test_a_config_edit_while_the_database_refuses_writes_is_applied_once_it_accepts_them(
    workdir, tmp_path, caplog
):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    source = FEED
    workdir.write_config(source, narwhal_reader("alice"))
    config = load_config(workdir.config)
    now = [datetime.now(UTC)]
    with small_disk(tmp_path / "disk") as disk, Store(disk / "digestbot.db") as store:
        store.sync_subscribers(config.subscribers)
        env = Env(outbox=workdir.outbox)
        worker = Worker(config, store, env, clock=lambda: now[0], client=HttpClient(sleep=lambda s: None))
        assert [o.subscriber_id for o in worker.dispatch()] == ["alice"]

        workdir.write_config(source, narwhal_reader("alice") + narwhal_reader("bob"))
        os.utime(workdir.config, ns=(time.time_ns(), time.time_ns() + 10**9))  # a new mtime, surely
        filler = fill(disk)
        now[0] += timedelta(minutes=1)
        assert worker.dispatch() == []  # no exception out of the job
        assert "trying again at" in caplog.text and "Traceback" not in caplog.text

        filler.unlink()
        now[0] += timedelta(minutes=2)
        sent = [o.subscriber_id for o in worker.dispatch()]
    assert sent == ["bob"], caplog.text
    assert sorted(m.to for m in outbox_mails(workdir.outbox)) == ["alice@example.org", "bob@example.org"]


# --- a newer digestbot upgrading the SQLite file under a running worker --------------------
# Fault: only workers sharing a database (PostgreSQL, or `run --processes`) checked at each
# dispatch whether a newer digestbot had upgraded the schema. The one worker on SQLite went on
# writing rows of its old schema into the upgraded file after an operator upgraded the package
# and ran a newer `digestbot send` or `status` (which upgrade the file as they open it).


@pytest.mark.sqlite_only  # the one worker on a SQLite file (shared workers already checked)
def test_a_lone_worker_stops_when_a_newer_digestbot_upgrades_its_sqlite_file(workdir, caplog):
    config = narwhal_config(workdir)
    with Store(workdir.db) as store:
        worker = synced_worker(workdir, store, config)
        assert not worker.shared
        raw_sql(workdir.db, f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        assert worker.dispatch() == []
    assert worker.stopping.is_set() and worker.refused and "newer digestbot" in worker.refused
    assert "newer digestbot" in caplog.text
    raw_sql(workdir.db, f"PRAGMA user_version = {SCHEMA_VERSION}")
    assert ledger(workdir.db) == [] and not outbox_mails(workdir.outbox)


# --- a broken edit does not bring a group down ---------------------------------------------
# Fault: a running worker keeps its config when the YAML is edited into something broken, but
# in `run --processes N` a member that died meanwhile (OOM, kill -9) was started again on the
# broken YAML, exited 2, and the parent took that for a schema problem: it stopped every other
# member, and the whole group, over a typo.

FAST_RESTART = "import digestbot.group\ndigestbot.group.RESTART_PAUSE = 0.3"


def test_a_member_restarted_on_a_broken_edit_waits_for_a_fix_and_the_others_go_on(workdir, spawn):  # noqa: F811
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    source = FEED
    workdir.write_config(source, narwhal_reader())
    good = workdir.config.read_text()
    group = spawn("run", "--processes", "2", prelude=FAST_RESTART)
    line = group.wait_for(r"started 2 worker processes: pids")
    first, second = (int(p) for p in re.findall(r"\d+", line.split("pids", 1)[1]))
    # The digest first: killed while it held the fetch lease, the second worker would keep the
    # first from fetching until the lease ran out, past this test's end.
    sent = group.wait_for(r"digest \d+ to alice", timeout=30)
    deadline = time.monotonic() + 15
    while group.output.count("digestbot running") < 2 and time.monotonic() < deadline:
        time.sleep(0.05)

    workdir.config.write_text(good.replace("keywords: [narwhal]", "keywords: narwhal: x"))
    os.kill(second, signal.SIGKILL)
    group.wait_for(r"worker 1 .*cannot start.*subscriptions.yaml")
    time.sleep(1)  # a few restarts on the broken file
    assert group.popen.poll() is None and alive(first), group.output
    assert "stopping the others" not in group.output

    workdir.config.write_text(good)
    deadline = time.monotonic() + 15
    while group.output.count("digestbot running") < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert group.output.count("digestbot running") >= 3, group.output
    group.signal(signal.SIGTERM)
    assert group.finish(20) == 0, group.output

    # Whose line is it? The members share one stderr (one journal): each line names its worker
    # (they said the same words, N times over, with nothing to tell them apart).
    running = [ln for ln in group.stderr if "digestbot running" in ln]
    assert sorted(re.search(r"\[worker (\d)\]", ln).group(1) for ln in running) == ["0", "1", "1"], running
    assert re.search(r"\[worker \d\]: digest \d+ to alice", sent), sent
    assert len([ln for ln in group.stderr if re.search(r"\[worker \d\]: stopped$", ln.rstrip())]) == 2


# --- SIGTERM while `run --once` waits for another sender -----------------------------------
# Fault: `run --once` waits up to 30 s for the sender lock while the worker's dispatch (or a
# `send`) holds it; a SIGTERM in that wait was noted and ignored until the wait was over, so a
# stop (systemctl stop, a CI timeout) took up to 30 s instead of a moment.


def test_sigterm_while_run_once_waits_for_the_sender_lock_stops_it_at_once(workdir, spawn):  # noqa: F811
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    with sender_lock(workdir.db) as _held:
        proc = spawn("run", "--once")
        deadline = time.monotonic() + 15
        while "Sending digests:" not in "".join(proc.stdout) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.3)  # in the wait now
        proc.signal(signal.SIGTERM)
        stopped_at = time.monotonic()
        rc = proc.finish(40)
        took = time.monotonic() - stopped_at
    assert took < 5, f"took {took:.1f} s to stop:\n{proc.output}"
    assert rc == 0, proc.output
    assert "stopped" in proc.output.lower() and "Traceback" not in proc.output
    assert ledger(workdir.db) == []  # nothing was sent, nothing recorded


# --- Slack's Socket Mode out of reach when the worker starts -------------------------------
# Fault: with SLACK_APP_TOKEN set, `digestbot run` opened its Socket Mode connection before
# anything else; Slack out of reach (a network not up yet, an outage, a proxy) or refusing the
# token ended the worker with a 70-line traceback and exit 1: no email digest went out either,
# and under systemd's Restart=on-failure it died again at every restart.


def test_a_worker_that_cannot_reach_slacks_socket_mode_still_sends_and_says_why(workdir, spawn):  # noqa: F811
    from conftest import free_port

    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    workdir.monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-1-secretsecret")
    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-secretsecret")
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", f"http://127.0.0.1:{free_port()}/api/")
    worker = spawn("run")
    worker.wait_for(r"digest \d+ to alice: 1 papers")
    worker.signal(signal.SIGTERM)
    assert worker.finish(20) == 0, worker.output
    assert "Traceback" not in worker.output, worker.output
    [line] = [ln for ln in worker.stderr if "Socket Mode" in ln]
    assert "cannot connect to Slack over Socket Mode" in line and "refused" in line.lower(), line
    assert "secretsecret" not in worker.output


def test_serve_that_cannot_reach_slacks_socket_mode_still_serves_its_pages(workdir, spawn):  # noqa: F811
    """The same fault in `digestbot serve`: one-click unsubscribe and /healthz were down with it."""
    import requests
    from conftest import free_port

    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    workdir.monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A0-1-secretsecret")
    workdir.monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-1-secretsecret")
    workdir.monkeypatch.setenv("SLACK_SIGNING_SECRET", "signing-secretsecret")
    workdir.monkeypatch.setenv("DIGESTBOT_SLACK_API_URL", f"http://127.0.0.1:{free_port()}/api/")
    port = free_port()
    web = spawn("serve", "--port", str(port))
    web.wait_for(r"cannot connect to Slack over Socket Mode")
    deadline = time.monotonic() + 15
    while True:
        try:
            answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            break
        except requests.ConnectionError:
            assert time.monotonic() < deadline and web.popen.poll() is None, web.output
            time.sleep(0.05)
    assert answer.status_code == 200
    web.signal(signal.SIGTERM)
    assert web.finish(20) == 0, web.output
    assert "Traceback" not in web.output and "secretsecret" not in web.output


def test_a_socket_mode_token_slack_refuses_is_one_line_and_not_retried(slack_api, caplog):
    from digestbot.slack_app import connect_socket_mode, socket_mode_client

    slack_api.fail("apps.connections.open", "invalid_auth", times=5)
    env = Env(slack_bot_token="xoxb-1", slack_app_token="xapp-1", slack_api_url=slack_api.url)
    stop = threading.Event()
    try:
        assert not connect_socket_mode(socket_mode_client(None, env), stop, retry_every=0.05)
        time.sleep(0.3)
    finally:
        stop.set()
    assert len(slack_api.calls_to("apps.connections.open")) == 1  # no retry: the token will not change
    [line] = [r.getMessage() for r in caplog.records if "Socket Mode" in r.getMessage()]
    assert "Slack answered invalid_auth" in line and "fix SLACK_APP_TOKEN" in line


# --- a last fetch recorded ahead of the clock, when the worker starts -----------------------
# Fault: the worker schedules each source's first fetch at its last fetch plus `every:`. A last
# fetch recorded ahead of the clock (the clock set back since, as after a dead RTC battery, or
# a database copied from a machine whose clock ran ahead) pushed that first fetch past it: a
# day ahead, no fetch for a day and six hours. The running worker already treated such a
# timestamp as unknown (README, "The system clock set back"); starting did not.


def test_a_worker_started_after_the_clock_went_back_fetches_at_once(workdir, spawn):  # noqa: F811
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    digestbot(workdir, "run", "--once")
    ahead = (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%S.000000Z")
    raw_sql(workdir.db, f"UPDATE sources SET last_fetch_at = '{ahead}', last_ok_at = '{ahead}'")
    later = FeedPaper("2403.00002", "Narwhal songs", "Narwhals sing.")
    write_feed(workdir.path / "feed.xml", [NARWHAL, later])

    worker = spawn("run")
    worker.wait_for(r"fetched feed: 1 new", timeout=10)
    worker.signal(signal.SIGTERM)
    assert worker.finish(20) == 0, worker.output


def test_fetch_times_recorded_before_the_clock_was_set_back_hold_no_fetch_back(workdir):
    """The same mistake in collect: a Retry-After wait recorded before the clock went back a
    week waited a week more, and the re-fetch before trending digests took a fetch recorded
    ahead of the clock for a fresh one and used stale upvotes."""
    from digestbot import collect

    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    [feed] = load_config(workdir.config).sources
    now, week_ahead = datetime.now(UTC), datetime.now(UTC) + timedelta(days=7)
    client = HttpClient(sleep=lambda s: None)
    with Store(workdir.db) as store:
        store.record_fetch_error(
            feed.name, feed.type, feed.location, week_ahead, "HTTP 429", week_ahead + timedelta(hours=1)
        )
        outcome = collect.fetch_one(store, feed, client, now)
        assert outcome.waiting_until is None and outcome.new == 1, outcome

        store.record_fetch_ok(
            feed.name, feed.type, feed.location, week_ahead, 0, 1, None, None, changed=False
        )
        assert [o.name for o in collect.refresh_sources(store, [feed], client, now)] == ["feed"]
        # and one fetched a minute ago still counts as fresh
        assert collect.refresh_sources(store, [feed], client, now + timedelta(minutes=1)) == []


# --- a fetch cut short by a stop signal is no failure of the source -----------------------
# Fault: SIGTERM while a source was being fetched cut the fetch short (as it should), but the
# source was recorded as failed ("stopped": one failure more, three such stops made it
# "failing" in status) and as fetched just now, so the worker started again left it alone for
# its whole `every:`; `run --once` printed "FAILED: stopped" and exited 1, then said "nobody is
# due now; next: alice (now)".


def test_sigterm_during_a_fetch_records_no_failure_and_run_once_exits_0(workdir, spawn):  # noqa: F811
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    server.started, server.closing = threading.Event(), threading.Event()
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/feed.xml"
        workdir.write_config(f"- name: slow\n  type: rss\n  url: {url}\n", narwhal_reader())
        proc = spawn("run", "--once")
        assert server.started.wait(15), proc.output
        proc.signal(signal.SIGTERM)
        rc = proc.finish(15)
    finally:
        server.closing.set()
        server.shutdown()
        server.server_close()
    assert rc == 0, proc.output
    assert "FAILED" not in proc.output and "slow: not fetched: stopping" in proc.output, proc.output
    assert "nobody is due" not in proc.output and "left for the next run" in proc.output, proc.output
    with Store(workdir.db) as store:
        state = store.source_state("slow")
    assert not state.get("failures") and state.get("last_fetch_at") is None, state


# --- `database:` edited under a running worker ---------------------------------------------
# Fault: a reload took every other change to the YAML and silently ignored a changed
# `database:`: the operator who moved the database (say to PostgreSQL) saw "reloaded" in the
# log while the worker went on writing the old file, with nothing saying a restart was needed.


def test_a_database_changed_in_the_yaml_while_the_worker_runs_is_said_to_need_a_restart(workdir, caplog):
    caplog.set_level(logging.WARNING)  # a CLI test run before may have left the root logger at ERROR
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    source = FEED
    workdir.write_config(source, narwhal_reader(), extra_yaml="database: first.db")
    config = load_config(workdir.config)
    with Store(config.database) as store:
        worker = synced_worker(workdir, store, config)
        workdir.write_config(
            source, narwhal_reader(), extra_yaml="database: postgresql://digest@db.example/digest"
        )
        worker.reload_requested.set()
        assert [o.subscriber_id for o in worker.dispatch()] == ["alice"]
    [line] = [r.getMessage() for r in caplog.records if "database:" in r.getMessage()]
    assert "restart" in line and "first.db" in line and "db.example" in line, line
    assert [d.subscriber_id for d in ledger(workdir.path / "first.db")] == ["alice"]


# --- a group told to stop before it started its members ------------------------------------
# Fault: `run --processes N` sent a SIGTERM while it still read its config went on to start
# its N members anyway, only to stop them at once (killing some in their imports, before their
# own handlers were in place).


def test_a_group_stopped_while_it_reads_its_config_starts_no_member(workdir, spawn):  # noqa: F811
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    group = spawn("run", "--processes", "2", prelude=SLOW_CONFIG_LOAD)
    group.wait_for("loading the config")
    group.signal(signal.SIGTERM)
    assert group.finish(20) == 0, group.output
    assert "started 2 worker processes" not in group.output, group.output
    assert ledger(workdir.db) == []


# --- an error nobody foresaw, in the worker's jobs ------------------------------------------
# Fault: fetch_one turns an error nobody foresaw (a parser bug, input nobody imagined) into the
# source's failure, so the other sources and the digests go on; the fetch of liked papers did
# not: its error escaped the dispatch, and while one liked paper stayed missing no digest went
# out to anyone, every minute, with a traceback in the log each time. Any such error in a job
# reached the log as APScheduler's traceback.


def test_an_unforeseen_error_fetching_liked_papers_fails_that_fetch_only(workdir, monkeypatch, caplog):
    import responses

    from digestbot import collect

    write_feed(workdir.path / "feed.xml", [NARWHAL])
    reader = narwhal_reader() + "  like: [2401.00001]\n"
    workdir.write_config(FEED, reader)
    config = load_config(workdir.config)

    def broken(*args, **kwargs):
        raise ValueError("a parser bug")

    monkeypatch.setattr(collect, "parse_arxiv_api", broken)
    with responses.RequestsMock() as http, Store(workdir.db) as store:
        http.get("https://export.arxiv.org/api/query", body="<feed xmlns='http://www.w3.org/2005/Atom'/>")
        worker = synced_worker(workdir, store, config)
        assert [o.subscriber_id for o in worker.dispatch()] == ["alice"]
        state = store.source_state(collect.LIKED_SOURCE)
    assert "unexpected error: ValueError: a parser bug" in (state.get("last_error") or ""), state


def test_an_unforeseen_error_in_a_job_is_one_log_line_and_the_worker_goes_on(workdir, caplog):
    from digestbot import daemon

    config = narwhal_config(workdir)
    with Store(workdir.db) as store:
        worker = synced_worker(workdir, store, config)

        def broken(now):
            raise RuntimeError("injected")

        worker.fetch_stale = broken  # a bug nobody foresaw, in the middle of the job
        job = daemon._guarded(worker.dispatch, "sending digests")  # as run_forever schedules it
        assert job() is None
        del worker.fetch_stale
        assert [o.subscriber_id for o in job()] == ["alice"]  # the next run goes on
    [line] = [r.getMessage() for r in caplog.records if "injected" in r.getMessage()]
    assert "sending digests failed: RuntimeError: injected" in line and "-vv" in line, line
    assert not any(r.exc_info for r in caplog.records if r.levelno >= logging.INFO)


# --- a source fetched every second ----------------------------------------------------------
# Fault: `every: 1s` (or 5s) was accepted: the worker fetched the source every second, a log
# line and a database write each time, and a remote feed got 86,400 requests a day (arXiv asks
# for one every 3 s at most and updates its listing once a day), for nothing: digests go out
# at most once a minute.


def test_a_source_fetched_more_often_than_once_a_minute_is_a_config_error(workdir):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config("- name: feed\n  type: arxiv_rss\n  url: feed.xml\n  every: 5s\n", narwhal_reader())
    result = digestbot(workdir, "check", expect=2)
    assert re.search(r"subscriptions.yaml:\d+: sources\[0\].every: .*at least 1m", result.output), (
        result.output
    )
    workdir.write_config("- name: feed\n  type: arxiv_rss\n  url: feed.xml\n  every: 1m\n", narwhal_reader())
    digestbot(workdir, "check", expect=0)


# --- a YAML read while an editor was still writing it --------------------------------------
# Fault: the worker noticed an edit by the file's modification time alone. An editor that
# writes in place (truncate, then write) can be read half-way; when the rest of the write
# landed within the same tick of the file system's clock, the time did not change again: the
# worker had logged the half file's problems and stayed on the old config for good, though the
# file on disk was fine.


def test_an_edit_read_half_written_is_read_again_once_complete(workdir, caplog):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    source = FEED
    workdir.write_config(source, narwhal_reader("alice"))
    config = load_config(workdir.config)
    with Store(workdir.db) as store:
        worker = synced_worker(workdir, store, config)
        assert [o.subscriber_id for o in worker.dispatch()] == ["alice"]

        workdir.write_config(source, narwhal_reader("alice") + narwhal_reader("bob"))
        whole = workdir.config.read_text()
        tick = time.time_ns() + 10**9  # one moment of the file system's clock, for both writes
        workdir.config.write_text(whole[: whole.index("- id: bob") + 9])  # cut in the middle
        os.utime(workdir.config, ns=(tick, tick))
        assert worker.dispatch() == []
        assert "has problems" in caplog.text

        workdir.config.write_text(whole)
        os.utime(workdir.config, ns=(tick, tick))
        sent = [o.subscriber_id for o in worker.dispatch()]
    assert sent == ["bob"], caplog.text


# --- a lock file digestbot cannot open ------------------------------------------------------
# Fault: the lock files beside the database are made by whoever runs digestbot first. One made
# by another user (`sudo digestbot send` once, then the service user's worker), or anything
# else that cannot be opened, ended `run` and `send` with a traceback, and the worker's every
# dispatch with one: no digest ever went out, and nothing said what to do. (Root opens any
# file, so the test stands a folder where the lock file should be.)


def test_a_lock_file_that_cannot_be_opened_is_one_line_naming_it(workdir):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader())
    digestbot(workdir, "sync")
    (workdir.path / "digestbot.db.send.lock").mkdir()
    for command in (("run", "--once"), ("send",)):
        result = digestbot(workdir, *command, expect=2)
        assert "digestbot.db.send.lock" in result.output and "cannot open" in result.output, result.output
    (workdir.path / "digestbot.db.send.lock").rmdir()
    (workdir.path / "digestbot.db.run.lock").mkdir()
    result = digestbot(workdir, "run", expect=2)
    assert "digestbot.db.run.lock" in result.output, result.output
    assert ledger(workdir.db) == []


# --- the liked papers' fetch lease and a source named `liked` -------------------------------
# Fault: with several workers, the fetch of liked papers ran under the lease `fetch:liked`, the
# very lease of a source named `liked` (a valid name): a worker fetching that source kept every
# other worker from fetching liked papers, and the other way round.


def test_a_source_named_liked_does_not_share_its_lease_with_the_liked_papers(workdir):
    import responses

    from digestbot.collect import LIKED_SOURCE

    write_feed(workdir.path / "feed.xml", [NARWHAL])
    reader = narwhal_reader() + "  like: [2401.00001]\n"
    workdir.write_config(FEED.replace("name: feed", "name: liked"), reader)
    config = load_config(workdir.config)
    now = datetime.now(UTC)
    with responses.RequestsMock() as http, Store(workdir.db) as store:
        api = http.get(
            "https://export.arxiv.org/api/query", body="<feed xmlns='http://www.w3.org/2005/Atom'/>"
        )
        store.sync_subscribers(config.subscribers)
        store.record_fetch_ok("liked", "arxiv_rss", "x", now, 0, 0, None, None, changed=False)  # fresh
        assert store.claim_lease("fetch:liked", "another-worker", now, timedelta(minutes=10))  # fetching it
        worker = Worker(
            config, store, Env(outbox=workdir.outbox), client=HttpClient(sleep=lambda s: None), member=0
        )
        worker.dispatch()
        assert api.call_count >= 1, "the liked papers were not fetched"  # (an empty answer is asked twice)
        # what arrived: the liked fetch is recorded as its own, and the source's lease is untouched
        assert store.source_state(LIKED_SOURCE).get("last_ok_at")
        assert store.source_state("liked")["type"] == "arxiv_rss"
        assert not store.claim_lease("fetch:liked", "a-third-worker", now, timedelta(minutes=10))


# --- a run with nothing to rank a like-driven digest by -------------------------------------
# Fault: a subscriber with only `like:` and a database with no papers yet (a fresh install on a
# weekend: arXiv's listing is empty; the liked papers not fetched yet, or unknown to arXiv)
# made scikit-learn raise "empty vocabulary" in the middle of the run: `run --once` ended in a
# traceback, and the worker's dispatch failed every minute, for every subscriber.


def test_a_like_driven_digest_with_no_papers_yet_stops_no_run(workdir):
    import responses

    write_feed(workdir.path / "feed.xml", [])
    liker = "- id: kim\n  email: kim@example.org\n  like: [2401.00001]\n"
    workdir.write_config(FEED, liker + narwhal_reader("bob"))
    with responses.RequestsMock() as http:
        http.get("https://export.arxiv.org/api/query", body="<feed xmlns='http://www.w3.org/2005/Atom'/>")
        result = digestbot(workdir, "run", "--once", expect=0)
    assert "Traceback" not in result.output and "Digests: 0 sent, 0 failed" in result.output, result.output


def _readme_units() -> dict[str, list[tuple[str, str]]]:
    """The README's systemd units by the name their first line gives, as systemd.syntax(7) reads
    them: `key=value` lines, where only a line that starts with # or ; is a comment (a # after
    a value is part of the value)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    units = {}
    for block in readme.split("```ini\n")[1:]:
        name, _, unit = block.split("```", 1)[0].partition("\n")
        lines = [line.strip() for line in unit.splitlines()]
        settings = [line for line in lines if line and not line.startswith(("#", ";", "["))]
        units[name.split()[1]] = [
            (key, value.strip()) for key, _, value in (s.partition("=") for s in settings)
        ]
    return units


@pytest.mark.parametrize(
    "unit", ["/etc/systemd/system/digestbot.service", "/etc/systemd/system/digestbot@.service"]
)
def test_the_readme_s_systemd_units_read_their_environment_file(unit):
    """The units' `EnvironmentFile=/etc/digestbot/env   # DIGESTBOT_SMTP_URL=...` named a file
    called `/etc/digestbot/env   # DIGESTBOT_SMTP_URL=...` (systemd has no comment after a
    value), which is nowhere: the service failed to start, 'Failed to load environment files'."""
    settings = _readme_units()[unit]
    assert ("EnvironmentFile", "/etc/digestbot/env") in settings
    assert [(k, v) for k, v in settings if "#" in v] == []


# --- a schedule changed after a digest sent off its time -------------------------------------
# Fault: a digest sent away from its scheduled time (a new subscriber's first one, at once; the
# one after downtime; `send --force`) and then a change of schedule or timezone skipped a day:
# daily 08:00 with a first digest at 20:00, moved to 07:00 that evening, sent nothing the next
# morning and came the day after. The last digest was counted for the new time nearest to when
# it went out (tomorrow's 07:00, 11 h later, nearer than today's 13 h before) instead of for the
# time it was due at under the old schedule (today's 08:00). Even `daily 8:00` for
# `daily 08:00`, the same schedule spelt otherwise, skipped a day.

LATE_MOVES = {
    "earlier": Move(
        ("daily 08:00", "UTC"),
        "2026-03-01 20:00",
        "2026-03-01 21:00",
        ("daily 07:00", "UTC"),
        ["2026-03-01 20:00", "2026-03-02 07:00", "2026-03-03 07:00", "2026-03-04 07:00"],
    ),
    "the-same-time-spelt-otherwise": Move(
        ("daily 08:00", "UTC"),
        "2026-03-01 20:05",
        "2026-03-01 21:05",
        ("daily 8:00", "UTC"),
        ["2026-03-01 20:05", "2026-03-02 08:00", "2026-03-03 08:00", "2026-03-04 08:00"],
    ),
    "a-zone-an-hour-east": Move(
        ("daily 08:00", "UTC"),
        "2026-03-01 20:00",
        "2026-03-01 21:00",
        ("daily 08:00", "Europe/Berlin"),
        ["2026-03-01 20:00", "2026-03-02 07:00", "2026-03-03 07:00", "2026-03-04 07:00"],
    ),
    # weekly Monday, the first digest on a Wednesday, moved to daily: Thursday's comes
    "weekly-to-daily": Move(
        ("weekly mon 09:00", "UTC"),
        "2026-03-04 10:00",
        "2026-03-04 11:00",
        ("daily 08:00", "UTC"),
        ["2026-03-04 10:00", "2026-03-05 08:00", "2026-03-06 08:00", "2026-03-07 08:00"],
    ),
}


@pytest.mark.parametrize("move", LATE_MOVES.values(), ids=LATE_MOVES.keys())
def test_a_schedule_changed_after_a_digest_sent_off_its_time_skips_no_day(workdir, bot, move):  # noqa: F811
    assert digests_across_a_move(workdir, bot, move) == [utc(t) for t in move.sent]


# --- a dispatch that takes longer than a minute -----------------------------------------------
# Fault: while one dispatch was still sending (a slow relay, a large list: longer than the
# minute between two dispatches), APScheduler logged a WARNING every minute, `Execution of job
# "_guarded.<locals>.run (trigger: interval[0:01:00], ...)" skipped: maximum number of running
# instances reached (1)`: a job nobody could name said to be skipped, on a worker doing just
# what it should (the next dispatch waits for this one). Operators alarm on warnings.

FAST_DISPATCH = (
    "import datetime, digestbot.daemon\ndigestbot.daemon.DISPATCH_EVERY = datetime.timedelta(seconds=0.5)"
)


def test_a_dispatch_longer_than_the_minute_between_two_logs_no_warning(workdir, slow_smtp_server, spawn):  # noqa: F811
    readers = [f"r{i}" for i in range(6)]
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, "".join(narwhal_reader(sid) for sid in readers))
    workdir.use_smtp(slow_smtp_server.url)
    slow_smtp_server.handler.delay = 0.5  # 3 s of sending: six dispatch times come and go meanwhile

    worker = spawn("run", prelude=FAST_DISPATCH)
    worker.wait_for(r"digest \d+ to r5: 1 papers", timeout=60)
    worker.signal(signal.SIGTERM)
    assert worker.finish() == 0

    assert len(slow_smtp_server.messages) == len(readers)
    warnings = [line for line in worker.stderr if " WARNING " in line or " ERROR " in line]
    assert warnings == [], "".join(warnings)


# --- the next digest as status and send show it -------------------------------------------------
# Fault: `status` and `/digest list` showed `now` for a subscriber whose schedule had come round
# while their previous digest waited for a retry, though the runner leaves such a subscriber
# out until that retry; `send` then said "nobody is due now; next: alice (now)". The times were
# worked out from the schedule alone, not with the runner's rule (a digest waiting: not before
# its retry). (A paused one showed a time too: '-' now, as hunt27 found at the same time.)


def test_the_next_digest_shown_is_when_one_can_go_out(workdir, closed_smtp_url):
    write_feed(workdir.path / "feed.xml", [NARWHAL])
    workdir.write_config(FEED, narwhal_reader("alice") + narwhal_reader("carol"))
    digestbot(workdir, "sync")
    raw_sql(workdir.db, "UPDATE subscribers SET paused = 1 WHERE id = 'carol'")
    workdir.use_smtp(closed_smtp_url)
    digestbot(workdir, "run", "--once", expect=1)  # alice's digest waits for its retry
    yesterday = f"{datetime.now(UTC) - timedelta(days=1):%Y-%m-%dT%H:%M:%S.%fZ}"
    raw_sql(workdir.db, f"UPDATE subscribers SET last_run_at = '{yesterday}' WHERE id = 'alice'")
    [waiting] = ledger(workdir.db, "pending")
    retry = f"{waiting.next_attempt_at:%a %d %b %H:%M} UTC"

    sent = digestbot(workdir, "send").output
    assert f"nobody is due now; next: alice ({retry})" in sent, sent
    rows = {
        line.split()[1]: line
        for line in digestbot(workdir, "status").output.splitlines()
        if "@example" in line
    }
    assert retry in rows["alice"], rows["alice"]
    assert " now " not in rows["carol"] and " - " in rows["carol"], rows["carol"]
    with Store(workdir.db) as store:  # and /digest list, as Slack shows it
        handler = CommandHandler(store, load_config(workdir.config), Env(outbox=workdir.outbox))
        listed = handler.describe(store.subscriber("alice").subscriber)
    assert f"Next digest: {waiting.next_attempt_at:%a %d %b %H:%M}\n" in listed, listed


# --- when the first digest of a web sign-up goes out --------------------------------------------
# Fault: the page a confirmed sign-up lands on said "Your first digest comes at the next
# scheduled time" (and the confirmation page "... on its way at the next scheduled time"),
# tomorrow's 08:00 for the form's default, while a subscriber who never had a digest is due at
# once: the next `send` (or the worker's next round, within a minute) mailed it. The pages
# promised what the schedule says, not what the runner does with a first digest.


def test_the_page_after_a_web_sign_up_says_when_the_first_digest_really_goes(workdir, site):  # noqa: F811
    done = confirmed(site, site.browser(), "ada@uni.example")

    assert "next scheduled time" not in done.text
    assert "Your first digest goes out within minutes" in done.text, done.text
    digestbot(workdir, "send")
    assert len(site.mails("ada@uni.example", 2)) == 2  # the confirmation, then the digest, now


# --- SIGHUP while the group's members are still starting -------------------------------------------
# Fault: `run --processes N` forwarded a SIGHUP (`systemctl reload`) to members that had only
# just been started and had not installed their handlers yet, and SIGHUP's default action
# killed them: "worker 0 (pid ...) died (exit code -1); starting it again in 5 s" for a reload.


def test_a_reload_while_the_members_start_kills_none_of_them(workdir, spawn):  # noqa: F811
    narwhal_config(workdir)
    group = spawn("run", "--processes", "2")
    group.wait_for(r"started 2 worker processes")
    group.signal(signal.SIGHUP)  # the members are still importing digestbot
    for member in (0, 1):  # each one took the reload once it could: it re-read the YAML
        group.wait_for(rf"\[worker {member}\]: reloaded ")
    group.signal(signal.SIGTERM)
    assert group.finish() == 0
    assert "died" not in group.output, group.output
