"""The desk in a real browser: Debian's headless Chromium, driven by Selenium through
chromedriver, on `veille serve --port 0` serving the demo record, at 1280 px and at 390 px
(a phone). Each test follows what a journalist does and asserts what they see; the
screenshots go to docs/screenshots/ (the README shows two of them)."""

from __future__ import annotations

import shutil
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import feedparser
import pytest
from conftest import PROJECT, serving
from demo_record import demo_record

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = PROJECT / "docs" / "screenshots"
WIDTHS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}
INTERNAL = ("story_bands", "article_fingerprints", "http_validators", "robots_cache",
            "article_pages", "_sqlite_migrations", "Links from other tables")
KARABAKH = "Haut-Karabakh (Arménie-Azerbaïdjan)"
UPDATED = "Traité de paix avec Bakou"  # changed between the two crawls: two versions
CARRIED_TWICE = "Frontière arméno-azerbaïdjanaise"  # the Gazette and the Courrier ran it
WAIT = 10  # seconds a page may take to show what the test waits for


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`veille serve` on a free port of 127.0.0.1: its root URL."""
    with serving("--db", demo_record(tmp_path_factory), "serve", "--port", "0") as (_, url):
        yield url.removesuffix("/veille")


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module."""
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    for binary in (CHROMIUM, CHROMEDRIVER):
        if not Path(binary).exists() and not shutil.which(Path(binary).name):
            pytest.fail(f"{binary} is not installed: `.ci/run` installs it (apt-get install "
                        "chromium chromium-driver); the browser tests need it")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--no-first-run", "--disable-extensions", "--lang=en-GB"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(30)
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(params=list(WIDTHS))
def screen(request: pytest.FixtureRequest, browser):
    """The browser at a desktop's or a phone's width: (driver, name)."""
    width, height, mobile = WIDTHS[request.param]
    browser.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})
    return browser, request.param


def wait_for(driver, css: str):
    """The first element matching `css` once it is displayed."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, WAIT).until(
        shown.visibility_of_element_located((By.CSS_SELECTOR, css)))


def find(driver, css: str) -> list:
    from selenium.webdriver.common.by import By
    return driver.find_elements(By.CSS_SELECTOR, css)


def link(driver, text: str):
    """The displayed link whose text contains `text`."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    def displayed(d):
        found = [e for e in d.find_elements(By.TAG_NAME, "a")
                 if text in (e.get_attribute("textContent") or "") and e.is_displayed()]
        return found[0] if found else False
    return WebDriverWait(driver, WAIT).until(displayed)


def open_link(driver, element) -> None:
    """Follow a link as a reader does (a click), and wait for the next page."""
    from selenium.webdriver.support import expected_conditions as gone
    from selenium.webdriver.support.ui import WebDriverWait

    driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", element)
    element.click()
    WebDriverWait(driver, WAIT).until(gone.staleness_of(element))


def seen_text(driver) -> str:
    return driver.execute_script("return document.body.innerText")


def assert_fits(driver, size: str) -> None:
    """Nothing makes the page wider than the screen (a phone would zoom out to show it)."""
    overflow = driver.execute_script("return document.documentElement.scrollWidth") \
        - WIDTHS[size][0]
    assert overflow <= 0, f"the page is {overflow} px wider than the screen"


def shoot(driver, name: str) -> None:
    driver.execute_script("window.scrollTo(0, 0)")
    driver.save_screenshot(str(SCREENSHOTS / f"{name}.png"))


def test_front_page_puts_the_search_and_the_conflicts_first(site, screen):
    driver, size = screen
    driver.get(site + "/")
    box = wait_for(driver, "input#desk-search-box")
    viewport = driver.execute_script("return window.innerHeight")
    assert box.rect["y"] + box.rect["height"] < viewport / 3  # the first thing on the page
    conflicts = [h.text for h in find(driver, ".desk-conflict h2 a")]
    assert KARABAKH in conflicts and "Soudan" in conflicts
    first = find(driver, ".desk-conflict .desk-latest a.headline")[0]
    assert first.is_displayed() and first.rect["y"] < viewport  # an article above the fold
    text = seen_text(driver)
    assert "La Gazette du Caucase (RSS)" in text and "failing (1)" in text  # sources' health
    assert "Feed" in text
    assert not [name for name in INTERNAL if name in driver.page_source]
    assert_fits(driver, size)
    shoot(driver, f"front-page-{size}")


