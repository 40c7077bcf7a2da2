"""One typed settings object with documented defaults, merged from every source.

Order (later wins): defaults < user `hearth.toml` (config dir) < workspace `hearth.toml`
< environment (`HEARTH_MODEL`, `HEARTH_CHAT_MODEL`, `HEARTH_BACKEND`) < editor settings
(initializationOptions, workspace/configuration) < command-line flags.
Keys may be snake_case or camelCase. A bad value is an error that names the key, the source
and what is allowed; the LSP layer reports it and keeps the default.
"""

from __future__ import annotations

import dataclasses
import os
import re
import types
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union, get_args, get_origin, get_type_hints

from hearth._toml import tomllib
from hearth.errors import ConfigError

CONFIG_FILE = "hearth.toml"


def _doc(text: str, **extra: Any) -> dict[str, Any]:
    return {"doc": text, **extra}


@dataclass(frozen=True)
class Settings:
    model: str | None = field(
        default=None,
        metadata=_doc(
            "Completion model: a path to a .gguf/.bin file or a name from `hearth model list`. "
            "Unset: `HEARTH_MODEL`, else the default registry model (`hearth model pull` "
            "fetches it)."
        ),
    )
    chat_model: str | None = field(
        default=None,
        metadata=_doc(
            "Model for Explain and Review (an instruct model). Unset: the completion model. "
            "The same file is loaded once when both roles use it."
        ),
    )
    backend: str = field(
        default="auto",
        metadata=_doc(
            "`auto` (by file: GGUF -> llama-cpp-python, legacy GGML -> ctransformers), "
            "`llamacpp`, `ctransformers`, or `http` (an inference server, see `server_url`).",
            choices=("auto", "llamacpp", "ctransformers", "http"),
        ),
    )
    model_type: str | None = field(
        default=None,
        metadata=_doc(
            "ctransformers model type for legacy GGML files (starcoder, gpt2, gptj, gpt_neox, "
            "mpt, replit, falcon, dolly, llama). Unset: guessed from the file name."
        ),
    )
    context_length: int = field(
        default=4096,
        metadata=_doc("Context window in tokens (capped at the model's own).", min=64),
    )
    threads: int = field(
        default=0, metadata=_doc("CPU threads for inference; 0 picks the core count.", min=0)
    )
    batch_size: int = field(
        default=512, metadata=_doc("Prompt evaluation batch size in tokens.", min=1)
    )
    gpu_layers: int = field(
        default=0,
        metadata=_doc("Layers to offload to a GPU (needs a GPU build of the backend).", min=0),
    )
    # -- model files are untrusted input (see hearth.engine.probe) --
    model_probe: bool = field(
        default=True,
        metadata=_doc(
            "Test-load a model file in a separate process before loading it in Hearth's own, "
            "so a file that crashes the backend cannot take the server down. Costs one extra "
            "load per file (a passed probe is remembered). User settings only: refused in a "
            "workspace `hearth.toml`."
        ),
    )
    fim_template: str = field(
        default="auto",
        metadata=_doc(
            "FIM template name from prompts/fim (qwen, codegemma, starcoder, codellama, "
            "deepseek, codestral, prefix-only) or `auto` to detect it from the vocabulary."
        ),
    )
    max_tokens: int = field(
        default=64, metadata=_doc("Most tokens generated for one completion.", min=1)
    )
    time_budget_ms: int = field(
        default=3000,
        metadata=_doc(
            "Time for generating a completion (milliseconds, after the prompt is read); once "
            "spent, the current line is finished, never past twice this.",
            min=10,
        ),
    )
    suffix_reuse_tokens: int = field(
        default=64,
        metadata=_doc(
            "With a prefix-suffix-middle FIM model (Qwen, StarCoder, DeepSeek) and the "
            "llamacpp backend, keep the evaluated code after the cursor while typing instead "
            "of evaluating it again at each keystroke; it is evaluated exactly again once this "
            "many prompt tokens have changed before it (an approximation: the kept part was "
            "read with the shorter text before the cursor). 0 evaluates it every time.",
            min=0,
        ),
    )
    draft_tokens: int = field(
        default=8,
        metadata=_doc(
            "For suggestions while typing, with greedy completion (temperature 0, no repeat "
            "penalty) on the llamacpp backend, guess up to this many next tokens from earlier "
            "text (the prompt and the suggestion so far) and let the model check them in one "
            "step: code repeats itself, and a checked guess costs far less than decoding token "
            "by token. The suggestion is what greedy decoding gives, up to rounding: a batch "
            "computes logits slightly differently, which can flip a near-tie, so a completion "
            "you ask for decodes one token at a time. 0 always decodes one token at a time.",
            min=0,
            max=32,
        ),
    )
    rank_branches: int = field(
        default=3,
        metadata=_doc(
            "With a model that has no fill-in-the-middle tokens (its prompt cannot show the "
            "code after the cursor) on the llamacpp backend, for a completion you ask for: "
            "where the model is unsure how to start a line, continue after each of up to "
            "this many likely first tokens and keep the suggestion under which the next "
            "lines below the cursor are likeliest. 1 takes the greedy suggestion.",
            min=1,
            max=8,
        ),
    )
    rank_while_typing: bool = field(
        default=False,
        metadata=_doc(
            "Rank candidates (see `rank_branches`) for the suggestions shown while typing "
            "too. Off by default: it costs a short decode and a batch per candidate (on 2 "
            "CPU cores about a second with Gemma 3 270M; `hearth bench quality` measures it)."
        ),
    )
    temperature: float = field(
        default=0.0, metadata=_doc("Sampling temperature for completion; 0 is greedy.", min=0.0)
    )
    top_p: float = field(default=0.95, metadata=_doc("Nucleus sampling.", min=0.0, max=1.0))
    top_k: int = field(default=40, metadata=_doc("Top-k sampling; 0 disables it.", min=0))
    repeat_penalty: float = field(
        default=1.0, metadata=_doc("Penalty for repeated tokens; 1.0 is off.", min=0.0)
    )
    seed: int = field(default=0, metadata=_doc("Random seed for sampling."))
    index_max_file_bytes: int = field(
        default=1_000_000,
        metadata=_doc("Files larger than this are not indexed (bytes).", min=1024),
    )
    index_exclude: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Extra gitignore-style patterns never indexed (on top of .gitignore, .hearthignore "
            "and the default exclusions: .git, node_modules, .venv, vendor, target, dist, build)."
        ),
    )
    index_secret_patterns: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Extra patterns of secret files, never indexed and never put in a prompt (on top of "
            "the built-in list: .env*, *.pem, *.key, id_rsa*, *.p12, credentials, ...)."
        ),
    )
    index_dir: str | None = field(
        default=None,
        metadata=_doc(
            "Where the index database lives. Unset: a per-workspace folder under the user cache "
            "folder (never inside the repository)."
        ),
    )
    # -- File watching (index/watcher.py, lsp/index_feature.py) --
    file_watcher: str = field(
        default="auto",
        metadata=_doc(
            "Who reports files changed outside the editor (a `git checkout`): `auto` (the "
            "editor when it offers file watching, else Hearth's own watcher), `client`, "
            "`server` (Hearth's own), or `off` (only changes the editor reports unasked; the "
            "rest at the next start). Read at start; `hearth/status` shows which is in use.",
            choices=("auto", "client", "server", "off"),
        ),
    )
    # -- Open documents (lsp/document_guard.py) --
    document_max_bytes: int = field(
        default=1_000_000,
        metadata=_doc(
            "Open documents larger than this (bytes) get no completion, Explain, Review or "
            "context, and are not indexed as typed (Hearth tells you once per document): "
            "working on them would stall the editor. They stay in sync all the same.",
            min=1024,
        ),
    )
    # -- Context engine (hearth.context) --
    context_share_definitions: float = field(
        default=0.35,
        metadata=_doc(
            "Share of the context budget for definitions of the names used near the cursor "
            "and imported by the file (the rest goes to the code around the cursor).",
            min=0.0,
            max=0.8,
        ),
    )
    context_share_similar: float = field(
        default=0.15,
        metadata=_doc(
            "Share of the context budget for code similar to the cursor's, from recently "
            "opened files and the index.",
            min=0.0,
            max=0.8,
        ),
    )
    context_share_recent_edits: float = field(
        default=0.05,
        metadata=_doc(
            "Share of the context budget for recent edits in other files.", min=0.0, max=0.8
        ),
    )
    # -- Explain and Review (hearth.assist) --
    chat_template: str = field(
        default="auto",
        metadata=_doc(
            "Chat format for Explain and Review: `auto` (the model's own template from its "
            "metadata, else a family chosen from its vocabulary), `gguf` (the model's own "
            "only), or a family from prompts/chat: `chatml`, `llama2`, `alpaca`."
        ),
    )
    chat_max_tokens: int = field(
        default=768,
        metadata=_doc("Most tokens generated for one explanation or review.", min=16),
    )
    chat_time_budget_ms: int = field(
        default=120_000,
        metadata=_doc(
            "Stop generating an explanation or review after this long (milliseconds).", min=100
        ),
    )

    # -- Inline completion (hearth.completion, lsp/completion_feature.py) --
    completion_enabled: bool = field(
        default=True, metadata=_doc("Inline completion (ghost text) while typing.")
    )
    completion_disabled_languages: tuple[str, ...] = field(
        default=(),
        metadata=_doc(
            "Editor language ids (e.g. `markdown`, `plaintext`) where inline completion is off."
        ),
    )
    multiline: str = field(
        default="auto",
        metadata=_doc(
            "Suggestion shape: `auto` (a block on an empty line or after a block opener, the rest "
            "of the line elsewhere, decided from the syntax at the cursor), `always` or `never`.",
            choices=("auto", "always", "never"),
        ),
    )
    debounce_ms: int | None = field(
        default=None,
        metadata=_doc(
            "Wait this long after a keystroke before asking the model (milliseconds). Unset: "
            "adaptive, from your typing rhythm (10-150 ms); 0 disables it.",
            min=0,
        ),
    )
    complete_in_comments: bool = field(
        default=False, metadata=_doc("Suggest while the cursor is inside a comment.")
    )
    complete_in_strings: bool = field(
        default=False, metadata=_doc("Suggest while the cursor is inside a string literal.")
    )
    completion_fallback: str = field(
        default="auto",
        metadata=_doc(
            "Offer the suggestion as a `textDocument/completion` item too: `auto` (only for "
            "editors without inline completion), `on` or `off`.",
            choices=("auto", "on", "off"),
        ),
    )
    context_budget_tokens: int = field(
        default=1536,
        metadata=_doc(
            "Most prompt tokens for one completion (cursor window plus workspace context). "
            "Smaller is faster on a CPU.",
            min=64,
        ),
    )
    explicit_candidates: int = field(
        default=3,
        metadata=_doc("Suggestions offered when completion is asked for explicitly.", min=1, max=5),
    )
    speculative: bool = field(
        default=True,
        metadata=_doc(
            "After a suggestion is shown, compute the next one as if it were accepted, so "
            "accepting and going on is instant (it starts once your usual pause between "
            "keystrokes has passed with no new one, so typing on never waits for it)."
        ),
    )
    warmup: bool = field(
        default=True,
        metadata=_doc(
            "While you read or pause, evaluate the prompt for the cursor without generating, "
            "so the next suggestion there starts warm."
        ),
    )
    completion_stats: bool = field(
        default=True,
        metadata=_doc(
            "Keep acceptance and latency statistics for `hearth stats` in the cache folder "
            "(local only, no code; nothing is ever sent)."
        ),
    )

    # -- Shared inference server (backend = "http", engine/http_backend.py) --
    server_url: str = field(
        default="http://127.0.0.1:8080",
        metadata=_doc(
            "OpenAI-compatible inference server used when `backend` is `http` (llama.cpp "
            "server, llama-cpp-python's server, vLLM, Ollama). Loopback only unless "
            "`allow_remote` is on."
        ),
    )
    server_model: str | None = field(
        default=None,
        metadata=_doc("Model name sent to the server. Unset: the first one `/v1/models` lists."),
    )
    allow_remote: bool = field(
        default=False,
        metadata=_doc(
            "Let `server_url` point at another machine (your code is then sent there; "
            "`hearth doctor` and the editor status say so). User settings only: refused in "
            "a workspace `hearth.toml`."
        ),
    )
    server_api_key_env: str | None = field(
        default="HEARTH_API_KEY",
        metadata=_doc(
            "Environment variable holding the server's API key (sent as a Bearer token, "
            "never logged). User settings only."
        ),
    )
    server_api_key_file: str | None = field(
        default=None,
        metadata=_doc(
            "File holding the API key; refused when other users can read it (chmod 600). "
            "User settings only."
        ),
    )
    server_timeout_ms: int = field(
        default=30_000,
        metadata=_doc(
            "Longest wait for the server to send the next bytes of an answer (milliseconds).",
            min=100,
        ),
    )
    server_retries: int = field(
        default=2,
        metadata=_doc(
            "Connection attempts repeated (with backoff) when the server cannot be reached; "
            "a request the server received is never sent twice.",
            min=0,
            max=10,
        ),
    )
    server_tokenizer: str | None = field(
        default=None,
        metadata=_doc(
            "A local GGUF with the server model's vocabulary, for counting prompt tokens when "
            "the server has no `/tokenize`. Neither: about 3 characters per token."
        ),
    )

    @classmethod
    def keys(cls) -> list[str]:
        return [f.name for f in dataclasses.fields(cls)]

    def merged(self, overrides: Mapping[str, Any], source: str) -> Settings:
        """A copy with `overrides` applied and validated; errors name `source`."""
        values = _validate(overrides, source)
        return dataclasses.replace(self, **values)


