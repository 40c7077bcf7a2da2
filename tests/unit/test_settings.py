"""Settings: defaults, validation that names the key and source, merge order, README table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from hearth.errors import ConfigError
from hearth.settings import CONFIG_FILE, Settings, load_settings, reference_markdown

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_defaults() -> None:
    s = Settings()
    assert s.model is None
    assert s.chat_model is None
    assert s.backend == "auto"
    assert s.model_type is None
    assert s.context_length == 4096
    assert s.threads == 0
    assert s.batch_size == 512
    assert s.gpu_layers == 0
    assert s.fim_template == "auto"
    assert s.max_tokens == 64
    assert s.time_budget_ms == 3000
    assert s.temperature == 0.0
    assert s.top_p == 0.95
    assert s.top_k == 40
    assert s.repeat_penalty == 1.0
    assert s.seed == 0
    assert s.index_max_file_bytes == 1_000_000
    assert s.index_exclude == ()
    assert s.index_secret_patterns == ()
    assert s.index_dir is None
    assert Settings.keys()[0] == "model"
    assert len(Settings.keys()) == 53
    # the shared inference server (backend = "http"): loopback, no remote, no key file
    assert s.server_url == "http://127.0.0.1:8080"
    assert s.allow_remote is False
    assert s.server_api_key_file is None


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param({"max_tokens": 32}, {"max_tokens": 32}, id="snake"),
        pytest.param({"maxTokens": 32}, {"max_tokens": 32}, id="camel"),
        pytest.param({"timeBudgetMs": 500}, {"time_budget_ms": 500}, id="camel-three-words"),
        pytest.param({"chatModel": "a.gguf"}, {"chat_model": "a.gguf"}, id="camel-str"),
        pytest.param({"model": None}, {"model": None}, id="optional-none"),
        pytest.param({"temperature": 1}, {"temperature": 1.0}, id="int-for-float"),
        pytest.param({"top_p": 1.0, "topK": 0}, {"top_p": 1.0, "top_k": 0}, id="bounds-inclusive"),
        pytest.param({"backend": "ctransformers"}, {"backend": "ctransformers"}, id="choice"),
        pytest.param({}, {}, id="empty"),
    ],
)
def test_merged_accepts(overrides: dict[str, Any], expected: dict[str, Any]) -> None:
    s = Settings().merged(overrides, "test")
    for key, value in expected.items():
        assert getattr(s, key) == value
        assert type(getattr(s, key)) is type(value)
    untouched = set(Settings.keys()) - set(expected)
    assert all(getattr(s, k) == getattr(Settings(), k) for k in untouched)


def test_merged_returns_a_copy() -> None:
    base = Settings()
    assert base.merged({"threads": 4}, "test").threads == 4
    assert base.threads == 0


@pytest.mark.parametrize(
    ("overrides", "key", "fragment"),
    [
        pytest.param({"max_tokens": "64"}, "max_tokens", "must be int", id="str-for-int"),
        pytest.param({"threads": True}, "threads", "must be int", id="bool-for-int"),
        pytest.param({"maxTokens": 1.5}, "max_tokens", "must be int", id="float-for-int"),
        pytest.param({"temperature": "hot"}, "temperature", "must be float", id="str-for-float"),
        pytest.param({"temperature": False}, "temperature", "must be float", id="bool-for-float"),
        pytest.param({"model": 3}, "model", "must be str", id="int-for-optional-str"),
        pytest.param({"threads": -1}, "threads", "at least 0", id="negative-threads"),
        pytest.param({"context_length": 10}, "context_length", "at least 64", id="below-min"),
        pytest.param({"top_p": 1.5}, "top_p", "at most 1.0", id="above-max"),
        pytest.param({"backend": "gpu"}, "backend", "allowed: auto, llamacpp", id="bad-choice"),
        pytest.param({"max_tokens": None}, "max_tokens", "must be int", id="none-for-int"),
    ],
)
def test_merged_rejects(overrides: dict[str, Any], key: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings().merged(overrides, "workspace hearth.toml")
    message = err.value.message
    assert message.startswith("workspace hearth.toml: ")
    assert repr(key) in message
    assert fragment in message


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        pytest.param("max_token", "max_tokens", id="snake-typo"),
        pytest.param("maxToken", "max_tokens", id="camel-typo"),
        pytest.param("thread", "threads", id="plural"),
        pytest.param("contextLenght", "context_length", id="transposed"),
    ],
)
def test_unknown_key_suggests(key: str, suggestion: str) -> None:
    with pytest.raises(ConfigError) as err:
        Settings().merged({key: 1}, "editor settings")
    assert err.value.message == f"editor settings: unknown setting {key!r}"
    assert err.value.hint == f"did you mean {suggestion!r}?"


def test_unknown_key_without_close_match() -> None:
    with pytest.raises(ConfigError) as err:
        Settings().merged({"zzzzzz": 1}, "editor settings")
    assert err.value.hint == "see the settings reference"


@pytest.fixture
def dirs(tmp_path: Path) -> tuple[Path, Path]:
    user = tmp_path / "config"
    workspace = tmp_path / "project"
    user.mkdir()
    workspace.mkdir()
    return user, workspace


def test_load_settings_without_files(dirs: tuple[Path, Path]) -> None:
    user, workspace = dirs
    assert load_settings(workspace, user_config_dir=user, env={}) == Settings()
    assert load_settings(None, user_config_dir=user, env={}) == Settings()


def test_load_settings_merge_order(dirs: tuple[Path, Path]) -> None:
    user, workspace = dirs
    (user / CONFIG_FILE).write_text(
        '[hearth]\nmodel = "user.gguf"\nthreads = 2\nmax_tokens = 10\ntop_k = 5\nseed = 7\n',
        encoding="utf-8",
    )
    # Top-level keys (no [hearth] table) and camelCase work in a file too.
    (workspace / CONFIG_FILE).write_text(
        'model = "workspace.gguf"\nthreads = 3\nmaxTokens = 20\n', encoding="utf-8"
    )
    env = {"HEARTH_MODEL": "env.gguf", "HEARTH_BACKEND": "", "PATH": "/bin"}

    s = load_settings(workspace, user_config_dir=user, env=env, overrides={"threads": 4})

    assert s.seed == 7  # user only
    assert s.top_k == 5  # user only
    assert s.max_tokens == 20  # workspace over user
    assert s.model == "env.gguf"  # env over workspace
    assert s.backend == "auto"  # an empty variable is ignored
    assert s.threads == 4  # overrides over everything


@pytest.mark.parametrize(
    ("overrides", "model", "threads"),
    [
        pytest.param({"model": None, "threads": None}, "env.gguf", 3, id="none-ignored"),
        pytest.param({"model": "cli.gguf"}, "cli.gguf", 3, id="override-wins"),
        pytest.param(None, "env.gguf", 3, id="no-overrides"),
    ],
)
def test_load_settings_overrides(
    dirs: tuple[Path, Path], overrides: dict[str, Any] | None, model: str, threads: int
) -> None:
    user, workspace = dirs
    (workspace / CONFIG_FILE).write_text("[hearth]\nthreads = 3\n", encoding="utf-8")
    s = load_settings(
        workspace, user_config_dir=user, env={"HEARTH_MODEL": "env.gguf"}, overrides=overrides
    )
    assert (s.model, s.threads) == (model, threads)


def test_load_settings_env_sources(dirs: tuple[Path, Path]) -> None:
    user, workspace = dirs
    env = {"HEARTH_CHAT_MODEL": "chat.gguf", "HEARTH_BACKEND": "llamacpp"}
    s = load_settings(workspace, user_config_dir=user, env=env)
    assert (s.chat_model, s.backend) == ("chat.gguf", "llamacpp")
    with pytest.raises(ConfigError, match=r"^environment: setting 'backend'"):
        load_settings(workspace, user_config_dir=user, env={"HEARTH_BACKEND": "gpu"})


@pytest.mark.parametrize(
    ("which", "content", "fragment"),
    [
        pytest.param("user", "threads = [", "is not valid TOML", id="user-invalid-toml"),
        pytest.param("workspace", "[hearth\n", "is not valid TOML", id="ws-invalid-toml"),
        pytest.param("workspace", 'hearth = "x"\n', "[hearth] must be a table", id="not-a-table"),
        pytest.param("workspace", "[hearth]\nthreads = -2\n", "'threads'", id="bad-value"),
        pytest.param("user", "[hearth]\nmax_token = 3\n", "unknown setting", id="unknown-key"),
    ],
)
def test_load_settings_bad_file_names_the_path(
    dirs: tuple[Path, Path], which: str, content: str, fragment: str
) -> None:
    user, workspace = dirs
    path = (user if which == "user" else workspace) / CONFIG_FILE
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_settings(workspace, user_config_dir=user, env={})
    assert str(path) in err.value.message
    assert fragment in err.value.message


def test_load_settings_bad_override_names_its_source(dirs: tuple[Path, Path]) -> None:
    user, workspace = dirs
    with pytest.raises(ConfigError, match=r"^initializationOptions: setting 'top_p'"):
        load_settings(
            workspace,
            user_config_dir=user,
            env={},
            overrides={"topP": 2.0},
            overrides_source="initializationOptions",
        )


def test_reference_markdown_lists_every_setting() -> None:
    table = reference_markdown()
    keys = Settings.keys()
    for key in keys:
        assert f"| `{key}` |" in table
    assert "| `max_tokens` | `hearth.maxTokens` | `64` |" in table
    assert "| `model` | `hearth.model` | unset |" in table
    assert '| `backend` | `hearth.backend` | `"auto"` |' in table


def test_readme_settings_reference_is_current() -> None:
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln.startswith("<!-- settings-reference:start")]
    ends = [i for i, ln in enumerate(lines) if ln.strip() == "<!-- settings-reference:end -->"]
    assert len(starts) == 1, "README.md needs one '<!-- settings-reference:start' line"
    assert len(ends) == 1, "README.md needs one '<!-- settings-reference:end -->' line"
    block = "".join(lines[starts[0] + 1 : ends[0]])
    assert block == reference_markdown(), (
        "the settings table in README.md is stale; replace the lines between the "
        "settings-reference markers with the output of:\n"
        '  python -c "from hearth.settings import reference_markdown; '
        "print(reference_markdown(), end='')\""
    )
