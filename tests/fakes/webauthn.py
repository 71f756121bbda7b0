"""A software WebAuthn authenticator (a security key in code): an ES256 key pair that
answers the server's creation and request options as a browser would pass them on, with
"none" attestation, the RP ID hash, flags and a signature counter. fido2 on the server
checks every byte of it, so a test that signs in with it proves the real check runs."""

from __future__ import annotations

import hashlib
import json
import os
import struct
from typing import Any

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from fido2 import cbor
from fido2.cose import ES256
from fido2.utils import websafe_decode, websafe_encode

USER_PRESENT, USER_VERIFIED, ATTESTED = 0x01, 0x04, 0x40


class SoftwareAuthenticator:
    def __init__(self, origin: str) -> None:
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = os.urandom(16)
        self.counter = 0

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps({"type": kind, "challenge": challenge, "origin": self.origin,
                           "crossOrigin": False}).encode()

    def _auth_data(self, rp_id: str, flags: int, attested: bytes = b"") -> bytes:
        self.counter += 1
        return (hashlib.sha256(rp_id.encode()).digest() + bytes([flags])
                + struct.pack(">I", self.counter) + attested)

    def create(self, options: dict[str, Any]) -> dict[str, Any]:
        public_key = options["publicKey"]
        rp_id = public_key["rp"]["id"]
        cose_key = cbor.encode(dict(ES256.from_cryptography_key(self.key.public_key())))
        attested = (b"\0" * 16 + struct.pack(">H", len(self.credential_id))
                    + self.credential_id + cose_key)
        auth_data = self._auth_data(rp_id, USER_PRESENT | USER_VERIFIED | ATTESTED, attested)
        attestation = cbor.encode({"fmt": "none", "attStmt": {}, "authData": auth_data})
        raw_id = websafe_encode(self.credential_id)
        return {"id": raw_id, "rawId": raw_id, "type": "public-key",
                "response": {"clientDataJSON": websafe_encode(
                                 self._client_data("webauthn.create", public_key["challenge"])),
                             "attestationObject": websafe_encode(attestation)},
                "clientExtensionResults": {}}

    def get(self, options: dict[str, Any], *, rp_id: str | None = None) -> dict[str, Any]:
        public_key = options["publicKey"]
        allowed = [websafe_decode(c["id"]) for c in public_key.get("allowCredentials", [])]
        assert not allowed or self.credential_id in allowed
        auth_data = self._auth_data(rp_id or public_key["rpId"], USER_PRESENT | USER_VERIFIED)
        client_data = self._client_data("webauthn.get", public_key["challenge"])
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(),
                                  ec.ECDSA(hashes.SHA256()))
        raw_id = websafe_encode(self.credential_id)
        return {"id": raw_id, "rawId": raw_id, "type": "public-key",
                "response": {"clientDataJSON": websafe_encode(client_data),
                             "authenticatorData": websafe_encode(auth_data),
                             "signature": websafe_encode(signature), "userHandle": None},
                "clientExtensionResults": {}}
