"""The digest email as a reader sees it: rendered by a real headless Chromium (Debian's
`chromium`) at a phone's 375 px and a mail pane's 600 px, in light and dark mode.

Checked in the browser, not in the markup: nothing runs off the screen (long words, long URLs,
RTL, CJK, every Hugging Face field), the footer with its links is there, right-to-left text is
laid out right to left, every text meets WCAG AA contrast (4.5:1) on what is behind it, and a
blocked thumbnail keeps its box. One browser for the module; images are blocked, as many mail
clients do, and nothing is fetched from the network.

No browser is a failure with the command to install it, never a skip (`.ci/run` installs it).
"""

from __future__ import annotations

import browser
import pytest
from browser import set_viewport, start_chromium
from reader_digests import ARABIC_TITLE, links, reader_digest, reader_paper, rough_papers

from digestbot.render import Renderer

WIDTHS = (375, 600)

# Every element with text of its own: its colour against the first opaque background behind it.
CONTRAST_JS = """
function rgb(c) { const m = c.match(/[\\d.]+/g).map(Number); return m.length > 3 ? m : [...m, 1]; }
function lum(c) {
  const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
  return 0.2126 * r + 0.7152 * g + 0.0722 * b;
}
function behind(el) {
  for (let e = el; e; e = e.parentElement) {
    const c = rgb(getComputedStyle(e).backgroundColor);
    if (c[3] > 0) return c;
  }
  return [255, 255, 255, 1];
}
const worst = [];
for (const el of document.body.querySelectorAll('*')) {
  const own = [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  if (!own || !el.getClientRects().length) continue;
  const [a, b] = [lum(rgb(getComputedStyle(el).color)), lum(behind(el))];
  const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
  worst.push([ratio, el.className || el.tagName, el.textContent.trim().slice(0, 40)]);
}
worst.sort((x, y) => x[0] - y[0]);
return worst.slice(0, 3);
"""

OVERFLOW_JS = """
const vw = document.documentElement.clientWidth;
const out = [];
for (const el of document.body.querySelectorAll('*')) {
  const r = el.getBoundingClientRect();
  if (r.width && (r.right > vw + 0.5 || r.left < -0.5)) out.push([el.className || el.tagName, Math.round(r.left), Math.round(r.right)]);
}
return {scroll: document.documentElement.scrollWidth, viewport: vw, out: out.slice(0, 5)};
"""


@pytest.fixture(scope="module")
def chromium(tmp_path_factory):
    driver = start_chromium(tmp_path_factory.mktemp("chromium-profile"))
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["http://*", "https://*"]})  # images blocked
    yield driver
    driver.quit()


@pytest.fixture(scope="module")
def pages(tmp_path_factory) -> dict[str, str]:
    """file:// URLs of the digests to look at: rough papers, and a long digest cut to fit."""
    folder = tmp_path_factory.mktemp("digests")
    renderer = Renderer()
    digests = {
        "rough": reader_digest(rough_papers(), total=40),
        "long": reader_digest(rough_papers() + [reader_paper(i) for i in range(10, 130)]),
    }
    urls = {}
    for name, digest in digests.items():
        path = folder / f"{name}.html"
        path.write_text(renderer.email(digest, **links()).html, encoding="utf-8")
        urls[name] = path.as_uri()
    return urls


def show(driver, url: str, width: int, scheme: str = "light") -> None:
    set_viewport(driver, width)
    driver.execute_cdp_cmd(
        "Emulation.setEmulatedMedia", {"features": [{"name": "prefers-color-scheme", "value": scheme}]}
    )
    driver.get(url)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", ["rough", "long"])
def test_nothing_runs_off_the_screen_and_the_footer_is_there(chromium, pages, name, width):
    show(chromium, pages[name], width)

    found = chromium.execute_script(OVERFLOW_JS)
    assert found["scroll"] <= found["viewport"] == width, found
    assert found["out"] == [], found
    footer = chromium.execute_script(
        "const f = document.getElementById('digest-footer'); const r = f.getBoundingClientRect();"
        "return {text: f.innerText, height: r.height, links: [...f.querySelectorAll('a')].map(a => a.textContent)};"
    )
    assert (
        footer["height"] > 0 and "Unsubscribe" in footer["links"] and "Manage your digest" in footer["links"]
    )
    assert "You get this digest because" in footer["text"]


@pytest.mark.parametrize("scheme", ["light", "dark"])
@pytest.mark.parametrize("name", ["rough", "long"])
def test_every_text_meets_wcag_aa_contrast(chromium, pages, name, scheme):
    show(chromium, pages[name], 600, scheme)

    worst = chromium.execute_script(CONTRAST_JS)
    assert worst[0][0] >= 4.5, worst
    background = chromium.execute_script(
        "return getComputedStyle(document.querySelector('.outer')).backgroundColor"
    )
    assert (background == "rgb(28, 25, 23)") is (scheme == "dark")  # the dark palette applies


def test_right_to_left_text_is_laid_out_right_to_left(chromium, pages):
    show(chromium, pages["rough"], 375)

    directions = chromium.execute_script(
        "return [...document.querySelectorAll('.title')].map(t => [t.innerText, getComputedStyle(t).direction])"
    )
    assert [d for text, d in directions if text.startswith(ARABIC_TITLE)] == ["rtl"]
    assert {d for text, d in directions if not text.startswith(ARABIC_TITLE)} == {"ltr"}


def test_a_blocked_thumbnail_keeps_its_box_and_says_what_it_was(chromium, pages):
    show(chromium, pages["rough"], 375)

    thumbs = chromium.execute_script(
        "return [...document.querySelectorAll('img')].map(i => "
        "[i.complete && i.naturalWidth, i.getBoundingClientRect().width, i.getBoundingClientRect().height, i.alt])"
    )
    assert thumbs and all(t[:3] == [0, 160, 90] and t[3] == "Preview of the paper" for t in thumbs), thumbs


def test_chips_and_categories_read_as_separate_words(chromium, pages):
    show(chromium, pages["rough"], 600)

    meta = chromium.execute_script("return document.querySelector('.meta').innerText")
    assert meta.startswith("Matched: imitation learning") and "· cs.LG, cs.RO, cs.AI ·" in meta


def test_a_missing_browser_is_a_failure_that_says_what_to_install(monkeypatch, tmp_path):
    monkeypatch.setattr(browser, "CHROMIUM", "/nonexistent/chromium")
    with pytest.raises(pytest.fail.Exception, match="apt-get install -y chromium chromium-driver"):
        start_chromium(tmp_path)
