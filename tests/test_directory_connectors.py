"""Directory write-back connectors (Entra ID, Google Workspace, Slack) against local fakes.

Each connector is driven through ``connector_for(connection)`` as the sync service will use
it; the fakes check what a real directory checks (credentials, signatures, tokens) and keep
the photo they were given, so a test can compare it with what was sent.
"""

from __future__ import annotations

import base64
import io
import time

import numpy as np
import pytest
import requests
from cryptography.hazmat.primitives.asymmetric import rsa
from PIL import Image, ImageDraw

from delivery.directory import Connector, DirectoryError, UserNotFound, connector_for
from delivery.directory import entra as entra_module
from delivery.directory.entra import EntraConnector
from delivery.directory.google import GoogleConnector
from delivery.directory.slack import SlackConnector
from delivery.models import DirectoryConnection
from tests.fakes.directories import (
    GOOGLE_AUDIENCE,
    GOOGLE_SCOPE,
    GRAPH_SCOPE,
    SCIM_SCHEMA,
    FakeDirectories,
    google_photo_decode,
)

pytestmark = pytest.mark.django_db

PROVIDERS = ["entra", "google", "slack"]
EMAIL = "ann@alpha.example"


def _jpeg(size: tuple[int, int] = (240, 300)) -> bytes:
    image = Image.new("RGB", size, (70, 90, 120))
    draw = ImageDraw.Draw(image)
    draw.ellipse((size[0] // 4, size[1] // 6, 3 * size[0] // 4, 2 * size[1] // 3),
                 fill=(210, 170, 140))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _noise_jpeg(side: int) -> bytes:
    pixels = np.random.default_rng(7).integers(0, 256, (side, side, 3), dtype=np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG", quality=95)
    return buffer.getvalue()


def _connection(tenant, provider: str, config: dict, *, enabled: bool = True
                ) -> DirectoryConnection:
    DirectoryConnection.objects.create(company=tenant.company, provider=provider, config=config,
                                       enabled=enabled)
    return DirectoryConnection.objects.for_company(tenant.company).get(provider=provider)


def _config(fakes: FakeDirectories, provider: str, tenant) -> dict:
    if provider == "google":
        fakes.google.add_admin(tenant.admin.user.email)
        return fakes.google.connection_config(tenant.admin.user.email)
    return getattr(fakes, provider).connection_config()


class _LinkedSlack:
    """The Slack connector as the sync task calls it: with a link to the photo (hosted by
    the fake here, as our site would serve it)."""

    def __init__(self, connector, fake) -> None:
        self.connector, self.fake = connector, fake

    def push_photo(self, *, email: str, jpeg: bytes) -> str:
        return self.connector.push_photo(email=email, jpeg=jpeg, url=self.fake.host(jpeg))

    def __getattr__(self, name: str):
        return getattr(self.connector, name)


def _ready(fakes: FakeDirectories, provider: str, tenant, email: str = EMAIL):
    """The fake with a user ``email``, and a connector for ``tenant``'s connection to it."""
    fake = getattr(fakes, provider)
    fake.add_user(email)
    connector = connector_for(_connection(tenant, provider, _config(fakes, provider, tenant)))
    return fake, (_LinkedSlack(connector, fake) if provider == "slack" else connector)


def _refused_for_good(connector, status: int) -> DirectoryError:
    """Pushing a photo fails, not to be retried (``status`` from the directory): the error."""
    with pytest.raises(DirectoryError) as info:
        connector.push_photo(email=EMAIL, jpeg=_jpeg())
    assert not info.value.transient and info.value.status == status
    return info.value


# --- connector_for ----------------------------------------------------------------------------


def test_connector_for_builds_each_provider(fake_directories, tenant_a):
    classes = {"entra": EntraConnector, "google": GoogleConnector, "slack": SlackConnector}
    for provider in PROVIDERS:
        config = _config(fake_directories, provider, tenant_a)
        connector = connector_for(_connection(tenant_a, provider, config))
        assert isinstance(connector, classes[provider])
        assert isinstance(connector, Connector)
        assert connector.provider == provider
        # Neither the repr nor anything else printable carries the credentials.
        assert fake_directories.entra.client_secret not in repr(connector)
        assert fake_directories.slack.token not in repr(connector)
        assert "PRIVATE KEY" not in repr(connector)


def test_connector_for_refuses_switched_off_or_incomplete_connections(fake_directories,
                                                                      tenant_a, tenant_b):
    off = _connection(tenant_a, "slack", fake_directories.slack.connection_config(),
                      enabled=False)
    with pytest.raises(DirectoryError) as info:
        connector_for(off)
    assert not info.value.transient and "switched off" in info.value.message

    config = fake_directories.entra.connection_config()
    del config["client_secret"]
    with pytest.raises(DirectoryError) as info:
        connector_for(_connection(tenant_a, "entra", config))
    assert not info.value.transient and "client_secret" in info.value.message
    assert fake_directories.entra.client_id not in info.value.message

    with pytest.raises(DirectoryError) as info:
        connector_for(_connection(tenant_a, "google", {"admin_email": "admin@alpha.example"}))
    assert not info.value.transient and "service_account_info" in info.value.message

    broken = fake_directories.google.service_account_info()
    del broken["private_key"]
    with pytest.raises(DirectoryError) as info:
        connector_for(_connection(tenant_b, "google", {"service_account_info": broken,
                                                       "admin_email": "admin@bravo.example"}))
    assert not info.value.transient and "service account key is not valid" in info.value.message

    # A tenant id is a GUID or a domain: never a path that could lead elsewhere.
    evil = {**fake_directories.entra.connection_config(), "tenant_id": "../../evil"}
    with pytest.raises(DirectoryError) as info:
        connector_for(_connection(tenant_b, "entra", evil))
    assert not info.value.transient
    assert fake_directories.entra.requests == []


# --- Every provider ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROVIDERS)
def test_photo_reaches_the_users_directory_entry(fake_directories, tenant_a, provider):
    fake, connector = _ready(fake_directories, provider, tenant_a)
    other = fake.add_user("bob@alpha.example")
    jpeg = _jpeg()

    external_id = connector.push_photo(email=EMAIL, jpeg=jpeg)

    assert external_id == fake.user(EMAIL).id
    assert fake.photo_of(EMAIL) == jpeg  # byte for byte: small photos are sent untouched
    assert fake.user(EMAIL).photo_uploads == 1
    assert other.photo is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_unknown_email_is_user_not_found(fake_directories, tenant_a, provider):
    fake, connector = _ready(fake_directories, provider, tenant_a)

    with pytest.raises(UserNotFound) as info:
        connector.push_photo(email="nobody@alpha.example", jpeg=_jpeg())

    assert not info.value.transient
    assert "nobody@alpha.example" in info.value.message
    assert fake.photo_of(EMAIL) is None


@pytest.mark.parametrize("provider", PROVIDERS)
def test_throttling_is_transient_and_carries_retry_after(fake_directories, tenant_a, provider):
    fake, connector = _ready(fake_directories, provider, tenant_a)
    fake.fail_next(1, 429, retry_after=7)

    with pytest.raises(DirectoryError) as info:
        connector.push_photo(email=EMAIL, jpeg=_jpeg())

    assert info.value.transient and info.value.status == 429
    assert info.value.retry_after == 7
    assert "7 seconds" in info.value.message
    assert fake.photo_of(EMAIL) is None
    # Nothing was retried behind the caller's back; the caller's retry then works.
    connector.push_photo(email=EMAIL, jpeg=_jpeg())
    assert fake.photo_of(EMAIL) == _jpeg()


@pytest.mark.parametrize("provider", PROVIDERS)
def test_server_errors_are_transient(fake_directories, tenant_a, provider):
    fake, connector = _ready(fake_directories, provider, tenant_a)
    fake.fail_next(1, 503)

    with pytest.raises(DirectoryError) as info:
        connector.push_photo(email=EMAIL, jpeg=_jpeg())

    assert info.value.transient and info.value.status == 503
    assert info.value.retry_after is None


@pytest.mark.parametrize("provider, on", [("entra", "api"), ("entra", "token"),
                                          ("google", "api"), ("google", "token"),
                                          ("slack", "api")])
def test_a_stalled_directory_times_out_quickly(fake_directories, tenant_a, settings, provider,
                                               on):
    settings.DIRECTORY_TIMEOUT_SECONDS = 0.3
    fake, connector = _ready(fake_directories, provider, tenant_a)
    fake.stall_next(1, 5.0, on=on)

    started = time.monotonic()
    with pytest.raises(DirectoryError) as info:
        connector.push_photo(email=EMAIL, jpeg=_jpeg())
    elapsed = time.monotonic() - started

    assert info.value.transient
    assert "did not answer within 0.3 seconds" in info.value.message
    assert elapsed < 2.0, elapsed  # google-auth alone would wait 120 s on its token call


def test_not_a_jpeg_is_refused_before_anything_is_sent(fake_directories, tenant_a):
    buffer = io.BytesIO()
    Image.new("RGB", (50, 50)).save(buffer, format="PNG")
    for provider in PROVIDERS:
        fake, connector = _ready(fake_directories, provider, tenant_a)
        with pytest.raises(DirectoryError) as info:
            connector.push_photo(email=EMAIL, jpeg=buffer.getvalue())
        assert not info.value.transient and "not JPEG" in info.value.message
        assert fake.requests == []


# --- Microsoft Entra ID -------------------------------------------------------------------------


def test_entra_gets_a_client_credentials_token_and_uses_it(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "entra", tenant_a)

    connector.push_photo(email=EMAIL, jpeg=_jpeg())

    (token_request,) = fake.token_requests
    assert token_request.method == "POST"
    assert token_request.path == f"/{fake.tenant_id}/oauth2/v2.0/token"
    assert token_request.form == {"client_id": fake.client_id,
                                  "client_secret": fake.client_secret,
                                  "scope": GRAPH_SCOPE, "grant_type": "client_credentials"}
    (search,) = fake.requests_to("GET", "/v1.0/users")
    assert search.query == {"$filter": f"mail eq '{EMAIL}' or userPrincipalName eq '{EMAIL}'",
                            "$select": "id"}
    (put,) = fake.requests_to("PUT", "/v1.0/users/")
    assert put.path == f"/v1.0/users/{fake.user(EMAIL).id}/photo/$value"
    assert put.headers["content-type"] == "image/jpeg"
    assert search.headers["authorization"] == put.headers["authorization"]
    assert put.headers["authorization"].startswith("Bearer eyJ0eXAi")


def test_entra_finds_users_by_sign_in_name_and_quotes_the_filter(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "entra", tenant_a)
    smith = fake.add_user("ann.smith@alpha.example", upn="asmith@alpha.onmicrosoft.com")
    obrien = fake.add_user("o'brien+hr@alpha.example")

    assert connector.push_photo(email="asmith@alpha.onmicrosoft.com", jpeg=_jpeg()) == smith.id
    assert connector.push_photo(email="O'Brien+HR@alpha.example", jpeg=_jpeg()) == obrien.id

    assert smith.photo == _jpeg() and obrien.photo == _jpeg()
    raw = fake.requests_to("GET", "/v1.0/users")[-1].raw_query
    assert "%27%27" in raw and "%2B" in raw  # '' escapes the quote; + is not a space


def test_entra_caches_the_token_until_shortly_before_it_expires(fake_directories, tenant_a,
                                                                 monkeypatch):
    fake, connector = _ready(fake_directories, "entra", tenant_a)
    connector.push_photo(email=EMAIL, jpeg=_jpeg())
    connector_for(DirectoryConnection.objects.for_company(tenant_a.company)
                  .get(provider="entra")).push_photo(email=EMAIL, jpeg=_jpeg())
    assert len(fake.token_requests) == 1

    # 4 minutes before the token's end (inside the 5-minute margin): a new one is fetched.
    later = time.monotonic() + fake.token_lifetime - 240
    monkeypatch.setattr(entra_module, "_now", lambda: later)
    connector.push_photo(email=EMAIL, jpeg=_jpeg())
    assert len(fake.token_requests) == 2


def test_entra_replaces_a_revoked_token_once(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "entra", tenant_a)
    connector.push_photo(email=EMAIL, jpeg=_jpeg())
    fake.revoke_tokens()

    connector.push_photo(email=EMAIL, jpeg=_jpeg())

    assert len(fake.token_requests) == 2
    assert fake.user(EMAIL).photo_uploads == 2


def test_entra_credentials_are_kept_apart_per_company(fake_directories, tenant_a, tenant_b):
    fake, connector = _ready(fake_directories, "entra", tenant_a)
    connector.push_photo(email=EMAIL, jpeg=_jpeg())  # tenant A's token is now cached
    wrong = {**fake.connection_config(), "client_secret": "not-the-secret"}

    with pytest.raises(DirectoryError) as info:
        connector_for(_connection(tenant_b, "entra", wrong)).push_photo(email=EMAIL,
                                                                        jpeg=_jpeg())

    assert not info.value.transient and info.value.status == 401
    assert "AADSTS7000215" in info.value.message and "client_secret" in info.value.message
    assert "not-the-secret" not in info.value.message
    assert "Trace ID" not in info.value.message


def test_entra_unknown_tenant_is_permanent(fake_directories, tenant_a):
    config = {**fake_directories.entra.connection_config(), "tenant_id": "contoso.example"}
    with pytest.raises(DirectoryError) as info:
        connector_for(_connection(tenant_a, "entra", config)).push_photo(email=EMAIL,
                                                                         jpeg=_jpeg())
    assert not info.value.transient and "AADSTS90002" in info.value.message


def test_entra_graph_401_is_permanent_after_one_fresh_token(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "entra", tenant_a)
    fake.fail_next(2, 401)

    error = _refused_for_good(connector, 401)
    assert "Microsoft Graph did not accept the app's token" in error.message
    assert "client_secret" in error.message
    assert len(fake.token_requests) == 2


def test_entra_missing_permission_is_permanent_and_says_which(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "entra", tenant_a)
    fake.permissions = {"User.Read.All"}

    error = _refused_for_good(connector, 403)
    assert "ProfilePhoto.ReadWrite.All" in error.message
    assert "ErrorAccessDenied" in error.message


def test_entra_token_endpoint_outage_is_transient(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "entra", tenant_a)
    fake.fail_next(1, 503, retry_after=30, on="token")

    with pytest.raises(DirectoryError) as info:
        connector.push_photo(email=EMAIL, jpeg=_jpeg())

    assert info.value.transient and info.value.retry_after == 30
    assert fake.requests_to("GET", "/v1.0/users") == []


def test_entra_shrinks_photos_over_the_size_limit(fake_directories, tenant_a, monkeypatch):
    big = _noise_jpeg(600)
    limit = len(big) // 3
    monkeypatch.setattr(entra_module, "MAX_PHOTO_BYTES", limit)
    fake, connector = _ready(fake_directories, "entra", tenant_a)
    fake.max_photo_bytes = limit

    connector.push_photo(email=EMAIL, jpeg=big)

    sent = fake.photo_of(EMAIL)
    assert sent is not None and len(sent) <= limit
    with Image.open(io.BytesIO(sent)) as image:
        assert image.format == "JPEG" and image.width == image.height <= 600


# --- Google Workspace --------------------------------------------------------------------------


def test_google_sends_a_signed_delegated_grant_to_the_configured_token_uri(fake_directories,
                                                                          tenant_a):
    fake, connector = _ready(fake_directories, "google", tenant_a)
    # The key as downloaded names Google's own token endpoint; the setting wins.
    assert fake.service_account_info()["token_uri"] == GOOGLE_AUDIENCE
    jpeg = _jpeg((240, 300))

    assert connector.push_photo(email=EMAIL, jpeg=jpeg) == fake.user(EMAIL).id

    (grant,) = fake.grants  # the fake verified its RS256 signature with the public key
    assert grant["header"] == {"alg": "RS256", "typ": "JWT", "kid": fake.private_key_id}
    assert grant["iss"] == fake.client_email
    assert grant["sub"] == tenant_a.admin.user.email
    assert grant["scope"] == GOOGLE_SCOPE
    assert grant["aud"] == GOOGLE_AUDIENCE
    (put,) = fake.requests_to("PUT", "/admin/directory/v1/users/")
    assert put.path == f"/admin/directory/v1/users/{EMAIL}/photos/thumbnail"
    body = put.json()
    assert body["mimeType"] == "JPEG" and (body["width"], body["height"]) == (240, 300)
    assert "+" not in body["photoData"] and "/" not in body["photoData"]  # web-safe
    assert google_photo_decode(body["photoData"]) == jpeg
    assert put.headers["authorization"].startswith("Bearer ya29.fake-")


def test_google_reuses_its_token(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "google", tenant_a)
    connector.push_photo(email=EMAIL, jpeg=_jpeg())
    connector_for(DirectoryConnection.objects.for_company(tenant_a.company)
                  .get(provider="google")).push_photo(email=EMAIL, jpeg=_jpeg())
    assert len(fake.grants) == 1 and len(fake.token_requests) == 1


def test_google_grant_signed_with_another_key_is_refused(fake_directories, tenant_a):
    fake = fake_directories.google
    fake.add_admin(tenant_a.admin.user.email)
    fake.add_user(EMAIL)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    config = {"service_account_info": fake.service_account_info(private_key=stranger),
              "admin_email": tenant_a.admin.user.email}

    with pytest.raises(DirectoryError) as info:
        connector_for(_connection(tenant_a, "google", config)).push_photo(email=EMAIL,
                                                                          jpeg=_jpeg())

    assert not info.value.transient
    assert "invalid_grant: Invalid JWT Signature." in info.value.message
    assert fake.grants == [] and fake.photo_of(EMAIL) is None


def test_google_without_domain_wide_delegation_is_permanent(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "google", tenant_a)
    fake.delegated_scopes = set()

    with pytest.raises(DirectoryError) as info:
        connector.push_photo(email=EMAIL, jpeg=_jpeg())

    assert not info.value.transient
    assert "unauthorized_client" in info.value.message
    assert "Domain-wide delegation" in info.value.message and GOOGLE_SCOPE in info.value.message
    assert fake.client_id in info.value.message  # the ID to paste into the Admin console


def test_google_admin_who_is_not_a_workspace_user_is_permanent(fake_directories, tenant_a):
    fake = fake_directories.google
    fake.add_user(EMAIL)
    config = fake.connection_config("ghost@alpha.example")

    with pytest.raises(DirectoryError) as info:
        connector_for(_connection(tenant_a, "google", config)).push_photo(email=EMAIL,
                                                                          jpeg=_jpeg())

    assert not info.value.transient
    assert "Invalid email or User ID" in info.value.message and "admin_email" in \
        info.value.message


def test_google_token_endpoint_outage_is_transient_and_not_retried(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "google", tenant_a)
    fake.fail_next(1, 503, retry_after=4, on="token")

    started = time.monotonic()
    with pytest.raises(DirectoryError) as info:
        connector.push_photo(email=EMAIL, jpeg=_jpeg())

    assert info.value.transient and info.value.status == 503 and info.value.retry_after == 4
    assert len(fake.token_requests) == 1  # google-auth would have tried three times
    assert time.monotonic() - started < 1.0


def test_google_api_401_and_403_are_permanent(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "google", tenant_a)
    fake.fail_next(2, 401)
    error = _refused_for_good(connector, 401)
    assert "did not accept the service account's token" in error.message
    assert len(fake.token_requests) == 2  # one fresh token was tried

    fake.fail_next(1, 403)
    error = _refused_for_good(connector, 403)
    assert "admin_email must be" in error.message


# --- Slack ---------------------------------------------------------------------------------------


def test_slack_uses_the_scim_token_and_a_link_slack_fetches(fake_directories, tenant_a):
    fake, linked = _ready(fake_directories, "slack", tenant_a)
    jpeg = _jpeg()
    url = fake.host(jpeg)

    user_id = linked.connector.push_photo(email=EMAIL, jpeg=jpeg, url=url)

    (search,) = fake.requests_to("GET", "/scim/v1/Users")
    assert search.query == {"filter": f'email eq "{EMAIL}"'}
    (patch,) = fake.requests_to("PATCH", "/scim/v1/Users/")
    assert patch.path == f"/scim/v1/Users/{user_id}"
    for request in (search, patch):
        assert request.headers["authorization"] == f"Bearer {fake.token}"
    body = patch.json()
    assert body["schemas"] == [SCIM_SCHEMA]
    (photo,) = body["photos"]
    assert photo["primary"] is True and photo["value"] == url  # a link, never a data: URI
    assert fake.photo_of(EMAIL) == jpeg


def test_the_slack_fake_refuses_a_data_uri_as_the_real_api_does(fake_directories):
    fake = fake_directories.slack
    user = fake.add_user(EMAIL)
    data_uri = "data:image/jpeg;base64," + base64.b64encode(_jpeg()).decode()
    response = requests.patch(f"{fake.base_url}/scim/v1/Users/{user.id}", timeout=5,
                              headers={"Authorization": f"Bearer {fake.token}"},
                              json={"schemas": [SCIM_SCHEMA], "photos": [{"value": data_uri}]})
    assert response.status_code == 400
    assert fake.photo_of(EMAIL) is None


def test_slack_without_a_link_is_a_permanent_error(fake_directories, tenant_a):
    fake, linked = _ready(fake_directories, "slack", tenant_a)
    with pytest.raises(DirectoryError) as info:
        linked.connector.push_photo(email=EMAIL, jpeg=_jpeg())
    assert not info.value.transient and "SITE_URL" in info.value.message
    assert fake.requests_to("PATCH") == []


def test_slack_deactivated_member_is_user_not_found(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "slack", tenant_a)
    fake.add_user("gone@alpha.example", active=False)

    with pytest.raises(UserNotFound):
        connector.push_photo(email="gone@alpha.example", jpeg=_jpeg())

    assert fake.requests_to("PATCH") == []


def test_slack_bad_token_is_permanent(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "slack", tenant_a)
    fake.revoke_tokens()

    error = _refused_for_good(connector, 401)
    assert "invalid_authentication" in error.message
    assert "new SCIM token" in error.message
    assert fake.token not in error.message


def test_slack_forbidden_is_permanent(fake_directories, tenant_a):
    fake, connector = _ready(fake_directories, "slack", tenant_a)
    fake.fail_next(1, 403)

    with pytest.raises(DirectoryError) as info:
        connector.push_photo(email=EMAIL, jpeg=_jpeg())

    assert not info.value.transient and "Business+" in info.value.message