def reference_markdown() -> str:
    """The settings table for README.md (a test fails when the README copy is stale)."""
    rows = ["| setting | editor key | default | what it does |", "|---|---|---|---|"]
    for f in dataclasses.fields(Settings):
        camel = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), f.name)
        value = list(f.default) if isinstance(f.default, tuple) else f.default
        default = "unset" if value is None else f"`{value!r}`".replace("'", '"')
        rows.append(f"| `{f.name}` | `hearth.{camel}` | {default} | {f.metadata['doc']} |")
    return "\n".join(rows) + "\n"


def _camel_to_snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _check_type(key: str, value: Any, hint: Any, source: str) -> Any:
    origin = get_origin(hint)
    if origin in (Union, types.UnionType):
        args = [a for a in get_args(hint) if a is not type(None)]
        if value is None:
            return None
        return _check_type(key, value, args[0], source)
    bad = ConfigError(
        f"{source}: setting {key!r} must be {getattr(hint, '__name__', hint)}, not {value!r}"
    )
    if hint is bool:
        if not isinstance(value, bool):
            raise bad
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise bad
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise bad
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise bad
        return value
    if origin is tuple:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, (list, tuple)) or not all(isinstance(v, str) for v in items):
            raise ConfigError(f"{source}: setting {key!r} must be a list of strings, not {value!r}")
        return tuple(items)
    return value


