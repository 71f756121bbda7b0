from django.urls import path

from . import views

app_name = "billing"

urlpatterns = [
    path("admin/billing/", views.billing, name="billing"),
    path("admin/billing/buy/", views.buy, name="buy"),
    path("admin/billing/portal/", views.portal, name="portal"),
]
