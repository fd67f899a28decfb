"""The HTML report in a real headless browser: it renders, with charts, to a non-trivial screenshot."""

from __future__ import annotations

import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from aimo.cli.app import app

CHROMIUM = Path("/usr/bin/chromium")


def png_pixels(path: Path) -> tuple[int, int, list[bytes]]:
    """Width, height and the unfiltered rows of an 8-bit RGB or RGBA PNG (enough for screenshots)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", b""
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, color = struct.unpack(">IIBB", header[:10])
    assert depth == 8 and color in (2, 6), f"unexpected PNG format (depth {depth}, colour type {color})"
    channels = 3 if color == 2 else 4
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, width * channels + 1)
    previous = np.zeros(width * channels, dtype=np.uint8)
    rows: list[bytes] = []
    for kind, line in zip(raw[:, 0], raw[:, 1:], strict=True):
        if kind == 1:  # sub: a running sum along each channel
            line = (
                (line.reshape(width, channels).cumsum(axis=0, dtype=np.uint64) % 256).astype(np.uint8).ravel()
            )
        elif kind == 2:  # up
            line = line + previous
        elif kind in (3, 4):  # average, Paeth: left to right
            line = _unfilter_slow(int(kind), bytearray(line), bytes(previous), channels)
        previous = np.asarray(line, dtype=np.uint8)
        rows.append(previous.tobytes())
    return width, height, rows


def _unfilter_slow(kind: int, line: bytearray, up: bytes, channels: int) -> np.ndarray:
    for i in range(len(line)):
        left = line[i - channels] if i >= channels else 0
        corner = up[i - channels] if i >= channels else 0
        if kind == 3:
            line[i] = (line[i] + (left + up[i]) // 2) & 0xFF
        else:
            p = left + up[i] - corner
            pa, pb, pc = abs(p - left), abs(p - up[i]), abs(p - corner)
            line[i] = (line[i] + (left if pa <= pb and pa <= pc else up[i] if pb <= pc else corner)) & 0xFF
    return np.frombuffer(bytes(line), dtype=np.uint8)


def test_the_report_renders_in_chromium(tmp_path, tiny_trace):
    if not CHROMIUM.exists():
        pytest.skip("needs Debian's chromium for a headless screenshot: apt-get install -y chromium")
    out = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "eval",
            str(tiny_trace),
            "--engine",
            "replay",
            "--traces",
            str(tiny_trace),
            "-n",
            "4",
            "--repeats",
            "2",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    shot = tmp_path / "report.png"
    profile = tmp_path / "chromium-profile"
    done = subprocess.run(
        [
            str(CHROMIUM),
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={shot}",
            "--window-size=1280,2400",
            (out / "report.html").resolve().as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=90,
    )
    shutil.rmtree(profile, ignore_errors=True)
    assert shot.is_file() and shot.stat().st_size > 20_000, done.stderr[-2000:]
    width, height, rows = png_pixels(shot)
    assert (width, height) == (1280, 2400)
    colours = {rows[y][x : x + 3] for y in range(0, height, 7) for x in range(0, width * 3, 3 * 11)}
    assert len(colours) > 50, "the page looks blank"
    # the chart colours are there: green and red bars, blue lines
    assert any(c[1] > 140 and c[0] < 60 and c[2] < 110 for c in colours), "no green in the screenshot"
    assert any(c[0] > 200 and c[1] < 80 and c[2] < 80 for c in colours), "no red in the screenshot"
