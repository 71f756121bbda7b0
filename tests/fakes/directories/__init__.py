"""Local fakes of the directories headshots are written back to, on 127.0.0.1.

- ``FakeEntra``: Microsoft Entra ID's token endpoint (client credentials) and the slice of
  Microsoft Graph we use (user search by mail/UPN, ``PUT`` and ``DELETE
  /users/{id}/photo/$value``).
- ``FakeGoogle``: Google's OAuth token endpoint for service accounts (it verifies the JWT
  grant's RS256 signature with the service account's public key, and its claims) and the
  Admin SDK Directory API's ``PUT`` and ``DELETE /users/{userKey}/photos/thumbnail``.
- ``FakeSlack``: Slack's SCIM v1.1 user search and ``PATCH /Users/{id}``, strict about the
  photo: a URL that Slack fetches (``photo_of`` fetches it), never a ``data:`` URI.

Each serves its own port, records every request, keeps per-user photos (``photo_of``),
accepts only the tokens it issued (``revoke_tokens`` makes them all stale), answers 404 for
unknown users, and can fail or stall the next requests (``fail_next``, ``stall_next``).
Error bodies follow each service's own shape.

In a test::

    from tests.fakes import directories

    fake_directories = directories.fake_directories  # the fixture

    def test_something(fake_directories):  # settings already point at the three fakes
        fake_directories.entra.add_user("ann@alpha.example")
        config = fake_directories.entra.connection_config()

In a script::

    python -m tests.fakes.directories   # prints the URLs and configs as JSON, serves until ^C
"""


from __future__ import annotations

from dataclasses import dataclass, field

from ..loopback import serve_until_interrupted
from .base import FakeDirectory, FakeUser, RecordedRequest, jpeg_size
from .entra import GRAPH_SCOPE, FakeEntra
from .google import GOOGLE_AUDIENCE, GOOGLE_SCOPE, JWT_BEARER, FakeGoogle, google_photo_decode
from .slack import SCIM_SCHEMA, FakeSlack

__all__ = ["GOOGLE_AUDIENCE", "GOOGLE_SCOPE", "GRAPH_SCOPE", "JWT_BEARER", "SCIM_SCHEMA",
           "FakeDirectories", "FakeDirectory", "FakeEntra", "FakeGoogle", "FakeSlack",
           "FakeUser", "RecordedRequest", "google_photo_decode", "jpeg_size", "main"]


@dataclass
class FakeDirectories:
    entra: FakeEntra = field(default_factory=FakeEntra)
    google: FakeGoogle = field(default_factory=FakeGoogle)
    slack: FakeSlack = field(default_factory=FakeSlack)

    def start(self) -> FakeDirectories:
        for fake in (self.entra, self.google, self.slack):
            fake.start()
        return self

    def stop(self) -> None:
        for fake in (self.entra, self.google, self.slack):
            fake.stop()

    def settings(self) -> dict[str, str]:
        """The Django settings that point the connectors at these fakes."""
        return {"ENTRA_LOGIN_BASE": self.entra.base_url, "GRAPH_API_BASE": self.entra.base_url,
                "GOOGLE_TOKEN_URI": self.google.token_uri,
                "GOOGLE_ADMIN_API_BASE": self.google.base_url,
                "SLACK_SCIM_BASE": self.slack.base_url}


def main() -> None:
    fakes = FakeDirectories()
    serve_until_interrupted(fakes, lambda: {
        "settings": fakes.settings(), "entra": fakes.entra.connection_config(),
        "slack": fakes.slack.connection_config(),
        "google_client_email": fakes.google.client_email})

