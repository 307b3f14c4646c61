"""The web page in a real headless Chromium: at a phone's width (390 px) no page is wider
than the screen and nothing sticks out of it, through a whole session; the belief panel
never passes off the previous turn's belief as the current one; and evaluation answers
given faster than the server stores them all count."""

from __future__ import annotations

import time

import pytest
from web_testkit import CHROMIUM, CHROMIUM_ARGS, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PHONE = {"width": 390, "height": 844}

#: The page's width, and the elements that reach past the screen's edges.
OVERFLOW = """() => {
  const width = document.documentElement.clientWidth;
  const out = [];
  for (const node of document.querySelectorAll("body *")) {
    const box = node.getBoundingClientRect();
    if (box.width && (box.right > width + 0.5 || box.left < -0.5)) out.push(`${node.tagName}.${node.className}`);
  }
  return { scrollWidth: document.documentElement.scrollWidth, outside: out.slice(0, 8) };
}"""


@pytest.fixture(scope="module")
def chromium_path() -> str:
    from pathlib import Path

    if not Path(CHROMIUM).is_file():
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs this test")
    return CHROMIUM


def fits(page, where: str) -> None:
    seen = page.evaluate(OVERFLOW)
    assert seen["scrollWidth"] <= PHONE["width"] and not seen["outside"], f"{where}: {seen}"


def test_every_phase_fits_a_phone(chromium_path, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from pasta_web.app import create_app
    from pasta_web.settings import ServerSettings

    expect.set_options(timeout=30_000)
    app = create_app(ServerSettings(db=tmp_path / "pasta.sqlite3"))
    with running_server(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport=PHONE).new_page()
            page.goto(base + "/")
            expect(page.locator("#prompt")).to_be_visible()
            fits(page, "the start page")
            page.fill("#prompt", "a quiet harbour town at dusk with fishing boats")
            page.click("#start")
            for turn in range(1, 6):
                expect(page.locator("#turn-number")).to_have_text(str(turn))
                expect(page.locator("#grid img")).to_have_count(16)
                page.check("#show-prompts")  # the longest layout: prompts above the pictures
                fits(page, f"turn {turn}")
                page.click("#grid [data-column='3']")
                page.fill("#critique", "warmer light and a bigger boat please")
                page.click("#choose")
            for turn in range(1, 6):
                expect(page.locator(f"#review-{turn}")).to_be_visible()
                expect(page.locator(f"#review-{turn} img").first).to_be_visible()
                fits(page, f"the questions on turn {turn}")
                for column in range(4):
                    page.click(f"label[for='sat-{turn}-{column}-3']")
                page.check(f"input[name='preferred-{turn}'][value='3']")
                page.fill("#reason", "the boats")
                page.press("#reason", "Tab")
                if turn >= 2:
                    page.check(f"input[name='comparison-{turn}'][value='same']")
                expect(page.locator("#next")).to_be_enabled()
                page.click("#next")
            expect(page.locator("#overall")).to_be_visible()
            fits(page, "the overall question")
        finally:
            browser.close()


def test_the_belief_panel_says_when_it_is_catching_up(chromium_path, tmp_path, monkeypatch):
    """The belief is worked out after the grid is on show. While it is the previous
    turn's, the panel says it is updating (faded), instead of showing the old count as
    if it were the current one; then it shows the new count."""
    from playwright.sync_api import expect, sync_playwright

    from pasta_web import belief as belief_module
    from pasta_web.app import create_app
    from pasta_web.settings import ServerSettings

    update = belief_module.BeliefTracker.update

    def slow_update(self, state, prompt, events):
        if any(event[0] == "clicked" for event in events):
            time.sleep(2.0)  # a busy server: the belief comes well after the grid
        return update(self, state, prompt, events)

    monkeypatch.setattr(belief_module.BeliefTracker, "update", slow_update)
    expect.set_options(timeout=30_000)
    app = create_app(ServerSettings(db=tmp_path / "pasta.sqlite3"))
    with running_server(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(base + "/")
            page.fill("#prompt", "a red bicycle")
            page.click("#start")
            note = page.locator("#belief-types .muted.small")
            expect(note).to_have_text("After 0 clicks.")
            page.click("#grid [data-column='0']")
            page.click("#choose")
            expect(page.locator("#turn-number")).to_have_text("2")
            expect(page.locator("#grid img")).to_have_count(16)
            expect(note).to_contain_text("Updating for your click 1")
            expect(page.locator("#belief-types")).to_have_class("stale")
            expect(note).to_have_text("After 1 click.")
            expect(page.locator("#belief-types")).not_to_have_class("stale")
        finally:
            browser.close()


def test_quick_answers_to_the_questions_all_count(chromium_path, tmp_path, monkeypatch):
    """The four satisfaction scores clicked faster than the server answers (each store
    takes 0.4 s here): every score is stored, and "Next" opens."""
    from playwright.sync_api import expect, sync_playwright

    from pasta_core.config import EpisodeConfig
    from pasta_web.app import create_app
    from pasta_web.db import WebStore
    from pasta_web.service import WebSessions
    from pasta_web.settings import ServerSettings

    evaluate = WebSessions.evaluate

    def slow_evaluate(self, owner, session_id, turn, answers):
        time.sleep(0.4)
        return evaluate(self, owner, session_id, turn, answers)

    monkeypatch.setattr(WebSessions, "evaluate", slow_evaluate)
    expect.set_options(timeout=30_000)
    settings = ServerSettings(db=tmp_path / "pasta.sqlite3", config=EpisodeConfig(turns=1))
    with running_server(create_app(settings)) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
            page.goto(base + "/")
            page.fill("#prompt", "a white cat")
            page.click("#start")
            expect(page.locator("#grid img")).to_have_count(16)
            page.click("#grid [data-column='1']")
            page.click("#choose")
            expect(page.locator("#review-1")).to_be_visible()
            for column, score in enumerate((2, 5, 3, 4)):
                page.click(f"label[for='sat-1-{column}-{score}']")
            page.check("input[name='preferred-1'][value='1']")
            page.fill("#reason", "the second one")
            page.press("#reason", "Tab")
            expect(page.locator("#next")).to_be_enabled()
            page.click("#next")
            expect(page.locator("#overall")).to_be_visible()
            page.click("label[for='overall-score-4']")
            page.click("#next")
            expect(page.locator("#completion-code")).to_be_visible()
        finally:
            browser.close()
    store = WebStore(tmp_path / "pasta.sqlite3", create=False)
    (session,) = store.sessions()
    (stored,) = store.evaluations(session.id)
    store.close()
    assert stored.satisfaction == (2, 5, 3, 4) and stored.preferred == 1 and stored.reason == "the second one"
