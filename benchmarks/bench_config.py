"""Reading subscriptions.yaml: every command and every reload does it first.

    python benchmarks/bench_config.py                    # 5,000 and 20,000 subscribers
    python benchmarks/bench_config.py --subscribers 50000

For each size, a generated file (seeded: 8 keywords each from a 3,000-phrase vocabulary, a
schedule, one in five with an exclusion and an author) is read by `digestbot.config.load_config`
as shipped (libyaml composes the node tree) and, in the same run, with PyYAML's own parser
instead (the baseline: what digestbot did before). CPU seconds, best of two; the same checks run
either way (the validated Config is compared).
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from digestbot import config


def write_yaml(folder: Path, n: int) -> Path:
    rng = random.Random(n)
    words = [f"topic {i}" for i in range(3_000)]
    lines = ["sources:", "  - name: sample", "    type: rss", "    url: feed.xml", "subscribers:"]
    for i in range(n):
        picked = rng.sample(words, 9)  # 8 keywords, and an exclusion that is none of them
        lines += [
            f"  - id: reader-{i}",
            f"    email: reader-{i}@example.org",
            f"    keywords: [{', '.join(picked[:8])}]",
            f"    schedule: daily {rng.randrange(24):02d}:00",
        ]
        if i % 5 == 0:
            lines += [f"    exclude: [{picked[8]}]", f"    authors: [Author {i}]"]
    (folder / "feed.xml").write_text("<rss/>")
    path = folder / "subscriptions.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def timed(path: Path, libyaml: bool) -> tuple[float, config.Config]:
    best, loaded = float("inf"), None
    for _ in range(2):
        with mock.patch.object(config, "_LIBYAML", config._LIBYAML if libyaml else None):
            started = time.process_time()
            loaded = config.load_config(path)
            best = min(best, time.process_time() - started)
    return best, loaded


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--subscribers", type=int, action="append", help="a size (repeatable)")
    sizes = parser.parse_args().subscribers or [5_000, 20_000]
    if config._LIBYAML is None:
        sys.exit("PyYAML here has no libyaml (yaml.CSafeLoader): nothing to compare")
    print(f"{'subscribers':>11} {'parser':<22} {'CPU s':>7} {'/baseline':>9}")
    print("-" * 52)
    with tempfile.TemporaryDirectory() as tmp:
        for n in sizes:
            path = write_yaml(Path(tmp), n)
            base, slow = timed(path, libyaml=False)
            fast_s, fast = timed(path, libyaml=True)
            assert fast == slow, "the two parsers read the file differently"
            print(f"{n:>11,} {'PyYAML (baseline)':<22} {base:>7.2f} {1.0:>9.2f}")
            print(f"{n:>11,} {'libyaml (shipped)':<22} {fast_s:>7.2f} {fast_s / base:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
