"""Text from outside (caller ids, labels) made safe to show on a terminal or a page.

A caller id arrives from the SIP network: it can carry control characters
(a CR LF that forges a second table row, an ESC sequence that clears the
admin's terminal) or bidirectional overrides that reorder what is shown.
They are shown escaped (``\\x1b``, ``\\u202e``), so the admin sees that they
were there and nothing is lost.
"""

from __future__ import annotations

import unicodedata


def printable(text: str | None) -> str:
    """``text`` with control and format characters escaped; None -> ''."""
    if not text:
        return ""
    if text.isprintable():
        return text
    out = []
    for char in text:
        if char.isprintable() or char == " ":
            out.append(char)
        elif ord(char) < 0x100:
            out.append(f"\\x{ord(char):02x}")
        elif unicodedata.category(char) in ("Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"):
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    return "".join(out)
