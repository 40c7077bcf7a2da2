"""A model file that passes Hearth's header checks can still crash a backend's native code;
the probe (a child process that loads it first) turns that into an error message.

The crashing files are real: mutations of a valid synthesized GGUF, found by setting header
values to extremes and loading each mutant that passes the validator (llama.cpp aborts through
GGML_ASSERT on an impossible layer count; ctransformers segfaults on an out-of-range token id).
They are generated here, byte for byte, never committed.
"""

from __future__ import annotations

import os
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from hearth.bench import synth
from hearth.engine import probe
from hearth.engine.backend import LoadOptions
from hearth.engine.loader import load_backend
from hearth.engine.model_file import read_model_file
from hearth.errors import ModelCrashError, ModelFormatError, ModelLoadError

ROOT = Path(__file__).resolve().parents[2]
OPTS = LoadOptions(n_ctx=128, n_threads=1, n_batch=32)
_SCALAR_SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def value_offset(data: bytes, wanted: str) -> tuple[int, int]:
    """(offset, width) of the scalar value of metadata key `wanted` in a valid GGUF."""
    pos = 24
    n_kv = struct.unpack_from("<Q", data, 16)[0]

    def string() -> str:
        nonlocal pos
        n = struct.unpack_from("<Q", data, pos)[0]
        pos += 8 + n
        return data[pos - n : pos].decode()

    for _ in range(n_kv):
        key = string()
        vtype = struct.unpack_from("<I", data, pos)[0]
        pos += 4
        if key == wanted:
            return pos, _SCALAR_SIZES[vtype]
        if vtype == 8:
            string()
        elif vtype == 9:
            etype, count = struct.unpack_from("<IQ", data, pos)
            pos += 12
            for _ in range(count):
                if etype == 8:
                    string()
                else:
                    pos += _SCALAR_SIZES[etype]
        else:
            pos += _SCALAR_SIZES[vtype]
    raise KeyError(wanted)


def mutant(base: Path, out: Path, key: str, value: int) -> Path:
    data = bytearray(base.read_bytes())
    off, width = value_offset(bytes(data), key)
    data[off : off + width] = value.to_bytes(width, "little")
    out.write_bytes(bytes(data))
    return out


