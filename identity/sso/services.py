"""SSO: the admin's configuration, enforcement, and what a sign-in through the company's
identity provider may do.

The identity provider speaks only for addresses at the company's *verified* domains: an
assertion for any other address is refused, since a session here is the person's across
every company they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from core.crypto import encrypt
from core.errors import ServiceError
from core.rls import company_scope
from teams.models import Company, Invitation, Membership, User
from teams.services.companies import company_admin_required
from teams.services.invitations import (
    email_normalise,
    invitation_accept,
    invitation_create,
    invitation_token_renew,
)

from ..audit import audit_record
from ..domains import company_for_verified_domain, verified_domains
from ..http import UrlRefused, url_check
from ..models import SsoConnection

Status = Membership.Status


class SsoDenied(ServiceError):
    """A sign-in through the provider that we refuse; the message is shown to the person."""


@dataclass(frozen=True)
class ConnectionInput:
    protocol: str
    enabled: bool
    jit_join: bool
    oidc_issuer: str = ""
    oidc_client_id: str = ""
    oidc_client_secret: str = ""  # empty: keep the stored one
    saml_metadata_url: str = ""
    saml_idp_entity_id: str = ""
    saml_idp_sso_url: str = ""
    saml_idp_x509_cert: str = ""
    email_attribute: str = ""
    first_name_attribute: str = ""
    last_name_attribute: str = ""


def connection_get(*, company: Company) -> SsoConnection | None:
    return SsoConnection.objects.for_company(company).first()


def _clean_cert(pem: str) -> str:
    body = "".join(line.strip() for line in pem.strip().splitlines()
                   if line.strip() and "CERTIFICATE" not in line)
    return body


def connection_save(*, company: Company, actor: Membership, data: ConnectionInput,
                    request=None) -> SsoConnection:
    company_admin_required(actor=actor, company=company)
    if data.protocol not in SsoConnection.Protocol.values:
        raise ServiceError("Choose OpenID Connect or SAML 2.0.")
    connection = connection_get(company=company) or SsoConnection(company=company)
    connection.protocol = data.protocol
    if data.protocol == SsoConnection.Protocol.OIDC:
        if not data.oidc_issuer.strip() or not data.oidc_client_id.strip():
            raise ServiceError("Enter the issuer URL and the client ID.")
        try:
            connection.oidc_issuer = url_check(data.oidc_issuer.strip().rstrip("/"))
        except UrlRefused as exc:
            raise ServiceError(str(exc)) from exc
        connection.oidc_client_id = data.oidc_client_id.strip()
        if data.oidc_client_secret:
            connection.oidc_client_secret = encrypt(data.oidc_client_secret.strip())
        if not connection.oidc_client_secret:
            raise ServiceError("Enter the client secret.")
    else:
        cert = _clean_cert(data.saml_idp_x509_cert)
        if not (data.saml_idp_entity_id.strip() and data.saml_idp_sso_url.strip() and cert):
            raise ServiceError("Enter the identity provider's entity ID, sign-in URL and "
                               "certificate, or load them from its metadata.")
        try:
            connection.saml_idp_sso_url = url_check(data.saml_idp_sso_url.strip())
        except UrlRefused as exc:
            raise ServiceError(str(exc)) from exc
        connection.saml_idp_entity_id = data.saml_idp_entity_id.strip()
        connection.saml_idp_x509_cert = cert
        connection.saml_metadata_url = data.saml_metadata_url.strip()
    connection.attribute_mapping = {
        key: value.strip() for key, value in (("email", data.email_attribute),
                                              ("first_name", data.first_name_attribute),
                                              ("last_name", data.last_name_attribute))
        if value.strip()}
    connection.enabled = data.enabled
    connection.jit_join = data.jit_join
    if not connection.enabled:
        connection.enforced = False
    connection.updated_by = actor.user
    connection.updated_at = timezone.now()
    connection.save()
    audit_record(company=company, action="sso.updated", actor=actor.user,
                 target=connection.get_protocol_display(),
                 details={"enabled": connection.enabled, "jit_join": connection.jit_join,
                          "issuer": connection.oidc_issuer,
                          "idp_entity_id": connection.saml_idp_entity_id}, request=request)
    return connection


def connection_enforce(*, company: Company, actor: Membership, enforced: bool,
                       request=None) -> SsoConnection:
    """Turn enforced SSO on or off. On needs a working connection and a verified domain."""
    company_admin_required(actor=actor, company=company)
    connection = connection_get(company=company)
    if enforced:
        if connection is None or not connection.enabled:
            raise ServiceError("Set up and turn on the SSO connection first.")
        if not verified_domains(company=company):
            raise ServiceError("Verify at least one e-mail domain first: SSO can only be "
                               "enforced for domains the company has proved are its own.")
    if connection is None:
        return connection  # type: ignore[return-value]
    SsoConnection.objects.for_company(company).filter(pk=connection.pk).update(
        enforced=enforced, updated_by=actor.user, updated_at=timezone.now())
    connection.refresh_from_db()
    audit_record(company=company, action="sso.enforced" if enforced else "sso.unenforced",
                 actor=actor.user, target=", ".join(verified_domains(company=company)),
                 request=request)
    return connection


def enforcing_company(email: str) -> Company | None:
    """The company whose SSO every address at this e-mail's domain must use, if any."""
    domain = email.rsplit("@", 1)[-1].lower().strip()
    if not domain:
        return None
    company = company_for_verified_domain(domain)
    if company is None:
        return None
    with company_scope(company.pk):
        if not SsoConnection.objects.for_company(company).filter(
                enabled=True, enforced=True).exists():
            return None
    return company


