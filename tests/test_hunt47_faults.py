"""Faults found by using the Slack side (/digest over signed HTTP, digests posted to a local
stand-in for the Slack Web API) and the CLI as an operator would. Each test drives the real
parts (the web app on loopback, the real CLI) and checks what arrived or what the database holds."""

from __future__ import annotations

import html
import os
import subprocess

import test_ops
import test_slack
from helpers import digestbot
from test_slack import IMITATION, REASONING, email_sub, setup

from digestbot.lock import runner_lock
from digestbot.store import Store

start_web = test_slack.start_web  # the fixture: the real web app on loopback


def likes(workdir, sid: str) -> tuple[str, ...]:
    with Store(workdir.db) as store:
        return store.subscriber(sid).subscriber.profile.likes


# Fault: `/digest like A B C` read the words after a valid id as that paper's title (as a line of
# a library file may be), so `like 2501.10001 banana 9999.99999` answered "Already liked" and
# said nothing of the other two; `like banana, 2501.10003` named only `banana` and liked nothing.
# Every word is one reference, as the help says, and the reply says what became of each.
def test_digest_like_of_several_ids_says_what_became_of_each_one(workdir, start_web):
    setup(workdir, [IMITATION, REASONING], email_sub("alice"))
    digestbot(workdir, "fetch")
    web = start_web()

    def say(text: str) -> str:
        return html.unescape(web.command(text))

    assert say("like 2501.10001").startswith("Liked `2501.10001`")
    reply = say("like 2501.10001 banana 9999.99999")
    assert "Already liked: `2501.10001`" in reply
    assert "`banana` is not an arXiv id or link" in reply
    assert "`9999.99999` is not an arXiv id or link (9999 is not a year and month (YYMM))" in reply

    reply = say("like banana, 2501.10003")
    assert reply.startswith("Liked `2501.10003`") and "`banana` is not an arXiv id or link" in reply
    assert likes(workdir, "slack:U42") == ("2501.10001", "2501.10003")

    reply = say("like banana 9999.99999")  # nothing to record: each is named, nothing changes
    assert "`banana` is not an arXiv id" in reply and "`9999.99999` is not an arXiv id" in reply

    reply = say("unlike 2501.10003 banana")
    assert reply.startswith("Removed `2501.10003`") and "`banana` is not an arXiv id or link" in reply
    reply = say("unlike 2501.10003 apple")
    assert "`2501.10003` is not among your liked papers" in reply and "`apple` is not an arXiv id" in reply
    assert likes(workdir, "slack:U42") == ("2501.10001",)


# Fault: a second `digestbot run` on a SQLite database another one runs the scheduler on synced
# its YAML into that database (a test config pointed at the real database replaced its
# subscribers) and then exited 1, "done with failures", which the README's systemd unit
# (Restart=on-failure, RestartPreventExitStatus=2) restarts: five restarts in seconds and
# "start-limit-hit", or a restart every few seconds for ever on a slow machine. It is a set-up
# to fix, not a failure that passes: it exits 2 before it changes anything, naming the first.
def test_a_second_scheduler_exits_2_before_it_changes_anything(workdir):
    workdir.write_config("", email_sub("alice"))
    digestbot(workdir, "sync")
    workdir.write_config("", email_sub("bob"))  # another config, on the same database
    holder = runner_lock(workdir.db)
    holder.acquire()
    try:
        proc = subprocess.run(
            test_ops.argv(workdir, "run"), cwd=workdir.path, capture_output=True, text=True, timeout=60
        )
    finally:
        holder.release()
    assert proc.returncode == 2, proc.stderr
    assert f"another digestbot process (pid {os.getpid()}) is running the scheduler" in proc.stderr
    assert "Traceback" not in proc.stderr
    with Store(workdir.db) as store:
        assert [s.subscriber.id for s in store.subscribers()] == ["alice"]
