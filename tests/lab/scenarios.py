"""sipp scenarios for the lab's callers and bound phones, made per use.

Each scenario logs one ``RESULT`` line per call (``key=value`` pairs, times as
Unix seconds with microseconds), so tests read what the SIP peer itself saw.
"""

from __future__ import annotations

from xml.sax.saxutils import quoteattr

# Final responses a caller may get instead of 200 OK.
# (487 is left out: it answers our own CANCEL, and sipp would match it here.)
REJECT_CODES = (403, 404, 408, 410, 480, 484, 486, 488, 500, 502, 503, 600, 603)

_HEADER = '<?xml version="1.0" encoding="ISO-8859-1" ?>\n<scenario name={name}>\n'

_SDP = """v=0
o=sipp 1 1 IN IP[local_ip_type] [local_ip]
s=-
c=IN IP[media_ip_type] [media_ip]
t=0 0
m=audio [media_port] RTP/AVP 0 101
a=rtpmap:0 PCMU/8000
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=sendrecv
"""

# The 200 OK that answers the other side's BYE.
OK_TO_BYE = """<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:]
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
"""


def _now(var: str) -> str:
    return f'<nop><action><gettimeofday assign_to="{var}_s,{var}_us"/></action></nop>\n'


def _time(var: str) -> str:
    return f"{var}=[${var}_s].[${var}_us]"


def _log(message: str) -> str:
    return f"<nop><action><log message={quoteattr(message)}/></action></nop>\n"


