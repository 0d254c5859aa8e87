"""TeX accents in arXiv metadata: decoded, and the space after an accent kept (issue 9, item 20)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from digestbot.config import SourceConfig
from digestbot.sources import fetch_source
from digestbot.sources.base import split_authors
from digestbot.sources.http import Fetched
from digestbot.text import detex

CASES = [
    # the bug: an accent's trailing space belongs to the text
    ("Paulo Andr\\'e Lima de Castro", "Paulo André Lima de Castro"),
    ("M\\\"uller and Andr\\'e Lima", "Müller and André Lima"),
    ("Jos\\'e Mar\\'ia Garc\\'ia", "José María García"),
    ("Ren\\'e Descartes", "René Descartes"),
    ("Andr\\'{e} Lima", "André Lima"),
    ("{\\'e}cole normale", "école normale"),
    ('Chlo\\"e Dupont', "Chloë Dupont"),
    ("Fran\\c{c}ois Chollet", "François Chollet"),
    ("Fran\\c cois Chollet", "François Chollet"),
    ("{\\c c}a va", "ça va"),
    ("Ko\\c{c} University", "Koç University"),
    ("Ko\\c c University", "Koç University"),
    # accent forms
    ('Schr\\"odinger bridges', "Schrödinger bridges"),
    ('Schr\\"{o}dinger', "Schrödinger"),
    ('Schr{\\"o}dinger', "Schrödinger"),
    ('Schr{\\"{o}}dinger', "Schrödinger"),
    ('G\\"{o}del, Escher', "Gödel, Escher"),
    ("Erd\\H{o}s number", "Erdős number"),
    ("Erd\\H os", "Erdős"),
    ("\\' e", "é"),
    ("\\'{ e }", "é"),
    ("\\v{S}ime Ungar", "Šime Ungar"),
    ("Du\\v{s}an Stojanovi\\'c", "Dušan Stojanović"),
    ("Du\\v san", "Dušan"),
    ("Dragi\\v{c}evi\\'c", "Dragičević"),
    ("\\u{a}", "ă"),
    ("Bra\\c{s}ov", "Braşov"),
    ("\\k{a}", "ą"),
    ("\\r{a}", "å"),
    ("\\=a", "ā"),
    ("\\.Z", "Ż"),
    ("Pe\\~na", "Peña"),
    ("Ca\\~{n}ete", "Cañete"),
    ('Bj\\"orn \\^Ole', "Björn Ôle"),
    ("Ma\\`{\\i}tre", "Maître".replace("î", "ì")),
    ('Na\\"{\\i}ve Bayes', "Naïve Bayes"),
    ('Na\\"\\i ve', "Naïve"),
    ('Lo\\"ic Le Gratiet', "Loïc Le Gratiet"),
    # special letters
    ("{\\L}ukasz Kaiser", "Łukasz Kaiser"),
    ("\\L{}ukasz", "Łukasz"),
    ("Pawe\\l{} Zieli\\'nski", "Paweł Zieliński"),
    ("Pawe{\\l} Zieli\\'nski", "Paweł Zieliński"),
    ("Pawe\\l\\ Zieli\\'nski", "Paweł\\ Zieliński"),  # a TeX control space is not ours to decode
    ("S{\\o}ren Hauberg", "Søren Hauberg"),
    ("S\\o ren", "Søren"),  # TeX: a space ends a control word
    ("Bj\\o rn", "Bjørn"),
    ("{\\O}stergaard", "Østergaard"),
    ('{\\aa}ke Str\\"om', "åke Ström"),
    ("{\\AA}sa", "Åsa"),
    ("Stra\\ss e", "Straße"),
    ("Stra\\ss{}e", "Straße"),
    ("Gau{\\ss}", "Gauß"),
    ("Gau\\ss, Carl", "Gauß, Carl"),
    ("\\ae on", "æon"),
    ("C{\\ae}sar", "Cæsar"),
    ("\\oe uvre", "œuvre"),
    ("Micha\\l Nowak", "Michał Nowak"),  # a capital after it: the space is text
    ("\\i", "ı"),
    # left alone
    ("$\\alpha$-divergence", "$\\alpha$-divergence"),
    ("$\\lambda$-calculus and $\\omega$", "$\\lambda$-calculus and $\\omega$"),
    ("$O(\\log n)$ and $\\int f$", "$O(\\log n)$ and $\\int f$"),
    ("\\textit{x} and \\emph{y}", "\\textit{x} and \\emph{y}"),
    ("$\\vec{v} \\cdot \\hat{u}$", "$\\vec{v} \\cdot \\hat{u}$"),
    ("\\textit{Andr\\'e}", "\\textit{André}"),  # the closing brace is textit's, not the accent's
    ("$S^3$: Social-network", "$S^3$: Social-network"),
    ("no TeX at all", "no TeX at all"),
    ("a \\\\ b", "a \\\\ b"),
    ("trailing \\", "trailing \\"),
    ("\\'", "\\'"),
    ("{\\'}", "{\\'}"),
]


@pytest.mark.parametrize(("tex", "text"), CASES, ids=[c[0] for c in CASES])
def test_detex(tex, text):
    assert detex(tex) == text


def test_authors_split_after_decoding_keep_their_spaces():
    assert split_authors(
        "Paulo Andr\\'e Lima de Castro, M\\\"uller and Andr\\'e Lima, Pawe\\l{} Zieli\\'nski"
    ) == (
        "Paulo André Lima de Castro",
        "Müller",
        "André Lima",
        "Paweł Zieliński",
    )


API_FEED = (
    '<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom"><title>t</title>'
    "<entry><id>http://arxiv.org/abs/2403.20001v1</id>"
    "<title>Schr\\\"odinger Bridges by Andr\\'e Lima</title><summary>x</summary>"
    "<author><name>Paulo Andr\\'e Lima de Castro</name></author>"
    '<author><name>Fran\\c cois M\\"uller</name></author></entry></feed>'
)
RSS_FEED = (
    '<?xml version="1.0"?><rss version="2.0" xmlns:dc="http://purl.org/dc/elements/1.1/"><channel>'
    "<title>t</title><item><title>Schr\\\"odinger Bridges by Andr\\'e Lima</title>"
    "<link>https://arxiv.org/abs/2403.20001</link><description>arXiv:2403.20001v1 Announce Type: new "
    "Abstract: x</description><guid>oai:arXiv.org:2403.20001v1</guid>"
    "<dc:creator>Paulo Andr\\'e Lima de Castro, Fran\\c cois M\\\"uller</dc:creator></item></channel></rss>"
)


class _Fixed:
    max_bytes = 1 << 20

    def __init__(self, content: bytes):
        self.content = content

    def get(self, url, **kwargs) -> Fetched:
        return Fetched(self.content, 200)


@pytest.mark.parametrize(
    ("kind", "doc"), [("arxiv_api", API_FEED), ("arxiv_rss", RSS_FEED), ("rss", RSS_FEED)]
)
def test_every_arxiv_source_decodes_titles_and_authors_the_same_way(kind, doc):
    src = SourceConfig(
        name="s", type=kind, url="https://export.arxiv.org/api/query", path=None, every=60, query="q"
    )
    [paper] = fetch_source(src, _Fixed(doc.encode())).papers
    assert paper.title == "Schrödinger Bridges by André Lima"
    assert paper.authors == ("Paulo André Lima de Castro", "François Müller")


# --- properties ----------------------------------------------------------------------------------

# Commands in closed forms (nothing inside them could be text) and what they stand for.
CLOSED = [
    ("\\'{e}", "é"),
    ("{\\'e}", "é"),
    ("\\'e", "é"),
    ('\\"o', "ö"),
    ('{\\"{o}}', "ö"),
    ("\\c{c}", "ç"),
    ("{\\c c}", "ç"),
    ("\\v{s}", "š"),
    ("\\H{o}", "ő"),
    ("\\ss{}", "ß"),
    ("{\\ss}", "ß"),
    ("{\\o}", "ø"),
    ("\\l{}", "ł"),
    ("{\\aa}", "å"),
    ('\\"{\\i}', "ï"),
]
PLAIN = st.text(alphabet=st.sampled_from("abcXYZ  .,-$é\t\n"), max_size=8)
PROPERTY = settings(max_examples=300, deadline=None, derandomize=True, database=None)


@PROPERTY
@given(st.lists(st.one_of(PLAIN.map(lambda s: (s, s)), st.sampled_from(CLOSED)), max_size=12))
def test_detex_decodes_commands_and_keeps_all_other_text(pieces):
    tex = "".join(t for t, _ in pieces)
    assert detex(tex) == "".join(u for _, u in pieces)


@PROPERTY
@given(st.text(alphabet=st.sampled_from("\\'\"`^~=.cvuHkrsolLaAeEOi{}$ xyz\t"), max_size=40))
def test_detex_never_raises_and_never_removes_a_space_outside_a_command(text):
    out = detex(text)
    # Every removed space sat right after a backslash command (between it and its argument, or
    # ending a control word): a space after anything else survives.
    assert out.count(" ") + out.count("\t") >= sum(
        1 for i, c in enumerate(text) if c in " \t" and not _in_command(text, i)
    )


def _in_command(text: str, i: int) -> bool:
    """Whether the space at `i` follows a backslash command (possibly after more spaces or a `{`),
    or closes an argument group (`\\'{e }`)."""
    rest = text[i:].lstrip(" \t")
    if rest.startswith("}"):
        return True
    j = i
    while j > 0 and text[j - 1] in " \t{":
        j -= 1
    k = j
    while k > 0 and text[k - 1].isalpha():
        k -= 1
    if k > 0 and text[k - 1] == "\\":
        return True
    return j > 1 and text[j - 2] == "\\" and not text[j - 1].isalnum()


@PROPERTY
@given(st.text())
def test_detex_never_raises_on_any_text(text):
    assert isinstance(detex(text), str)
    assert detex(text.replace("\\", "")) == text.replace("\\", "")  # no backslash: nothing changes
