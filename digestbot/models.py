"""Plain data: papers, profiles, subscribers, matches and digests. No behaviour, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

# What a paper no report gave a title shows instead (its `title` is ""): a placeholder, shown
# only, so that it is never matched, highlighted or compared as if it were the title.
UNTITLED = "(untitled)"
# What a Slack id starts with: a user (DM'd: U…, and W… on an Enterprise Grid org), or a
# conversation (C… a channel, G… a private channel or group DM of old, D… a DM).
SLACK_USER_PREFIXES = ("U", "W")
SLACK_CONVERSATION_PREFIXES = ("C", "G", "D")


@dataclass(frozen=True)
class Paper:
    """One paper as a source reported it (before or after it reached the store).

    `key` identifies the paper across sources: `arxiv:<id without version>` where there is an
    arXiv id, else the feed's guid, else its link (see `keys.entry_key`). `seq` is the store's ingestion order and is
    None until the paper was stored; `rev` orders papers by when they last changed in a way that
    matters to matching, and `revised` says a merge did that (so it may be in digests already).
    """

    key: str
    title: str
    abstract: str = ""
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    link: str = ""
    pdf_url: str = ""
    arxiv_id: str | None = None
    published: datetime | None = None
    announce_type: str | None = None
    upvotes: int | None = None
    # What the Hugging Face daily list carries beyond the paper itself (mutable: a re-fetch
    # updates them without making the paper new). All optional; templates see them as fields.
    hf_url: str = ""
    github_url: str = ""
    github_stars: int | None = None
    project_url: str = ""
    ai_summary: str = ""
    thumbnail_url: str = ""  # https only
    comments: int | None = None
    organization: str = ""
    sources: tuple[str, ...] = ()
    seq: int | None = None
    first_seen: datetime | None = None
    rev: int | None = None
    revised: bool = False

    @property
    def display_title(self) -> str:
        """The title as shown: UNTITLED for a paper without one."""
        return self.title or UNTITLED


# What a reader may set from Slack or the web form (the operator's YAML may hold more).
READER_MAX_KEYWORDS = 50  # keywords; exclusions likewise
READER_MAX_LIKES = 200


@dataclass(frozen=True, slots=True)
class Profile:
    """What a subscriber wants: keywords (phrases, `prefix*`), exclusions, authors, categories,
    and papers like the ones they liked: `likes` (arXiv ids without version) and `seed_texts`
    (title and abstract of library entries without an arXiv id). A paper that enters a digest
    by similarity alone needs a cosine of at least `relevance_floor` (None: the default).
    `trending` (N): the digest is the N most upvoted papers not yet received, the rest of the
    profile acting as a filter. `sources`: only papers these sources reported (empty: all)."""

    keywords: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    likes: tuple[str, ...] = ()
    seed_texts: tuple[str, ...] = ()
    relevance_floor: float | None = None
    trending: int | None = None
    sources: tuple[str, ...] = ()

    @property
    def follows_terms(self) -> bool:
        """Whether it follows something besides trending (keywords, authors, categories, likes)."""
        return bool(self.keywords or self.authors or self.categories or self.likes or self.seed_texts)

    @property
    def is_empty(self) -> bool:
        return not (self.follows_terms or self.trending)

    @property
    def has_seeds(self) -> bool:
        return bool(self.likes or self.seed_texts)


@dataclass(frozen=True)
class Subscriber:
    """A recipient and their profile. `email` or `slack` says where digests go."""

    id: str
    profile: Profile
    email: str | None = None
    slack: str | None = None
    schedule: str = "daily 08:00"
    timezone: str = "UTC"
    max_papers: int = 25
    origin: str = "yaml"
    active: bool = True
    paused: bool = False
    show_ai_summary: bool = False  # the reader asked to see Hugging Face's AI summary of papers


@dataclass(slots=True)
class Match:
    """A paper that matched a profile, with its score and the terms that made it match."""

    paper: Paper
    score: int
    terms: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()  # beyond keywords: "like <a liked paper>", "similar to papers you rated up"

    @property
    def why(self) -> tuple[str, ...]:
        return self.terms + self.authors + self.reasons


@dataclass
class Digest:
    """One message for one subscriber: the ranked matches shown and how many more matched."""

    subscriber: Subscriber
    matches: list[Match]
    total_matched: int
    id: int | None = None
    created: datetime | None = None
    message_id: str | None = None
    parts_sent: int = 0

    @property
    def more(self) -> int:
        return self.total_matched - len(self.matches)
