"""Libraries as seed papers: BibTeX as reference managers export it, and id lists."""

from __future__ import annotations

import pytest

from digestbot.arxiv_ids import arxiv_id
from digestbot.library import LibraryError, read_library

ZOTERO = r"""
@article{chi2023diffusion,
  title = {Diffusion {P}olicy: Visuomotor Policy Learning via Action Diffusion},
  author = {Chi, Cheng and Feng, Siyuan},
  year = {2023},
  eprint = {2303.04137},
  archivePrefix = {arXiv},
  primaryClass = {cs.RO},
}

@misc{ho2020denoising,
  title={Denoising Diffusion Probabilistic Models},
  author={Jonathan Ho and Ajay Jain and Pieter Abbeel},
  year={2020},
  url={https://arxiv.org/abs/2006.11239v2},
}

@article{scholar,
  title={Attention is all you need},
  journal={arXiv preprint arXiv:1706.03762},
  year={2017}
}

@misc{datacite,
  doi = {10.48550/ARXIV.2401.00001},
  title = {Some Paper},
}

@inproceedings{notarxiv,
  title={A {Workshop} Paper},
  abstract={No preprint exists for this one.},
  booktitle={Proc. of Things},
}
"""


def test_bibtex_entries_give_arxiv_ids_from_eprint_url_journal_and_doi_and_titles_otherwise():
    seeds = read_library(ZOTERO)
    assert [s.arxiv_id for s in seeds] == ["2303.04137", "2006.11239", "1706.03762", "2401.00001", None]
    assert seeds[0].title == "Diffusion Policy: Visuomotor Policy Learning via Action Diffusion"
    assert (seeds[-1].title, seeds[-1].abstract) == ("A Workshop Paper", "No preprint exists for this one.")
    assert seeds[1].line == 11


def test_a_bibtex_block_that_does_not_parse_names_its_line():
    with pytest.raises(LibraryError) as e:
        read_library(
            "@misc{ok, title={Fine}}\n\n@article{broken, title={Unclosed, year=2020\n@misc{x, title={y}}\n"
        )
    assert e.value.line == 3


def test_a_list_of_ids_and_urls_with_comments():
    text = "# my library\n2403.01234v2\nhttps://arxiv.org/pdf/2401.00001v1.pdf\n\narXiv:hep-th/9901001  # old style\n"
    assert [(s.line, s.arxiv_id) for s in read_library(text)] == [
        (2, "2403.01234"),
        (3, "2401.00001"),
        (5, "hep-th/9901001"),
    ]
    with pytest.raises(LibraryError) as e:
        read_library("2403.01234\nsome words\n")
    assert e.value.line == 2


@pytest.mark.parametrize(
    "text, expected",
    [
        ("https://arxiv.org/abs/2403.01234v3", "2403.01234"),
        ("http://export.arxiv.org/abs/2403.01234", "2403.01234"),
        ("arxiv.org/abs/cond-mat/0102536v1", "cond-mat/0102536"),
        ("10.48550/arXiv.2403.01234", "2403.01234"),
        ("0704.0001", "0704.0001"),
        ("2403.012", None),
        ("urn:uuid:1234", None),
    ],
)
def test_arxiv_ids_in_links_and_dois(text, expected):
    assert arxiv_id(text) == expected


def test_a_title_seed_is_one_clean_line_with_its_tex_accents_decoded():
    bib = "@misc{tex,\n  title = {Schr{\\\"o}dinger\u202e bridges\u200b for\n   {P}olicies},\n  abstract = {On \\'{e}t\u00e9 data.},\n}\n"
    [seed] = read_library(bib)
    assert (seed.arxiv_id, seed.title, seed.abstract) == (
        None,
        "Schrödinger bridges for Policies",
        "On été data.",
    )


def test_a_paper_twice_in_a_library_is_one_seed():
    # The preprint (an arXiv id) and the published version (a DOI) of one paper, and a paper
    # without an id exported twice, once with its abstract: each is one seed.
    seeds = read_library(
        '@article{a, title = {Schr{\\"o}dinger Bridges}, eprint = {2403.10001}, archivePrefix = {arXiv}}\n'
        "@inproceedings{b, title = {Schrödinger bridges}, doi = {10.1145/12345}}\n"
        "@article{c, title = {Quokka grins}}\n"
        "@article{d, title = {Quokka Grins}, abstract = {Quokkas smile at scale.}}\n"
        "@article{e, title = {Otters}, eprint = {2403.10002}}\n"
        "@article{f, title = {Otters (extended)}, eprint = {2403.10002v2}}\n"
    )
    assert [(s.arxiv_id, s.title, s.abstract) for s in seeds] == [
        ("2403.10001", "Schrödinger Bridges", ""),
        (None, "Quokka Grins", "Quokkas smile at scale."),
        ("2403.10002", "Otters", ""),
    ]
