"""Every package folder ships: pyproject's explicit package list and the FIM prompt data."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from hearth._toml import tomllib

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCE = REPO_ROOT / "server"

FIM_TEMPLATES = {
    "codegemma.toml",
    "codellama.toml",
    "codestral.toml",
    "deepseek.toml",
    "prefix-only.toml",
    "qwen.toml",
    "starcoder.toml",
}


def listed_packages() -> set[str]:
    with (REPO_ROOT / "pyproject.toml").open("rb") as fh:
        config = tomllib.load(fh)
    return set(config["tool"]["setuptools"]["packages"])


def test_every_package_folder_is_listed() -> None:
    found = {
        ".".join(init.parent.relative_to(SOURCE).parts)
        for init in (SOURCE / "hearth").rglob("__init__.py")
    }
    assert "hearth" in found
    missing = sorted(found - listed_packages())
    assert not missing, (
        f"add {missing} to [tool.setuptools] packages in pyproject.toml, "
        "or the wheel will not contain them"
    )


def test_prompts_package_is_listed_and_mapped() -> None:
    assert "hearth.prompts" in listed_packages()
    with (REPO_ROOT / "pyproject.toml").open("rb") as fh:
        package_dir = tomllib.load(fh)["tool"]["setuptools"]["package-dir"]
    assert (REPO_ROOT / package_dir["hearth.prompts"] / "__init__.py").is_file()


def test_fim_templates_ship_as_package_data() -> None:
    fim = files("hearth.prompts") / "fim"
    names = {item.name for item in fim.iterdir() if item.name.endswith(".toml")}
    assert names == FIM_TEMPLATES
