from django.contrib import admin
from django.urls import include, path

from config import views

urlpatterns = [
    path("", include("providers.urls")),
    path("accounts/", include("django.contrib.auth.urls")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
]
