"""Billing (Stripe, billing/)."""

from __future__ import annotations

from .environment import env

# --- Billing (Stripe) ---------------------------------------------------------------------
# Empty key: billing is off (self-hosted without Stripe: no credit limits at all).
STRIPE_SECRET_KEY = env.str("STRIPE_SECRET_KEY", default="")
STRIPE_API_BASE = env.str("STRIPE_API_BASE", default="https://api.stripe.com")
STRIPE_WEBHOOK_SECRET = env.str("STRIPE_WEBHOOK_SECRET", default="")
STRIPE_WEBHOOK_TOLERANCE_SECONDS = env.int("STRIPE_WEBHOOK_TOLERANCE_SECONDS", default=300)
STRIPE_TIMEOUT_SECONDS = env.float("STRIPE_TIMEOUT_SECONDS", default=15.0)
BILLING_ENABLED = env.bool("BILLING_ENABLED", default=bool(STRIPE_SECRET_KEY))
BILLING_CURRENCY = env.str("BILLING_CURRENCY", default="usd")
# Packs as "credits:price in cents", comma-separated; and the per-seat price for any number.
CREDIT_PACKS = [
    (int(credits), int(cents)) for credits, cents in
    (pack.split(":") for pack in env.list("CREDIT_PACKS", default=["10:39000", "50:175000"]))
]
CREDIT_SEAT_PRICE_CENTS = env.int("CREDIT_SEAT_PRICE_CENTS", default=4000)
CREDITS_PER_JOB = env.int("CREDITS_PER_JOB", default=1)
LOW_BALANCE_CREDITS = env.int("LOW_BALANCE_CREDITS", default=3)
