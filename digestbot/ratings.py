"""What a reader who rated a paper is told of when the rating counts: the same words on the
rating link's page, after a Slack button and from `digestbot feedback`. Apart from relevance.py
so that the commands, the web app and the Slack app start without scikit-learn (a second)."""

from __future__ import annotations

from collections.abc import Sequence

from .models import Subscriber

PAUSED_RATING = "This digest is off now (paused or unsubscribed): the rating counts once it is on again."
TRENDING_RATING = (
    "This digest now brings the most upvoted papers, which no rating moves: the rating counts once"
    " trending is off and it follows keywords or liked papers again."
)


def rating_note(digests: Sequence[Subscriber]) -> str | None:
    """What a reader who just rated a paper should know of when it counts, given the digests
    the rating is for (`Store.rated_for`): none while they are all off, nor while they all rank
    by upvotes; None when the next digest takes it."""
    if digests and all(sub.paused or not sub.active for sub in digests):
        return PAUSED_RATING
    if digests and all(sub.profile.trending for sub in digests):
        return TRENDING_RATING
    return None
