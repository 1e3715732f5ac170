"""sipp scenarios for load: a phone that answers at once and says who called.

The lab's own phone (tests/lab/scenarios.py) logs when a call ends; under load
we need the moment each INVITE arrived and whose call it was, logged as it
arrives, to join it with the caller's INVITE time (post-dial delay).
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

from tests.lab.scenarios import _HEADER, _SDP, OK_TO_BYE, _log, _time

# The caller's number: the From user of the INVITE the phone receives.
_FROM = '<ereg regexp="sip:[^@;>]+" search_in="hdr" header="From:" assign_to="from"/>'


def answering_phone(max_hold_ms: int = 600_000) -> str:
    """Answer every INVITE at once (180 then 200); the caller hangs up.

    Each call logs ``INVITE from=sip:<caller> t_invite=<s>.<us>`` on arrival.
    """
    tag = "[pid]bench[call_number]"
    response = """<send{retrans}><![CDATA[
SIP/2.0 {code}
[last_Via:]
[last_From:]
[last_To:];tag=""" + tag + """
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
{body}]]></send>
"""
    out = [_HEADER.format(name=quoteattr("bench-phone"))]
    out.append(f'<recv request="INVITE" crlf="true"><action>{_FROM}'
               '<gettimeofday assign_to="t_invite_s,t_invite_us"/></action></recv>\n')
    out.append(_log("INVITE from=[$from] " + _time("t_invite")))
    out.append(response.format(retrans="", code="180 Ringing", body="Content-Length: 0\n\n"))
    out.append(response.format(retrans=' retrans="500"', code="200 OK",
                               body="Content-Type: application/sdp\nContent-Length: [len]\n\n"
                               + _SDP))
    out.append('<recv request="ACK" crlf="true"/>\n')
    out.append(f'<recv request="BYE" timeout="{max_hold_ms}"/>\n')
    out.append(OK_TO_BYE)
    out.append("</scenario>\n")
    return "".join(out)
