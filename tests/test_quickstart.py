"""The README's quickstart, as a new user runs it: the repository's own subscriptions.yaml, no
network, no credentials. It must succeed (exit 0), fill the outbox, and say what it did."""

from __future__ import annotations

import email
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from digestbot.config import load_config

ROOT = Path(__file__).resolve().parent.parent


def quickstart(folder: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGESTBOT_", "SLACK_"))}
    return subprocess.run(
        [sys.executable, "-m", "digestbot", "run", "--once"],
        cwd=folder,
        env={**env, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_the_repository_config_needs_no_network():
    """Every source of the shipped config is a file beside it: the quickstart works offline."""
    config = load_config(ROOT / "subscriptions.yaml")
    assert config.sources
    for source in config.sources:
        assert source.url is None, f"{source.name} needs a network: {source.url}"
        assert source.path is not None and source.path.is_file()


def test_the_quickstart_runs_offline_and_fills_the_outbox(tmp_path):
    shutil.copy(ROOT / "subscriptions.yaml", tmp_path)
    (tmp_path / "digestbot" / "samples").mkdir(parents=True)
    shutil.copy(ROOT / "digestbot" / "samples" / "sample-feed.xml", tmp_path / "digestbot" / "samples")

    first = quickstart(tmp_path)

    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    assert "sample: 145 new, 0 already known" in first.stdout
    assert "Digests: 3 sent, 0 failed" in first.stdout
    outbox = sorted((tmp_path / "outbox").iterdir())
    mails = [email.message_from_bytes(p.read_bytes()) for p in outbox if p.suffix == ".eml"]
    assert sorted(m["To"] for m in mails) == ["alice@example.org", "bob@example.org"]
    assert all(m.get_content_type() == "multipart/alternative" for m in mails)
    slack = [json.loads(p.read_text()) for p in outbox if p.name.endswith(".slack.json")]
    assert [s["channel"] for s in slack] == ["#ml-papers"]
    assert all(m["blocks"] for m in slack[0]["messages"])

    again = quickstart(tmp_path)

    assert again.returncode == 0, again.stdout + again.stderr
    assert "sample: 0 new, 145 already known" in again.stdout
    assert "nobody is due now; next: " in again.stdout
    assert "Digests: 0 sent, 0 failed" in again.stdout
    assert sorted((tmp_path / "outbox").iterdir()) == outbox  # nothing sent twice


def test_a_missing_config_says_how_to_make_one(tmp_path):
    """A new user's first command, in a folder with no subscriptions.yaml: exit 2 and what to do."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DIGESTBOT_", "SLACK_"))}
    for command in ("check", "status", "run"):
        done = subprocess.run(
            [sys.executable, "-m", "digestbot", command, *(["--once"] if command == "run" else [])],
            cwd=tmp_path,
            env={**env, "PYTHONPATH": str(ROOT)},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 2, done.stderr
        first = done.stderr.splitlines()[0]
        assert first == "subscriptions.yaml: not found (run 'digestbot init' to write one)", done.stderr
        assert "Traceback" not in done.stderr
    assert not (tmp_path / "digestbot.db").exists()
