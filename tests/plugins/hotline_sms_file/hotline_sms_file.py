"""An SMS sender plug-in for hotline-router, writing to a file instead of a gateway.

Each message becomes one JSON line in the file named by HOTLINE_SMS_FILE: the
number (the target's address), the text and the delivery id. A real gateway's
plug-in posts the same two fields to its API.
"""

import json
import os

from router.notify.senders import Delivery, SendContext, SendError, Undeliverable


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
        with open(path, "a", encoding="utf-8") as out:
            out.write(json.dumps(line, ensure_ascii=False) + "\n")


SMS_FILE = SmsFileSender()
