"""Digests made to find rough edges a reader would hit: many papers, long unbroken words and URLs,
right-to-left and CJK text, every Hugging Face field, signed links. Shared by the rendering tests
(browser, size, Slack) and the SpamAssassin benchmark."""

from __future__ import annotations

from datetime import UTC, datetime

from digestbot.models import Digest, Match, Paper, Profile, Subscriber

WHEN = datetime(2024, 3, 14, 7, 0, tzinfo=UTC)
TERMS = ("imitation learning", "diffusion policy", "robot*")
LONG_WORD = "Supercalifragilistic" * 15  # 300 characters, no break
LONG_URL = "https://github.com/example-lab/" + "very-long-repository-name-" * 12 + "/blob/main/README.md"
ARABIC_TITLE = "تعلم المحاكاة للروبوتات: سياسة الانتشار من عروض قليلة"
ARABIC_ABSTRACT = (
    "نقدم طريقة جديدة لتعلم المحاكاة تعتمد على سياسة الانتشار، وتتعلم من عدد قليل من العروض "
    "البشرية. تظهر التجارب على روبوتات حقيقية تحسنا كبيرا في معدل النجاح."
)
CJK_TITLE = "基于扩散策略的机器人模仿学习方法研究与大规模真实世界实验评估" * 2
CJK_ABSTRACT = (
    "我们提出一种新的模仿学习方法，该方法基于扩散策略，可以从少量人类示范中学习复杂的操作技能。" * 4
)
ABSTRACT = (
    "We learn robot manipulation from a few demonstrations with imitation learning and a diffusion "
    "policy. Code is at {url} and the project page shows videos. Our method improves success "
    "rates on twelve real-world tasks and runs in real time on a single GPU, with ablations."
)


def reader_paper(i: int, title: str | None = None, abstract: str | None = None, **fields) -> Paper:
    """A paper with every field a digest can show, the Hugging Face ones included."""
    aid = f"2403.{10000 + i:05d}"
    base = {
        "authors": tuple(f"Author Number{n} Surname{i}" for n in range(1, 12)),
        "categories": ("cs.LG", "cs.RO", "cs.AI"),
        "link": f"https://arxiv.org/abs/{aid}",
        "pdf_url": f"https://arxiv.org/pdf/{aid}",
        "arxiv_id": aid,
        "upvotes": 100 - i % 100,
        "hf_url": f"https://huggingface.co/papers/{aid}",
        "github_url": f"https://github.com/example-lab/paper-{i}",
        "github_stars": 1234 + i,
        "project_url": f"https://example-lab.github.io/paper-{i}/",
        "ai_summary": "The paper teaches robots from a few demonstrations with a diffusion policy.",
        "thumbnail_url": f"https://cdn-thumbnails.huggingface.co/social-thumbnails/papers/{aid}.png",
        "comments": 3,
        "organization": "Example Lab",
    }
    return Paper(
        key=f"arxiv:{aid}",
        title=title or f"Diffusion Policy for Robot Imitation Learning, Part {i}",
        abstract=abstract or ABSTRACT.format(url=f"https://github.com/example-lab/diffusion-policy-{i}"),
        **{**base, **fields},
    )


def rough_papers() -> list[Paper]:
    """The papers that broke layouts: long words, long URLs, RTL, CJK, hostile markup."""
    return [
        reader_paper(
            1, title=f"Imitation learning {LONG_WORD}", abstract=f"A diffusion policy {LONG_WORD} works."
        ),
        reader_paper(2, abstract=f"Imitation learning code: {LONG_URL} and more at {LONG_URL}?q={LONG_WORD}"),
        reader_paper(3, title=ARABIC_TITLE, abstract=ARABIC_ABSTRACT, authors=("محمد أحمد", "فاطمة علي")),
        reader_paper(4, title=CJK_TITLE, abstract=CJK_ABSTRACT),
        reader_paper(5, title="Robot *bold* _it_ ~strike~ `code` <b>tag</b> & <!channel>"),
        reader_paper(6, github_url=LONG_URL, project_url=LONG_URL, organization=LONG_WORD),
        reader_paper(7, authors=(LONG_WORD, "A. " + LONG_WORD)),
    ]


def reader_digest(papers: list[Paper], total: int | None = None, slack: bool = False, **sub) -> Digest:
    """A digest of `papers` (matched by TERMS) for a reader with a long, varied profile."""
    profile = Profile(keywords=(*TERMS, "reinforcement learning from human feedback"), exclude=("survey",))
    subscriber = Subscriber(
        id="alice",
        email=None if slack else "alice@example.org",
        slack="#papers" if slack else None,
        profile=profile,
        **sub,
    )
    matches = [Match(p, 40 - i % 40, TERMS[: 1 + i % 3], ()) for i, p in enumerate(papers)]
    return Digest(subscriber, matches, total if total is not None else len(matches), created=WHEN)


def links() -> dict:
    """The signed links a deployment with a public web app puts in a digest."""
    base = "https://digest.example.org"
    token = "YWxpY2U." + "x" * 43
    return {
        "unsubscribe_url": f"{base}/unsubscribe?t={token}",
        "manage_url": f"{base}/manage?t={token}",
        "feedback_link": lambda key, vote: f"{base}/feedback?t={token}{key[-5:]}&vote={vote}",
    }
