"""End-to-end tests of the static site in a real headless browser (Debian's chromium driven by Playwright).

Skipped, with the reason, when Playwright or a chromium binary is missing (``.ci/install-browser`` installs
chromium). The site is served from a sub-path (``/sop/site/``) to show that every link is relative.
Screenshots are kept under each test's temporary folder (``board-desktop.png`` …) as artifacts.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_site import HOSTILE, make_site_repo

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage"]


def _chromium() -> str | None:
    for cand in (os.environ.get("SOPFLOW_CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and Path(cand).is_file():
            return cand
    return None


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[test]')")
    exe = _chromium()
    if exe is None:
        pytest.skip("no chromium binary found (run .ci/install-browser, or set SOPFLOW_CHROMIUM)")
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_playwright() as pw:
        # a persistent context would take --user-data-dir; launch() gives each run a fresh, empty profile
        b = pw.chromium.launch(executable_path=exe, args=CHROMIUM_FLAGS, env={**os.environ, "HOME": str(profile)})
        yield b
        b.close()


@pytest.fixture(scope="module")
def site_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    base = tmp_path_factory.mktemp("site-e2e")
    repo = make_site_repo(base / "repo", base / "home")
    www = base / "www"
    r = repo.run("site", "build", "--out", str(www / "sop" / "site"), now="2026-11-21T13:00:00+08:00")
    assert r.code == 0, r.err

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(www)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/sop/site/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    pg = ctx.new_page()
    dialogs: list[str] = []
    errors: list[str] = []

    def on_dialog(d: Any) -> None:
        dialogs.append(d.message)
        d.dismiss()

    pg.on("dialog", on_dialog)
    pg.on("pageerror", lambda e: errors.append(str(e)))
    pg.dialogs = dialogs
    pg.errors = errors
    yield pg
    ctx.close()


def test_index_to_board_to_ticket_and_its_history(page: Any, site_url: str, tmp_path: Path) -> None:
    page.goto(site_url + "index.html")
    assert page.locator("h1").first.inner_text() == "BotHub"
    page.get_by_role("link", name="网上问题处理").first.click()
    page.wait_for_url("**/sop/site/boards/issue_track.html")
    column = page.locator("section.column", has_text="维护代表审核")
    assert column.locator(".count").inner_text() == "1"
    page.screenshot(path=str(tmp_path / "board-desktop.png"), full_page=True)
    assert (tmp_path / "board-desktop.png").stat().st_size > 10_000
    column.locator("a.card-link").first.click()
    page.wait_for_url("**/sop/site/tickets/ISS-2.html")
    assert "金融客户核心交换机端口闪断" in page.locator("h1").inner_text()
    events = page.locator("ol.timeline > li.event")
    assert events.count() == 5
    assert events.nth(1).locator(".action").inner_text() == "tick"
    assert events.nth(2).locator(".move").inner_text() == "维护人员处理 → 维护代表审核"
    assert "背景: 端口闪断" in events.nth(2).locator(".note").inner_text()
    assert len(events.nth(2).locator(".commit code").inner_text()) == 8
    page.screenshot(path=str(tmp_path / "ticket-desktop.png"), full_page=True)
    assert not page.errors


def test_search_box_finds_chinese_titles_and_wiki(page: Any, site_url: str) -> None:
    page.goto(site_url + "wiki/faq/cable.html")  # a page two folders down: the form goes up to search.html
    box = page.locator("header input[type=search]")
    box.fill("交换机 闪断")
    box.press("Enter")
    page.wait_for_url("**/sop/site/search.html?q=*")
    results = page.locator("#search-results li")
    results.first.wait_for()
    texts = results.all_inner_texts()
    assert any("ISS-2" in t and "金融客户核心交换机端口闪断" in t for t in texts)
    assert any("VPN 断网排查" in t for t in texts)  # the wiki page whose body says 交换机端口闪断
    page.locator("#q").fill("线缆")  # live, as you type
    page.wait_for_function("document.querySelector('#search-results li a')?.textContent.includes('线缆类问题排查')")
    page.locator("#search-results li a").first.click()
    page.wait_for_url("**/sop/site/wiki/faq/cable.html")
    page.locator("#q, header input[type=search]").first.fill("没有这个词")
    assert not page.errors


def test_hostile_title_is_shown_as_text(page: Any, site_url: str) -> None:
    page.goto(site_url + "tickets/ISS-1.html")
    assert page.locator("h1.ticket-title").inner_text() == f"ISS-1 {HOSTILE}"
    assert page.locator("img").count() == 0
    page.goto(site_url + "boards/issue_track.html")
    assert HOSTILE in page.locator("a.card-link", has_text="ISS-1").inner_text()
    page.goto(site_url + "search.html?q=" + "script")
    page.locator("#search-results li").first.wait_for()
    assert HOSTILE in page.locator("#search-results li a").first.inner_text()
    assert page.dialogs == [] and not page.errors


def test_pages_work_without_javascript(browser: Any, site_url: str, tmp_path: Path) -> None:
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844},
                              device_scale_factor=2, is_mobile=True)
    pg = ctx.new_page()
    pg.goto(site_url + "boards/issue_track.html")
    pg.screenshot(path=str(tmp_path / "board-phone.png"), full_page=True)
    pg.locator("a.card-link", has_text="ISS-2").click()
    pg.wait_for_url("**/tickets/ISS-2.html")
    assert pg.locator("ol.timeline > li").count() == 5
    pg.screenshot(path=str(tmp_path / "ticket-phone.png"), full_page=True)
    pg.goto(site_url + "workflows/issue_track.html")
    assert pg.locator("svg.workflow-diagram text", has_text="提交审核").count() == 1
    pg.goto(site_url + "search.html")
    assert "JavaScript" in pg.locator("main").inner_text()
    ctx.close()
