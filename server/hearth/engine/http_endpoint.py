"""Where the shared inference server is and whether Hearth may talk to it.

The code being edited goes to this server, so the default is loopback only: any other host
needs `allow_remote = true` from the user (never from the workspace). The API key comes from
an environment variable or a file only its owner can read; it is never logged or shown.
"""

from __future__ import annotations

import ipaddress
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from hearth.errors import ConfigError

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@dataclass(frozen=True)
class HttpEndpoint:
    """An OpenAI-compatible server and how to reach it (hashable: part of a ModelSpec)."""

    url: str = "http://127.0.0.1:8080"
    model: str | None = None  # sent as "model"; None: the first one /v1/models lists
    allow_remote: bool = False
    api_key_env: str | None = "HEARTH_API_KEY"
    api_key_file: str | None = None
    timeout_s: float = 30.0
    retries: int = 2
    tokenizer: str | None = None  # a local GGUF whose vocab matches the server's model
    # Set only by tests and benchmarks that read the key some other way; never from settings.
    api_key: str | None = field(default=None, repr=False, compare=False)

    @property
    def host(self) -> str:
        return urlsplit(self.url).hostname or ""

    def is_loopback(self) -> bool:
        return is_loopback_host(self.host)

    def display(self) -> str:
        """The URL without credentials or query, safe for logs and status."""
        parts = urlsplit(self.url)
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{parts.hostname}{port}{parts.path.rstrip('/')}"


def is_loopback_host(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint(ep: HttpEndpoint) -> None:
    """Refuse malformed URLs and non-loopback hosts without the opt-in."""
    parts = urlsplit(ep.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(
            f"server_url {ep.url!r} is not an http(s) URL",
            'use e.g. server_url = "http://127.0.0.1:8080"',
        )
    if parts.username or parts.password:
        raise ConfigError(
            "server_url must not contain credentials",
            "put the API key in the environment variable named by server_api_key_env "
            "or in server_api_key_file",
        )
    if not ep.is_loopback() and not ep.allow_remote:
        raise ConfigError(
            f"server_url points at {parts.hostname}, which is not this machine: the code you "
            "edit would leave it, so Hearth refuses",
            "set allow_remote = true in your user hearth.toml (not the workspace's) if this "
            "is your team's server",
        )


def read_api_key(ep: HttpEndpoint, env: dict[str, str] | None = None) -> str | None:
    """The API key from the environment or a private file, or None when none is configured."""
    if ep.api_key is not None:
        return ep.api_key
    environ = os.environ if env is None else env
    if ep.api_key_env and environ.get(ep.api_key_env):
        return environ[ep.api_key_env].strip()
    if not ep.api_key_file:
        return None
    path = Path(ep.api_key_file).expanduser()
    try:
        st = path.stat()
    except OSError as exc:
        raise ConfigError(
            f"cannot read the API key file {path}: {exc.strerror}",
            "check server_api_key_file",
        ) from None
    if os.name == "posix" and st.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ConfigError(
            f"the API key file {path} can be read by other users",
            f"chmod 600 {path}",
        )
    key = path.read_text(encoding="utf-8").strip()
    return key or None
