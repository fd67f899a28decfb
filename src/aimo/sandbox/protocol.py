"""Length-prefixed JSON frames: the one format spoken between harness, template and sessions.

A frame is a 4-byte big-endian length, then that many bytes of UTF-8 JSON holding one object.
File descriptors travel as SCM_RIGHTS ancillary data on a frame's first bytes. Frames coming from a
session are written by a process that runs hostile code, so readers bound their size and treat any
malformed frame as the end of that session, never as a reason to fail.
"""

from __future__ import annotations

import array
import asyncio
import json
import socket
import struct
from typing import Any

HEADER = struct.Struct("!I")
MAX_FRAME = 64 << 20


class ProtocolError(Exception):
    """The peer sent something that is not a valid frame, or went away mid-frame."""


def clean_text(text: str) -> str:
    """`text` with lone surrogates escaped, so it can be encoded as UTF-8 anywhere."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def encode(message: dict[str, Any]) -> bytes:
    """One frame holding `message`."""
    body = json.dumps(message, separators=(",", ":")).encode()
    return HEADER.pack(len(body)) + body


def decode(body: bytes) -> dict[str, Any]:
    """The object in a frame's body; ProtocolError for anything else."""
    try:
        message = json.loads(body)
    except (ValueError, RecursionError) as exc:
        raise ProtocolError(f"bad frame: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("bad frame: not an object")
    return message


def fds_ancillary(fds: tuple[int, ...]) -> list[tuple[int, int, bytes]]:
    """The ancillary data that passes `fds` with sendmsg (empty for none)."""
    return [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds).tobytes())] if fds else []


def send_frame(sock: socket.socket, message: dict[str, Any], fds: tuple[int, ...] = ()) -> None:
    """Send one frame on a blocking socket, with `fds` attached to its first bytes."""
    data = encode(message)
    if fds:
        sent = sock.sendmsg([data], fds_ancillary(fds))
        data = data[sent:]
    if data:
        sock.sendall(data)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(min(n, 1 << 20))
        if not chunk:
            raise ProtocolError("connection closed mid-frame")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket, max_fds: int = 0) -> tuple[dict[str, Any], list[int]] | None:
    """Receive one frame and the fds sent with it from a blocking socket; None at a clean EOF."""
    fds: list[int] = []
    if max_fds:
        head, ancdata, _flags, _addr = sock.recvmsg(HEADER.size, socket.CMSG_SPACE(max_fds * 4))
        for level, kind, data in ancdata:
            if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                fds.extend(array.array("i", data[: len(data) - len(data) % 4]))
    else:
        head = sock.recv(HEADER.size)
    if not head:
        return None
    if len(head) < HEADER.size:
        head += _recv_exact(sock, HEADER.size - len(head))
    (size,) = HEADER.unpack(head)
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes is too large")
    return decode(_recv_exact(sock, size)), fds


class FrameDecoder:
    """Incremental decoding of frames from bytes read as they come (for non-blocking readers)."""

    def __init__(self, max_frame: int = MAX_FRAME) -> None:
        self._buffer = bytearray()
        self._max_frame = max_frame

    def feed(self, data: bytes) -> list[dict[str, Any]]:
        """Add bytes; return the frames now complete."""
        self._buffer += data
        messages = []
        while len(self._buffer) >= HEADER.size:
            (size,) = HEADER.unpack_from(self._buffer)
            if size > self._max_frame:
                raise ProtocolError(f"frame of {size} bytes is too large")
            if len(self._buffer) < HEADER.size + size:
                break
            messages.append(decode(bytes(self._buffer[HEADER.size : HEADER.size + size])))
            del self._buffer[: HEADER.size + size]
        return messages


async def read_frame(reader: asyncio.StreamReader, max_frame: int = MAX_FRAME) -> dict[str, Any]:
    """Read one frame from an asyncio stream; ProtocolError at EOF or on a bad frame."""
    try:
        (size,) = HEADER.unpack(await reader.readexactly(HEADER.size))
        if size > max_frame:
            raise ProtocolError(f"frame of {size} bytes is too large")
        return decode(await reader.readexactly(size))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ProtocolError(f"connection closed: {exc!r}") from None
