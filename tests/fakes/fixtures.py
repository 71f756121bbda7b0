"""The fakes as pytest fixtures: each started on a free port, with the Django settings
pointing at it, and stopped after the test (tests/conftest.py makes them available)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest

from delivery.directory import entra, google

from .directories import FakeDirectories
from .replicate import FakeReplicate
from .stripe import FakeStripe


@pytest.fixture
def fake_stripe(settings: Any) -> Iterator[FakeStripe]:
    """A started fake, with Django settings pointing at it (key, API base, webhook secret)."""
    with FakeStripe() as fake:
        settings.STRIPE_SECRET_KEY = fake.secret_key
        settings.STRIPE_API_BASE = fake.base_url
        settings.STRIPE_WEBHOOK_SECRET = fake.webhook_secret
        yield fake


@pytest.fixture
def stripe_billing(settings: Any, fake_stripe: FakeStripe) -> FakeStripe:
    """Billing on, paid through the Stripe fake: two credit packs and a per-seat price."""
    settings.BILLING_ENABLED = True
    settings.CREDIT_PACKS = [(10, 39000), (50, 175000)]
    settings.CREDIT_SEAT_PRICE_CENTS = 4000
    settings.SITE_URL = "http://testserver"
    return fake_stripe


@pytest.fixture
def fake_replicate(settings: Any) -> Iterator[FakeReplicate]:
    """A started fake, with Django settings pointing at it (token, URL, webhook secret).

    For webhooks into a live server, also set ``settings.SITE_URL = live_server.url``
    (the app builds its webhook URL from it), or set ``fake.webhook_target``.
    """
    with FakeReplicate(token="r8_test_" + secrets.token_hex(8)) as fake:
        settings.REPLICATE_BASE_URL = fake.base_url
        settings.REPLICATE_API_TOKEN = fake.token
        settings.REPLICATE_WEBHOOK_SECRET = fake.webhook_secret
        yield fake


def _fetch_from_our_site(url: str) -> bytes | None:
    """Slack fetching a photo link of ours: served by Django (in the test's thread, so it
    sees the test's data)."""
    from django.conf import settings
    from django.test import Client

    if not url.startswith(settings.SITE_URL.rstrip("/") + "/"):
        return None
    response = Client().get(urlsplit(url).path)
    return b"".join(response) if response.status_code == 200 else None


def _reset_connector_caches() -> None:
    entra.reset_token_cache()
    google.reset_token_cache()


@pytest.fixture
def fake_directories(settings: Any) -> Iterator[FakeDirectories]:
    """The three fakes, started, with Django settings pointing at them."""
    fakes = FakeDirectories().start()
    for name, value in fakes.settings().items():
        setattr(settings, name, value)
    fakes.slack.fetch = _fetch_from_our_site
    _reset_connector_caches()
    try:
        yield fakes
    finally:
        fakes.stop()
        _reset_connector_caches()