def caller(caller_id: str, hold_ms: int, cancel_after_ms: int | None = None,
           dtmf_pcaps: tuple[tuple[int, str], ...] = (),
           answer_timeout_ms: int = 120_000) -> str:
    """A caller: dial, wait for an answer, hold ``hold_ms`` then hang up.

    ``cancel_after_ms`` hangs up while still ringing. ``dtmf_pcaps`` are
    (delay after answer in ms, pcap file) pairs played as RFC 2833 key presses.
    A remote hangup during the hold is recorded as ``ended_by=remote``.
    """
    if caller_id in ("", "anonymous"):
        from_user, display = "anonymous", '"Anonymous" '
        from_host = "anonymous.invalid"
    else:
        from_user, display, from_host = caller_id, "", "[local_ip]:[local_port]"
    branch = "z9hG4bK-[pid]-[call_number]-invite"
    from_hdr = f"From: {display}<sip:{from_user}@{from_host}>;tag=[pid]caller[call_number]"
    to_hdr = "To: <sip:[service]@[remote_ip]:[remote_port]>"
    out = [_HEADER.format(name=quoteattr("caller"))]
    out.append(_now("t_invite"))
    out.append(f"""<send retrans="500"><![CDATA[
INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
{from_hdr}
{to_hdr}
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:{from_user}@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{_SDP}]]></send>
""")
    # sipp ignores a recv's timeout after optional recvs unless each optional
    # recv carries it too (SIPp/sipp#454); the wait restarts at each 1xx.
    timeout = cancel_after_ms if cancel_after_ms is not None else answer_timeout_ms
    wait = f'timeout="{timeout}" ontimeout="cancel"'
    out.append(f'<recv response="100" optional="true" {wait}/>\n')
    for code in (180, 183):
        out.append(f'<recv response="{code}" optional="true" {wait}><action>'
                   '<gettimeofday assign_to="t_ring_s,t_ring_us"/></action></recv>\n')
    for code in REJECT_CODES:
        out.append(f'<recv response="{code}" optional="true" next="rejected" {wait}><action>'
                   f'<assignstr assign_to="status" value="{code}"/></action></recv>\n')
    out.append(f'<recv response="200" rrs="true" {wait}>'
               '<action><gettimeofday assign_to="t_answer_s,t_answer_us"/></action></recv>\n')
    out.append("""<send><![CDATA[
ACK [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
""" + from_hdr + """
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 1 ACK
Contact: <sip:""" + from_user + """@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
""")
    waited = 0
    for delay_ms, pcap in dtmf_pcaps:
        out.append(f'<pause milliseconds="{delay_ms}"/>\n')
        out.append(f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n')
        waited += delay_ms
    remaining = max(1, hold_ms - waited)
    out.append(f'<recv request="BYE" timeout="{remaining}" ontimeout="hangup">'
               '<action><gettimeofday assign_to="t_end_s,t_end_us"/></action></recv>\n')
    out.append(OK_TO_BYE)
    out.append(_log("RESULT call=[call_number] caller=" + caller_id + " result=answered "
                    "ended_by=remote " + " ".join(_time(v) for v in
                                                   ("t_invite", "t_ring", "t_answer", "t_end"))))
    out.append('<nop next="end"/>\n')

    out.append('<label id="hangup"/>\n')
    out.append(_now("t_end"))
    out.append("""<send retrans="500"><![CDATA[
BYE [next_url] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
[routes]
""" + from_hdr + """
To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200" crlf="true"/>
""")
    out.append(_log("RESULT call=[call_number] caller=" + caller_id + " result=answered "
                    "ended_by=local " + " ".join(_time(v) for v in
                                                  ("t_invite", "t_ring", "t_answer", "t_end"))))
    out.append('<nop next="end"/>\n')

    out.append('<label id="rejected"/>\n')
    out.append(_now("t_end"))
    out.append("""<send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
""" + from_hdr + """
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
""")
    out.append(_log("RESULT call=[call_number] caller=" + caller_id + " result=rejected "
                    "status=[$status] " + " ".join(_time(v) for v in
                                                   ("t_invite", "t_ring", "t_end"))))
    out.append('<nop next="end"/>\n')

    out.append('<label id="cancel"/>\n')
    out.append(_now("t_end"))
    out.append(f"""<send><![CDATA[
CANCEL sip:[service]@[remote_ip]:[remote_port] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
{from_hdr}
{to_hdr}
Call-ID: [call_id]
CSeq: 1 CANCEL
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200"/>
<recv response="487"/>
<send><![CDATA[
ACK sip:[service]@[remote_ip]:[remote_port] SIP/2.0
[last_Via:]
{from_hdr}
[last_To:]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
""")
    out.append(_log("RESULT call=[call_number] caller=" + caller_id + " result=cancelled "
                    + " ".join(_time(v) for v in ("t_invite", "t_end"))))
    out.append('<label id="end"/>\n</scenario>\n')
    return "".join(out)


def phone(answer_after_ms: int | None = 200, reject_code: int | None = None,
          hangup_after_ms: int | None = None, max_wait_ms: int = 600_000,
          key_pcap: tuple[int, str] | None = None, early_media: bool = False) -> str:
    """A bound phone that rings then answers, rejects, or never answers.

    ``answer_after_ms=None`` rings until cancelled; ``reject_code`` (486 busy,
    503 unavailable, …) answers every INVITE with that code; ``hangup_after_ms``
    hangs up from the phone's side that long after answering. ``key_pcap``:
    (delay after the answer in ms, pcap file) pressed as an RFC 2833 key (a
    confirm key), logged as ``t_key``. ``early_media``: a 183 Session Progress
    with SDP before ringing, as a carrier trunk sends its own ringback.
    """
    our_tag = "[pid]phone[call_number]"
    out = [_HEADER.format(name=quoteattr("phone"))]
    # sipp refuses variables that are set but never used: capture the dialog's
    # headers only when this phone may send its own BYE.
    dialog = "" if reject_code is not None else """
<ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
<ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>
<ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>
<ereg regexp="sip:([^@]*)@" search_in="hdr" header="From:" assign_to="cid_uri,cid"/>"""
    out.append(f"""<recv request="INVITE" crlf="true"><action>{dialog}
<gettimeofday assign_to="t_invite_s,t_invite_us"/>
</action></recv>
""")
    provisional = """<send><![CDATA[
SIP/2.0 {code}
[last_Via:]
[last_From:]
[last_To:];tag=""" + our_tag + """
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Length: 0

]]></send>
"""
    out.append(provisional.format(code="100 Trying"))
    if reject_code is not None:
        reason = {486: "Busy Here", 503: "Service Unavailable", 480: "Temporarily Unavailable",
                  404: "Not Found", 603: "Decline"}.get(reject_code, "Rejected")
        out.append(provisional.format(code=f"{reject_code} {reason}"))
        out.append('<recv request="ACK"/>\n')
        out.append(_log(f"RESULT call=[call_number] result=rejected status={reject_code} "
                        + _time("t_invite")))
        out.append("</scenario>\n")
        return "".join(out)

    if early_media:
        out.append(f"""<send><![CDATA[
SIP/2.0 183 Session Progress
[last_Via:]
[last_From:]
[last_To:];tag={our_tag}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{_SDP}]]></send>
""")
    out.append(provisional.format(code="180 Ringing"))
    wait = answer_after_ms if answer_after_ms is not None else max_wait_ms
    out.append(f'<recv request="CANCEL" timeout="{wait}" ontimeout="answer"/>\n')
    out.append("""<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag=""" + our_tag + """
[last_Call-ID:]
[last_CSeq:]
Content-Length: 0

]]></send>
<send><![CDATA[
SIP/2.0 487 Request Terminated
[last_Via:]
[last_From:]
[last_To:];tag=""" + our_tag + """
[last_Call-ID:]
CSeq: [last_cseq_number] INVITE
Content-Length: 0

]]></send>
<recv request="ACK"/>
""")
    out.append(_log("RESULT call=[call_number] result=cancelled " + _time("t_invite")))
    out.append('<nop next="end"/>\n')

    out.append('<label id="answer"/>\n')
    out.append(_now("t_answer"))
    out.append(f"""<send retrans="500"><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag={our_tag}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{_SDP}]]></send>
<recv request="ACK" crlf="true"/>
""")
    hold = hangup_after_ms if hangup_after_ms is not None else max_wait_ms
    times: tuple[str, ...] = ("t_invite", "t_answer", "t_end")
    if key_pcap is not None:
        # The key, then the BYE: a BYE during the pause (the router gave up
        # on this phone) is read as soon as the pause ends.
        delay_ms, pcap = key_pcap
        out.append(f'<pause milliseconds="{delay_ms}"/>\n')
        out.append(_now("t_key"))
        out.append(f'<nop><action><exec play_pcap_audio="{pcap}"/></action></nop>\n')
        times = (*times, "t_key")
        hold = max(1, hold - delay_ms)
    out.append(f'<recv request="BYE" timeout="{hold}" ontimeout="hangup">'
               '<action><gettimeofday assign_to="t_end_s,t_end_us"/></action></recv>\n')
    out.append(OK_TO_BYE)
    # cid: the caller id number it was shown (the From user part)
    out.append(_log("RESULT call=[call_number] result=answered ended_by=remote "
                    "cid=[$cid] cid_uri=[$cid_uri] " + " ".join(_time(v) for v in times)))
    out.append('<nop next="end"/>\n')
    out.append('<label id="hangup"/>\n')
    out.append(_now("t_end"))
    out.append(f"""<send retrans="500"><![CDATA[
BYE [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$local_to];tag={our_tag}
To: [$remote_from]
Call-ID: [call_id]
CSeq: 1 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200" crlf="true"/>
""")
    out.append(_log("RESULT call=[call_number] result=answered ended_by=local "
                    "cid=[$cid] cid_uri=[$cid_uri] " + " ".join(_time(v) for v in times)))
    out.append('<label id="end"/>\n</scenario>\n')
    return "".join(out)


def register(user: str, password: str, expires_s: int) -> str:
    """A desk phone registering its address as ``user`` (digest auth), for
    ``expires_s`` seconds; 0 removes it. Logs ``RESULT result=registered``."""
    branch = "z9hG4bK-[pid]-[call_number]-register"
    common = f"""Via: SIP/2.0/[transport] [local_ip]:[local_port];branch={branch}
From: <sip:{user}@[remote_ip]:[remote_port]>;tag=[pid]register[call_number]
To: <sip:{user}@[remote_ip]:[remote_port]>
Call-ID: [call_id]
Contact: <sip:{user}@[local_ip]:[local_port]>
Expires: {expires_s}
Max-Forwards: 70
User-Agent: lab-desk-phone"""
    return (_HEADER.format(name=quoteattr("register")) + f"""<send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
{common}
CSeq: 1 REGISTER
Content-Length: 0

]]></send>
<recv response="401" auth="true"/>
<send retrans="500"><![CDATA[
REGISTER sip:[remote_ip]:[remote_port] SIP/2.0
{common}
CSeq: 2 REGISTER
[authentication username={user} password={password}]
Content-Length: 0

]]></send>
<recv response="200"/>
""" + _log("RESULT result=registered") + "</scenario>\n")


def attended_transferer(talk_ms: int = 1000, consult_ms: int = 1000,
                        refer_on_consultation: bool = False, hang_up: bool = False) -> str:
    """A bound phone that answers a hotline call, talks ``talk_ms``, places a
    consultation call to ``[field0]`` at Asterisk ``[field1]`` (HOST:PORT,
    from the injection file), talks with the target ``consult_ms`` once it
    answers, then transfers the caller to it: REFER with Replaces on the
    first call, naming the consultation (RFC 3891, RFC 5589 §7), or with
    ``refer_on_consultation`` on the consultation, naming the first call.
    ``hang_up``: instead of a REFER, it hangs up the first call (BYE), as
    phones that "transfer on hangup" without a REFER do; logs ``hung-up``.

    sipp keeps one call per Call-ID, so the consultation reuses the first
    call's Call-ID with a tag of its own: another dialog all the same (RFC
    3261 §12; a dialog is its Call-ID and both tags), which the Replaces names
    by its tags. The BYEs of both calls after the REFER are answered 200 (its
    NOTIFYs by sipp itself: run it with -aa, :attr:`sipp.Phone.auto_answer`); logs
    ``RESULT result=refer-accepted`` (or ``refer-refused``) with the times of
    the consultation's answer (``t_consult``) and of the REFER (``t_refer``).
    """
    first_tag = "[pid]agent[call_number]"
    consult_tag = "[pid]consult[call_number]"
    ok = OK_TO_BYE
    # A Replaces names the dialog as the one receiving it sees it: to-tag is
    # Asterisk's own tag of the replaced call (its To tag on the consultation,
    # its From tag on the first call, which Asterisk placed).
    if refer_on_consultation:
        replaces = f"[call_id]%3Bto-tag%3D[$first_from_tag]%3Bfrom-tag%3D{first_tag}"
        refer = f"""REFER [$consult_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:agent@[local_ip]:[local_port]>;tag={consult_tag}
To: <sip:[field0]@[field1]>;[$consult_to]"""
    else:
        replaces = f"[call_id]%3Bto-tag%3D[$consult_to_tag]%3Bfrom-tag%3D{consult_tag}"
        refer = f"""REFER [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$local_to];tag={first_tag}
To: [$remote_from]"""
    refused = _log("RESULT result=refer-refused " + _time("t_consult") + " " + _time("t_refer"))
    head = _HEADER.format(name=quoteattr("attended_transferer"))
    # sipp refuses variables that are set but never used: the first call's
    # headers only when the REFER goes on it.
    first_call = "" if refer_on_consultation else """
<ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
<ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>
<ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>"""
    return head + f"""<recv request="INVITE" crlf="true"><action>{first_call}
<ereg regexp="tag=([^;>]+)" search_in="hdr" header="From:" assign_to="first_from,first_from_tag"/>
</action></recv>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag={first_tag}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{_SDP}]]></send>
<recv request="ACK" crlf="true"/>
<pause milliseconds="{talk_ms}"/>
<send retrans="500"><![CDATA[
INVITE sip:[field0]@[field1] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:agent@[local_ip]:[local_port]>;tag={consult_tag}
To: <sip:[field0]@[field1]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:agent@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{_SDP}]]></send>
<recv response="100" optional="true"/>
<recv response="180" optional="true"/>
<recv response="183" optional="true"/>
<recv response="200" timeout="20000" ontimeout="unanswered"><action>
<ereg regexp="tag=([^;>]+)" search_in="hdr" header="To:" assign_to="consult_to,consult_to_tag"/>
<ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="consult_contact"/>
<gettimeofday assign_to="t_consult_s,t_consult_us"/>
</action></recv>
<send><![CDATA[
ACK [$consult_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:agent@[local_ip]:[local_port]>;tag={consult_tag}
To: <sip:[field0]@[field1]>;[$consult_to]
Call-ID: [call_id]
CSeq: 1 ACK
Max-Forwards: 70
Content-Length: 0

]]></send>
<pause milliseconds="{consult_ms}"/>
<nop><action><gettimeofday assign_to="t_refer_s,t_refer_us"/></action></nop>
""" + (_hang_up_first_call(first_tag) if hang_up else f"""<send retrans="500"><![CDATA[
{refer}
Call-ID: [call_id]
CSeq: 2 REFER
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Refer-To: <sip:[field0]@[field1]?Replaces={replaces}>
Referred-By: <sip:agent@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="202" optional="true" next="accepted"/>
<recv response="403" optional="true" next="refused"/>
<recv response="603" optional="true" next="refused"/>
<recv response="501" next="refused"/>
<label id="refused"/>
{refused}<nop next="end"/>
<label id="accepted"/>
""") + _log(f"RESULT result={'hung-up' if hang_up else 'refer-accepted'} "
            "consult_to=[$consult_to_tag] first_from=[$first_from] "
            "first_from_tag=[$first_from_tag] " + _time("t_consult") + " " + _time("t_refer")) \
        + f"""<recv request="BYE" timeout="8000" ontimeout="end"/>
{ok}""" + ("" if hang_up else f"""<recv request="BYE" timeout="8000" ontimeout="end"/>
{ok}""") + """<nop next="end"/>
<label id="unanswered"/>
""" + _log("RESULT result=consultation-unanswered") + """<label id="end"/>
</scenario>
"""


def refer_while_ringing_transferer(talk_ms: int = 1000, ring_ms: int = 500,
                                   hang_up_after_ms: int = 300) -> str:
    """A bound phone that answers a hotline call, talks ``talk_ms``, places a
    consultation call to ``[field0]`` at Asterisk ``[field1]`` and, while it
    still rings (``ring_ms`` after its 180), transfers the caller to it: REFER
    with Replaces on the first call naming the consultation's early dialog
    (by the 180's To tag). ``hang_up_after_ms`` after the 202 it hangs up the
    first call (BYE), as phones do that do not wait for the NOTIFY; logs
    ``RESULT result=refer-then-hung-up`` with ``t_refer`` and ``t_bye``. The
    consultation then ends with Asterisk's final response to it (not ACKed:
    the scenario is over by then).
    """
    first_tag = "[pid]agent[call_number]"
    consult_tag = "[pid]consult[call_number]"
    replaces = f"[call_id]%3Bto-tag%3D[$consult_to_tag]%3Bfrom-tag%3D{consult_tag}"
    head = _HEADER.format(name=quoteattr("refer_while_ringing_transferer"))
    return head + f"""<recv request="INVITE" crlf="true"><action>
<ereg regexp=".*" search_in="hdr" header="From:" assign_to="remote_from"/>
<ereg regexp=".*" search_in="hdr" header="To:" assign_to="local_to"/>
<ereg regexp="sip:[^>;]*" search_in="hdr" header="Contact:" assign_to="remote_contact"/>
</action></recv>
<send><![CDATA[
SIP/2.0 200 OK
[last_Via:]
[last_From:]
[last_To:];tag={first_tag}
[last_Call-ID:]
[last_CSeq:]
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Content-Type: application/sdp
Content-Length: [len]

{_SDP}]]></send>
<recv request="ACK" crlf="true"/>
<pause milliseconds="{talk_ms}"/>
<send retrans="500"><![CDATA[
INVITE sip:[field0]@[field1] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: <sip:agent@[local_ip]:[local_port]>;tag={consult_tag}
To: <sip:[field0]@[field1]>
Call-ID: [call_id]
CSeq: 1 INVITE
Contact: <sip:agent@[local_ip]:[local_port];transport=[transport]>
Max-Forwards: 70
Content-Type: application/sdp
Content-Length: [len]

{_SDP}]]></send>
<recv response="100" optional="true"/>
<recv response="180" timeout="10000" ontimeout="end"><action>
<ereg regexp="tag=([^;>]+)" search_in="hdr" header="To:" assign_to="consult_to,consult_to_tag"/>
</action></recv>
<pause milliseconds="{ring_ms}"/>
<nop><action><gettimeofday assign_to="t_refer_s,t_refer_us"/></action></nop>
<send retrans="500"><![CDATA[
REFER [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$local_to];tag={first_tag}
To: [$remote_from]
Call-ID: [call_id]
CSeq: 2 REFER
Contact: <sip:[local_ip]:[local_port];transport=[transport]>
Refer-To: <sip:[field0]@[field1]?Replaces={replaces}>
Referred-By: <sip:agent@[local_ip]:[local_port]>
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="202" timeout="5000" ontimeout="refused"/>
<pause milliseconds="{hang_up_after_ms}"/>
<nop><action><gettimeofday assign_to="t_bye_s,t_bye_us"/></action></nop>
<send retrans="500"><![CDATA[
BYE [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$local_to];tag={first_tag}
To: [$remote_from]
Call-ID: [call_id]
CSeq: 3 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200" timeout="5000" ontimeout="end"/>
""" + _log("RESULT result=refer-then-hung-up consult_to=[$consult_to] "
           + _time("t_refer") + " " + _time("t_bye")) + """<nop next="end"/>
<label id="refused"/>
""" + _log("RESULT result=refer-refused " + _time("t_refer")) + """<label id="end"/>
</scenario>
"""


def _hang_up_first_call(first_tag: str) -> str:
    """The agent hangs up the caller's call (BYE), and hears its 200."""
    return f"""<send retrans="500"><![CDATA[
BYE [$remote_contact] SIP/2.0
Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
From: [$local_to];tag={first_tag}
To: [$remote_from]
Call-ID: [call_id]
CSeq: 2 BYE
Max-Forwards: 70
Content-Length: 0

]]></send>
<recv response="200" timeout="5000" ontimeout="end"/>
"""


def farm_node(final: int, ring_first: bool = False) -> str:
    """A node of a farm as the farm's proxy sees it (a stand-in for an Asterisk).

    It answers the proxy's OPTIONS probes with 200; it answers each INVITE (its
    replies carry the proxy's Record-Route, so the dialog passes the proxy) with
    100 Trying, then 180 Ringing when ``ring_first``, then ``final``: 200 (it
    answers and waits for the caller's BYE) or a refusal such as 486 or 503.
    Each INVITE logs ``RESULT result=invite status=<final>``.
    """
    our_tag = "[pid]node[call_number]"

    def reply(status: str, sdp: bool = False) -> str:
        body = f"Content-Type: application/sdp\nContent-Length: [len]\n\n{_SDP}" if sdp \
            else "Content-Length: 0\n\n"
        return f"""<send><![CDATA[
SIP/2.0 {status}
[last_Via:]
[last_From:]
[last_To:];tag={our_tag}
[last_Call-ID:]
[last_CSeq:]
[last_Record-Route:]
Contact: <sip:node@[local_ip]:[local_port]>
{body}]]></send>
"""

    reasons = {200: "OK", 408: "Request Timeout", 480: "Temporarily Unavailable",
               486: "Busy Here", 500: "Server Internal Error", 503: "Service Unavailable"}
    out = [_HEADER.format(name=quoteattr("farm-node"))]
    out.append('<recv request="OPTIONS" optional="true" next="probe"/>\n')
    out.append('<recv request="INVITE"/>\n')
    out.append(reply("100 Trying"))
    if ring_first:
        out.append(reply("180 Ringing"))
    out.append(reply(f"{final} {reasons.get(final, 'Refused')}", sdp=final == 200))
    out.append('<recv request="ACK"/>\n')
    if final == 200:
        out.append('<recv request="BYE"/>\n')
        out.append(OK_TO_BYE)
    out.append(_log(f"RESULT result=invite status={final}"))
    out.append('<nop next="done"/>\n')
    out.append('<label id="probe"/>\n')
    out.append(reply("200 OK"))
    out.append('<label id="done"/>\n')
    out.append("</scenario>\n")
    return "".join(out)
