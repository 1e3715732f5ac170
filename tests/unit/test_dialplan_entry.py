"""Which calls enter the router from which endpoint (dialplan/extensions.conf,
dialplan/pjsip.conf): the carrier trunk reaches it only for 400/800 numbers
(and phones' feature codes); consultation calls come only from bound phones."""

from __future__ import annotations

import re
from pathlib import Path

DIALPLAN = Path(__file__).resolve().parents[2] / "dialplan"


def context(name: str) -> list[str]:
    """The ``exten``/``same`` lines of one context of extensions.conf, comments dropped."""
    text = (DIALPLAN / "extensions.conf").read_text()
    body = re.search(rf"^\[{re.escape(name)}\]\n(.*?)(?=^\[|\Z)", text, re.M | re.S)
    assert body is not None, name
    lines = (line.split(";", 1)[0].strip() for line in body.group(1).splitlines())
    return [line for line in lines if line]


def test_the_carrier_trunk_hangs_up_what_is_no_hotline_at_once() -> None:
    lines = context("from-callers")
    assert "exten => _X.,1,Hangup(1)" in lines
    assert not [line for line in lines if "phone-consult" in line]


def test_consultation_calls_enter_only_from_the_phones_context() -> None:
    assert [line for line in context("from-phones") if "phone-consult" in line]
    pjsip = (DIALPLAN / "pjsip.conf").read_text()
    phones = re.search(r"^\[phones\]\(endpoint-defaults\)\n(.*?)\n\n", pjsip, re.M | re.S)
    assert phones is not None
    assert "context = from-phones" in phones.group(1)
    # Generic-endpoint phones are identified as "phones" by a site file, never
    # by the carrier's addresses (which identify as "callers").
    assert "#include pjsip_phones.conf" in pjsip
    assert not [line for line in (DIALPLAN / "pjsip_phones.conf").read_text().splitlines()
                if line.strip() and not line.startswith(";")]
