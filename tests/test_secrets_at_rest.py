"""Directory credentials and webhook signing secrets are encrypted at rest (core/crypto.py):
the database row holds no plaintext, the keys rotate, plaintext rows from before are
encrypted by the migration, and no page shows a secret again after it was saved."""

from __future__ import annotations

import json

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.db import connection

from core.crypto import DecryptionFailed, decrypt, encrypt
from delivery.models import DirectoryConnection, WebhookEndpoint
from delivery.webhooks.services import webhook_endpoint_create

from .factories import DirectoryConnectionFactory, WebhookEndpointFactory

SLACK_TOKEN = "xoxp-1234-plaintext-token-abcdef"
ENTRA_SECRET = "fake~entra-client-secret-value-9876"


def _raw(table: str, column: str, pk: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT "{column}" FROM {table} WHERE id = %s', [pk])
        return str(cursor.fetchone()[0])


def _raw_set(table: str, column: str, pk: int, value: str) -> None:
    with connection.cursor() as cursor:
        cursor.execute(f'UPDATE {table} SET "{column}" = %s WHERE id = %s', [value, pk])


def test_directory_credentials_row_holds_no_plaintext(tenant_a):
    connection_ = DirectoryConnectionFactory(company=tenant_a.company, provider="entra", config={
        "tenant_id": "contoso.onmicrosoft.com", "client_id": "app-id",
        "client_secret": ENTRA_SECRET})
    raw = _raw("generation_directoryconnection", "config", connection_.pk)
    assert ENTRA_SECRET not in raw and "client_secret" not in raw and "contoso" not in raw
    assert json.loads(decrypt(raw))["client_secret"] == ENTRA_SECRET
    fresh = DirectoryConnection.objects.for_company(tenant_a.company).get(pk=connection_.pk)
    assert fresh.config["client_secret"] == ENTRA_SECRET


def test_webhook_secret_row_holds_no_plaintext(tenant_a):
    endpoint, secret = webhook_endpoint_create(
        company=tenant_a.company, actor=tenant_a.owner, url="https://hooks.example.com/x",
        events=["job.ready"])
    raw = _raw("teams_webhookendpoint", "secret", endpoint.pk)
    assert secret not in raw and secret[6:20] not in raw
    assert WebhookEndpoint.objects.for_company(tenant_a.company).get(pk=endpoint.pk).secret \
        == secret


def test_keys_rotate_old_values_decrypt_then_rewrite_under_the_new_key(tenant_a, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    endpoint = WebhookEndpointFactory(company=tenant_a.company, secret="whsec_rotate_me_please")
    slack = DirectoryConnectionFactory(company=tenant_a.company, config={"scim_token": SLACK_TOKEN})
    before = _raw("teams_webhookendpoint", "secret", endpoint.pk)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]  # new key first: old values still read
    assert WebhookEndpoint.objects.for_company(tenant_a.company).get(
        pk=endpoint.pk).secret == "whsec_rotate_me_please"
    call_command("rotate_field_keys", stdout=open("/dev/null", "w"))
    after = _raw("teams_webhookendpoint", "secret", endpoint.pk)
    assert after != before

    settings.FIELD_ENCRYPTION_KEYS = [new]  # old key dropped: everything still reads
    assert WebhookEndpoint.objects.for_company(tenant_a.company).get(
        pk=endpoint.pk).secret == "whsec_rotate_me_please"
    assert DirectoryConnection.objects.for_company(tenant_a.company).get(
        pk=slack.pk).config == {"scim_token": SLACK_TOKEN}
    settings.FIELD_ENCRYPTION_KEYS = [old]  # and the old key alone no longer can
    with pytest.raises(DecryptionFailed):
        decrypt(after)


def test_migration_encrypts_plaintext_rows_once(tenant_a):
    from importlib import import_module

    migration = import_module("delivery.migrations.0002_encrypt_secrets")
    endpoint = WebhookEndpointFactory(company=tenant_a.company)
    slack = DirectoryConnectionFactory(company=tenant_a.company)
    # Rows as they were before: plaintext.
    _raw_set("teams_webhookendpoint", "secret", endpoint.pk, "whsec_legacy_plain")
    _raw_set("generation_directoryconnection", "config", slack.pk,
             json.dumps({"scim_token": SLACK_TOKEN}))

    class Editor:
        connection = connection

    migration.encrypt_rows(None, Editor)
    once = _raw("teams_webhookendpoint", "secret", endpoint.pk)
    migration.encrypt_rows(None, Editor)  # again: unchanged
    assert _raw("teams_webhookendpoint", "secret", endpoint.pk) == once
    assert "whsec_legacy_plain" not in once
    assert SLACK_TOKEN not in _raw("generation_directoryconnection", "config", slack.pk)
    assert WebhookEndpoint.objects.for_company(tenant_a.company).get(
        pk=endpoint.pk).secret == "whsec_legacy_plain"
    assert DirectoryConnection.objects.for_company(tenant_a.company).get(
        pk=slack.pk).config == {"scim_token": SLACK_TOKEN}


def test_pages_never_show_a_saved_secret_again(tenant_a):
    client = tenant_a.client_for(tenant_a.admin)
    response = client.post("/c/alpha/admin/directory/", {
        "provider": "slack", "enabled": "on", "scim_token": SLACK_TOKEN})
    assert response.status_code == 302
    page = client.get("/c/alpha/admin/directory/").content.decode()
    assert SLACK_TOKEN not in page and "set (never shown again)" in page

    response = client.post("/c/alpha/admin/webhooks/", {
        "url": "https://hooks.example.com/likeness", "events": ["job.ready"]})
    endpoint = WebhookEndpoint.objects.for_company(tenant_a.company).get()
    secret = endpoint.secret
    assert secret in response.content.decode()  # shown once, on creation
    for url in ("/c/alpha/admin/webhooks/", f"/c/alpha/admin/webhooks/{endpoint.pk}/"):
        page = client.get(url).content.decode()
        assert secret not in page and secret[:-4] not in page
    assert f"…{secret[-4:]}" in client.get(f"/c/alpha/admin/webhooks/{endpoint.pk}/").content.decode()


def test_encrypt_is_not_deterministic_and_empty_stays_empty():
    assert encrypt("same") != encrypt("same")
    assert encrypt("") == "" and decrypt("") == ""


def test_a_dump_and_load_round_trips_the_credentials(tenant_a):
    from django.core import serializers

    slack = DirectoryConnectionFactory(company=tenant_a.company, config={"scim_token": SLACK_TOKEN})
    dumped = serializers.serialize("json", [slack])
    DirectoryConnection.objects.for_company(tenant_a.company).filter(pk=slack.pk).delete()
    for obj in serializers.deserialize("json", dumped):
        obj.save()
    assert DirectoryConnection.objects.for_company(tenant_a.company).get(
        pk=slack.pk).config == {"scim_token": SLACK_TOKEN}
    assert SLACK_TOKEN not in _raw("generation_directoryconnection", "config", slack.pk)


def test_key_rotation_reaches_the_two_factor_seeds(tenant_a, settings):
    """allauth keeps the TOTP seed and the recovery codes' seed in a JSON column, encrypted
    through our MFA adapter: rotation re-encrypts them, and after the old key is dropped the
    authenticator app's codes and the printed recovery codes still work."""
    from allauth.mfa.models import Authenticator
    from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
    from allauth.mfa.totp.internal.auth import (
        TOTP,
        format_hotp_value,
        hotp_value,
        yield_hotp_counters_from_time,
    )

    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    user = tenant_a.admin.user
    secret = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
    totp = TOTP.activate(user, secret)
    codes = RecoveryCodes.activate(user).generate_codes()
    totp_raw = Authenticator.objects.get(pk=totp.instance.pk).data["secret"]
    assert secret not in json.dumps(Authenticator.objects.get(pk=totp.instance.pk).data)

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    call_command("rotate_field_keys", stdout=open("/dev/null", "w"))
    settings.FIELD_ENCRYPTION_KEYS = [new]  # the old key is gone
    stored = Authenticator.objects.get(pk=totp.instance.pk)
    assert stored.data["secret"] != totp_raw
    assert decrypt(stored.data["secret"]) == secret
    counter = next(yield_hotp_counters_from_time())
    assert TOTP(stored).validate_code(format_hotp_value(hotp_value(secret, counter)))
    recovery = Authenticator.objects.get(user=user, type=Authenticator.Type.RECOVERY_CODES)
    assert RecoveryCodes(recovery).generate_codes() == codes