@pytest.fixture(scope="module")
def small_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid llama + SentencePiece GGUF of 0.5 MB that both backends load."""
    path = tmp_path_factory.mktemp("probe") / "small.gguf"
    return synth.write_llama_spm(path, n_embd=32, n_layer=1, n_head=2, n_head_kv=2, n_ff=64)


def aborts_llamacpp(base: Path, out: Path) -> Path:
    """`llama.block_count = 0`: llama.cpp aborts (GGML_ASSERT on the layer count)."""
    return mutant(base, out, "llama.block_count", 0)


def crashes_ctransformers(base: Path, out: Path) -> Path:
    """`tokenizer.ggml.bos_token_id = 2**31 - 1`: ctransformers reads past its vocab."""
    return mutant(base, out, "tokenizer.ggml.bos_token_id", 2**31 - 1)


@pytest.fixture(autouse=True)
def own_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HEARTH_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def direct_load(path: Path, backend: str) -> subprocess.CompletedProcess[str]:
    """Load `path` in a bare child process, without the probe: proves the file crashes."""
    code = (
        "import sys; from hearth.engine.loader import load_backend; "
        "from hearth.engine.backend import LoadOptions; "
        "b = load_backend(sys.argv[1], sys.argv[2], LoadOptions(n_ctx=128, n_threads=1)); "
        "b.prefill(b.tokenize('def x', add_bos=True)); print('loaded')"
    )
    env = {**os.environ, "GGML_NO_BACKTRACE": "1"}
    return subprocess.run(
        [sys.executable, "-c", code, str(path), backend],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=path.parent,
    )


@pytest.mark.parametrize(
    ("make", "backend", "signal_name"),
    [
        pytest.param(aborts_llamacpp, "llamacpp", "SIGABRT", id="llamacpp-abort"),
        pytest.param(crashes_ctransformers, "ctransformers", "SIGSEGV", id="ctransformers-segv"),
    ],
)
def test_a_crashing_file_becomes_an_error(
    small_model: Path, tmp_path: Path, make: object, backend: str, signal_name: str
) -> None:
    path = make(small_model, tmp_path / f"crash-{backend}.gguf")  # type: ignore[operator]
    read_model_file(path)  # it passes Hearth's own header validation
    bare = direct_load(path, backend)
    assert bare.returncode < 0, (bare.returncode, bare.stderr[-500:])  # a real native crash
    with pytest.raises(ModelCrashError) as err:
        load_backend(path, backend, OPTS, probe=True)
    message = err.value.user_message()
    assert str(path) in message
    assert ("llama-cpp-python" if backend == "llamacpp" else "ctransformers") in message
    assert signal_name in message
    assert "did not load" in message and err.value.hint and "hearth model pull" in err.value.hint
    assert "Traceback" not in message
    if backend == "llamacpp":
        assert "GGML_ASSERT" in message  # the native reason, without build paths
        assert "/tmp/pip" not in message
    assert not list(tmp_path.glob("core*"))
    # This process is alive and loads a good file afterwards.
    good = load_backend(small_model, backend, OPTS, probe=True)
    assert good.tokenize("def")
    good.close()


def test_a_clean_refusal_keeps_its_own_message(small_model: Path, tmp_path: Path) -> None:
    """A backend that refuses the file without crashing: its error, not a crash report."""
    path = mutant(small_model, tmp_path / "kv.gguf", "llama.attention.head_count_kv", 3)
    with pytest.raises(ModelLoadError) as err:
        load_backend(path, "llamacpp", OPTS, probe=True)
    assert not isinstance(err.value, ModelCrashError)
    assert "wrong shape" in err.value.message and str(path) in err.value.message


def test_a_passed_probe_is_cached_per_file_version(
    small_model: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "m.gguf"
    path.write_bytes(small_model.read_bytes())
    mf = read_model_file(path)
    first = probe.probe_model(mf, "llamacpp", OPTS)
    assert not first.cached and first.seconds > 0
    calls: list[Path] = []
    real_run = probe._run_child

    def counting(model: object, *args: object) -> object:
        calls.append(path)
        return real_run(model, *args)  # type: ignore[arg-type]

    monkeypatch.setattr(probe, "_run_child", counting)
    assert probe.probe_model(mf, "llamacpp", OPTS).cached
    # Another path to the same file (a symlink) shares the entry: the key is the real path.
    link = tmp_path / "link.gguf"
    link.symlink_to(path)
    assert probe.probe_model(read_model_file(link), "llamacpp", OPTS).cached
    assert calls == []
    # A new version of the file (a new download), or another backend, is probed again.
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert not probe.probe_model(read_model_file(path), "llamacpp", OPTS).cached
    assert not probe.probe_model(read_model_file(path), "ctransformers", OPTS).cached
    assert len(calls) == 2


def test_a_hanging_probe_is_stopped(small_model: Path) -> None:
    mf = read_model_file(small_model)
    start = time.monotonic()
    with pytest.raises(ModelCrashError, match="no answer within"):
        probe.probe_model(mf, "llamacpp", OPTS, timeout_s=0.05)
    assert time.monotonic() - start < 10


@pytest.mark.skipif(os.name != "posix", reason="the parent watch uses an inherited pipe")
def test_the_probe_ends_with_its_parent(tmp_path: Path) -> None:
    """A server killed mid-probe leaves no probe behind: the child exits when the pipe from
    its parent closes (here the child waits forever, reading a FIFO nobody writes)."""
    import json

    fifo = tmp_path / "never.gguf"
    os.mkfifo(fifo)
    read_end, write_end = os.pipe()
    request = {"path": str(fifo), "backend": "llamacpp", "options": {}, "watch_fd": read_end}
    child = subprocess.Popen(
        [sys.executable, "-m", "hearth.engine.probe", json.dumps(request)],
        pass_fds=(read_end,),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    os.close(read_end)
    try:
        time.sleep(0.5)
        assert child.poll() is None  # still waiting for the file
        os.close(write_end)  # what the parent's death does
        assert child.wait(timeout=10) == 70
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_probe_off_loads_in_process(small_model: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_probe(*_: object, **__: object) -> None:
        raise AssertionError("probe=False must not start a child process")

    monkeypatch.setattr(probe, "probe_model", no_probe)
    load_backend(small_model, "llamacpp", OPTS).close()


def test_probe_cost(small_model: Path, stories_model: Path) -> None:
    """The probe's price: one extra load in a child process, once per file."""
    rows = []
    for path in (small_model, stories_model):
        start = time.perf_counter()
        load_backend(path, "llamacpp", OPTS).close()
        plain = time.perf_counter() - start
        start = time.perf_counter()
        load_backend(path, "llamacpp", OPTS, probe=True).close()
        cold = time.perf_counter() - start
        start = time.perf_counter()
        load_backend(path, "llamacpp", OPTS, probe=True).close()
        warm = time.perf_counter() - start
        rows.append(f"{path.name}: load {plain:.3f} s, +probe {cold:.3f} s, cached {warm:.3f} s")
        assert warm < cold
    print("model probe cost (llamacpp): " + "; ".join(rows))


