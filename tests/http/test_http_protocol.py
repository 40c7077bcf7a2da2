"""Protocol details no llama-cpp-python server shows: llama.cpp's own server (`/props`,
`/tokenize`, prompt caching in a slot), API keys, HTTP errors and SSE error events.

A stdlib HTTP stub answers like llama.cpp's `llama-server` does and records what Hearth sent;
it stands in for the server's protocol only (the model behind it is tested against the real
llama-cpp-python server in test_http_backend.py).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from hearth.engine.backend import LoadOptions, SamplingParams
from hearth.engine.generate import GenerationRequest, StopReason, generate
from hearth.engine.http_backend import HttpBackend, model_stub
from hearth.engine.http_client import HttpStatusError, InferenceServerError
from hearth.engine.http_endpoint import HttpEndpoint

KEY = "sk-test-4242"


class _Stub(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, dict[str, str], Any]]] = []
    require_key = False
    stream_error = False

    def log_message(self, *_a: Any) -> None:  # quiet
        pass

    def _send_json(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _authorized(self) -> bool:
        if self.require_key and self.headers.get("Authorization") != f"Bearer {KEY}":
            self._send_json(401, {"error": {"message": "Invalid API Key"}})
            return False
        return True

    def do_GET(self) -> None:
        self.seen.append(("GET " + self.path, dict(self.headers), None))
        if not self._authorized():
            return
        if self.path == "/v1/models":
            self._send_json(200, {"data": [{"id": "coder", "meta": {"n_ctx_train": 32768}}]})
        elif self.path == "/props":
            self._send_json(200, {"default_generation_settings": {"n_ctx": 8192}, "total_slots": 4})
        else:
            self._send_json(404, {"error": {"message": "not found"}})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.seen.append(("POST " + self.path, dict(self.headers), body))
        if not self._authorized():
            return
        if self.path == "/tokenize":
            text = body["content"]
            n = 1 if text.startswith("<|fim") else max(1, len(text) // 4)
            self._send_json(200, {"tokens": list(range(n))})
            return
        if self.path == "/v1/completions":
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            if self.stream_error:
                self.wfile.write(b'data: {"error": {"message": "slot unavailable"}}\n\n')
                return
            for piece in ["return", " a", " +", " b", "\n"]:
                event = {"choices": [{"text": piece, "index": 0}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")
            return
        self._send_json(404, {"error": {"message": "not found"}})


@pytest.fixture
def stub() -> Iterator[tuple[str, type[_Stub]]]:
    handler = type("Handler", (_Stub,), {"seen": [], "require_key": False, "stream_error": False})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def _backend(url: str, **kw: Any) -> HttpBackend:
    ep = HttpEndpoint(url=url, retries=0, api_key_env=None, **kw)
    return HttpBackend(model_stub(ep, None), LoadOptions(n_ctx=4096, http=ep))


def test_llamacpp_server_prompt_cache_in_a_fixed_slot(
    stub: tuple[str, type[_Stub]], caplog: pytest.LogCaptureFixture
) -> None:
    url, handler = stub
    caplog.set_level(logging.INFO, logger="hearth")
    backend = _backend(url + "/v1")  # ".../v1" as copied from docs is accepted
    assert backend.flavor == "llama.cpp"
    assert backend.n_ctx == 4096  # min(configured, server's 8192)
    assert backend.tokenizer == "the server (/tokenize)"
    assert backend.special_token_id("<|fim_prefix|>") is not None
    assert backend.special_token_id("hello world") is None
    assert "cache_prompt in slot" in caplog.text
    fim = backend.special_token_id("<|fim_prefix|>") or 0
    prompt = [fim, *backend.tokenize("def f(a, b):")]
    gen = generate(backend, prompt, GenerationRequest(max_tokens=32, stop=("\n",)))
    assert gen.text == "return a + b"
    assert gen.stop_reason is StopReason.STOP
    (_, _, body) = next(s for s in handler.seen if s[0] == "POST /v1/completions")
    assert body["prompt"] == "<|fim_prefix|>def f(a, b):"  # specials spelled out
    assert body["cache_prompt"] is True and 0 <= body["id_slot"] < 4
    assert body["stream"] is True and body["model"] == "coder"


def test_api_key_sent_as_bearer_and_never_logged(
    stub: tuple[str, type[_Stub]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url, handler = stub
    handler.require_key = True
    caplog.set_level(logging.DEBUG)
    with pytest.raises(HttpStatusError) as info:
        _backend(url)
    assert info.value.status == 401 and "server_api_key" in (info.value.hint or "")
    key_file = tmp_path / "key"
    key_file.write_text(KEY + "\n")
    key_file.chmod(0o600)
    backend = _backend(url, api_key_file=str(key_file))
    generate(backend, backend.tokenize("x = "), GenerationRequest(max_tokens=4))
    assert all(h.get("Authorization") == f"Bearer {KEY}" for _, h, _ in handler.seen[1:])
    assert KEY not in caplog.text


def test_error_event_in_the_stream_is_an_error(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    backend = _backend(url)
    handler.stream_error = True
    with pytest.raises(InferenceServerError, match="slot unavailable"):
        generate(backend, backend.tokenize("x = "), GenerationRequest(max_tokens=4))


def test_sampling_and_grammar_reach_the_server(stub: tuple[str, type[_Stub]]) -> None:
    url, handler = stub
    backend = _backend(url)
    sampling = SamplingParams(temperature=0.2, top_k=7, grammar='root ::= "x"')
    generate(backend, backend.tokenize("x = "), GenerationRequest(max_tokens=3, sampling=sampling))
    (_, _, body) = next(s for s in handler.seen if s[0] == "POST /v1/completions")
    assert body["temperature"] == 0.2 and body["top_k"] == 7
    assert body["grammar"] == 'root ::= "x"' and body["max_tokens"] == 3