def _validate(overrides: Mapping[str, Any], source: str) -> dict[str, Any]:
    hints = get_type_hints(Settings)
    meta = {f.name: f.metadata for f in dataclasses.fields(Settings)}
    out: dict[str, Any] = {}
    for raw_key, value in overrides.items():
        key = _camel_to_snake(raw_key) if raw_key not in meta else raw_key
        if key not in meta:
            import difflib

            close = difflib.get_close_matches(key, list(meta), n=1)
            hint = f"did you mean {close[0]!r}?" if close else "see the settings reference"
            raise ConfigError(f"{source}: unknown setting {raw_key!r}", hint)
        checked = _check_type(key, value, hints[key], source)
        m = meta[key]
        if checked is not None:
            if "choices" in m and checked not in m["choices"]:
                raise ConfigError(
                    f"{source}: setting {key!r} is {checked!r}; allowed: {', '.join(m['choices'])}"
                )
            if "min" in m and checked < m["min"]:
                raise ConfigError(f"{source}: setting {key!r} must be at least {m['min']}")
            if "max" in m and checked > m["max"]:
                raise ConfigError(f"{source}: setting {key!r} must be at most {m['max']}")
        out[key] = checked
    return out


# Settings a repository must not set for whoever opens it: they decide where its code is
# sent and with which credentials, or whether a model file it names is loaded unprobed.
USER_ONLY = frozenset({"allow_remote", "server_api_key_env", "server_api_key_file", "model_probe"})


