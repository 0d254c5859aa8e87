"""Build the bundled sample feed from the seed corpus.

Reads the paper listings in ``data/seeds/*.txt`` (see ``data/seeds/README.md`` for their
format), keeps each distinct title once in first-seen order (files in name order), and writes
``digestbot/samples/sample-feed.xml``: an RSS 2.0 document shaped like a daily cs.LG feed from
rss.arxiv.org, with one item per paper.

Titles and abstracts come from the seeds. Ids, authors, categories and announce types are
synthetic: they are derived from a SHA-256 hash of the title, and the dates are fixed, so
running the script twice gives byte-identical output.

Usage::

    python scripts/make_sample_feed.py [--seeds DIR] [--out FILE]

Standard library only.
"""

from __future__ import annotations

import argparse
import hashlib
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEEDS = ROOT / "data" / "seeds"
DEFAULT_OUT = ROOT / "digestbot" / "samples" / "sample-feed.xml"

FEED_DATE = "Wed, 13 Mar 2024 00:00:00 -0400"
# rss.arxiv.org writes lastBuildDate in UTC; this is the same instant as FEED_DATE.
BUILD_DATE = "Wed, 13 Mar 2024 04:00:00 +0000"
ID_PREFIX = "2403."
FEED_CATEGORY = "cs.LG"
OTHER_CATEGORIES = ("cs.AI", "cs.CL", "cs.RO", "cs.CV", "stat.ML")
LICENSE = "http://creativecommons.org/licenses/by/4.0/"

# Lines a listing capture starts with, before the first title.
HEADER_LINES = frozenset(
    {
        "new",
        "Get trending papers in your email inbox!",
        "Subscribe",
        "byAK and the research community",
    }
)
DATE_LINE = re.compile(r"[A-Z][a-z]{2} \d{1,2}")

FIRST_NAMES = (
    "Zoë", "José", "Søren", "Chen", "Amara", "Lukas", "Priya", "Kenji", "Fatima", "Mateo",
    "Ingrid", "Olusegun", "Hannah", "Dmitri", "Aisha", "Tomás", "Mei", "Rahul", "Elena",
    "Björn", "Noah", "Yuki", "Camille", "Kwame",
)  # fmt: skip
LAST_NAMES = (
    "Müller", "Núñez", "Åberg", "Wei", "Okafor", "Schmidt", "Sharma", "Tanaka", "Haddad",
    "García", "Lindqvist", "Adeyemi", "Cohen", "Petrov", "Rahman", "Ferreira", "Zhang",
    "Gupta", "Rossi", "Nakamura", "Dubois", "Mensah", "O'Brien", "Kowalski",
)  # fmt: skip

CHANNEL_TEMPLATE = """\
<?xml version='1.0' encoding='UTF-8'?>
<rss xmlns:arxiv="http://arxiv.org/schemas/atom" \
xmlns:dc="http://purl.org/dc/elements/1.1/" \
xmlns:atom="http://www.w3.org/2005/Atom" \
xmlns:content="http://purl.org/rss/1.0/modules/content/" version="2.0">
  <channel>
    <title>{category} updates on arXiv.org</title>
    <link>http://rss.arxiv.org/rss/{category}</link>
    <description>{category} updates on the arXiv.org e-print archive.</description>
    <atom:link href="http://rss.arxiv.org/rss/{category}" rel="self" type="application/rss+xml"/>
    <docs>http://www.rssboard.org/rss-specification</docs>
    <language>en-us</language>
    <lastBuildDate>{build_date}</lastBuildDate>
    <managingEditor>rss-help@arxiv.org</managingEditor>
    <pubDate>{date}</pubDate>
    <skipDays>
      <day>Sunday</day>
      <day>Saturday</day>
    </skipDays>
{items}  </channel>
</rss>
"""

ITEM_TEMPLATE = """\
    <item>
      <title>{title}</title>
      <link>https://arxiv.org/abs/{arxiv_id}</link>
      <description>{description}</description>
      <guid isPermaLink="false">oai:arXiv.org:{arxiv_id}v1</guid>
{categories}
      <pubDate>{date}</pubDate>
      <arxiv:announce_type>{announce_type}</arxiv:announce_type>
      <dc:rights>{license}</dc:rights>
      <dc:creator>{creators}</dc:creator>
    </item>
"""


@dataclass(frozen=True)
class Paper:
    """A title and abstract read from the seed corpus."""

    title: str
    abstract: str


@dataclass(frozen=True)
class FeedItem:
    """A paper plus the synthetic arXiv metadata it is published with."""

    paper: Paper
    arxiv_id: str
    announce_type: str
    categories: tuple[str, ...]
    authors: tuple[str, ...]


class HashChooser:
    """Deterministic choices drawn from the SHA-256 of a key.

    A seeded ``random.Random`` would do, but its ``choice``/``sample`` algorithms are not
    promised to stay the same across Python versions; hashing keeps the output fixed.
    """

    def __init__(self, key: str) -> None:
        """Start the byte stream for ``key``."""
        self._bytes = self._stream(key)

    @staticmethod
    def _stream(key: str) -> Iterator[int]:
        """Yield the bytes of sha256(key|0), sha256(key|1), ... forever."""
        block = 0
        while True:
            yield from hashlib.sha256(f"{key}|{block}".encode()).digest()
            block += 1

    def below(self, n: int) -> int:
        """Return an integer in ``range(n)`` (n <= 256)."""
        return next(self._bytes) % n

    def choice(self, options: Sequence[str]) -> str:
        """Return one element of ``options``."""
        return options[self.below(len(options))]

    def sample(self, options: Sequence[str], count: int) -> list[str]:
        """Return ``count`` distinct elements of ``options``, in draw order."""
        pool = list(options)
        return [pool.pop(self.below(len(pool))) for _ in range(count)]