# -- the llama-cpp-python bound ----------------------------------------------------------------


def test_pyproject_pins_the_bound_doctor_checks() -> None:
    from hearth.doctor import LLAMA_CPP_PYTHON_MIN

    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert f'"llama-cpp-python>={LLAMA_CPP_PYTHON_MIN},' in text


def test_doctor_warns_about_an_old_llama_cpp_python(monkeypatch: pytest.MonkeyPatch) -> None:
    from hearth import doctor
    from hearth.engine import llamacpp_backend

    assert doctor.older_than("0.3.16", "0.3.17")
    assert doctor.older_than("0.2.90", "0.3.17")
    assert not doctor.older_than("0.3.17", "0.3.17")
    assert not doctor.older_than("0.3.36+cu124", "0.3.17")
    assert not doctor.older_than("0.4.0", "0.3.17")

    def checks() -> dict[str, doctor.Check]:
        report = doctor.Report()
        doctor._backend_checks(report)
        return {c.name: c for c in report.checks}

    installed = checks()["backend llamacpp"]
    assert installed.status == doctor.OK, installed  # the pinned environment satisfies it
    monkeypatch.setattr(llamacpp_backend, "library_version", lambda: "0.3.16")
    old = checks()["backend llamacpp"]
    assert old.status == doctor.WARN
    assert "CVE-2026-27940" in old.detail and old.fix and ">=0.3.17" in old.fix


def test_common_type_table_matches_gguf() -> None:
    """The header reader's own table of common ggml types (it spares a `gguf` import in the
    server and in every probe) agrees with gguf's."""
    from gguf.constants import GGML_QUANT_SIZES, GGMLQuantizationType

    from hearth.engine.model_file import _COMMON_TYPES

    for ggml_type, sizes in _COMMON_TYPES.items():
        assert GGML_QUANT_SIZES[GGMLQuantizationType(ggml_type)] == sizes, ggml_type


# -- through the language server -----------------------------------------------------------------


