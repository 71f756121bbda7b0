"""Verified e-mail domains: a company proves it controls a domain before its identity
provider may speak for the addresses there (and before SSO can be enforced for them).

Proof is a DNS TXT record ``_likeness-challenge.<domain>`` holding
``likeness-domain-verification=<token>``, or a file at
``https://<domain>/.well-known/likeness-domain-verification.txt`` holding the token. What
was found is stored with the verification.
"""

from __future__ import annotations

import secrets

import requests
from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.utils import timezone

from core.errors import NotAllowed, ServiceError
from core.rls import rls_bypass
from teams.models import Company, Membership
from teams.services.companies import company_admin_required, domains_parse

from . import dns, http
from .audit import audit_record
from .models import EmailDomain, SsoConnection

TXT_PREFIX = "_likeness-challenge"
TXT_VALUE_PREFIX = "likeness-domain-verification="
FILE_PATH = "/.well-known/likeness-domain-verification.txt"


def txt_record_name(domain: EmailDomain) -> str:
    return f"{TXT_PREFIX}.{domain.domain}"


def txt_record_value(domain: EmailDomain) -> str:
    return f"{TXT_VALUE_PREFIX}{domain.token}"


def file_url(domain: EmailDomain) -> str:
    template = getattr(settings, "DOMAIN_VERIFICATION_FILE_URL", "") or f"https://{{domain}}{FILE_PATH}"
    return template.format(domain=domain.domain)


def domain_list(*, company: Company) -> QuerySet[EmailDomain]:
    return EmailDomain.objects.for_company(company)


def verified_domains(*, company: Company) -> list[str]:
    return list(EmailDomain.objects.for_company(company).filter(verified_at__isnull=False)
                .values_list("domain", flat=True))


def company_for_verified_domain(domain: str) -> Company | None:
    """The company that verified ``domain`` (at most one can). Crosses the wall on purpose:
    the domain is what names the company."""
    with rls_bypass("a verified e-mail domain names its company"):
        row = (EmailDomain.objects.unscoped().select_related("company")
               .filter(domain=domain.lower().strip(), verified_at__isnull=False,
                       company__closed_at__isnull=True).first())
    return row.company if row else None


def domain_add(*, company: Company, actor: Membership, domain: str, method: str,
               request=None) -> EmailDomain:
    company_admin_required(actor=actor, company=company)
    parsed = domains_parse(domain)
    if len(parsed) != 1:
        raise ServiceError("Enter one domain, for example acme.com.")
    if method not in EmailDomain.Method.values:
        raise ServiceError("Choose how you will prove the domain is yours.")
    name = parsed[0]
    if EmailDomain.objects.for_company(company).filter(domain=name).exists():
        raise ServiceError(f"{name} is already on the list.")
    try:
        with transaction.atomic():
            row = EmailDomain.objects.create(company=company, domain=name, method=method,
                                             token=secrets.token_urlsafe(24),
                                             created_by=actor.user)
    except IntegrityError as exc:
        raise ServiceError(f"{name} is already on the list.") from exc
    audit_record(company=company, action="domain.added", actor=actor.user, target=name,
                 details={"method": method}, request=request)
    return row


def _check_dns(domain: EmailDomain) -> tuple[bool, dict, str]:
    name, expected = txt_record_name(domain), txt_record_value(domain)
    try:
        answers = dns.txt_records(name)
    except dns.DnsLookupFailed as exc:
        return False, {}, str(exc)
    proof = {"method": "dns", "record": name, "expected": expected, "answers": answers[:20]}
    if expected in answers:
        return True, proof, ""
    return False, proof, f"No TXT record {name} with the value {expected} was found yet."


def _check_file(domain: EmailDomain) -> tuple[bool, dict, str]:
    url = file_url(domain)
    try:
        status, body = http.fetch_text(url, max_bytes=4096)
    except http.UrlRefused as exc:
        return False, {}, str(exc)
    except requests.RequestException as exc:
        return False, {}, f"{url} could not be fetched ({exc.__class__.__name__})."
    found = body.strip()
    proof = {"method": "file", "url": url, "status": status, "body": found[:200]}
    if status == 200 and found == domain.token:
        return True, proof, ""
    if status != 200:
        return False, proof, f"{url} answered {status}."
    return False, proof, f"{url} does not hold the verification token."


def domain_verify(*, company: Company, actor: Membership | None, domain: EmailDomain,
                  request=None) -> EmailDomain:
    """Look for the proof now. Verified: stored with the proof. Not yet: the reason is saved
    and raised as a ServiceError."""
    if actor is not None:
        company_admin_required(actor=actor, company=company)
    if domain.company_id != company.pk:
        raise NotAllowed("That domain belongs to another company.")
    if domain.is_verified:
        return domain
    check = _check_dns if domain.method == EmailDomain.Method.DNS else _check_file
    ok, proof, error = check(domain)
    now = timezone.now()
    scoped = EmailDomain.objects.for_company(company).filter(pk=domain.pk)
    if not ok:
        scoped.update(last_checked_at=now, last_error=error[:300])
        raise ServiceError(error)
    try:
        with transaction.atomic():
            scoped.update(verified_at=now, proof={**proof, "checked_at": now.isoformat()},
                          last_checked_at=now, last_error="")
    except IntegrityError as exc:
        scoped.update(last_checked_at=now,
                      last_error="Another company has already verified this domain.")
        raise ServiceError("Another company has already verified this domain; contact "
                           "support if it is yours.") from exc
    domain.refresh_from_db()
    audit_record(company=company, action="domain.verified",
                 actor=actor.user if actor else None, target=domain.domain,
                 details={"method": domain.method}, request=request)
    return domain


def sso_enforcement_check(*, company: Company) -> None:
    """SSO enforcement never outlives the verified domains it covers."""
    if not verified_domains(company=company):
        SsoConnection.objects.for_company(company).filter(enforced=True).update(enforced=False)


def domain_remove(*, company: Company, actor: Membership, domain: EmailDomain,
                  request=None) -> None:
    company_admin_required(actor=actor, company=company)
    if domain.company_id != company.pk:
        raise NotAllowed("That domain belongs to another company.")
    with transaction.atomic():
        EmailDomain.objects.for_company(company).filter(pk=domain.pk).delete()
        # Enforcement only ever covers verified domains: none left, none enforced.
        sso_enforcement_check(company=company)
    audit_record(company=company, action="domain.removed", actor=actor.user,
                 target=domain.domain, request=request)
