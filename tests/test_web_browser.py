"""The web pages in a real browser (headless Chromium), end to end: a reader signs up, reads the
confirmation from the real SMTP server on loopback, confirms, opens the manage link in their
first digest, changes keywords, sees the next `send --force` use them, and unsubscribes. Also:
the pages without JavaScript, at 375 px, by keyboard, with a label on every field. Screenshots
at 375 and 1280 px go to the artifacts folder (tests/browser.py).
"""

from __future__ import annotations

import re
import time

from browser import browser, fits_width, screenshot  # noqa: F401  (browser is a fixture)
from helpers import FeedPaper, digestbot, write_feed
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support import expected_conditions as ready
from selenium.webdriver.support.ui import Select, WebDriverWait
from test_web import NARWHAL, OTHER, QUOKKA, link_in, setup_site, start_site, web_subscriber  # noqa: F401

NARWHAL_2 = FeedPaper("2403.20011", "Narwhal migration, revisited", "Narwhal pods tracked by satellite.")
QUOKKA_2 = FeedPaper("2403.20012", "Quokka diets on Rottnest", "What quokka eat, season by season.")

UNLABELLED = """
return Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(e => e.type !== 'hidden')
  .filter(e => !(e.id && document.querySelector('label[for="' + e.id + '"]')))
  .map(e => e.name);
"""


def wait(driver, seconds: float = 10) -> WebDriverWait:
    return WebDriverWait(driver, seconds)


def navigate(driver, element, keys: str | None = None) -> None:
    """Click `element` (or type `keys` into it) and wait until the page it posts to replaced this
    one: a wait that starts earlier could read the old page while it goes away."""
    page = driver.find_element(By.TAG_NAME, "html")
    element.send_keys(keys) if keys else element.click()
    wait(driver).until(lambda _: gone(page))


def gone(element) -> bool:
    """True once `element` left the document. While a page is being replaced, ChromeDriver may
    answer "Node with given id does not belong to the document" instead of a stale reference:
    both mean the old page is gone."""
    try:
        element.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as e:
        if "does not belong to the document" in str(e):
            return True
        raise
    return False


def text_of(driver) -> str:
    return driver.find_element(By.TAG_NAME, "body").text


def digests_to(site, address: str) -> list:
    return [m for m in site.smtp.to(address) if m.message["Subject"].startswith(("1 new", "2 new", "3 new"))]


def test_sign_up_confirm_manage_and_unsubscribe_in_a_browser(workdir, start_site, browser):  # noqa: F811
    setup_site(workdir)
    site = start_site()
    driver = browser(timezone="Asia/Tokyo")

    driver.get(site.url + "/")
    assert driver.title.startswith("Subscribe to a paper digest")
    assert driver.execute_script(UNLABELLED) == []
    # the page's script chose the browser's own timezone over the default (UTC)
    assert Select(driver.find_element(By.ID, "timezone")).first_selected_option.text == "Asia/Tokyo"
    assert fits_width(driver, 375)
    screenshot(driver, "signup", 375)
    screenshot(driver, "signup", 1280)

    driver.find_element(By.ID, "email").send_keys("ada@uni.example")
    driver.find_element(By.ID, "keywords").send_keys("narwhal")
    # the live preview: what these keywords would have sent over the last 7 days
    wait(driver).until(ready.text_to_be_present_in_element((By.ID, "preview-list"), NARWHAL.title))
    assert QUOKKA.title not in driver.find_element(By.ID, "preview").text
    screenshot(driver, "signup-preview", 375)
    Select(driver.find_element(By.ID, "frequency")).select_by_visible_text("Weekly on Monday")
    driver.find_element(By.ID, "max_papers").clear()
    driver.find_element(By.ID, "max_papers").send_keys("5")
    navigate(
        driver, driver.find_element(By.CSS_SELECTOR, "#profile-form button[type=submit]:not([formaction])")
    )
    wait(driver).until(ready.title_contains("Check your inbox"))
    assert "ada@uni.example" in text_of(driver)
    assert web_subscriber(site.db, "ada@uni.example") is None

    digestbot(workdir, "send", "--force")  # nothing but the confirmation goes to an unconfirmed address
    [mail] = site.mails("ada@uni.example", 1)
    site.settle()
    assert len(site.smtp.to("ada@uni.example")) == 1
    driver.get(link_in(mail, "/confirm"))
    # autofocus: the button has the focus once the page is in (the browser may focus a moment later)
    wait(driver).until(lambda d: d.switch_to.active_element.text == "Confirm my subscription")
    navigate(driver, driver.switch_to.active_element, Keys.ENTER)  # by keyboard
    wait(driver).until(ready.title_contains("Manage your digest"))
    assert "You are subscribed" in text_of(driver)
    sub = web_subscriber(site.db, "ada@uni.example")
    assert (sub.schedule, sub.timezone, sub.max_papers) == ("weekly mon 08:00", "Asia/Tokyo", 5)

    digestbot(workdir, "send", "--force")
    [first] = digests_to(site, "ada@uni.example")
    assert NARWHAL.title in first.message.get_body(("plain",)).get_content()

    manage = browser()  # the reader opens the link from the digest, in a browser without the session
    manage.get(link_in(first, "/manage/login"))
    wait(manage).until(ready.title_contains("Manage your digest"))
    assert NARWHAL.title in manage.find_element(By.CSS_SELECTOR, "ul.recent").text
    assert manage.execute_script(UNLABELLED) == []
    assert fits_width(manage, 375)
    screenshot(manage, "manage", 375)
    screenshot(manage, "manage", 1280)
    keywords = manage.find_element(By.ID, "keywords")
    keywords.clear()
    keywords.send_keys("quokka")
    navigate(manage, manage.find_element(By.CSS_SELECTOR, "#profile-form button[type=submit]"))
    wait(manage).until(ready.text_to_be_present_in_element((By.CSS_SELECTOR, ".notice"), "Saved"))
    assert web_subscriber(site.db, "ada@uni.example").profile.keywords == ("quokka",)

    write_feed(workdir.path / "feed.xml", [NARWHAL, QUOKKA, OTHER, NARWHAL_2, QUOKKA_2])
    digestbot(workdir, "fetch")
    digestbot(workdir, "send", "--force")
    second = digests_to(site, "ada@uni.example")[-1].message.get_body(("plain",)).get_content()
    assert QUOKKA_2.title in second and NARWHAL_2.title not in second

    manage.get(site.url + "/manage")
    navigate(manage, manage.find_element(By.XPATH, "//button[text()='Unsubscribe']"))
    wait(manage).until(ready.text_to_be_present_in_element((By.ID, "state"), "unsubscribed"))
    screenshot(manage, "unsubscribed", 375)
    assert not web_subscriber(site.db, "ada@uni.example").active
    write_feed(workdir.path / "feed.xml", [QUOKKA_2, FeedPaper("2403.20013", "Quokka naps", "Quokka sleep.")])
    digestbot(workdir, "fetch")
    sent_before = len(site.smtp.to("ada@uni.example"))
    digestbot(workdir, "send", "--force")
    assert len(site.smtp.to("ada@uni.example")) == sent_before


