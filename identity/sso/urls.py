"""The identity providers' side of sign-in, under allauth's URL names (allauth reverses
them): the OIDC redirect URI and SAML's ACS, logout and SP metadata. Sign-in starts on our
own pages (identity:sso_start, identity:sso_company), so allauth's login pages, sign-up and
account pages are not mounted."""

import binascii
import logging
from functools import wraps

from allauth.socialaccount.providers.saml import views as saml
from django.shortcuts import render
from django.urls import path
from lxml import etree
from onelogin.saml2.errors import OneLogin_Saml2_Error

from . import oidc

log = logging.getLogger(__name__)


def _refuse_garbage(view):
    """allauth turns the SAML errors it expects into an error page; a response that is not
    even XML escapes it (lxml raises), which must be a refusal too, never a 500."""
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except (etree.LxmlError, OneLogin_Saml2_Error, binascii.Error, ValueError) as exc:
            log.warning("unreadable SAML message: %s", exc)
            return render(request, "identity/sso_error.html", {
                "message": "The answer of your identity provider could not be read. Please "
                           "start again."}, status=403)
    return wrapper


urlpatterns = [
    path("oidc/<str:provider_id>/login/callback/", oidc.callback,
         name="openid_connect_callback"),
    path("oidc/<str:provider_id>/login/", oidc.login, name="openid_connect_login"),
    path("saml/<str:organization_slug>/acs/", saml.acs, name="saml_acs"),
    path("saml/<str:organization_slug>/acs/finish/", _refuse_garbage(saml.finish_acs),
         name="saml_finish_acs"),
    path("saml/<str:organization_slug>/sls/", _refuse_garbage(saml.sls), name="saml_sls"),
    path("saml/<str:organization_slug>/metadata/", saml.metadata, name="saml_metadata"),
]
