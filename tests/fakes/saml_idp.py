"""A SAML 2.0 identity provider for tests: its own key and self-signed certificate, its
metadata document, and signed responses to the AuthnRequests our service provider sends.

``answer(redirect_url, email=...)`` reads the HTTP-Redirect AuthnRequest (deflated, base64)
the way an IdP does, and returns the form fields the browser posts to our ACS: a Response
whose Assertion is signed (RSA-SHA256, exclusive C14N, by python3-saml's xmlsec signer), in
response to that request, for our audience and ACS URL, valid for five minutes. ``tamper``
breaks one thing at a time (the signature, the audience, the validity, InResponseTo, the
signing key) so tests can prove each is checked.
"""

from __future__ import annotations

import base64
import datetime as dt
import secrets
import zlib
from typing import Any
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from lxml import etree
from onelogin.saml2.constants import OneLogin_Saml2_Constants
from onelogin.saml2.utils import OneLogin_Saml2_Utils

EMAIL_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress"
GIVEN_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname"
SURNAME_CLAIM = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname"


def _keypair(common_name: str) -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=365)).sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    return key_pem, cert.public_bytes(serialization.Encoding.PEM).decode()


def _instant(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


class FakeSamlIdP:
    def __init__(self, entity_id: str = "https://idp.example.org/saml",
                 sso_url: str = "https://idp.example.org/saml/sso") -> None:
        self.entity_id = entity_id
        self.sso_url = sso_url
        self.key, self.cert = _keypair("Test IdP")
        self.other_key, self.other_cert = _keypair("Someone else")

    @property
    def cert_body(self) -> str:
        return "".join(line for line in self.cert.splitlines() if "CERTIFICATE" not in line)

    def metadata(self) -> str:
        return f"""<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="{self.entity_id}">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"
      WantAuthnRequestsSigned="false">
    <md:KeyDescriptor use="signing">
      <ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>{self.cert_body}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect"
      Location="{self.sso_url}"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>"""

    @staticmethod
    def read_request(redirect_url: str) -> dict[str, str]:
        """The AuthnRequest in an HTTP-Redirect URL: its ID, ACS URL and issuer."""
        parts = urlsplit(redirect_url)
        query = parse_qs(parts.query)
        xml = zlib.decompress(base64.b64decode(query["SAMLRequest"][0]), -15)
        root = etree.fromstring(xml)
        ns = {"saml": "urn:oasis:names:tc:SAML:2.0:assertion"}
        return {"id": root.get("ID"), "acs": root.get("AssertionConsumerServiceURL"),
                "issuer": root.find("saml:Issuer", ns).text,
                "destination": root.get("Destination"),
                "relay_state": query.get("RelayState", [""])[0]}

    def answer(self, redirect_url: str, *, email: str, given: str = "Ada",
               family: str = "Lovelace", tamper: str = "", **attributes: Any) -> dict[str, str]:
        request = self.read_request(redirect_url)
        assert request["destination"] == self.sso_url
        xml = self.response_xml(in_response_to=request["id"], acs=request["acs"],
                                audience=request["issuer"], email=email,
                                attributes={EMAIL_CLAIM: email, GIVEN_CLAIM: given,
                                            SURNAME_CLAIM: family, **attributes},
                                tamper=tamper)
        return {"SAMLResponse": base64.b64encode(xml.encode()).decode(),
                "RelayState": request["relay_state"]}

    def response_xml(self, *, in_response_to: str, acs: str, audience: str, email: str,
                     attributes: dict[str, str], tamper: str = "") -> str:
        now = dt.datetime.now(dt.UTC)
        not_before, not_after = now - dt.timedelta(minutes=1), now + dt.timedelta(minutes=5)
        if tamper == "expired":
            not_before, not_after = now - dt.timedelta(hours=2), now - dt.timedelta(hours=1)
        if tamper == "audience":
            audience = "https://someone-else.example/metadata"
        if tamper == "in_response_to":
            in_response_to = "_" + secrets.token_hex(16)
        answering = f' InResponseTo="{in_response_to}"' if in_response_to else ""  # IdP-initiated
        values = "".join(
            f'<saml:Attribute Name="{escape(name)}"><saml:AttributeValue>{escape(value)}'
            f"</saml:AttributeValue></saml:Attribute>" for name, value in attributes.items())
        assertion_id = "_" + secrets.token_hex(16)
        assertion = (
            f'<saml:Assertion xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" '
            f'ID="{assertion_id}" Version="2.0" IssueInstant="{_instant(now)}">'
            f"<saml:Issuer>{self.entity_id}</saml:Issuer>"
            f"<saml:Subject><saml:NameID Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:"
            f'emailAddress">{escape(email)}</saml:NameID>'
            f'<saml:SubjectConfirmation Method="urn:oasis:names:tc:SAML:2.0:cm:bearer">'
            f'<saml:SubjectConfirmationData NotOnOrAfter="{_instant(not_after)}" '
            f'Recipient="{acs}"{answering}/></saml:SubjectConfirmation>'
            f"</saml:Subject>"
            f'<saml:Conditions NotBefore="{_instant(not_before)}" '
            f'NotOnOrAfter="{_instant(not_after)}"><saml:AudienceRestriction>'
            f"<saml:Audience>{audience}</saml:Audience></saml:AudienceRestriction>"
            f"</saml:Conditions>"
            f'<saml:AuthnStatement AuthnInstant="{_instant(now)}" SessionIndex="_s1">'
            f"<saml:AuthnContext><saml:AuthnContextClassRef>urn:oasis:names:tc:SAML:2.0:ac:"
            f"classes:PasswordProtectedTransport</saml:AuthnContextClassRef></saml:AuthnContext>"
            f"</saml:AuthnStatement>"
            f"<saml:AttributeStatement>{values}</saml:AttributeStatement></saml:Assertion>")
        if tamper != "unsigned":
            key, cert = ((self.other_key, self.other_cert) if tamper == "other_key"
                         else (self.key, self.cert))
            assertion = OneLogin_Saml2_Utils.add_sign(
                assertion, key, cert, sign_algorithm=OneLogin_Saml2_Constants.RSA_SHA256,
                digest_algorithm=OneLogin_Saml2_Constants.SHA256).decode()
            assertion = assertion.replace('<?xml version="1.0"?>', "").strip()
        if tamper == "altered":  # signed, then changed: the digest no longer matches
            assertion = assertion.replace(escape(email), "mallory@alpha.example", 1)
        return (
            f'<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" '
            f'xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_{secrets.token_hex(16)}" '
            f'Version="2.0" IssueInstant="{_instant(now)}" Destination="{acs}" '
            f'{answering}><saml:Issuer>{self.entity_id}</saml:Issuer>'
            f'<samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/>'
            f"</samlp:Status>{assertion}</samlp:Response>")
