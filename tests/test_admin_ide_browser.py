"""The Admin IDE of the example app, driven in headless Chromium."""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from flask import Flask
from playwright.sync_api import Browser, ConsoleMessage, Page, expect, sync_playwright

from example_app import create_app
from flask_heady_edge import __version__
from flask_heady_edge.cli import hash_part
from flask_heady_edge.fake_hf import FakeHuggingFace

from .servers import require_binary, serve

pytestmark = pytest.mark.browser

API_KEY = "browser-test-key-7f3a9c"

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOT = ROOT / "docs" / "admin-ide.png"
HASHED_ASSETS = sorted(
    f"/{path.name}" for path in (ROOT / "public").iterdir() if hash_part(path.name)
)

# The system's Chromium, never one downloaded by Playwright; nothing in it
# may call home, so every request the page makes goes to our own servers.
LAUNCH_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

StartResponse = Callable[..., Any]


@dataclass(frozen=True)
class Access:
    path: str
    status: int
    if_none_match: str | None


@dataclass
class AccessLog:
    """WSGI middleware that notes every request the app answers."""

    app: Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
    entries: list[Access] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(
        self, environ: dict[str, Any], start_response: StartResponse
    ) -> Iterable[bytes]:
        def noting_start(status: str, headers: Any, exc_info: Any = None) -> Any:
            access = Access(
                environ["PATH_INFO"],
                int(status.split()[0]),
                environ.get("HTTP_IF_NONE_MATCH"),
            )
            with self.lock:
                self.entries.append(access)
            return start_response(status, headers, exc_info)

        return self.app(environ, noting_start)

    def since(self, mark: int) -> list[Access]:
        with self.lock:
            return self.entries[mark:]


@dataclass
class Site:
    url: str
    log: AccessLog


def chromium_executable() -> str:
    """The system Chromium: HEADY_TEST_CHROMIUM, or ``chromium`` on the PATH."""
    configured = os.environ.get("HEADY_TEST_CHROMIUM")
    if configured:
        return configured

    return shutil.which("chromium-browser") or require_binary("chromium")


def demo_app(**config: Any) -> Flask:
    """The example app with a known key, its own limiter and cache."""
    return create_app(
        {
            "HEADY_API_KEY": API_KEY,
            "HEADY_RATELIMIT_STORAGE_URI": "memory://",
            "HEADY_RATE_LIMIT": "120 per minute",
            "HEADY_CACHE_TYPE": "SimpleCache",
            "HEADY_API_PREFIX": "/api",
            "HEADY_PUBLIC_DIR": "public",
            "HEADY_STATIC_URL_PREFIX": "",
            **config,
        }
    )


@contextmanager
def running(app: Flask) -> Iterator[Site]:
    log = AccessLog(app.wsgi_app)
    app.wsgi_app = log  # type: ignore[method-assign]
    with serve(app) as url:
        yield Site(url, log)


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeHuggingFace]:
    with FakeHuggingFace() as fake:
        yield fake


@pytest.fixture(scope="module")
def site(upstream: FakeHuggingFace) -> Iterator[Site]:
    with running(demo_app(HEADY_HF_BASE_URL=upstream.url)) as site:
        yield site


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    executable = chromium_executable()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=executable, args=LAUNCH_ARGS
        )
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    """A fresh tab (own cache and session storage) that must raise no error."""
    context = browser.new_context(
        viewport={"width": 1280, "height": 860},
        color_scheme="light",
        device_scale_factor=1,
    )
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.extend(unexpected(message)))
    yield page

    context.close()
    assert problems == []


def unexpected(message: ConsoleMessage) -> list[str]:
    """Console errors other than Chromium's note on the 401 and 429 we cause."""
    expected = re.compile(
        r"Failed to load resource: the server responded with a status of (401|429)"
    )
    if message.type != "error" or expected.match(message.text):
        return []

    return [message.text]


def open_ide(page: Page, site: Site) -> None:
    page.goto(f"{site.url}/")
    expect(page.locator("#task")).to_have_value("text-classification")


def enter_key(page: Page, key: str) -> None:
    page.locator("#api-key").fill(key)
    page.locator("#api-key").press("Enter")


def run_inference(page: Page) -> None:
    page.locator("#run").press("Enter")


