"""A company's SSO connection as django-allauth sees it: an (unsaved) SocialApp built from
the SsoConnection row, never a copy in allauth's own table, so there is one source of truth.

OpenID Connect apps are named by ``provider_id = "c-<company slug>"``; SAML apps by
``client_id = <company slug>`` (allauth's "organization slug" in the SAML URLs).
"""

from __future__ import annotations

from allauth.socialaccount.models import SocialApp
from onelogin.saml2.idp_metadata_parser import OneLogin_Saml2_IdPMetadataParser

from core.crypto import decrypt
from core.errors import ServiceError
from core.rls import rls_bypass
from teams.models import Company

from ..models import SsoConnection

OIDC_PREFIX = "c-"

# Where each of our attributes is looked for when the admin names nothing else.
OIDC_DEFAULT_MAPPING = {"email": "email", "first_name": "given_name",
                        "last_name": "family_name", "name": "name"}
SAML_DEFAULT_MAPPING = {
    "email": ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
              "urn:oid:0.9.2342.19200300.100.1.3", "email", "mail"],
    "first_name": ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                   "urn:oid:2.5.4.42", "firstName", "givenName"],
    "last_name": ["http://schemas.xmlsoap.org/ws/2005/05/identity/claims/surname",
                  "urn:oid:2.5.4.4", "lastName", "sn"],
    "name": ["http://schemas.microsoft.com/identity/claims/displayname", "displayName", "name"],
}
MAPPED = ("email", "first_name", "last_name", "name")


def oidc_provider_id(company: Company) -> str:
    return f"{OIDC_PREFIX}{company.slug}"


def mapping_for(connection: SsoConnection) -> dict[str, list[str]]:
    """Our attribute -> names to look for, the admin's first, then the defaults."""
    defaults = (OIDC_DEFAULT_MAPPING if connection.protocol == SsoConnection.Protocol.OIDC
                else SAML_DEFAULT_MAPPING)
    mapping: dict[str, list[str]] = {}
    for key in MAPPED:
        default = defaults.get(key, [])
        names = [default] if isinstance(default, str) else list(default)
        custom = (connection.attribute_mapping or {}).get(key)
        if isinstance(custom, str) and custom.strip():
            names = [custom.strip()] + [name for name in names if name != custom.strip()]
        mapping[key] = names
    return mapping


def _connection(*, slug: str, protocol: str) -> SsoConnection | None:
    # The slug in the URL is what names the company here, so the lookup crosses the wall.
    with rls_bypass("the company slug of an SSO sign-in names its company"):
        return (SsoConnection.objects.unscoped().select_related("company")
                .filter(company__slug=slug, company__closed_at__isnull=True, protocol=protocol,
                        enabled=True).first())


def social_app(connection: SsoConnection) -> SocialApp:
    company = connection.company
    if connection.protocol == SsoConnection.Protocol.OIDC:
        return SocialApp(
            provider="openid_connect", provider_id=oidc_provider_id(company),
            name=company.name, client_id=connection.oidc_client_id,
            secret=decrypt(connection.oidc_client_secret),
            settings={"server_url": connection.oidc_issuer, "oauth_pkce_enabled": True,
                      "fetch_userinfo": False, "company_id": company.pk},
        )
    saml_mapping = {key: names for key, names in mapping_for(connection).items()}
    return SocialApp(
        provider="saml", provider_id=f"saml-{company.slug}", name=company.name, client_id=company.slug,
        settings={
            "company_id": company.pk,
            "idp": {"entity_id": connection.saml_idp_entity_id,
                    "sso_url": connection.saml_idp_sso_url,
                    "x509cert": connection.saml_idp_x509_cert},
            "attribute_mapping": saml_mapping,
            "advanced": {
                "strict": True,
                # The assertion itself must be signed by the certificate on file.
                "want_assertion_signed": True,
                "reject_idp_initiated_sso": True,
                "reject_deprecated_algorithm": True,
                "name_id_format": "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress",
            },
        },
    )


def apps_for(*, provider: str | None, client_id: str | None) -> list[SocialApp]:
    """What allauth's adapter.list_apps answers: only ever the one app asked for."""
    if provider == "saml" and client_id:
        connection = _connection(slug=client_id, protocol=SsoConnection.Protocol.SAML)
    elif provider and provider.startswith(OIDC_PREFIX):
        connection = _connection(slug=provider[len(OIDC_PREFIX):],
                                 protocol=SsoConnection.Protocol.OIDC)
    else:
        return []
    return [social_app(connection)] if connection else []


def saml_metadata_parse(xml: str) -> dict[str, str]:
    """entity_id, sso_url and x509_cert from an IdP's metadata document."""
    try:
        data = OneLogin_Saml2_IdPMetadataParser.parse(xml)
    except Exception as exc:  # lxml and the parser raise many kinds; all mean "not metadata"
        raise ServiceError("This is not SAML metadata of an identity provider.") from exc
    idp = data.get("idp") or {}
    if not idp:
        raise ServiceError("This is not SAML metadata of an identity provider.")
    cert = idp.get("x509cert") or next(iter((idp.get("x509certMulti") or {})
                                            .get("signing", [])), "")
    sso_url = (idp.get("singleSignOnService") or {}).get("url", "")
    if not idp.get("entityId") or not sso_url or not cert:
        raise ServiceError("The metadata lacks the entity ID, the sign-in URL or the signing "
                           "certificate.")
    return {"entity_id": idp["entityId"], "sso_url": sso_url, "x509_cert": cert}
