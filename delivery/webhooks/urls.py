"""Integration pages. Mounted under /c/<slug:company_slug>/ by config.urls."""

from django.urls import path

from . import views

app_name = "integrations"

urlpatterns = [
    path("admin/webhooks/", views.webhooks, name="webhooks"),
    path("admin/webhooks/<int:pk>/", views.webhook_detail, name="webhook_detail"),
    path("admin/webhooks/<int:pk>/delete/", views.webhook_delete, name="webhook_delete"),
    path("admin/webhooks/deliveries/<int:pk>/resend/", views.delivery_resend,
         name="delivery_resend"),
]