def test_operator_reads_health_then_a_cache_miss_and_a_hit(
    page: Page, site: Site, upstream: FakeHuggingFace
) -> None:
    open_ide(page, site)

    # Keyboard only: the skip link first, then the key field of the form.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.locator("#api-key")).to_be_focused()
    page.keyboard.type(API_KEY)
    page.keyboard.press("Enter")

    expect(page.locator("#health-status")).to_have_text("ok")
    expect(page.locator("#health-version")).to_have_text(__version__)
    expect(page.locator("#health-edge")).to_have_text("no, origin only")
    expect(page.locator("#health-parts th")).to_have_text(
        ["cache", "limiter", "upstream"]
    )
    expect(page.locator("#health-parts td.state")).to_have_text(["ok", "ok", "ok"])
    assert page.evaluate("() => sessionStorage.length") == 1
    assert page.evaluate("() => localStorage.length") == 0
    assert API_KEY not in page.url

    page.locator("#inputs").fill("The browser test liked this gateway.")
    calls_before = len(upstream.calls)
    run_inference(page)
    expect(page.locator("#result-cache")).to_have_text("MISS")
    remaining = int(page.locator("#result-remaining").inner_text().split()[0])
    run_inference(page)
    expect(page.locator("#inference-message")).to_have_text(
        re.compile(r"^Done in \d+ ms, cache HIT\.$")
    )

    expect(page.locator("#result-cache")).to_have_text("HIT")
    expect(page.locator("#result-status")).to_have_text("200 OK")
    expect(page.locator("#result-time")).to_have_text(re.compile(r"^\d+ ms$"))
    expect(page.locator("#result-remaining")).to_have_text(f"{remaining - 1} of 120")
    expect(page.locator(".scores tbody tr")).to_have_count(2)
    expect(page.locator(".scores tbody")).to_contain_text("POSITIVE")
    assert len(upstream.calls) == calls_before + 1

    if os.environ.get("HEADY_TEST_SCREENSHOT") == "1":
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=SCREENSHOT, full_page=True)


def test_wrong_key_reads_as_a_sentence_not_json(page: Page, site: Site) -> None:
    open_ide(page, site)

    enter_key(page, "not-the-key")

    expect(page.locator("#health-message")).to_have_text(
        "The API key was refused (401 Unauthorized)."
        " Send a valid API key in the x-heady-api-key header."
    )
    expect(page.locator("#health-status")).to_have_text("unknown")
    expect(page.locator("#key-state")).to_have_text(
        "The gateway refused this tab's key; enter another."
    )


def test_reload_fetches_no_hashed_asset_again(page: Page, site: Site) -> None:
    first_responses: dict[str, dict[str, str]] = {}
    page.on(
        "response",
        lambda response: first_responses.setdefault(
            urlsplit(response.url).path, response.headers
        ),
    )
    open_ide(page, site)
    mark = len(site.log.entries)
    assert len(HASHED_ASSETS) == 2

    page.reload()
    expect(page.locator("#task")).to_have_value("text-classification")

    for path in HASHED_ASSETS:
        assert first_responses[path]["cache-control"] == (
            "public, max-age=31536000, immutable"
        )

    # The page itself is revalidated (no-cache), the hashed files are not
    # asked for at all: the browser's cache answers them.
    after_reload = site.log.since(mark)
    assert [entry for entry in after_reload if entry.path in HASHED_ASSETS] == []
    assert [entry for entry in after_reload if entry.path == "/"] == [
        Access("/", 304, first_responses["/"]["etag"])
    ]


def test_text_to_image_shows_the_picture(page: Page, site: Site) -> None:
    open_ide(page, site)
    enter_key(page, API_KEY)
    page.locator("#task").select_option("text-to-image")
    page.locator("#model").select_option("heady-fake/text-to-image")
    page.locator("#inputs").fill("a lighthouse")

    run_inference(page)

    image = page.locator("#result-output img")
    expect(image).to_have_attribute(
        "alt", "Generated image for the prompt: a lighthouse"
    )
    expect(image).to_have_attribute("src", re.compile(r"^blob:"))
    assert image.evaluate("element => element.naturalWidth") == 16


def test_exhausted_limit_reads_with_its_retry_time(
    page: Page, upstream: FakeHuggingFace
) -> None:
    app = demo_app(HEADY_HF_BASE_URL=upstream.url, HEADY_RATE_LIMIT="2 per minute")
    with running(app) as site:
        open_ide(page, site)
        enter_key(page, API_KEY)
        expect(page.locator("#health-status")).to_have_text("ok")
        run_inference(page)
        expect(page.locator("#result-status")).to_have_text("200 OK")

        run_inference(page)

        message = page.locator("#inference-message")
        expect(message).to_have_text(
            re.compile(
                r"^Too many requests \(429\)\. Rate limit .+ exceeded.*"
                r" Try again after .+ \(Retry-After: \d+ s\)\.$"
            )
        )
        expect(page.locator("#quota")).to_have_text(
            re.compile(r"^Rate limit: 0 of 2 left, resets in \d+ s$")
        )
