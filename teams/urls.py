"""Company pages. Mounted under /c/<slug:company_slug>/ by config.urls."""

from django.urls import path

from .views import company as views

app_name = "teams"

urlpatterns = [
    path("", views.employee_home, name="employee_home"),
    path("admin/", views.dashboard, name="dashboard"),
    path("admin/people.csv", views.members_csv, name="members_csv"),
    path("admin/people/add/", views.member_add, name="member_add"),
    path("admin/people/<int:pk>/", views.member_detail, name="member_detail"),
    path("admin/people/<int:pk>/remove/", views.member_remove, name="member_remove"),
    path("admin/invite/", views.invite, name="invite"),
    path("admin/import/", views.csv_import, name="csv_import"),
    path("admin/invitations/send/", views.invitations_send, name="invitations_send"),
    path("admin/invitations/<int:pk>/remind/", views.invitation_remind, name="invitation_remind"),
    path("admin/invitations/<int:pk>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("admin/links/", views.invite_links, name="invite_links"),
    path("admin/links/<int:pk>/revoke/", views.invite_link_revoke, name="invite_link_revoke"),
    path("admin/teams/", views.teams, name="teams"),
    path("admin/teams/<int:pk>/", views.team_edit, name="team_edit"),
    path("admin/settings/", views.company_settings, name="company_settings"),
    path("admin/settings/transfer/", views.ownership_transfer, name="ownership_transfer"),
]
