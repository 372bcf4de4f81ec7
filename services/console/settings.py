"""The console's settings: the service settings every process reads, plus who may sign in.

``CONNECTOR_CONSOLE__USERS_FILE`` names the YAML users file, ``CONNECTOR_CONSOLE__SESSION_SECRET``
signs session cookies. Neither has a default: the console refuses to start without them (only
``connector dev`` makes both for itself).
"""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr

from shared.settings import Settings


class ConsoleTuning(BaseModel):
    """Who may sign in, how long a session lasts, how many wrong passwords are let through."""

    users_file: str | None = None
    session_secret: SecretStr | None = None
    # A working day: a clerk signs in once in the morning; a stolen cookie dies by the evening.
    session_max_age_seconds: int = Field(default=8 * 3600, ge=60)
    # Wrong passwords allowed per user name, and per client address, within the window.
    sign_in_failures: int = Field(default=5, ge=1)
    sign_in_window_seconds: float = Field(default=300.0, gt=0)


class ConsoleSettings(Settings):
    """``Settings`` with the ``console`` part; the HTTP port keeps its default, 8080."""

    console: ConsoleTuning = ConsoleTuning()
