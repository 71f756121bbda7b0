from django.urls import path

from . import views

app_name = "privacy"

urlpatterns = [
    path("consent/", views.consent, name="consent"),
    path("consent/declined/", views.consent_decline, name="consent_decline"),
    path("consent/withdraw/", views.consent_withdraw_view, name="consent_withdraw"),
    path("admin/consent/", views.notice_edit, name="notice_edit"),
    path("admin/people/<int:pk>/consent/", views.paper_consent, name="paper_consent"),
    path("privacy/my-data/", views.my_data, name="my_data"),
    path("privacy/my-data/export/", views.my_data_export, name="my_data_export"),
    path("privacy/my-data/erase/", views.my_data_erase, name="my_data_erase"),
    path("privacy/exports/<int:pk>/download/", views.export_download, name="export_download"),
    path("admin/privacy/", views.privacy_admin, name="privacy_admin"),
    path("admin/people/<int:pk>/data/<str:kind>/", views.member_data_request,
         name="member_data_request"),
    path("admin/close/", views.company_close_view, name="company_close"),
]
