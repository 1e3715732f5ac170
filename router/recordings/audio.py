"""How long a stored recording plays, from its size (and a wav file's header).

Asterisk writes each format at a fixed rate (8 kHz audio): ``sln`` 16-bit
linear, 16 000 bytes a second; ``ulaw`` and ``alaw`` one byte a sample,
8 000; ``gsm`` 33-byte frames of 20 ms, 1 650; ``wav`` is 16-bit linear with a
RIFF header whose ``data`` chunk gives the audio's length (Asterisk's
format_pcm, format_gsm and format_wav modules).
"""

from __future__ import annotations

import struct

BYTES_PER_SECOND = {"sln": 16_000, "ulaw": 8_000, "alaw": 8_000, "gsm": 1_650, "wav": 16_000}
WAV_HEADER_BYTES = 44  # the canonical RIFF/WAVE header Asterisk writes
HEAD_BYTES = 512       # enough of a file to find a wav file's data chunk


class NotAudio(ValueError):
    """The file does not look like the format it is named for."""


def duration_ms(file_format: str, size_bytes: int, head: bytes) -> int:
    """Milliseconds of audio in a stored file of ``size_bytes`` bytes whose first
    bytes are ``head``.

    Raises NotAudio for a wav file without a RIFF/WAVE header, KeyError for an
    unknown format.
    """
    rate = BYTES_PER_SECOND[file_format]
    if file_format != "wav":
        return size_bytes * 1000 // rate
    audio_bytes, byte_rate = _wav_data(head, size_bytes)
    return audio_bytes * 1000 // byte_rate


def _wav_data(head: bytes, size_bytes: int) -> tuple[int, int]:
    """(bytes of audio, bytes per second) from a wav file's header."""
    if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
        raise NotAudio("not a RIFF/WAVE file")
    at, byte_rate = 12, BYTES_PER_SECOND["wav"]
    while at + 8 <= len(head):
        chunk, length = head[at:at + 4], struct.unpack_from("<I", head, at + 4)[0]
        if chunk == b"fmt " and at + 16 <= len(head):
            byte_rate = struct.unpack_from("<I", head, at + 16)[0] or byte_rate
        if chunk == b"data":
            # A header not yet updated (a file cut short) says 0: count the bytes.
            return min(length, size_bytes - at - 8) if length else size_bytes - at - 8, byte_rate
        at += 8 + length + (length & 1)
    raise NotAudio("no data chunk in the wav header")
