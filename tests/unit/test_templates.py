"""FIM templates: the shipped families, rendering to segments, detection, user overrides."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from hearth.engine.templates import (
    PREFIX_ONLY,
    FimTemplate,
    Special,
    Text,
    builtin_templates,
    detect_template,
    get_template,
    load_templates,
)
from hearth.errors import ConfigError

BUILTIN = ["codegemma", "codellama", "codestral", "deepseek", "prefix-only", "qwen", "starcoder"]

QWEN_FIM = ["<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"]
DEEPSEEK_FIM = ["<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"]


@pytest.fixture(scope="module")
def templates() -> dict[str, FimTemplate]:
    return builtin_templates()


def vocab(
    *tokens: str, overrides: dict[str, int | None] | None = None
) -> Callable[[str], int | None]:
    """A count_tokens stand-in: listed tokens are single tokens, anything else is absent."""
    known = dict.fromkeys(tokens, 1)
    known.update(overrides or {})

    def count(text: str) -> int | None:
        return known.get(text)

    return count


def test_builtin_templates_load(templates: dict[str, FimTemplate]) -> None:
    assert sorted(templates) == BUILTIN
    for name, tpl in templates.items():
        assert tpl.name == name
        assert tpl.source == f"prompts/fim/{name}.toml"
        assert "{prefix}" in tpl.template
        assert tpl.description
    assert templates[PREFIX_ONLY].required == ()
    assert not templates[PREFIX_ONLY].uses_suffix
    assert all(templates[n].uses_suffix for n in BUILTIN if n != PREFIX_ONLY)


def test_load_templates_without_user_dir_is_builtin(tmp_path: Path) -> None:
    assert sorted(load_templates()) == BUILTIN
    assert sorted(load_templates(tmp_path / "missing")) == BUILTIN


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param(
            "qwen",
            [Special("<|fim_prefix|>"), Text("PRE"), Special("<|fim_suffix|>"), Text("SUF"),
             Special("<|fim_middle|>")],
            id="qwen",
        ),
        pytest.param(
            "codegemma",
            [Special("<|fim_prefix|>"), Text("PRE"), Special("<|fim_suffix|>"), Text("SUF"),
             Special("<|fim_middle|>")],
            id="codegemma",
        ),
        pytest.param(
            "starcoder",
            [Special("<fim_prefix>"), Text("PRE"), Special("<fim_suffix>"), Text("SUF"),
             Special("<fim_middle>")],
            id="starcoder",
        ),
        pytest.param(
            "codellama",
            [Special("<PRE>"), Text(" "), Text("PRE"), Text(" "), Special("<SUF>"), Text("SUF"),
             Text(" "), Special("<MID>")],
            id="codellama-keeps-spaces",
        ),
        pytest.param(
            "deepseek",
            [Special("<｜fim▁begin｜>"), Text("PRE"), Special("<｜fim▁hole｜>"), Text("SUF"),
             Special("<｜fim▁end｜>")],
            id="deepseek",
        ),
        pytest.param(
            "codestral",
            [Special("[SUFFIX]"), Text("SUF"), Special("[PREFIX]"), Text("PRE")],
            id="codestral-suffix-first",
        ),
        pytest.param("prefix-only", [Text("PRE")], id="prefix-only-drops-suffix"),
    ],
)  # fmt: skip
def test_render_order(templates: dict[str, FimTemplate], name: str, expected: list[object]) -> None:
    assert templates[name].render("PRE", "SUF") == expected


def test_render_omits_empty_code(templates: dict[str, FimTemplate]) -> None:
    assert templates["qwen"].render("x = ", "") == [
        Special("<|fim_prefix|>"),
        Text("x = "),
        Special("<|fim_suffix|>"),
        Special("<|fim_middle|>"),
    ]


@pytest.mark.parametrize(
    ("name", "code"),
    [
        pytest.param("qwen", "s = '<|endoftext|>'  # <|fim_middle|>", id="qwen-control-tokens"),
        pytest.param("starcoder", "<fim_prefix><|endoftext|>", id="starcoder-control-tokens"),
        pytest.param("codellama", "if a <PRE> b: <MID>", id="codellama-PRE"),
        pytest.param("codestral", "x = '[PREFIX]</s>'", id="codestral-brackets"),
        pytest.param("deepseek", "<｜fim▁hole｜>", id="deepseek-hole"),
    ],
)
def test_user_code_is_never_special(
    templates: dict[str, FimTemplate], name: str, code: str
) -> None:
    """Code containing control-token text stays one plain Text segment (no injection)."""
    segments = templates[name].render(code, code)
    assert segments.count(Text(code)) == 2
    tpl_specials = [s for s in templates[name].render("a", "b") if isinstance(s, Special)]
    assert [s for s in segments if isinstance(s, Special)] == tpl_specials


@pytest.mark.parametrize(
    ("tokens", "expected"),
    [
        pytest.param([*QWEN_FIM, "<|file_separator|>"], "codegemma", id="codegemma-over-qwen"),
        pytest.param([*QWEN_FIM, "<|file_sep|>", "<|repo_name|>"], "qwen", id="qwen"),
        pytest.param(QWEN_FIM, "qwen", id="qwen-fim-only"),
        pytest.param(["<fim_prefix>", "<fim_suffix>", "<fim_middle>"], "starcoder", id="starcoder"),
        pytest.param(["<PRE>", "<SUF>", "<MID>", "<EOT>"], "codellama", id="codellama"),
        pytest.param(DEEPSEEK_FIM, "deepseek", id="deepseek"),
        pytest.param(["[SUFFIX]", "[PREFIX]"], "codestral", id="codestral"),
        pytest.param([], "prefix-only", id="no-fim-tokens"),
        pytest.param(["<|fim_prefix|>", "<|fim_suffix|>"], "prefix-only", id="qwen-incomplete"),
        pytest.param(["<s>", "</s>", "<unk>"], "prefix-only", id="plain-llama-vocab"),
    ],
)
def test_detect_template(
    templates: dict[str, FimTemplate], tokens: Iterable[str], expected: str
) -> None:
    assert detect_template(templates, vocab(*tokens)).name == expected


@pytest.mark.parametrize(
    ("count", "expected"),
    [
        pytest.param(1, "codegemma", id="single-token"),
        pytest.param(None, "qwen", id="absent"),
        pytest.param(2, "qwen", id="two-tokens"),
        pytest.param(0, "qwen", id="zero-tokens"),
    ],
)
def test_detect_rejects_family_when_a_token_is_not_single(
    templates: dict[str, FimTemplate], count: int | None, expected: str
) -> None:
    count_tokens = vocab(*QWEN_FIM, overrides={"<|file_separator|>": count})
    assert detect_template(templates, count_tokens).name == expected


def test_detect_rejects_when_any_required_token_splits(templates: dict[str, FimTemplate]) -> None:
    count_tokens = vocab(*DEEPSEEK_FIM, overrides={"<｜fim▁hole｜>": 2})
    assert detect_template(templates, count_tokens).name == PREFIX_ONLY


def test_user_dir_adds_and_overrides(tmp_path: Path) -> None:
    (tmp_path / "mine.toml").write_text(
        'name = "mine"\npriority = 5\nrequired = ["<A>", "<B>"]\n'
        'template = "<A>{prefix}<B>{suffix}"\nstop = ["<END>"]\n',
        encoding="utf-8",
    )
    (tmp_path / "qwen-override.toml").write_text(
        'name = "qwen"\ndescription = "my qwen"\ntemplate = "<|fim_prefix|>{prefix}"\n'
        'required = ["<|fim_prefix|>"]\n',
        encoding="utf-8",
    )
    (tmp_path / "notes.txt").write_text("ignored", encoding="utf-8")
    templates = load_templates(tmp_path)

    assert sorted(templates) == sorted([*BUILTIN, "mine"])
    mine = templates["mine"]
    assert mine.source == str(tmp_path / "mine.toml")
    assert mine.render("p", "s") == [Special("<A>"), Text("p"), Special("<B>"), Text("s")]
    assert mine.stop == ("<END>",)
    assert detect_template(templates, vocab("<A>", "<B>", *QWEN_FIM)).name == "mine"

    qwen = templates["qwen"]
    assert qwen.description == "my qwen"
    assert qwen.source == str(tmp_path / "qwen-override.toml")
    assert qwen.render("p", "s") == [Special("<|fim_prefix|>"), Text("p")]
    assert templates["starcoder"].source == "prompts/fim/starcoder.toml"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        pytest.param('name = "x"\ntemplate = "{prefix}', "not valid TOML", id="invalid-toml"),
        pytest.param('name = "x"\ntemplate = "<A>{suffix}"\n', "no {prefix}", id="no-prefix"),
        pytest.param('template = "{prefix}"\n', "lacks the key 'name'", id="no-name"),
        pytest.param('name = "x"\n', "lacks the key 'template'", id="no-template"),
    ],
)
def test_bad_user_template_names_the_file(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "broken.toml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_templates(tmp_path)
    assert str(path) in err.value.message
    assert message in err.value.message


def test_get_template(templates: dict[str, FimTemplate]) -> None:
    assert get_template(templates, "deepseek") is templates["deepseek"]
    with pytest.raises(ConfigError) as err:
        get_template(templates, "qwen3")
    assert "'qwen3'" in err.value.message
    assert err.value.hint is not None
    for name in BUILTIN:
        assert name in err.value.hint
