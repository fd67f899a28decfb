"""`aimo bench client`: the openai engine against a real no-model chunk server in its own process."""

from __future__ import annotations

import asyncio

import httpx
from typer.testing import CliRunner

from aimo.bench.client import PROMPT, chunk_server
from aimo.bench.overhead import _direct, _through_engine
from aimo.cli.app import app
from aimo.engines.base import GenerationRequest
from aimo.engines.openai import OpenAIEngine


def test_engine_and_bare_client_each_count_every_chunk_the_server_streams():
    async def counts(url: str) -> tuple[int, int, str]:
        engine = OpenAIEngine([url], connect_retries=0)
        request = GenerationRequest(messages=PROMPT, max_tokens=37)
        try:
            _, body = engine.request_body(request, await engine.model_name(url))
            async with httpx.AsyncClient() as client:
                bare = await _direct(client, url, body)
            text = "".join([c.text async for c in engine.stream(request)])
            return bare, await _through_engine(engine, request), text
        finally:
            await engine.aclose()

    with chunk_server(chunks=37) as url:
        bare, through_engine, text = asyncio.run(counts(url))
    assert bare == through_engine == 37
    assert text == " tok" * 37


def test_bench_client_reports_both_clients_at_each_stream_count(tmp_path):
    out = tmp_path / "client.json"
    args = ["bench", "client", "--streams", "2,4", "--chunks", "20", "--seconds", "0.2", "--rounds", "1"]
    result = CliRunner().invoke(app, [*args, "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "engine / bare at 2 streams" in result.output and "engine / bare at 4 streams" in result.output
    text = out.read_text()
    assert '"client": "bare"' in text and '"client": "engine"' in text
