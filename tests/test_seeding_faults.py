"""Seeding and rating as a reader meets them (issue 10's surface): libraries as exporters write
them, `like:` edits, the arXiv fetch by id, feedback links and buttons, `digestbot feedback`,
`/digest like`. End to end through the CLI, the real web app and real files."""

from __future__ import annotations

import pytest
from helpers import digestbot
from test_likes import PAPERS, sources, sub

from digestbot.store import Store

DEXTEROUS = "2403.10698"  # "Out-of-Dynamics Imitation Learning from Multimodal Demonstrations"


def received(workdir, sid: str) -> set[str]:
    with Store(workdir.db) as store:
        return {it.paper.key for d in store.digests(subscriber_id=sid) for it in store.digest_items(d.id)}


@pytest.mark.parametrize(
    "bib_title",
    [
        "Out-of-Dynamics Imitation Learning from Multimodal Demonstrations",  # as it is stored
        r"{\em Out-of-Dynamics} Imitation Learning from Multimodal Demonstrations",  # a font switch
        r"{\it Out-of-Dynamics\/} Imitation Learning from {\bf Multimodal} Demonstrations",
        r"Out-of-Dynamics Imitation Learning from Multi\-modal Demon\-strations",  # hyphenation hints
        r"{\itshape Out-of-Dynamics} Imitation Learning from {\scshape Multimodal} Demonstrations",
    ],
)
def test_a_library_title_in_old_tex_font_switches_finds_its_stored_paper(workdir, bib_title):
    """An entry without an arXiv id (an ACM or IEEE export, a hand-kept .bib) whose title uses
    `{\\em …}`, `{\\it …\\/}` or `\\-` is the stored paper of that title: as a liked paper, it
    never comes back as new."""
    assert PAPERS[DEXTEROUS]["title"] == "Out-of-Dynamics Imitation Learning from Multimodal Demonstrations"
    (workdir.path / "refs.bib").write_text(
        f"@inproceedings{{ood, title = {{{bib_title}}}, booktitle = {{ICRA}}}}\n", encoding="utf-8"
    )
    workdir.write_config(
        sources(workdir),
        sub("nia", keywords=["imitation learning"], library="refs.bib", max_papers=40)
        + sub("ola", keywords=["imitation learning"], max_papers=40),
    )
    digestbot(workdir, "fetch")
    digestbot(workdir, "send")
    assert f"arxiv:{DEXTEROUS}" in received(workdir, "ola")  # it matches the keyword
    assert f"arxiv:{DEXTEROUS}" not in received(workdir, "nia")  # but nia has it already
