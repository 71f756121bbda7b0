"""A local fake of Stripe's HTTP API, on 127.0.0.1, for billing tests and scripts.

The real ``stripe`` library talks to it unchanged
(``stripe.StripeClient(key, base_addresses={"api": fake.base_url})``), so tests exercise our
code, the library and HTTP together. Requests are form-encoded with bracketed keys, as the
library sends them; answers are JSON shaped like Stripe's objects (only what we use is
modelled). Idempotency keys behave like Stripe's: a replay returns the first answer, the same
key with other parameters is a 400 ``idempotency_error``.

Webhooks are not sent: a test builds an event (``complete_checkout``, ``expire_checkout``,
``event``), signs it like Stripe (``signed``) and posts it to our endpoint itself, as often,
as late and in whatever order it likes.

In a test::

    from tests.fakes.stripe import fake_stripe  # noqa: F401  (the fixture)

    def test_something(fake_stripe):  # settings already point at it
        body, header = fake_stripe.signed(fake_stripe.complete_checkout(session_id))

In a script::

    with FakeStripe() as fake:
        print(fake.base_url, fake.secret_key, fake.webhook_secret)

    python -m tests.fakes.stripe --port 12111   # prints the same as JSON, serves until ^C
"""

from __future__ import annotations

import argparse

from ..loopback import serve_until_interrupted
from .fake import FakeStripe
from .wire import API_VERSION, RecordedRequest, new_id, new_secret_key, new_webhook_secret, parse_form

__all__ = ["API_VERSION", "FakeStripe", "RecordedRequest", "main", "new_id", "new_secret_key",
           "new_webhook_secret", "parse_form"]


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a fake Stripe API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--secret-key", default=None)
    parser.add_argument("--webhook-secret", default=None)
    args = parser.parse_args()
    fake = FakeStripe(secret_key=args.secret_key, webhook_secret=args.webhook_secret,
                      port=args.port)
    serve_until_interrupted(fake, lambda: {"base_url": fake.base_url,
                                           "secret_key": fake.secret_key,
                                           "webhook_secret": fake.webhook_secret})