def collapse(text: str) -> str:
    """Replace every run of whitespace with a single space and strip the ends."""
    return " ".join(text.split())


def parse_seed_text(text: str, source: str = "<text>") -> list[Paper]:
    """Parse one listing capture into papers.

    Blank lines are ignored; the leading header lines and the date line are skipped; the
    remaining lines alternate title, abstract.
    """
    lines = [collapse(line) for line in text.splitlines()]
    lines = [line for line in lines if line]
    start = 0
    while start < len(lines) and (lines[start] in HEADER_LINES or DATE_LINE.fullmatch(lines[start])):
        start += 1
    body = lines[start:]
    if len(body) % 2:
        raise ValueError(f"{source}: a title has no abstract (odd number of lines)")
    return [Paper(title, abstract) for title, abstract in zip(body[::2], body[1::2], strict=True)]


def read_seeds(seeds_dir: Path) -> list[Paper]:
    """Read every ``*.txt`` file in ``seeds_dir`` (in name order), one paper per title."""
    files = sorted(seeds_dir.glob("*.txt"))
    if not files:
        raise FileNotFoundError(f"no *.txt seed files in {seeds_dir}")
    papers: dict[str, Paper] = {}
    for path in files:
        for paper in parse_seed_text(path.read_text(encoding="utf-8"), source=str(path)):
            papers.setdefault(paper.title, paper)
    return list(papers.values())


def make_categories(chooser: HashChooser, announce_type: str) -> tuple[str, ...]:
    """Pick 1-3 categories, primary first: cs.LG for new items, another one for cross-lists."""
    if announce_type == "cross":
        primary = chooser.choice(OTHER_CATEGORIES)
        others = [c for c in OTHER_CATEGORIES if c != primary]
        return (primary, FEED_CATEGORY, *chooser.sample(others, chooser.below(2)))
    return (FEED_CATEGORY, *chooser.sample(OTHER_CATEGORIES, chooser.below(3)))


def make_authors(chooser: HashChooser) -> tuple[str, ...]:
    """Make 2-6 distinct synthetic author names."""
    count = 2 + chooser.below(5)
    authors: list[str] = []
    while len(authors) < count:
        name = f"{chooser.choice(FIRST_NAMES)} {chooser.choice(LAST_NAMES)}"
        if name not in authors:
            authors.append(name)
    return tuple(authors)


def make_item(paper: Paper, index: int) -> FeedItem:
    """Attach synthetic metadata to the ``index``-th paper.

    Each paper owns the id block ``10000 + 7 * index ... + 6``, so ids are unique and
    increase with ``index``; the offset inside the block comes from the title's hash.
    About one item in five is a cross-list.
    """
    chooser = HashChooser(paper.title)
    number = 10000 + 7 * index + chooser.below(7)
    announce_type = "cross" if chooser.below(5) == 0 else "new"
    return FeedItem(
        paper=paper,
        arxiv_id=f"{ID_PREFIX}{number:05d}",
        announce_type=announce_type,
        categories=make_categories(chooser, announce_type),
        authors=make_authors(chooser),
    )


def render_item(item: FeedItem) -> str:
    """Render one ``<item>`` the way rss.arxiv.org does."""
    description = (
        f"arXiv:{item.arxiv_id}v1 Announce Type: {item.announce_type} \nAbstract: {item.paper.abstract}"
    )
    categories = "\n".join(f"      <category>{escape(category)}</category>" for category in item.categories)
    return ITEM_TEMPLATE.format(
        title=escape(item.paper.title),
        arxiv_id=item.arxiv_id,
        description=escape(description),
        categories=categories,
        date=FEED_DATE,
        announce_type=item.announce_type,
        license=LICENSE,
        creators=escape(", ".join(item.authors)),
    )


def render_feed(items: Iterable[FeedItem]) -> str:
    """Render the whole RSS 2.0 document."""
    return CHANNEL_TEMPLATE.format(
        category=FEED_CATEGORY,
        build_date=BUILD_DATE,
        date=FEED_DATE,
        items="".join(render_item(item) for item in items),
    )


def write_from_seeds(
    argv: Sequence[str] | None,
    *,
    description: str,
    default_out: Path,
    out_help: str,
    render: Callable[[list[Paper]], str],
) -> int:
    """The command line the seed scripts share: read ``--seeds``, write ``render(papers)`` to
    ``--out``, report the count. Unreadable or malformed seeds: a one-line error, exit 1."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", type=Path, default=DEFAULT_SEEDS, help="folder of seed *.txt files")
    parser.add_argument("--out", type=Path, default=default_out, help=out_help)
    args = parser.parse_args(argv)
    try:
        papers = read_seeds(args.seeds)
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = render(papers)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8", newline="\n")
    print(f"wrote {len(papers)} papers to {args.out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Read the seeds, write the feed, report the count."""
    return write_from_seeds(
        argv,
        description=__doc__.splitlines()[0],
        default_out=DEFAULT_OUT,
        out_help="feed file to write",
        render=lambda papers: render_feed(make_item(paper, index) for index, paper in enumerate(papers)),
    )


if __name__ == "__main__":
    raise SystemExit(main())
