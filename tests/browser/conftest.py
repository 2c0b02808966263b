"""Fixtures for the console's browser tests: Debian's Chromium driven by Playwright, the console
started as a person starts it (`sprout console --port 0`), against the session's local cloud.

Chromium that cannot start FAILS the tests (never a skip): `.ci/run` installs it when missing."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from sprout.cli.client import SproutClient

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = os.environ.get("SPROUT_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def api(cloud) -> SproutClient:
    return SproutClient(cloud.sprout["ApiUrl"])


@pytest.fixture(scope="session")
def chromium() -> Iterator[object]:
    from playwright.sync_api import Error, sync_playwright

    with sync_playwright() as playwright:
        try:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        except Error as e:
            pytest.fail(
                f"Chromium at {CHROMIUM} cannot start ({str(e).splitlines()[0]}): install Debian's `chromium` "
                "package (`.ci/run` does) or set SPROUT_CHROMIUM",
                pytrace=False,
            )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def console_url(cloud) -> Iterator[str]:
    """`sprout console --port 0` against the local cloud's Sprout; its URL as it printed it."""
    env = {**os.environ, "SPROUT_API_URL": cloud.sprout["ApiUrl"]}
    sprout = Path(sys.executable).parent / "sprout"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "console-stderr.log"
    with log.open("w") as stderr:
        process = subprocess.Popen([str(sprout), "console", "--port", "0"], env=env, stdout=subprocess.PIPE,
                                   stderr=stderr, text=True)
        line = process.stdout.readline() if process.stdout else ""
        if not line.startswith("sprout console: http://127.0.0.1:"):
            process.kill()
            process.wait(10)
            raise RuntimeError(f"the console did not start: {line!r} {log.read_text()}")
        yield line.split()[2]
        process.terminate()
        process.wait(10)


@pytest.fixture(scope="module")
def page(chromium, console_url):
    context = chromium.new_context(base_url=console_url.rstrip("/"), viewport={"width": 1366, "height": 900})
    context.set_default_timeout(20_000)
    page = context.new_page()
    yield page
    context.close()


def shot(page, name: str) -> Path:
    """A full-page screenshot under test-artifacts/console/."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