def test_the_pages_work_without_javascript(workdir, start_site, browser):  # noqa: F811
    setup_site(workdir)
    site = start_site()
    driver = browser(javascript=False)
    driver.get(site.url + "/")
    assert Select(driver.find_element(By.ID, "timezone")).first_selected_option.text == "UTC"  # no script
    driver.find_element(By.ID, "keywords").send_keys("quokka")
    navigate(driver, driver.find_element(By.ID, "preview-button"))  # a whole-page round trip instead
    wait(driver).until(ready.text_to_be_present_in_element((By.ID, "preview-list"), QUOKKA.title))
    assert driver.find_element(By.ID, "keywords").get_attribute("value") == "quokka"
    driver.find_element(By.ID, "email").send_keys("bo@uni.example")
    navigate(driver, driver.find_element(By.ID, "email"), Keys.ENTER)  # Enter submits: subscribe
    wait(driver).until(ready.title_contains("Check your inbox"))
    driver.get(link_in(site.mails("bo@uni.example", 1)[0], "/confirm"))
    navigate(driver, driver.find_element(By.TAG_NAME, "button"))
    wait(driver).until(ready.title_contains("Manage your digest"))
    navigate(driver, driver.find_element(By.XPATH, "//button[text()='Pause']"))
    wait(driver).until(ready.text_to_be_present_in_element((By.ID, "state"), "paused"))
    assert web_subscriber(site.db, "bo@uni.example").paused


def test_a_hostile_title_stays_text_in_the_live_preview(workdir, start_site, browser):  # noqa: F811
    hostile = FeedPaper("2403.20099", 'Walrus <img src=x onerror="document.title=1"> tricks', "walrus walrus")
    setup_site(workdir)
    write_feed(workdir.path / "feed.xml", [hostile])
    site = start_site()
    driver = browser()
    driver.get(site.url + "/")
    driver.find_element(By.ID, "keywords").send_keys("walrus")
    wait(driver).until(ready.text_to_be_present_in_element((By.ID, "preview-list"), "Walrus"))
    time.sleep(0.3)
    assert driver.find_elements(By.CSS_SELECTOR, "#preview-list img") == []
    assert driver.title != "1"
    assert re.search(r"Walrus .*tricks", driver.find_element(By.ID, "preview-list").text)


def test_a_missing_browser_fails_the_test_with_the_fix_never_a_skip(tmp_path, monkeypatch):
    import browser as browser_module
    import pytest

    monkeypatch.setattr(browser_module, "CHROMIUM", str(tmp_path / "no-chromium"))
    with pytest.raises(pytest.fail.Exception) as failed:
        browser_module.start_chromium(tmp_path / "profile")
    assert "apt-get install -y chromium chromium-driver" in str(failed.value)
    assert str(tmp_path / "no-chromium") in str(failed.value)
