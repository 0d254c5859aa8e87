"""A deterministic synthetic load for the benchmarks: papers and subscriber profiles.

Papers are made by resampling real titles and sentences from data/seeds/ (the real corpus of
~145 papers), with a share of words swapped for other corpus words, so that phrases recur about
as rarely as they do on arXiv. Profiles take 5 to 20 keywords from a vocabulary of phrases mined
from the same corpus, drawn with a Zipf-like popularity (a few keywords are followed by many
subscribers, most by few), plus some exclusions, authors and categories. Everything comes from
one seed: the same arguments give the same data.
"""

from __future__ import annotations

import argparse
import random
import re
from collections import Counter
from pathlib import Path

from digestbot.matching import BREAK, shared_terms, tokens
from digestbot.models import Paper, Profile

SEEDS = Path(__file__).resolve().parent.parent / "data" / "seeds"
CATEGORIES = ["cs.LG", "cs.AI", "cs.CL", "cs.CV", "cs.RO", "stat.ML", "cs.NE", "cs.IR", "math.OC", "eess.SY"]
# arXiv's whole taxonomy (155 categories), for `categories=len(ARXIV_CATEGORIES)`: many more
# distinct category sets than the ten above (a review found a cost that only showed there).
_TAXONOMY = {
    "cs": "AI AR CC CE CG CL CR CV CY DB DC DL DM DS ET FL GL GR GT HC IR IT LG LO MA MM MS NA NE NI OH OS PF"
    " PL RO SC SD SE SI SY",
    "math": "AC AG AP AT CA CO CT CV DG DS FA GM GN GR GT HO IT KT LO MG MP NA NT OA OC PR QA RA RT SG SP ST",
    "physics": "acc-ph ao-ph app-ph atm-clus atom-ph bio-ph chem-ph class-ph comp-ph data-an ed-ph flu-dyn"
    " gen-ph geo-ph hist-ph ins-det med-ph optics plasm-ph pop-ph soc-ph space-ph",
    "astro-ph": "CO EP GA HE IM SR",
    "cond-mat": "dis-nn mes-hall mtrl-sci other quant-gas soft stat-mech str-el supr-con",
    "q-bio": "BM CB GN MN NC OT PE QM SC TO",
    "q-fin": "CP EC GN MF PM PR RM ST TR",
    "stat": "AP CO ME ML OT TH",
    "eess": "AS IV SP SY",
    "econ": "EM GN TH",
    "nlin": "AO CD CG PS SI",
}
ARXIV_CATEGORIES = [f"{a}.{c}" for a, cs in _TAXONOMY.items() for c in cs.split()] + [
    "gr-qc", "hep-ex", "hep-lat", "hep-ph", "hep-th", "math-ph", "nucl-ex", "nucl-th", "quant-ph"
]  # fmt: skip


def categories(n: int) -> list[str]:
    """The first `n` categories: the ten above, or (past ten) arXiv's own."""
    return CATEGORIES[:n] if n <= len(CATEGORIES) else ARXIV_CATEGORIES[:n]


FIRST = ["Ada", "Ben", "Chen", "Dana", "Elif", "Femi", "Gus", "Hana", "Ivan", "Jun", "Kofi", "Lena", "Mara",
         "Nour", "Omar", "Priya", "Quinn", "Rosa", "Sven", "Tomás", "Uma", "Vera", "Wei", "Xavi", "Yuki", "Zoë"]  # fmt: skip
LAST = ["Abe", "Berg", "Cruz", "Diaz", "Ek", "Fox", "Gupta", "Hall", "Ito", "Jung", "Kim", "Li", "Müller",
        "Nagy", "Ortiz", "Park", "Qureshi", "Rossi", "Sato", "Tan", "Ueda", "Vogel", "Wang", "Xu", "Yilmaz", "Zhou"]  # fmt: skip
STOP = set(
    [
        "a",
        "an",
        "the",
        "of",
        "and",
        "or",
        "for",
        "to",
        "in",
        "on",
        "with",
        "by",
        "from",
        "as",
        "at",
        "is",
        "are",
        "be",
        "we",
        "our",
        "this",
        "that",
        "these",
        "those",
        "it",
        "its",
        "via",
        "can",
        "which",
        "into",
        "than",
        "not",
        "more",
        "most",
        "such",
        "also",
        "both",
        "each",
        "has",
        "have",
        "been",
        "using",
        "based",
        "new",
        "show",
        "shows",
    ]
)
# Share of words swapped for another corpus word: tuned so that a subscriber gets a realistic
# digest (tens of matches per 20,000 papers, as with real arXiv keywords), not thousands.
MUTATION = 0.8


