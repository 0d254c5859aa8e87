"""SpamAssassin's verdict on the sample digests: the quickstart's digests (the bundled sample of
145 arXiv papers, the quickstart's subscribers, and one of 100 papers), scored by Debian's `spamassassin` in local mode
(`-L`: no network tests), as a receiving server would before DKIM and DNS come in.

    python benchmarks/bench_spamassassin.py            # fails (exit 1) above --max (1.0)
    python benchmarks/bench_spamassassin.py --keep out # also keep the .eml files

Prints, per digest, the score and the rules hit; and, as the baseline in the same run, the
score of a minimal plain-text mail from the same sender, so a score is read against what any
mail from this setup gets. Needs `apt-get install spamassassin` (`.ci/run` installs it).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# A long digest too (100 papers), beside the quickstart's subscribers.
CAROL = {
    "id": "carol",
    "email": "carol@example.org",
    "keywords": ["reinforcement learning", "agent*", "reward model*"],
    "max_papers": 100,
}


def sample_config() -> str:
    """The repository's quickstart subscriptions.yaml, offline: only the bundled sample source
    (by absolute path), its subscribers and CAROL, the one-click mailto set."""
    config = yaml.safe_load((ROOT / "subscriptions.yaml").read_text(encoding="utf-8"))
    config.pop("database", None)
    config["sources"] = [
        {**s, "url": str(ROOT / s["url"])} for s in config["sources"] if s["name"] == "sample"
    ]
    config["email"]["unsubscribe_mailto"] = "digest-admin@example.org"
    config["subscribers"].append(CAROL)
    return yaml.safe_dump(config, sort_keys=False)


BASELINE = """\
From: Paper digest <digest@example.org>
To: alice@example.org
Subject: Hello
Date: Tue, 01 Dec 2026 08:00:00 +0000
Message-ID: <baseline.1@example.org>
MIME-Version: 1.0
Content-Type: text/plain; charset="utf-8"

Hello Alice, this is a short plain note from the paper digest.
"""


def score(message: bytes) -> tuple[float, list[str]]:
    """SpamAssassin's score of one message and the rules it hit (local tests only)."""
    out = subprocess.run(
        ["spamassassin", "-L", "-t"], input=message, capture_output=True, check=True
    ).stdout.decode("utf-8", "replace")
    status = re.search(r"^X-Spam-Status: .*(?:\r?\n[ \t].*)*", out, re.MULTILINE)
    if status is None:
        raise SystemExit(f"no X-Spam-Status in spamassassin's output:\n{out[:2000]}")
    text = " ".join(status.group(0).split())
    value = float(re.search(r"score=(-?[\d.]+)", text).group(1))
    tests = re.sub(r",\s+", ",", text).partition("tests=")[2].split(" ")[0]
    return value, [t for t in tests.split(",") if t and t != "none"]


def sample_digests(folder: Path) -> list[Path]:
    """Run `digestbot run --once` on the sample config (with one-click unsubscribe links, as a
    real deployment has) and return the .eml files it wrote."""
    (folder / "subscriptions.yaml").write_text(sample_config(), encoding="utf-8")
    env = {
        **os.environ,
        "DIGESTBOT_OUTBOX": str(folder / "outbox"),
        "DIGESTBOT_BASE_URL": "https://digest.example.org",
        "DIGESTBOT_SECRET": "benchmark-secret",
    }
    env.pop("DIGESTBOT_SMTP_URL", None)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "digestbot",
            "--config",
            "subscriptions.yaml",
            "--db",
            "bench.db",
            "run",
            "--once",
        ],
        cwd=folder,
        env={**env, "PYTHONPATH": str(ROOT)},
        check=True,
        capture_output=True,
    )
    return sorted((folder / "outbox").glob("*.eml"))


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--max", type=float, default=1.0, help="highest score allowed (default 1.0)")
    parser.add_argument("--keep", type=Path, help="copy the scored .eml files into this folder")
    args = parser.parse_args()
    if shutil.which("spamassassin") is None:
        print("spamassassin is not installed: apt-get install -y spamassassin", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        emls = sample_digests(Path(tmp))
        if not emls:
            print("the sample config sent no digest", file=sys.stderr)
            return 2
        base, base_rules = score(BASELINE.replace("\n", "\r\n").encode())
        rows = [("baseline (plain note)", len(BASELINE), base, base_rules)]
        for eml in emls:
            data = eml.read_bytes()
            rows.append((eml.stem.split("-", 2)[2], len(data), *score(data)))
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                shutil.copy(eml, args.keep / eml.name)
    print(f"{'message':<24} {'bytes':>8} {'score':>6} {'vs base':>8}  rules hit")
    print("-" * 100)
    for name, size, value, rules in rows:
        print(f"{name:<24} {size:>8} {value:>6.1f} {value - base:>+8.1f}  {', '.join(rules) or '-'}")
    worst = max(value for _, _, value, _ in rows[1:])
    print(
        f"summary: digests={len(rows) - 1} worst={worst:.1f} baseline={base:.1f} max_allowed={args.max:.1f}"
    )
    return 0 if worst <= args.max else 1


if __name__ == "__main__":
    raise SystemExit(main())
