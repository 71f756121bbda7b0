from __future__ import annotations

from django import forms

from .models import EmailDomain, SsoConnection


class SsoConnectionForm(forms.Form):
    protocol = forms.ChoiceField(label="Protocol", choices=SsoConnection.Protocol.choices,
                                 widget=forms.RadioSelect)
    oidc_issuer = forms.URLField(assume_scheme="https",
        label="Issuer URL", required=False, max_length=500,
        help_text="Its discovery document is at …/.well-known/openid-configuration. Entra ID: "
                  "https://login.microsoftonline.com/<tenant>/v2.0; Okta: https://<org>.okta.com; "
                  "Google: https://accounts.google.com.")
    oidc_client_id = forms.CharField(label="Client ID", required=False, max_length=255)
    oidc_client_secret = forms.CharField(
        label="Client secret", required=False, max_length=1000,
        widget=forms.PasswordInput(render_value=False),
        help_text="Stored encrypted. Leave empty to keep the current one.")
    saml_metadata_url = forms.URLField(assume_scheme="https",
        label="Metadata URL", required=False, max_length=500,
        help_text="Fill the fields below from the identity provider's metadata.")
    saml_metadata_file = forms.FileField(label="…or upload its metadata XML", required=False)
    saml_idp_entity_id = forms.CharField(label="Identity provider entity ID", required=False,
                                         max_length=500)
    saml_idp_sso_url = forms.URLField(assume_scheme="https", max_length=500, required=False,
                                      label="Sign-in URL (SSO, HTTP-Redirect)")
    saml_idp_x509_cert = forms.CharField(label="Signing certificate (PEM)", required=False,
                                         widget=forms.Textarea(attrs={"rows": 4}))
    email_attribute = forms.CharField(
        label="E-mail claim or attribute", required=False, max_length=200,
        help_text="Empty: the usual names (email; the emailaddress claim for SAML). Entra ID "
                  "without an e-mail claim: preferred_username.")
    first_name_attribute = forms.CharField(label="First-name claim or attribute", required=False,
                                           max_length=200)
    last_name_attribute = forms.CharField(label="Last-name claim or attribute", required=False,
                                          max_length=200)
    jit_join = forms.BooleanField(
        label="Let anyone at a verified domain join by signing in with SSO", required=False,
        help_text="Off: only people already invited (by an admin, CSV or SCIM) can join.")
    enabled = forms.BooleanField(label="SSO is on", required=False)


class DomainForm(forms.Form):
    domain = forms.CharField(label="Domain", max_length=253,
                             widget=forms.TextInput(attrs={"placeholder": "acme.com"}))
    method = forms.ChoiceField(label="Proof", choices=EmailDomain.Method.choices,
                               initial=EmailDomain.Method.DNS, widget=forms.RadioSelect)


class ScimTokenForm(forms.Form):
    name = forms.CharField(label="What uses this token", max_length=120,
                           help_text="For example: “Entra ID provisioning”.")


class ScimSettingsForm(forms.Form):
    scim_send_invitations = forms.BooleanField(
        label="E-mail an invitation to each person the directory provisions", required=False,
        help_text="Off: provisioned people join by signing in with SSO.")


class Require2faForm(forms.Form):
    require_admin_2fa = forms.BooleanField(
        label="Require two-factor authentication for every admin and the owner",
        required=False)
