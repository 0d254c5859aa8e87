"""The starter subscriptions.yaml that `digestbot init` writes."""

from __future__ import annotations

from pathlib import Path

SAMPLE_FEED = Path(__file__).resolve().parent / "samples" / "sample-feed.xml"

_STARTER = """\
# digestbot subscriptions: what to fetch, and who gets which papers.
# Check it with `digestbot check`; run it with `digestbot run --once`.
# Secrets (SMTP password, Slack tokens) come from the environment, never from this file.

database: digestbot.db
timezone: UTC

sources:
  # A bundled sample of arXiv cs.LG announcements, so everything works offline.
  # Replace it with real sources when you are ready.
  - name: sample
    type: arxiv_rss
    url: {sample}
  # - name: arxiv-cs-lg
  #   type: arxiv_rss          # rss.arxiv.org; one announcement day per fetch
  #   url: https://rss.arxiv.org/rss/cs.LG
  #   every: 6h
  # - name: hf-daily
  #   type: hf_daily           # Hugging Face daily papers, with upvotes
  #   every: 6h

email:
  from: "Paper digest <digest@example.org>"

defaults:
  schedule: daily 08:00         # daily HH:MM | weekdays HH:MM | weekly DAY HH:MM | 5-field cron
  max_papers: 25

# Sign-up and "manage your digest" pages, served by `digestbot serve` behind HTTPS (README,
# "Web sign-up"); they need DIGESTBOT_BASE_URL and DIGESTBOT_SECRET.
# web:
#   signup: true
#   allow_domains: [uni.example]
#   proxies: 1

subscribers:
  - id: me
    email: me@example.org
    keywords: [imitation learning, reinforcement learning, "robot*"]
    exclude: [survey]
    # trending: 10              # the 10 most upvoted Hugging Face papers not yet sent (with an
    #                           # hf_daily source); keywords, if any, narrow them
    # sources: [sample]         # only papers these sources reported
"""


def starter_yaml() -> str:
    return _STARTER.format(sample=SAMPLE_FEED)
