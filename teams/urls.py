"""Company pages. Mounted under /c/<slug:company_slug>/ by config.urls."""

from django.urls import path

from .views import company as views
from .views import invitations, people, teams_and_settings

app_name = "teams"

urlpatterns = [
    path("", views.employee_home, name="employee_home"),
    path("admin/", views.dashboard, name="dashboard"),
    path("admin/people.csv", views.members_csv, name="members_csv"),
    path("admin/people/add/", people.member_add, name="member_add"),
    path("admin/people/<int:pk>/", people.member_detail, name="member_detail"),
    path("admin/people/<int:pk>/remove/", people.member_remove, name="member_remove"),
    path("admin/invite/", invitations.invite, name="invite"),
    path("admin/import/", invitations.csv_import, name="csv_import"),
    path("admin/import/template.csv", invitations.csv_import_template,
         name="csv_import_template"),
    path("admin/invitations/send/", invitations.invitations_send, name="invitations_send"),
    path("admin/invitations/<int:pk>/remind/", invitations.invitation_remind, name="invitation_remind"),
    path("admin/invitations/<int:pk>/revoke/", invitations.invitation_revoke, name="invitation_revoke"),
    path("admin/links/", invitations.invite_links, name="invite_links"),
    path("admin/links/<int:pk>/revoke/", invitations.invite_link_revoke, name="invite_link_revoke"),
    path("admin/teams/", teams_and_settings.teams, name="teams"),
    path("admin/teams/<int:pk>/", teams_and_settings.team_edit, name="team_edit"),
    path("admin/settings/", teams_and_settings.company_settings, name="company_settings"),
    path("admin/settings/transfer/", teams_and_settings.ownership_transfer, name="ownership_transfer"),
]
