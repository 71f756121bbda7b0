from django.urls import path

from .views import admin, headshots, looks_outdated
from .views import selfies as views

app_name = "generation"

urlpatterns = [
    path("selfies/", views.selfies, name="selfies"),
    path("selfies/<int:pk>/image/", views.selfie_image, name="selfie_image"),
    path("selfies/<int:pk>/thumb/", views.selfie_thumb, name="selfie_thumb"),
    path("selfies/<int:pk>/status/", views.selfie_status, name="selfie_status"),
    path("selfies/status/", views.selfie_statuses, name="selfie_statuses"),
    path("selfies/<int:pk>/delete/", views.selfie_delete_view, name="selfie_delete"),
    path("admin/people/<int:pk>/selfies/", views.member_selfies, name="member_selfies"),
    path("headshots/", headshots.headshots, name="headshots"),
    path("headshots/progress/", headshots.headshots_progress, name="headshots_progress"),
    path("jobs/<int:pk>/status/", headshots.job_status, name="job_status"),
    path("headshots/start/", headshots.headshots_start, name="headshots_start"),
    path("headshots/redo/", headshots.headshots_redo, name="headshots_redo"),
    path("candidates/<int:pk>/favourite/", headshots.candidate_favourite,
         name="candidate_favourite"),
    path("candidates/<int:pk>/image/", headshots.candidate_image, name="candidate_image"),
    path("candidates/<int:pk>/thumb/", headshots.candidate_thumb, name="candidate_thumb"),
    path("admin/looks/", admin.looks, name="looks"),
    path("admin/looks/<int:pk>/", admin.look_version, name="look_version"),
    path("admin/looks/outdated/", looks_outdated.outdated_headshots, name="outdated_headshots"),
    path("admin/generate/", admin.generate_for_team, name="generate_for_team"),
    path("admin/review/", admin.review, name="review"),
    path("admin/review/<int:pk>/", admin.review_decide, name="review_decide"),
    path("admin/uniformity/", admin.uniformity, name="uniformity"),
    path("admin/hidden-photos/", admin.audit, name="audit"),
    path("admin/hidden-photos/<int:pk>/thumb/", admin.audit_thumb, name="audit_thumb"),
    path("admin/batches/", admin.batches, name="batches"),
]