def test_the_server_survives_a_model_that_aborts_llama_cpp(
    small_model: Path, tmp_path: Path
) -> None:
    """`hearth serve` with a crashing model: one showMessage naming the file, and the server
    keeps answering (status, completion requests) and exits cleanly."""
    sys.path.insert(0, str(ROOT / "tests" / "lsp"))
    from rawlsp import RawServer, server_env

    bad = aborts_llamacpp(small_model, tmp_path / "aborts.gguf")
    ws = tmp_path / "ws"
    ws.mkdir()
    (ws / "a.py").write_text("def f():\n    return 1\n", encoding="utf-8")
    server = RawServer(tmp_path, env=server_env(tmp_path))
    try:
        server.initialize(
            {
                "processId": None,
                "rootUri": ws.as_uri(),
                "capabilities": {},
                "initializationOptions": {"model": str(bad), "backend": "llamacpp"},
            }
        )
        shown: list[str] = []
        deadline = time.monotonic() + 60
        while not shown and time.monotonic() < deadline:
            for m in server.drain(0.2):
                if isinstance(m, dict) and m.get("method") == "window/showMessage":
                    shown.append(m["params"]["message"])
        assert shown, "no window/showMessage about the model"
        assert "crashed while test-loading" in shown[0] and str(bad) in shown[0]
        assert "SIGABRT" in shown[0] and "Traceback" not in shown[0]
        status = server.request("hearth/status", {})["result"]
        assert status["model"]["state"] == "error"
        assert "crashed" in status["model"]["message"]
        uri = (ws / "a.py").as_uri()
        server.notify(
            "textDocument/didOpen",
            {"textDocument": {"uri": uri, "languageId": "python", "version": 1, "text": "x = "}},
        )
        answer = server.request(
            "textDocument/inlineCompletion",
            {
                "textDocument": {"uri": uri},
                "position": {"line": 0, "character": 4},
                "context": {"triggerKind": 1},
            },
        )
        assert "error" not in answer, answer  # answered (empty): no model, no crash
        assert server.proc.poll() is None
        assert server.request("shutdown")["result"] is None
        server.notify("exit")
        assert server.wait() == 0
        shown_again = [
            m
            for m in server.drain(0.2)
            if isinstance(m, dict) and m.get("method") == "window/showMessage"
        ]
        assert not shown_again  # reported once
    finally:
        server.close()


def test_a_workspace_cannot_turn_the_probe_off(tmp_path: Path) -> None:
    """A repository that ships a model and a hearth.toml pointing at it must not also be able
    to skip the probe for whoever opens it."""
    from hearth.errors import ConfigError
    from hearth.settings import load_settings

    ws, user = tmp_path / "ws", tmp_path / "user"
    ws.mkdir()
    user.mkdir()
    assert load_settings(ws, user_config_dir=user, env={}).model_probe is True
    (ws / "hearth.toml").write_text("model_probe = false\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="model_probe"):
        load_settings(ws, user_config_dir=user, env={})
    (ws / "hearth.toml").unlink()
    (user / "hearth.toml").write_text("modelProbe = false\n", encoding="utf-8")
    assert load_settings(ws, user_config_dir=user, env={}).model_probe is False


@pytest.mark.soak
@pytest.mark.parametrize("backend", ["llamacpp", "ctransformers"])
def test_every_scalar_mutant_through_the_probe(
    small_model: Path, tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    """Each integer metadata value of the small model set to extremes: every mutant that
    passes validation ends in a load, a clean error or a crash report, never in this process
    dying. (How the two crashing files above were found.)"""
    if "soak" not in str(request.config.getoption("markexpr", "") or ""):
        pytest.skip("full sweep: select it with `pytest -m soak`")
    data = small_model.read_bytes()
    keys = [
        "llama.context_length",
        "llama.embedding_length",
        "llama.block_count",
        "llama.feed_forward_length",
        "llama.attention.head_count",
        "llama.attention.head_count_kv",
        "llama.rope.dimension_count",
        "llama.vocab_size",
        "tokenizer.ggml.unknown_token_id",
        "tokenizer.ggml.bos_token_id",
        "tokenizer.ggml.eos_token_id",
    ]
    values = [0, 1, 3, 7, 33, 1000, 2**31 - 1, 2**32 - 1]
    outcomes: dict[str, list[str]] = {"loaded": [], "refused": [], "crashed": []}
    for key in keys:
        _, width = value_offset(data, key)
        for value in values:
            path = tmp_path / f"{key}-{value}.gguf"
            mutant(small_model, path, key, value % (1 << (8 * width)))
            try:
                read_model_file(path)
            except ModelFormatError:
                continue  # the validator refused it: no backend sees it
            try:
                load_backend(path, backend, OPTS, probe=True).close()
                outcomes["loaded"].append(f"{key}={value}")
            except ModelCrashError:
                outcomes["crashed"].append(f"{key}={value}")
            except ModelLoadError:
                outcomes["refused"].append(f"{key}={value}")
            path.unlink()
    print(f"{backend}: " + "; ".join(f"{k} {len(v)}: {v}" for k, v in outcomes.items()))
    assert outcomes["crashed"]  # the sweep still finds files the probe must catch
