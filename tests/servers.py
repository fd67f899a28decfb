"""Real HTTP servers on 127.0.0.1 for engine tests: llama.cpp's OpenAI-compatible server, and a
small failure-injecting SSE server for the cases a healthy server never shows (5xx, torn streams)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(
    proc: subprocess.Popen, url: str, timeout: float, output: Callable[[], str], name: str
) -> None:
    """Poll `url` until it answers 200; fail with the server's `output()` if it exits or is too slow."""
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited ({proc.returncode}):\n{output()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{name} did not start in {timeout:.0f} s:\n{output()[-2000:]}")
        time.sleep(0.2)


@contextmanager
def llama_server(
    model: Path, interrupt_requests: bool = False, n_ctx: int = 2048, log: Path | None = None
) -> Iterator[str]:
    """`python -m llama_cpp.server` on a free port; yields its base URL (…/v1)."""
    with llama_server_process(model, interrupt_requests=interrupt_requests, n_ctx=n_ctx, log=log) as (_, url):
        yield url


@contextmanager
def llama_server_process(
    model: Path,
    port: int | None = None,
    interrupt_requests: bool = False,
    n_ctx: int = 2048,
    log: Path | None = None,
) -> Iterator[tuple[subprocess.Popen, str]]:
    """`python -m llama_cpp.server` on `port` (a free one by default); yields its process and base URL.

    The server's output (its own account of requests: llama.cpp timings, "Disconnected from client")
    goes to `log` when given."""
    port = port or free_port()
    cmd = [
        sys.executable,
        "-m",
        "llama_cpp.server",
        "--model",
        str(model),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--n_ctx",
        str(n_ctx),
        "--interrupt_requests",
        str(interrupt_requests),
    ]
    # The log goes to a file: a pipe nobody drains fills up after some requests and stalls the server.
    with open(log, "w+b") if log else tempfile.TemporaryFile() as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT)
        url = f"http://127.0.0.1:{port}/v1"

        def output() -> str:
            out.seek(0)
            return out.read().decode(errors="replace")

        try:
            wait_until_serving(proc, f"{url}/models", 120, output, "llama_cpp.server")
            yield proc, url
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


class ScriptedSSE:
    """A real HTTP server whose answers follow a script: each POST takes the next entry.

    An entry is an int (answer with that HTTP status and no body) or a list of SSE `data:` payloads
    (dicts, or the string "[DONE]"); the server then closes the connection."""

    def __init__(self, script: list[int | list[object]], model_id: str = "scripted") -> None:
        self.script = list(script)
        self.requests: list[dict[str, object]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # /v1/models
                body = json.dumps({"data": [{"id": model_id}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                outer.requests.append(json.loads(self.rfile.read(length)))
                entry = outer.script.pop(0) if outer.script else 500
                if isinstance(entry, int):
                    self.send_response(entry)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Connection", "close")
                self.end_headers()
                for event in entry:
                    data = event if isinstance(event, str) else json.dumps(event)
                    self.wfile.write(f"data: {data}\n\n".encode())
                    self.wfile.flush()
                self.close_connection = True

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> ScriptedSSE:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def chat_delta(text: str, finish: str | None = None) -> dict[str, object]:
    return {"choices": [{"index": 0, "delta": {"content": text}, "finish_reason": finish}]}
