"""The identity providers' side of sign-in, under allauth's URL names (allauth reverses
them): the OIDC redirect URI and SAML's ACS, logout and SP metadata. Sign-in starts on our
own pages (identity:sso_start, identity:sso_company), so allauth's login pages, sign-up and
account pages are not mounted."""

from allauth.socialaccount.providers.saml import views as saml
from django.urls import path

from . import oidc

urlpatterns = [
    path("oidc/<str:provider_id>/login/callback/", oidc.callback,
         name="openid_connect_callback"),
    path("oidc/<str:provider_id>/login/", oidc.login, name="openid_connect_login"),
    path("saml/<str:organization_slug>/acs/", saml.acs, name="saml_acs"),
    path("saml/<str:organization_slug>/acs/finish/", saml.finish_acs, name="saml_finish_acs"),
    path("saml/<str:organization_slug>/sls/", saml.sls, name="saml_sls"),
    path("saml/<str:organization_slug>/metadata/", saml.metadata, name="saml_metadata"),
]
