"""The web page's live preview: what one POST /preview costs over a week of stored papers.

    python benchmarks/bench_preview.py                    # 2,000 and 20,000 papers
    python benchmarks/bench_preview.py --papers 5000

Same run, same generated data (benchmarks/corpus.py): `/healthz` through the same app is the
baseline (what any request costs: Flask, the session, the database open), then the preview with
keywords only and with 3 liked papers (similarity ranking). Wall-clock milliseconds per request,
median of --repeat, through Flask's test client (no sockets: the app's own cost).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.corpus import make_papers, make_profiles  # noqa: E402
from digestbot import web_pages  # noqa: E402
from digestbot.config import Config, Env, WebConfig  # noqa: E402
from digestbot.store import Store  # noqa: E402
from digestbot.web import WebApp  # noqa: E402


def median_ms(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def run(n_papers: int, repeat: int) -> list[tuple[str, float]]:
    web_pages.LIMITS.update({"preview-ip": (10**9, 600), "preview-email": (10**9, 600)})
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        papers = make_papers(n_papers)
        with Store(db) as store:
            store.add_papers(papers, "bench")
        config = Config(path=Path(tmp) / "s.yaml", web=WebConfig(signup=True))
        app = WebApp(config, Env(outbox=Path(tmp), base_url="http://bench.example", secret="s"), db)
        client = app.flask.test_client()
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/").get_data(as_text=True)).group(
            1
        )
        keywords = ", ".join(next(iter(make_profiles(1).values())).keywords)
        form = {
            "csrf_token": token,
            "keywords": keywords,
            "frequency": "daily",
            "time": "08:00",
            "timezone": "UTC",
        }
        liked = {**form, "likes": ", ".join(p.arxiv_id for p in papers[:3] if p.arxiv_id)}

        def preview(data: dict) -> None:
            r = client.post("/preview", data=data, headers={"Accept": "application/json"})
            assert r.status_code == 200, r.get_data(as_text=True)[:200]

        rows = [
            ("GET /healthz (baseline)", median_ms(lambda: client.get("/healthz"), repeat)),
            ("POST /preview, keywords", median_ms(lambda: preview(form), repeat)),
            ("POST /preview, + 3 likes", median_ms(lambda: preview(liked), repeat)),
        ]
        app.close()
        return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--papers", type=int, action="append")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    print(f"{'request':28} {'papers':>7} {'ms':>9} {'ratio':>7}")
    for n in args.papers or [2000, 20000]:
        rows = run(n, args.repeat)
        base = rows[0][1]
        for label, ms in rows:
            print(f"{label:28} {n:7} {ms:9.1f} {ms / base:7.1f}")


if __name__ == "__main__":
    main()
