"""Launching Debian's Chromium under Playwright, for the tests that drive the console in it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, async_playwright


@asynccontextmanager
async def launched_chromium(executable: Path) -> AsyncIterator[Browser]:
    """A headless Chromium, closed on leaving (no sandbox when run as root, as in containers)."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(executable),
            headless=True,
            args=["--no-sandbox"] if os.geteuid() == 0 else [],
        )
        try:
            yield launched
        finally:
            await launched.close()
