from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path

from billing.webhooks import stripe_webhook
from delivery import urls as delivery_urls
from delivery.api.views import headshot_variant
from generation import urls as generation_urls
from generation.webhooks import replicate_webhook
from teams import urls as teams_urls
from teams.forms import EmailLoginForm
from teams.views import public


def favicon(request: HttpRequest) -> HttpResponsePermanentRedirect:
    """Browsers ask for /favicon.ico whatever the page links: send them to the icon."""
    return HttpResponsePermanentRedirect(static("favicon.svg"))


urlpatterns = [
    path("", public.home, name="home"),
    path("favicon.ico", favicon),
    path(
        "login/",
        auth_views.LoginView.as_view(
            authentication_form=EmailLoginForm, redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("login/link/", public.login_link_request_view, name="login_link_request"),
    path("login/link/<str:token>/", public.login_link_consume_view, name="login_link_consume"),
    path("password/reset/", auth_views.PasswordResetView.as_view(
        email_template_name="emails/password_reset.txt",
        html_email_template_name="emails/password_reset.html",
        subject_template_name="emails/password_reset.subject.txt",
    ), name="password_reset"),
    path("password/reset/sent/", auth_views.PasswordResetDoneView.as_view(),
         name="password_reset_done"),
    path("password/reset/<uidb64>/<token>/", auth_views.PasswordResetConfirmView.as_view(),
         name="password_reset_confirm"),
    path("password/reset/done/", auth_views.PasswordResetCompleteView.as_view(),
         name="password_reset_complete"),
    path("invite/<str:token>/", public.invitation_accept_view, name="invitation_accept"),
    path("join/<str:token>/", public.invite_link_join_view, name="invite_link_join"),
    path("webhooks/replicate/", replicate_webhook, name="replicate_webhook"),
    path("webhooks/stripe/", stripe_webhook, name="stripe_webhook"),
    path("api/v1/", include("delivery.api.urls")),
    path("h/<str:token>/", headshot_variant, name="headshot_variant"),
    path("c/<slug:company_slug>/", include((teams_urls.urlpatterns + delivery_urls.teams_pages,
                                            "teams"))),
    path("c/<slug:company_slug>/", include("privacy.urls")),
    path("c/<slug:company_slug>/", include((generation_urls.urlpatterns
                                            + delivery_urls.generation_pages, "generation"))),
    path("c/<slug:company_slug>/", include("billing.urls")),
    path("c/<slug:company_slug>/", include("delivery.webhooks.urls")),
    # identity/: SSO, SCIM provisioning, two-factor, audit log
    path("", include("identity.urls")),
    path("accounts/", include("identity.sso.urls")),
    path("scim/v2/", include("identity.scim.urls")),
]

handler400 = "core.error_pages.bad_request"
handler403 = "core.error_pages.permission_denied"
handler404 = "core.error_pages.page_not_found"
handler500 = "core.error_pages.server_error"
