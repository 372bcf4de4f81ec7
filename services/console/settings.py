"""The console's settings: the service settings every process reads, plus who may sign in.

``CONNECTOR_CONSOLE__USERS_FILE`` names the YAML users file, ``CONNECTOR_CONSOLE__SESSION_SECRET``
signs session cookies. Neither has a default: the console refuses to start without them (only
``connector dev`` makes both for itself). Behind a reverse proxy, ``trusted_proxies`` says whose
``X-Forwarded-For`` to believe (``client_address.py``); ``secure_cookies`` is off only where the
console is reached over plain HTTP on loopback.
"""

from __future__ import annotations

from pydantic import BaseModel, Field, IPvAnyNetwork, SecretStr

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
    # The reverse proxies (an ingress controller's pod CIDR) whose X-Forwarded-For names the
    # client; none by default, so the address is the peer's and no header can change it.
    trusted_proxies: list[IPvAnyNetwork] = []
    # Browsers send a Secure cookie only over HTTPS (and to localhost): off only for plain HTTP on
    # loopback (`connector dev`, compose's 127.0.0.1 port), whatever Host a proxy forwards.
    secure_cookies: bool = True


class ConsoleSettings(Settings):
    """``Settings`` with the ``console`` part; the HTTP port keeps its default, 8080."""

    console: ConsoleTuning = ConsoleTuning()
