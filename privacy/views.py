from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from teams.decorators import company_view
from teams.errors import ServiceError
from teams.selectors import member_get

from .forms import ConsentForm, NoticeForm, PaperConsentForm
from .models import ConsentNotice, ConsentRecord
from .services import (
    RequestInfo,
    consent_current,
    consent_grant,
    consent_withdraw,
    notice_current,
    notice_publish,
)


def _request_info(request: HttpRequest) -> RequestInfo:
    return RequestInfo(ip_address=request.META.get("REMOTE_ADDR") or None,
                       user_agent=request.META.get("HTTP_USER_AGENT", ""))


@require_http_methods(["GET", "POST"])
@company_view(role="member")
def consent(request: HttpRequest) -> HttpResponse:
    company, membership = request.company, request.membership
    notice = notice_current(company=company)
    latest = consent_current(company=company, user=request.user)
    form = ConsentForm(request.POST or None, initial={"notice_version": notice.version})
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["notice_version"] != notice.version:
                raise ServiceError("The notice was updated while you were reading it. Please "
                                   "read the new version below.")
            consent_grant(
                company=company, membership=membership, notice=notice,
                signed_name=form.cleaned_data["signed_name"], agreed=form.cleaned_data["agree"],
                request_info=_request_info(request),
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, "Thank you. You can now upload your selfies.")
            return redirect("generation:selfies", company_slug=company.slug)
    return render(
        request, "privacy/consent.html",
        {"notice": notice, "form": form, "latest": latest,
         "granted": latest is not None and latest.event == ConsentRecord.Event.GRANTED},
        status=400 if form.errors else 200,
    )


@require_GET
@company_view(role="member")
def consent_decline(request: HttpRequest) -> HttpResponse:
    return render(request, "privacy/consent_declined.html")


@require_POST
@company_view(role="member")
def consent_withdraw_view(request: HttpRequest) -> HttpResponse:
    try:
        consent_withdraw(company=request.company, membership=request.membership,
                         request_info=_request_info(request))
    except ServiceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Consent withdrawn. Nothing more is processed, and your photos "
                                  "and face data will be deleted.")
    return redirect("privacy:consent", company_slug=request.company.slug)


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def notice_edit(request: HttpRequest) -> HttpResponse:
    company = request.company
    notice = notice_current(company=company)
    form = NoticeForm(request.POST or None, initial={"body": notice.body})
    if request.method == "POST" and form.is_valid():
        try:
            new = notice_publish(company=company, body=form.cleaned_data["body"],
                                 created_by=request.user)
        except ServiceError as error:
            form.add_error("body", str(error))
        else:
            messages.success(request, f"Version {new.version} published. People who consented "
                                      "to an earlier version keep that consent.")
            return redirect("privacy:notice_edit", company_slug=company.slug)
    versions = ConsentNotice.objects.for_company(company).only("version", "created_at", "sha256")
    return render(request, "privacy/notice_edit.html",
                  {"notice": notice, "form": form, "versions": versions},
                  status=400 if form.errors else 200)


@require_http_methods(["GET", "POST"])
@company_view(role="admin")
def paper_consent(request: HttpRequest, pk: int) -> HttpResponse:
    company = request.company
    member = member_get(company=company, pk=pk)
    if member is None or not member.has_joined:
        raise Http404("No such page.")
    notice = notice_current(company=company)
    form = PaperConsentForm(request.POST or None, initial={"notice_version": notice.version})
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["notice_version"] != notice.version:
                raise ServiceError("The notice changed; record the release against the new version.")
            consent_grant(
                company=company, membership=member, notice=notice,
                signed_name=form.cleaned_data["signed_name"], agreed=form.cleaned_data["agree"],
                request_info=_request_info(request), recorded_by=request.membership,
            )
        except ServiceError as error:
            form.add_error(None, str(error))
        else:
            messages.success(request, f"Paper release recorded for {member.user.get_full_name()}.")
            return redirect("generation:member_selfies", company_slug=company.slug, pk=member.pk)
    return render(request, "privacy/paper_consent.html",
                  {"member": member, "notice": notice, "form": form,
                   "latest": consent_current(company=company, user=member.user)},
                  status=400 if form.errors else 200)
