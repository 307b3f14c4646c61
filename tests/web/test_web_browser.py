"""End to end in a real headless Chromium (Debian's, driven by Python Playwright): a whole
5-turn session and the evaluation phase, the stored rows and the export, and a second
browser context that must not see the first one's session. Screenshots of each phase go
to the test's tmp folder, and to docs/screenshots/ when PASTA_SAVE_SCREENSHOTS is set."""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
from pathlib import Path

import pytest
from web_testkit import CHROMIUM, CHROMIUM_ARGS, plugins_with_slow_t2i, running_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]
DOCS_SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
PROMPT = "a white cat on a windowsill"


@pytest.fixture(scope="module")
def chromium_path() -> str:
    if not Path(CHROMIUM).is_file():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing in CI: scripts/setup.sh test installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium); CI runs this test")
    return CHROMIUM


class Shots:
    """Saves numbered full-page screenshots."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.paths: list[Path] = []

    def __call__(self, page, name: str) -> None:
        path = self.folder / f"{len(self.paths) + 1:02d}-{name}.png"
        page.screenshot(path=str(path), full_page=True)
        self.paths.append(path)

    def publish(self) -> None:
        if os.environ.get("PASTA_SAVE_SCREENSHOTS"):
            DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            for path in self.paths:
                shutil.copyfile(path, DOCS_SCREENSHOTS / path.name)


def play_turn(page, expect, turn: int, column: int, critique: str | None) -> None:
    expect(page.locator("#turn-number")).to_have_text(str(turn))
    expect(page.locator("#grid img")).to_have_count(16)
    expect(page.locator("#belief-types .muted.small")).to_have_text(f"After {turn - 1} click{'' if turn == 2 else 's'}.")
    page.click(f"#grid [data-column='{column}']")
    if critique:
        page.fill("#critique", critique)
    expect(page.locator("#choose")).to_have_text(f"Choose column {column + 1}")
    page.click("#choose")


def answer_turn(page, expect, turn: int) -> None:
    section = page.locator(f"#review-{turn}")
    expect(section).to_be_visible()
    expect(section.locator(".review-column")).to_have_count(4)
    for column, score in enumerate((2, 5, 3, 4)):
        page.click(f"label[for='sat-{turn}-{column}-{score}']")
    page.check(f"input[name='preferred-{turn}'][value='1']")
    page.fill("#reason", f"column two reads best in turn {turn}")
    page.press("#reason", "Tab")
    if turn >= 2:
        page.check(f"input[name='comparison-{turn}'][value='better']")
    expect(page.locator("#next")).to_be_enabled()


def test_a_person_completes_a_session_and_its_evaluation(chromium_path, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    from pasta_core.store import read_trajectories
    from pasta_web.app import create_app
    from pasta_web.export import export_sessions
    from pasta_web.settings import Arm, ServerSettings

    expect.set_options(timeout=30_000)
    settings = ServerSettings(
        db=tmp_path / "web" / "pasta.sqlite3",
        arms=(Arm("slow", t2i="slow-procedural", t2i_options={"delay": 0.06}),),
    )
    shots = Shots(tmp_path / "screenshots")
    app = create_app(settings, plugins=plugins_with_slow_t2i())
    with running_server(app) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=chromium_path, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.goto(base + "/")

            # The prompt: a gentle message past 12 words, then a short one.
            page.fill("#prompt", "a white cat sitting on a sunny windowsill next to a pot of red flowers today")
            expect(page.locator("#prompt-hint")).to_be_visible()
            expect(page.locator("#start")).to_be_disabled()
            shots(page, "prompt-over-12-words")
            page.fill("#prompt", PROMPT)
            expect(page.locator("#prompt-hint")).to_be_hidden()
            page.click("#start")

            # Rendering with progress, then the 4x4 grid; prompts hidden until toggled.
            expect(page.locator("#progress-text")).to_contain_text("Making pictures")
            shots(page, "rendering-progress")
            expect(page.locator("#grid img")).to_have_count(16)
            expect(page.locator(".column-prompt").first).to_be_hidden()
            page.check("#show-prompts")
            expect(page.locator(".column-prompt").first).to_be_visible()
            expect(page.locator("#belief-types .type")).to_have_count(4)
            page.click("#grid [data-column='2']")
            shots(page, "turn-1-grid-prompts-shown")
            page.uncheck("#show-prompts")
            page.click("#choose")

            play_turn(page, expect, 2, 0, "more sunlight please")
            # A reload (a closed tab) keeps everything answered.
            expect(page.locator("#turn-number")).to_have_text("3")
            session_id = page.url.rsplit("/", 1)[-1]
            page.reload()
            expect(page.locator("#turn-number")).to_have_text("3")
            play_turn(page, expect, 3, 3, None)
            expect(page.locator("#turn-number")).to_have_text("4")
            expect(page.locator("#grid img")).to_have_count(16)
            expect(page.locator("#belief-types .muted.small")).to_have_text("After 3 clicks.")
            shots(page, "turn-4-belief-updated")
            play_turn(page, expect, 4, 1, None)
            play_turn(page, expect, 5, 2, "a little brighter")

            # The evaluation phase (appendix B.2).
            for turn in range(1, 6):
                answer_turn(page, expect, turn)
                if turn in (1, 2):
                    shots(page, f"evaluation-turn-{turn}")
                page.click("#next")
            expect(page.locator("#overall")).to_be_visible()
            expect(page.locator("#next")).to_be_disabled()
            page.click("label[for='overall-score-4']")
            expect(page.locator("#next")).to_be_enabled()
            shots(page, "evaluation-overall")
            page.click("#next")
            expect(page.locator("#completion-code")).to_have_text(re.compile(r"^[0-9A-F]{8}$"))
            shots(page, "done")
            assert errors == []

            # A second browser context is another visitor: it sees nothing of the first.
            other = browser.new_context(viewport={"width": 1280, "height": 700})
            stranger = other.new_page()
            stranger.goto(base + "/")
            expect(stranger.locator("#my-sessions")).to_contain_text("None yet.")
            stranger.goto(f"{base}/#/s/{session_id}")
            expect(stranger.get_by_role("heading", name="Session not found")).to_be_visible()
            shots(stranger, "other-visitor")
            assert other.request.get(f"{base}/api/sessions/{session_id}").status == 404
            assert other.request.get(f"{base}/api/sessions/{session_id}/images/1/1/1").status == 404
            assert context.request.get(f"{base}/api/sessions/{session_id}/images/1/1/1").status == 200
        finally:
            browser.close()
    shots.publish()

    # What was stored as it happened.
    db = sqlite3.connect(settings.db)
    assert db.execute("SELECT phase, overall, initial_prompt FROM sessions").fetchall() == [("done", 4, PROMPT)]
    turns = db.execute("SELECT turn, choice, critique FROM turns ORDER BY turn").fetchall()
    assert turns == [(1, 2, None), (2, 0, "more sunlight please"), (3, 3, None), (4, 1, None), (5, 2, "a little brighter")]
    evaluations = db.execute("SELECT turn, preferred, satisfaction, reason, comparison FROM evaluations ORDER BY turn").fetchall()
    assert [e[:3] for e in evaluations] == [(t, 1, "[2, 5, 3, 4]") for t in range(1, 6)]
    assert [e[4] for e in evaluations] == [None, "better", "better", "better", "better"]
    assert evaluations[2][3] == "column two reads best in turn 3"
    db.close()

    path, count = export_sessions(settings.db, tmp_path / "export")
    (trajectory,) = read_trajectories(path)
    assert count == 1 and trajectory.session_id == session_id
    assert [t.choice for t in trajectory.turns] == [2, 0, 3, 1, 2]
    assert all(t.satisfaction == (2, 5, 3, 4) for t in trajectory.turns)
    assert trajectory.metadata["overall"] == 4 and trajectory.metadata["arm"] == "slow"
    assert len(shots.paths) == 9 and all(p.stat().st_size > 10_000 for p in shots.paths)
