"""A caller's voice for the lab: a tone as G.711 µ-law RTP in a pcap file,
which sipp plays (``play_pcap_audio``) the way it plays key presses.

Asterisk records only the audio a channel sends it, so a voicemail needs the
caller to speak; sipp's own sample is A-law, while the lab's callers offer
µ-law (PCMU, payload type 0). 20 ms packets of 160 samples at 8 kHz.
"""

from __future__ import annotations

import math
import struct
from pathlib import Path

RATE = 8000
PACKET_SAMPLES = 160  # 20 ms


def _ulaw(sample: int) -> int:
    """One 16-bit linear sample as G.711 µ-law (ITU-T G.711)."""
    bias, clip = 0x84, 32635
    sign = 0x80 if sample < 0 else 0
    magnitude = min(abs(sample), clip) + bias
    exponent = 7
    for exp in range(7, -1, -1):
        if magnitude & (0x4000 >> (7 - exp)):
            exponent = exp
            break
    mantissa = (magnitude >> (exponent + 3)) & 0x0F
    return ~(sign | (exponent << 4) | mantissa) & 0xFF


def write_tone(path: Path, seconds: float, hz: float = 440.0) -> Path:
    """A pcap of ``seconds`` of a ``hz`` tone as µ-law RTP (Ethernet/IPv4/UDP)."""
    packets = []
    total = int(seconds * RATE / PACKET_SAMPLES)
    for n in range(total):
        payload = bytes(_ulaw(int(8000 * math.sin(2 * math.pi * hz * (n * PACKET_SAMPLES + i)
                                                  / RATE))) for i in range(PACKET_SAMPLES))
        rtp = struct.pack("!BBHII", 0x80, 0, n & 0xFFFF, n * PACKET_SAMPLES, 0x1234) + payload
        udp = struct.pack("!HHHH", 6000, 6000, 8 + len(rtp), 0) + rtp
        ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), n & 0xFFFF, 0, 64, 17, 0,
                         bytes([127, 0, 0, 1]), bytes([127, 0, 0, 1])) + udp
        frame = b"\x00" * 12 + b"\x08\x00" + ip
        at_us = n * 20_000
        packets.append(struct.pack("<IIII", at_us // 1_000_000, at_us % 1_000_000,
                                   len(frame), len(frame)) + frame)
    header = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
    path.write_bytes(header + b"".join(packets))
    return path
