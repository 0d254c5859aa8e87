"""Pathological feeds: what feedparser spends on them, and what digestbot's byte-level checks
spend refusing or repairing them before feedparser sees them.

    python benchmarks/bench_feed_guard.py            # 50,000 attributes on one <item>
    python benchmarks/bench_feed_guard.py --n 20000

feedparser's time grows with the square of the attributes on one element; the pre-scan
(digestbot.sources.document) is one linear regex pass. The worst cases for the scans themselves
are 20 MB documents (the download cap). Wall-clock seconds, one run on this machine.
"""

from __future__ import annotations

import argparse
import time
import warnings

import feedparser

from digestbot.sources import document
from digestbot.sources.base import SourceError, parse_feed

MB = 1 << 20


def crowded(n: int) -> bytes:
    attrs = " ".join(f'a{i}="v"' for i in range(n))
    return (
        b'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
        + f"<item {attrs}><title>x</title><guid>g</guid></item>".encode()
        + b"</channel></rss>"
    )


def timed(fn, *args) -> tuple[float, object]:
    started = time.perf_counter()
    try:
        result = fn(*args)
    except (SourceError, document.TooBroken) as e:
        result = f"refused: {e}"
    return time.perf_counter() - started, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=50_000, help="attributes on one <item>")
    n = parser.parse_args().n
    warnings.simplefilter("ignore")
    doc = crowded(n)
    print(f"one <item> with {n:,} attributes ({len(doc):,} bytes)")
    seconds, _ = timed(feedparser.parse, doc)
    print(f"  feedparser.parse            {seconds:9.3f} s")
    seconds, result = timed(parse_feed, doc)
    print(f"  digestbot parse_feed        {seconds:9.4f} s  {result}")
    worst = {
        "20 MB of '<a=\"' (tags)": b'<a="' * (5 * MB),
        "20 MB of '=' in text": b"<x>" + b"=" * (20 * MB),
        "20 MB feed of 10,000 items": b"<rss><channel>"
        + b"".join(
            f"<item><title>P{i}</title><description>{'word ' * 400}</description></item>".encode()
            for i in range(10_000)
        )
        + b"</channel></rss>",
    }
    for name, data in worst.items():
        seconds, result = timed(document.crowded_tag, data)
        print(f"  crowded_tag, {name:28} {seconds:7.3f} s  {result}")
    for name, data in {
        "20 MB of '&'": b"&" * (20 * MB),
        "20 MB of '&amp;'": b"&amp;" * (4 * MB),
        "20 MB of '&#8230;'": b"&#8230;" * (3 * MB),
        "20 MB of \\x01": b"\x01" * (20 * MB),
    }.items():
        seconds, result = timed(document.repair, data)
        shown = result if isinstance(result, str) else "repaired"
        print(f"  repair, {name:33} {seconds:7.3f} s  {shown}")


if __name__ == "__main__":
    main()
