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
        choices=("auto", "llamacpp", "ctransformers"),
        help="inference backend (default: auto, chosen from the file)",
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

    p = sub.add_parser("model", help="list, download and inspect models")
    msub = p.add_subparsers(dest="model_command", metavar="ACTION")
    q = msub.add_parser("list", help="the curated model registry")
    q.add_argument("--fits", action="store_true", help="only models that fit this machine")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_model_list)
    q = msub.add_parser("pull", help="download a registry model (resumes, verifies sha256)")
    q.add_argument("name", help="registry name, see `hearth model list`")
    q.set_defaults(func=cmd_model_pull)
    q = msub.add_parser("info", help="what a model file declares (no weights are loaded)")
    q.add_argument("path", help="a .gguf or legacy GGML file, or a registry name")
    q.add_argument("--json", action="store_true", help="machine-readable output")
    q.set_defaults(func=cmd_model_info)
    p.set_defaults(func=lambda _a: _subhelp(p))

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
    q = bsub.add_parser(
        "synth",
        help="write a random-weight model with a real shape and tokenizer, for benchmarks",
    )
    q.add_argument("out", help="output .gguf path")
    q.add_argument("--vocab", required=True, help="vocab-only GGUF (e.g. ../shared/models/vocab/)")
    q.add_argument("--shape", default="qwen2.5-coder-0.5b", help="model shape")
    q.add_argument("--quant", default="q4_0", help="q4_0, q8_0, f16 or none")
    q.set_defaults(func=cmd_bench_synth)
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
    from hearth.engine.backend import SamplingParams
    from hearth.engine.catalog import completion_spec
    from hearth.engine.service import Engine

    pos = parse_position(args.position)
    text = read_source(pos.path)
    prefix, suffix = split_at(text, pos.line, pos.column)
    settings = _settings(args)
    spec = completion_spec(settings, progress=not args.quiet)
    engine = Engine(spec, fim_template=settings.fim_template)
    try:
        result = complete_text(
            engine,
            prefix,
            suffix,
            max_tokens=settings.max_tokens,
            time_budget_s=settings.time_budget_ms / 1000,
            sampling=SamplingParams(
                temperature=settings.temperature,
                top_p=settings.top_p,
                top_k=settings.top_k,
                repeat_penalty=settings.repeat_penalty,
                seed=settings.seed,
            ),
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
    header = f"{'name':<30} {'size':>8}  {'roles':<16} {'template':<10} {'backend':<13} fits"
    print(header)
    for r in rows:
        print(
            f"{r['name']:<30} {r['size_gb']:>6.1f}GB  {','.join(r['roles']):<16} "
            f"{r['template'] or '-':<10} {r['backend']:<13} "
            f"{'yes' if r['fits'] else 'no '}{'  (pulled)' if r['pulled'] else ''}"
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
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
