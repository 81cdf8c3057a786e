"""The OpenAI-compatible backend against dead and misbehaving servers (real sockets)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from safety_eval.models.base import BackendError, GenerationParams
from safety_eval.models.openai_compat import OpenAIBackend, parse_spec
from tests.conftest import free_port


def test_parse_spec() -> None:
    assert parse_spec("gpt-x@http://127.0.0.1:8000/v1/") == ("gpt-x", "http://127.0.0.1:8000/v1")
    with pytest.raises(BackendError, match="expected openai:MODEL@"):
        parse_spec("no-url-here")


def test_dead_server_gives_error_generations_not_exceptions() -> None:
    backend = OpenAIBackend("m", f"http://127.0.0.1:{free_port()}/v1", max_retries=1,
                            backoff_s=0.01, timeout_s=2)
    out = backend.generate(["a", "b"], GenerationParams(max_tokens=8))
    assert [g.error is not None for g in out] == [True, True]
    assert "connection error" in (out[0].error or "")
    with pytest.raises(BackendError, match="unreachable"):
        backend.probe()
    backend.close()


class _Flaky(BaseHTTPRequestHandler):
    calls = 0

    def do_POST(self) -> None:
        type(self).calls += 1
        length = int(self.headers.get("Content-Length", 0))
        body = json.loads(self.rfile.read(length))
        if type(self).calls <= 2:
            self.send_response(429 if type(self).calls == 1 else 503)
            self.end_headers()
            return
        reply = {"choices": [{"message": {"content": f"echo {body['messages'][-1]['content']}"}}],
                 "usage": {"completion_tokens": 3}}
        data = json.dumps(reply).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        return


@pytest.fixture
def flaky_server() -> Iterator[str]:
    _Flaky.calls = 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_429_and_5xx_are_retried_with_backoff(flaky_server: str) -> None:
    backend = OpenAIBackend("m", flaky_server, max_retries=3, backoff_s=0.01, concurrency=1)
    out = backend.generate(["hi"], GenerationParams(max_tokens=8))
    assert out[0].error is None
    assert out[0].text == "echo hi" and out[0].tokens == 3
    assert _Flaky.calls == 3
    backend.close()


def test_retries_give_up_with_a_clear_error(flaky_server: str) -> None:
    backend = OpenAIBackend("m", flaky_server, max_retries=1, backoff_s=0.01, concurrency=1)
    out = backend.generate(["hi"], GenerationParams(max_tokens=8))
    assert out[0].error is not None and "HTTP 503" in out[0].error
    backend.close()
