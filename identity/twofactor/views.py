"""A person's own two-factor settings (/account/security/) and the step-up check that admin
pages send people to (/account/security/verify/)."""

from __future__ import annotations

import json
from functools import wraps

from allauth.mfa.adapter import get_adapter as mfa_adapter
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import clear_totp_secret, get_totp_secret
from allauth.mfa.webauthn.internal import auth as webauthn
from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from core.confirm import confirm_page, is_confirmed
from core.errors import ServiceError
from core.inputs import safe_next
from core.pages import form_page, reported

from . import services


class CodeForm(forms.Form):
    code = forms.CharField(label="Code", max_length=20,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code",
                                                         "inputmode": "numeric",
                                                         "autofocus": True}))


class KeyForm(forms.Form):
    name = forms.CharField(label="Name of this key", max_length=60, initial="Security key")
    credential = forms.CharField(widget=forms.HiddenInput)


def verified_session_required(view):
    """Changing factors needs a verified session once the person has one."""
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs):
        if services.has_second_factor(user=request.user) and not services.session_verified(request):
            return redirect(f"{_verify_url()}?next={request.path}")
        return view(request, *args, **kwargs)
    return wrapper


def _verify_url() -> str:
    from django.urls import reverse

    return reverse("identity:2fa_verify")


@login_required
def security(request: HttpRequest) -> HttpResponse:
    items = list(services.authenticators(user=request.user))
    recovery = next((a for a in items if a.type == Authenticator.Type.RECOVERY_CODES), None)
    return render(request, "identity/security.html", {
        "totp": next((a for a in items if a.type == Authenticator.Type.TOTP), None),
        "keys": [a for a in items if a.type == Authenticator.Type.WEBAUTHN],
        "recovery_left": len(recovery.wrap().get_unused_codes()) if recovery else None,
        "verified": services.session_verified(request), "next": safe_next(request),
    })


@require_http_methods(["GET", "POST"])
@login_required
@verified_session_required
def totp_setup(request: HttpRequest) -> HttpResponse:
    if services.has_totp(user=request.user):
        return redirect("identity:security")
    secret = get_totp_secret(regenerate=request.method == "GET")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            codes = services.totp_activate(request=request, secret=secret,
                                           code=form.cleaned_data["code"])
        except ServiceError as error:
            form.add_error("code", str(error))
        else:
            clear_totp_secret(request)
            return render(request, "identity/recovery_codes.html",
                          {"codes": codes, "next": safe_next(request)})
    url = mfa_adapter().build_totp_url(request.user, secret)
    return form_page(request, "identity/totp_setup.html", {
        "form": form, "secret": secret, "qr_svg": mfa_adapter().build_totp_svg(url),
        "next": safe_next(request)})


@require_POST
@login_required
@verified_session_required
def recovery_codes_regenerate(request: HttpRequest) -> HttpResponse:
    try:
        codes = services.recovery_codes_regenerate(user=request.user)
    except ServiceError as error:
        messages.error(request, str(error))
        return redirect("identity:security")
    return render(request, "identity/recovery_codes.html", {"codes": codes})


@require_POST
@login_required
@verified_session_required
def authenticator_remove(request: HttpRequest, pk: int) -> HttpResponse:
    factor = Authenticator.objects.filter(user=request.user, pk=pk).first()
    if factor is not None and not is_confirmed(request):
        # Only one's own factor is asked about; anyone else's pk falls through to the
        # service's "No such authenticator." exactly as before.
        return confirm_page(
            request, title="Remove this sign-in factor?", button="Yes, remove it",
            cancel_url=reverse("identity:security"),
            consequences=["You can no longer use it to confirm it's you.",
                          "If it is your last one, your recovery codes are removed too, and "
                          "admin pages ask you to set one up again."])
    with reported(request, success="Removed."):
        services.authenticator_remove(user=request.user, authenticator_id=pk)
    return redirect("identity:security")


@require_http_methods(["GET", "POST"])
@login_required
@verified_session_required
def webauthn_add(request: HttpRequest) -> HttpResponse:
    form = KeyForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            credential = json.loads(form.cleaned_data["credential"])
            webauthn.complete_registration(credential)
            webauthn.WebAuthn.add(request.user, form.cleaned_data["name"], credential)
        except (ValueError, TypeError, KeyError, ValidationError):
            form.add_error(None, "The security key's answer could not be checked. Try again.")
        else:
            services.session_mark_verified(request, method="webauthn")
            messages.success(request, "Security key added.")
            return redirect(safe_next(request) or "identity:security")
    options = webauthn.begin_registration(request.user, passwordless=False)
    return form_page(request, "identity/webauthn_add.html", {
        "form": form, "options": {"creation_options": options}, "next": safe_next(request)})


@require_http_methods(["GET", "POST"])
@login_required
def verify(request: HttpRequest) -> HttpResponse:
    next_url = safe_next(request) or "/"
    if not services.has_second_factor(user=request.user):
        return redirect(f"{_setup_url()}?next={next_url}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.code_verify(request=request, code=form.cleaned_data["code"])
        except ServiceError as error:
            form.add_error("code", str(error))
        else:
            return redirect(next_url)
    has_keys = services.authenticators(user=request.user).filter(
        type=Authenticator.Type.WEBAUTHN).exists()
    return form_page(request, "identity/verify.html",
                     {"form": form, "next": next_url, "has_keys": has_keys,
                      "has_totp": services.has_totp(user=request.user)})


def _setup_url() -> str:
    from django.urls import reverse

    return reverse("identity:security")


@require_http_methods(["GET", "POST"])
@login_required
def verify_webauthn(request: HttpRequest) -> HttpResponse:
    if request.method == "GET":
        return JsonResponse({"request_options": webauthn.begin_authentication(request.user)})
    next_url = safe_next(request) or "/"
    try:
        services._check_attempts(request.user)
        credential = json.loads(request.POST.get("credential", ""))
        authenticator = webauthn.complete_authentication(request.user, credential)
    except services.TooManyAttempts as error:
        messages.error(request, str(error))
        return redirect(f"{_verify_url()}?next={next_url}")
    except (ValueError, TypeError, KeyError, ValidationError):
        services._failed(request.user)
        messages.error(request, "The security key's answer could not be checked. Try again.")
        return redirect(f"{_verify_url()}?next={next_url}")
    authenticator.record_usage()
    services.session_mark_verified(request, method="webauthn")
    return redirect(next_url)
