"""The built-in sender: an HTTP(S) POST of the JSON body, signed (signing.py)."""

from __future__ import annotations

import aiohttp

from router.notify import signing
from router.notify.senders import Delivery, SendContext, SendError, Undeliverable


class WebhookSender:
    """POSTs ``delivery.body`` to the target's URL; a 2xx answer is delivered.

    A 4xx other than 408/429 is Undeliverable (the receiver refuses it, e.g. a bad
    signature after a secret change); anything else (timeout, refused connection,
    5xx, 408, 429) is retried.
    """

    name = "webhook"

    async def send(self, delivery: Delivery, context: SendContext) -> None:
        timestamp = int(context.now.timestamp())
        headers = signing.headers(delivery.target.secret, timestamp, delivery.body,
                                  delivery.event, str(delivery.id))
        try:
            async with context.http.post(
                    delivery.target.address, data=delivery.body, headers=headers,
                    allow_redirects=False,
                    timeout=aiohttp.ClientTimeout(total=context.timeout_s)) as response:
                status = response.status
        except TimeoutError:
            raise SendError(f"no answer within {context.timeout_s:g} s") from None
        except aiohttp.ClientError as exc:
            raise SendError(f"{type(exc).__name__}: {exc}") from None
        if 200 <= status < 300:
            return
        if 400 <= status < 500 and status not in (408, 429):
            raise Undeliverable(f"HTTP {status}")
        raise SendError(f"HTTP {status}")


WEBHOOK = WebhookSender()
