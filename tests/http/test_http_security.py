"""Loopback by default, keys from private places only, never logged; no server needed."""

from __future__ import annotations

import logging
import socket
from pathlib import Path

import pytest

from hearth.engine.http_client import HttpClient
from hearth.engine.http_endpoint import HttpEndpoint, check_endpoint, is_loopback_host, read_api_key
from hearth.errors import ConfigError
from hearth.settings import load_settings


def _no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_a: object, **_k: object) -> None:
        raise AssertionError("a connection was attempted")

    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost", "[::1]", "127.1.2.3"])
def test_loopback_hosts_are_allowed(host: str) -> None:
    check_endpoint(HttpEndpoint(url=f"http://{host}:8080"))


def test_remote_host_refused_without_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    _no_network(monkeypatch)
    ep = HttpEndpoint(url="http://gpu-box.example.com:8080")
    with pytest.raises(ConfigError) as info:
        HttpClient(ep)  # refused before any DNS lookup or connection
    assert "allow_remote" in (info.value.hint or "")
    check_endpoint(HttpEndpoint(url="http://gpu-box.example.com:8080", allow_remote=True))
    assert not is_loopback_host("10.0.0.5")


def test_url_with_credentials_refused() -> None:
    with pytest.raises(ConfigError):
        check_endpoint(HttpEndpoint(url="http://user:secret@127.0.0.1:8080"))


def test_workspace_cannot_opt_in_to_remote_or_set_keys(tmp_path: Path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    ws = tmp_path / "ws"
    ws.mkdir()
    for line in ("allow_remote = true", 'server_api_key_file = "key.txt"', 'serverApiKeyEnv = "X"'):
        (ws / "hearth.toml").write_text(f"[hearth]\n{line}\n")
        with pytest.raises(ConfigError, match="only be set in your user"):
            load_settings(ws, user_config_dir=user, env={})
    (user / "hearth.toml").write_text('[hearth]\nallow_remote = true\nbackend = "http"\n')
    (ws / "hearth.toml").write_text('[hearth]\nserver_url = "http://127.0.0.1:9000"\n')
    s = load_settings(ws, user_config_dir=user, env={})
    assert s.allow_remote and s.server_url == "http://127.0.0.1:9000"


def test_api_key_file_must_be_private(tmp_path: Path) -> None:
    key = tmp_path / "key.txt"
    key.write_text("sk-secret-123\n")
    key.chmod(0o644)
    ep = HttpEndpoint(api_key_env=None, api_key_file=str(key))
    with pytest.raises(ConfigError, match="other users"):
        read_api_key(ep, env={})
    key.chmod(0o600)
    assert read_api_key(ep, env={}) == "sk-secret-123"
    assert read_api_key(HttpEndpoint(api_key_env="K"), env={"K": " abc "}) == "abc"
    assert "sk-secret" not in repr(HttpEndpoint(api_key="sk-secret-123"))


def test_api_key_is_sent_but_never_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    client = HttpClient(HttpEndpoint(url="http://127.0.0.1:1", retries=0, api_key="sk-xyz-789"))
    assert client._headers(False)["Authorization"] == "Bearer sk-xyz-789"
    with pytest.raises(Exception):  # noqa: B017 - port 1 refuses; the message must not leak
        client.get_json("/v1/models")
    assert "sk-xyz-789" not in caplog.text
