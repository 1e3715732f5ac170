"""An SMS sender plug-in for hotline-router, writing to a file instead of a gateway.

Each message becomes one JSON line in the file named by HOTLINE_SMS_FILE: the
number (the target's address), the text and the delivery id. A real gateway's
plug-in posts the same two fields to its API.
"""

import asyncio
import json
import os

from router.notify.senders import Delivery, SendContext, SendError, Undeliverable


def _append(path: str, line: str) -> None:
    with open(path, "a", encoding="utf-8") as out:
        out.write(line + "\n")


class SmsFileSender:
    name = "sms_file"

    async def send(self, delivery: Delivery, context: SendContext) -> None:
        number = delivery.target.address
        if not number.lstrip("+").isdigit():
            raise Undeliverable(f"{number} is not a phone number")
        path = os.environ.get("HOTLINE_SMS_FILE")
        if not path:
            raise SendError("HOTLINE_SMS_FILE is not set")
        line = {"to": number, "text": delivery.text, "delivery": delivery.id}
        # A file write blocks: off the event loop, as a gateway's HTTP call would not.
        await asyncio.to_thread(_append, path, json.dumps(line, ensure_ascii=False))


SMS_FILE = SmsFileSender()