def _refuse_user_only(values: Mapping[str, Any], source: str) -> None:
    for raw in values:
        key = _camel_to_snake(raw) if raw not in USER_ONLY else raw
        if key in USER_ONLY:
            raise ConfigError(
                f"{source}: {key!r} can only be set in your user hearth.toml, the environment "
                "or the command line, not by a workspace",
                "move it to the user config file (see `hearth doctor`)",
            )


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path} is not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    section = data.get("hearth", data)
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [hearth] must be a table")
    return section


def env_overrides(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    for var, key in (
        ("HEARTH_MODEL", "model"),
        ("HEARTH_CHAT_MODEL", "chat_model"),
        ("HEARTH_BACKEND", "backend"),
    ):
        if env.get(var):
            out[key] = env[var]
    return out


def load_settings(
    workspace: Path | None = None,
    *,
    user_config_dir: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    overrides_source: str = "command line",
) -> Settings:
    """Settings from every file-and-environment source, then `overrides`."""
    settings = Settings()
    if user_config_dir is None:
        from hearth.paths import config_dir

        user_config_dir = config_dir()
    candidates = [user_config_dir / CONFIG_FILE]
    if workspace is not None:
        candidates.append(workspace / CONFIG_FILE)
    for path in candidates:
        if path.is_file():
            values = read_toml(path)
            if workspace is not None and path == workspace / CONFIG_FILE:
                _refuse_user_only(values, str(path))
            settings = settings.merged(values, str(path))
    settings = settings.merged(env_overrides(env), "environment")
    if overrides:
        settings = settings.merged(
            {k: v for k, v in overrides.items() if v is not None}, overrides_source
        )
    return settings
