from django.urls import path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views

app_name = "api"


class DocsView(SpectacularSwaggerSplitView):
    """Swagger UI with its init script served from ?script, not inline: the page works under
    our Content-Security-Policy. The page is HTML for browsers: OPTIONS would render DRF's
    metadata into the template."""

    http_method_names = ["get", "head"]


class SchemaView(SpectacularAPIView):
    http_method_names = ["get", "head"]

urlpatterns = [
    path("people/", views.PeopleList.as_view(), name="people"),
    path("people/<int:pk>/", views.PersonDetail.as_view(), name="person"),
    path("headshots/", views.HeadshotList.as_view(), name="headshots"),
    path("headshots/<int:pk>/", views.HeadshotDetail.as_view(), name="headshot"),
    path("invitations/", views.InvitationCreate.as_view(), name="invitations"),
    path("jobs/", views.JobList.as_view(), name="jobs"),
    path("jobs/<int:pk>/", views.JobDetail.as_view(), name="job"),
    path("schema/", SchemaView.as_view(), name="schema"),
    path("docs/", DocsView.as_view(url_name="api:schema"), name="docs"),
]
