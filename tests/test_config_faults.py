"""Faults found in subscriber schedules, timezones and the YAML configuration: each test drives
the real CLI (or the worker on a fake clock) on real files and checks what arrived, the exit
code and the message."""

from __future__ import annotations

from helpers import SOURCES, FeedPaper, digestbot, write_feed
from test_daemon import outbox_mails

ROBOTS = FeedPaper("2403.00001", "Robot learning at scale", "About robots.")
NARWHALS = FeedPaper("2403.00002", "Narwhal songs", "Narwhals sing.")


# --- YAML merge keys: an explicit key overrides a merged one ---------------------------------
# Fault: `<<: *alice` (YAML's merge key: take alice's settings, then change some) is how a YAML
# file shares settings between entries; PyYAML flattens the merge into the mapping, and the
# reader took alice's `id` and `email` followed by bob's own for "duplicate key": exit 2 on a
# valid file. An explicit key overrides a merged one; only two explicit keys are duplicates.


def test_a_merged_subscriber_overrides_what_it_merges_and_gets_its_own_digest(workdir):
    write_feed(workdir.path / "feed.xml", [ROBOTS, NARWHALS])
    workdir.write_config(
        SOURCES,
        """
        - &alice
          id: alice
          email: alice@example.org
          keywords: [robot]
        - <<: *alice
          id: bob
          email: bob@example.org
        - <<: *alice
          id: carol
          email: carol@example.org
          keywords: [narwhal]
        """,
    )
    assert "OK (1 source(s), 3 subscriber(s))" in digestbot(workdir, "check").output

    digestbot(workdir, "run", "--once")
    got = {m.to: m.papers for m in outbox_mails(workdir.outbox)}
    assert got == {
        "alice@example.org": {ROBOTS.aid},
        "bob@example.org": {ROBOTS.aid},
        "carol@example.org": {NARWHALS.aid},
    }


def test_two_explicit_keys_beside_a_merge_are_still_a_duplicate(workdir):
    write_feed(workdir.path / "feed.xml", [ROBOTS])
    workdir.write_config(
        SOURCES,
        """
        - &alice
          id: alice
          email: alice@example.org
          keywords: [robot]
        - <<: *alice
          id: bob
          email: bob@example.org
          email: bob2@example.org
        """,
    )
    result = digestbot(workdir, "check", expect=2)
    lines = workdir.config.read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if "bob2@" in text)
    assert f"subscriptions.yaml:{line}: subscribers[1].email: duplicate key" in result.output
    assert "subscribers[1].id" not in result.output
