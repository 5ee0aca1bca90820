from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from config import views

# Only the auth views a signed-in team needs: there is no e-mail set up for resets.
account_patterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password_change/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
]

urlpatterns = [
    path("", include("sessions_app.urls")),
    path("", include("providers.urls")),
    path("accounts/", include(account_patterns)),
    path("settings/", include("accounts.urls")),
    path("admin/", admin.site.urls),
    path("healthz", views.healthz, name="healthz"),
]
