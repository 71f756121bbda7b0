from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("consent/", views.consent, name="consent"),
    path("consent/declined/", views.consent_decline, name="consent_decline"),
    path("consent/withdraw/", views.consent_withdraw_view, name="consent_withdraw"),
    path("admin/consent/", views.notice_edit, name="notice_edit"),
    path("admin/people/<int:pk>/consent/", views.paper_consent, name="paper_consent"),
]
