"""A stand-in OpenAI-compatible server that streams chat-completion chunks as fast as it can (no model).

`python -m aimo.bench.chunkserver --port P --chunks N` answers every `POST …/chat/completions` with N
content chunks, a finish chunk, a usage chunk and `[DONE]` (HTTP/1.1 keep-alive, chunked encoding),
and `GET …/models` with one model. Each event is its own HTTP chunk, as a streaming server flushes them,
but every response is prebuilt bytes written at once, so the server costs far less per chunk than any
client that parses them: what it measures is the client.
"""

from __future__ import annotations

import argparse
import asyncio
import json

MODEL = "chunkserver"


def _sse(event: dict | str) -> bytes:
    data = event if isinstance(event, str) else json.dumps(event, separators=(",", ":"))
    return f"data: {data}\n\n".encode()


def stream_events(chunks: int, text: str = " tok") -> list[bytes]:
    """The SSE events of one streamed chat completion with `chunks` content deltas."""

    def event(delta: dict, finish: str | None = None, **extra: object) -> dict:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        head = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0, "model": MODEL}
        return {**head, "choices": [choice], **extra}

    parts = [_sse(event({"role": "assistant", "content": ""}))]
    parts += [_sse(event({"content": text}))] * chunks
    parts.append(_sse(event({}, "stop")))
    usage = {"prompt_tokens": 20, "completion_tokens": chunks, "total_tokens": 20 + chunks}
    parts.append(
        _sse({"id": "chatcmpl-bench", "object": "chat.completion.chunk", "choices": [], "usage": usage})
    )
    parts.append(_sse("[DONE]"))
    return parts


def _response(body: bytes | list[bytes], content_type: str) -> bytes:
    """A whole HTTP/1.1 response: a list of parts is sent chunked, one HTTP chunk per part (as a
    streaming server flushes each event), otherwise with a content length."""
    head = f"HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\n"
    if isinstance(body, bytes):
        return (head + f"content-length: {len(body)}\r\n\r\n").encode() + body
    framed = b"".join(f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in body)
    return (head + "transfer-encoding: chunked\r\n\r\n").encode() + framed + b"0\r\n\r\n"


async def serve(port: int, chunks: int, host: str = "127.0.0.1") -> None:
    stream = _response(stream_events(chunks), "text/event-stream")
    models = _response(
        json.dumps({"object": "list", "data": [{"id": MODEL, "object": "model"}]}).encode(),
        "application/json",
    )

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value)
                if length:
                    await reader.readexactly(length)
                writer.write(stream if head.startswith(b"POST") else models)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, host, port, backlog=1024)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--chunks", type=int, default=1000, help="content chunks per response")
    args = parser.parse_args()
    asyncio.run(serve(args.port, args.chunks))


if __name__ == "__main__":
    main()