def test_todays_articles_on_a_conflict_then_one_in_full(site, screen):
    """Front page → a conflict's articles of the latest day → one article in full, with its
    earlier version as a word diff; another with the other source that carried it."""
    driver, size = screen
    driver.get(site + "/")
    box = wait_for(driver, "#conflict-karabakh")
    open_link(driver, box.find_element("css selector", "a.latest-day"))
    heading = wait_for(driver, "h3").text
    assert 'day = "2026-11-23"' in heading and KARABAKH in heading, heading
    cells = find(driver, "td.col-conflicts")
    assert cells and all(KARABAKH in c.text and "[" not in c.text for c in cells)  # labels
    assert {d.get_attribute("textContent") for d in find(driver, "td.col-day")} == {"2026-11-23"}
    dates = find(driver, "td.col-published_at time")
    assert dates and all("\n" not in d.text and d.text.endswith("CET") for d in dates)
    assert dates[0].get_attribute("title").endswith("UTC")  # UTC on hover

    open_link(driver, link(driver, UPDATED))
    headline = wait_for(driver, "h1.headline")
    assert UPDATED in headline.text
    original = headline.find_element("css selector", "a").get_attribute("href")
    assert original.endswith("armenie-traite-paix-azerbaidjan-feu-vert-commission.html")
    paragraphs = [p for p in find(driver, ".reading .body p") if p.is_displayed()]
    assert len(paragraphs) >= 2
    width = paragraphs[0].rect["width"]
    viewport = driver.execute_script("return window.innerWidth")
    if size == "desktop":
        assert 450 <= width <= 720, width  # a line a reader can follow, not a 140 px column
    else:
        assert viewport - 60 <= width <= viewport, width
    byline = wait_for(driver, ".reading .times").text
    assert "Published 23 Nov 2026" in byline and "CET" in byline
    labels = [e.text for e in find(driver, ".reading .kicker .conflict-label")]
    assert labels == [KARABAKH]
    why = wait_for(driver, ".why").text
    assert "in the" in why and KARABAKH in why  # the words that matched, and where
    version = wait_for(driver, ".versions details[open] .diff")
    assert find(driver, ".versions .diff ins") and "Version 1" in seen_text(driver)
    assert version.is_displayed()
    text = seen_text(driver)
    assert not [name for name in INTERNAL if name in text]
    assert_fits(driver, size)
    shoot(driver, f"article-{size}")

    driver.back()
    open_link(driver, link(driver, CARRIED_TWICE))
    wait_for(driver, "h1.headline")
    copies = wait_for(driver, ".copies").text
    assert "La Gazette du Caucase (RSS)" in copies or "Le Courrier du Levant" in copies
    first_source = wait_for(driver, ".reading .byline .source").text
    open_link(driver, find(driver, ".copies a.headline")[0])
    assert wait_for(driver, ".reading .byline .source").text != first_source
    assert_fits(driver, size)


def test_a_search_followed_in_a_feed_reader(site, screen):
    """Search from the front page, then give the page's feed link to a feed reader: the
    reader gets the same articles."""
    driver, size = screen
    driver.get(site + "/")
    box = wait_for(driver, "input#desk-search-box")
    box.send_keys("Stepanakert")
    submit = find(driver, ".desk-search button")[0]
    open_link(driver, submit)
    assert "3 rows where search matches" in wait_for(driver, "h3").text
    titles = [a.text for a in find(driver, "td.col-title a.headline")]
    assert len(titles) == 3 and all(t for t in titles)
    follow = link(driver, "Follow this search in a feed reader")
    href = follow.get_attribute("href")
    alternate = find(driver, 'link[rel="alternate"][type="application/atom+xml"]')
    assert alternate and alternate[0].get_attribute("href") == href  # readers discover it
    details = find(driver, "details.column-descriptions")[0]
    assert details.get_attribute("open") is None  # column descriptions out of the way
    assert not [name for name in INTERNAL if name in seen_text(driver)]
    shoot(driver, f"search-{size}")
    with urllib.request.urlopen(href) as response:  # what a feed reader does with the link
        feed = feedparser.parse(response.read())
        assert response.headers["ETag"] and response.headers["Last-Modified"]
    assert not feed.bozo and feed.feed.title.endswith('search matches "Stepanakert"')
    assert [e.title for e in feed.entries] == titles
    assert feed.feed.id == ("urn:veille:feed:/veille/articles_with_conflicts"
                            "?_search=Stepanakert")