def other_sign_in_allowed(*, email: str) -> tuple[bool, Company | None]:
    """May this address sign in by password or e-mailed link? The enforcing company's owner
    may: the way back in when the identity provider is down or misconfigured."""
    company = enforcing_company(email)
    if company is None:
        return True, None
    with company_scope(company.pk):
        is_owner = Membership.objects.for_company(company).filter(
            user__email__iexact=email.strip(), role=Membership.Role.OWNER).exists()
    return is_owner, company


def sso_sign_in(*, company: Company, connection: SsoConnection, email: str,
                full_name: str) -> tuple[User, Membership]:
    """Decide what a successful assertion for ``email`` may do in ``company``: sign in a
    member, let an invited person join (their invitation is accepted), or let anyone at a
    verified domain join when the admin allows it. Raises SsoDenied otherwise."""
    try:
        email = email_normalise(email or "")
    except ServiceError as exc:
        raise SsoDenied("Your identity provider did not send an e-mail address.") from exc
    domain = email.rsplit("@", 1)[1]
    if company.closed_at is not None or not connection.enabled:
        raise SsoDenied("Sign-in through this provider is turned off.")
    if domain not in verified_domains(company=company):
        raise SsoDenied(f"{company.name}'s identity provider cannot sign in addresses at "
                        f"{domain}: it is not one of the company's verified domains.")
    membership = (Membership.objects.for_company(company).select_related("user")
                  .filter(user__email__iexact=email).first())
    if membership is not None and membership.has_joined:
        if not membership.user.is_active:
            raise SsoDenied("This account is disabled.")
        return membership.user, membership
    pending = None
    if membership is not None:
        pending = (Invitation.objects.for_company(company)
                   .filter(membership=membership, accepted_at__isnull=True,
                           revoked_at__isnull=True).order_by("-created_at").first())
    if pending is None and not connection.jit_join:
        raise SsoDenied(f"You are not a member of {company.name} yet. Ask its admin for an "
                        "invitation.")
    with transaction.atomic():
        if pending is None:
            pending = invitation_create(company=company, email=email, created_by=None,
                                        full_name=full_name, source=Invitation.Source.SSO,
                                        send=False)
        # The assertion proves the address, as clicking the e-mailed link would.
        raw = invitation_token_renew(company=company, invitation=pending, sent=False)
        membership = invitation_accept(raw_token=raw)
    return membership.user, membership
