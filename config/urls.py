from django.contrib import admin
from django.urls import include, path

from config import views

# Every name is namespaced by the part that serves it: "accounts:login", "providers:models".
urlpatterns = [
    path("", include("sessions_app.urls")),
    path("", include("providers.urls")),
    path("", include("usage.urls")),
    path("", include("gateways.urls")),
    path("accounts/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path(
        "",
        include(
            (
                [
                    path("healthz", views.healthz, name="healthz"),
                    path("favicon.ico", views.favicon, name="favicon"),
                ],
                "config",
            )
        ),
    ),
]