def read_seeds(folder: Path = SEEDS) -> tuple[list[str], list[str]]:
    """(titles, sentences) of the seed corpus, deduplicated."""
    titles, sentences = [], []
    for path in sorted(folder.glob("*.txt")):
        blocks = [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        start = next(i for i, line in enumerate(blocks) if re.match(r"^[A-Z][a-z]{2} \d{1,2}$", line)) + 1
        for i in range(start, len(blocks) - 1, 2):
            titles.append(blocks[i])
            sentences += [s for s in re.split(r"(?<=[.!?])\s+", blocks[i + 1]) if len(s) > 20]
    return list(dict.fromkeys(titles)), list(dict.fromkeys(sentences))


def mine_vocabulary(
    titles: list[str], sentences: list[str], size: int, max_count: int | None = None
) -> list[str]:
    """The `size` most frequent 2- and 3-word phrases without stop words at either end (single
    words like "learning" would match half of any corpus: no real digest is made of them),
    keeping only those seen at most `max_count` times when it is given."""
    counts: Counter[str] = Counter()
    for text in titles + sentences:
        words = re.findall(r"[A-Za-z][A-Za-z0-9-]*", text)
        for n in (2, 3):
            for i in range(len(words) - n + 1):
                gram = words[i : i + n]
                if gram[0].lower() in STOP or gram[-1].lower() in STOP or len(gram[-1]) < 3:
                    continue
                counts[" ".join(gram).lower()] += 1
    return [p for p, n in counts.most_common() if max_count is None or n <= max_count][:size]


def _mutate(text: str, rng: random.Random, pool: list[str]) -> str:
    return re.sub(r"[A-Za-z]{4,}", lambda m: rng.choice(pool) if rng.random() < MUTATION else m.group(), text)


def make_papers(n: int, seed: int = 1, n_categories: int = len(CATEGORIES)) -> list[Paper]:
    """`n` papers: a resampled title, 4 to 8 resampled sentences, 2 to 6 authors, 1 to 3 categories
    (of `categories(n_categories)`)."""
    rng = random.Random(seed)
    wanted = categories(n_categories)
    titles, sentences = read_seeds()
    pool = [w for w in re.findall(r"[A-Za-z]{4,}", " ".join(sentences)) if w.lower() not in STOP]
    authors = [f"{f} {last}" for f in FIRST for last in LAST]
    papers = []
    for i in range(n):
        title = _mutate(rng.choice(titles), rng, pool)
        abstract = " ".join(_mutate(rng.choice(sentences), rng, pool) for _ in range(rng.randint(4, 8)))
        papers.append(
            Paper(
                key=f"arxiv:bench.{i}",
                title=title,
                abstract=abstract,
                authors=tuple(rng.sample(authors, rng.randint(2, 6))),
                categories=tuple(rng.sample(wanted, rng.randint(1, 3))),
                seq=i + 1,
            )
        )
    return papers


def zipf_weights(n: int, s: float = 1.1) -> list[float]:
    return [1 / (rank**s) for rank in range(1, n + 1)]


def make_profiles(
    n: int, seed: int = 2, vocabulary_size: int = 6000, n_categories: int = len(CATEGORIES)
) -> dict[str, Profile]:
    """`n` profiles: 5-20 keywords by Zipf popularity (rare phrases popular as often as common
    ones: popularity is shuffled against corpus frequency), 0-2 exclusions, 10% with an author,
    20% restricted to 1-2 categories (of `categories(n_categories)`)."""
    rng = random.Random(seed)
    wanted = categories(n_categories)
    titles, sentences = read_seeds()
    # Phrases the seed corpus uses once: resampling multiplies every phrase's frequency, and a
    # phrase that runs through the corpus ("language models") would put most papers in every
    # digest, as a stop word would.
    vocab = [p for p in mine_vocabulary(titles, sentences, 10**6, max_count=1) if BREAK not in tokens(p)]
    vocab = random.Random(seed + 1).sample(vocab, min(vocabulary_size, len(vocab)))
    multiword = [p for p in vocab if " " in p]
    popular = vocab[:]
    rng.shuffle(popular)
    weights = zipf_weights(len(popular))
    authors = [f"{f} {last}" for f in FIRST for last in LAST]
    profiles = {}
    for i in range(n):
        keywords = set(rng.choices(popular, weights, k=rng.randint(5, 20)))
        # An exclusion that is one of the profile's keywords is dropped: subscriptions.yaml
        # refuses such a profile (the exclusion would veto every paper the keyword brings).
        exclude = rng.sample(multiword, rng.choice([0, 0, 1, 2]))
        overlap = set(shared_terms(exclude, keywords)) if exclude else set()
        profiles[f"sub{i:06d}"] = Profile(
            keywords=tuple(sorted(keywords)),
            exclude=tuple(e for e in exclude if e not in overlap),
            authors=tuple(rng.sample(authors, 1)) if rng.random() < 0.1 else (),
            categories=tuple(rng.sample(wanted, rng.randint(1, 2))) if rng.random() < 0.2 else (),
        )
    return profiles


def vocabulary_size() -> int:
    titles, sentences = read_seeds()
    return len(mine_vocabulary(titles, sentences, 10**6))


def size_parser(doc: str | None, subscribers: int, papers: int = 2_000) -> argparse.ArgumentParser:
    """The command line a benchmark over generated data starts from: its docstring as help,
    and how many subscribers and papers to generate."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--subscribers", type=int, default=subscribers)
    parser.add_argument("--papers", type=int, default=papers)
    return parser
