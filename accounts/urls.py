"""A person's account: signing in and out, their password, their own settings and keys."""

from django.contrib.auth import views as auth_views
from django.urls import path, reverse_lazy

from accounts import views

app_name = "accounts"

# Only the auth views a signed-in team needs: there is no e-mail set up for resets.
urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "password_change/",
        # Our own templates: the defaults are the admin's, with its header and a Home link
        # to /admin/, which most people may not open.
        auth_views.PasswordChangeView.as_view(
            template_name="accounts/password_change_form.html",
            success_url=reverse_lazy("accounts:password_change_done"),
        ),
        name="password_change",
    ),
    path(
        "password_change/done/",
        auth_views.PasswordChangeDoneView.as_view(
            template_name="accounts/password_change_done.html"
        ),
        name="password_change_done",
    ),
    path("settings/", views.settings_page, name="settings"),
    path("settings/default-model/", views.save_default_model, name="save_default_model"),
    path("settings/keys/<int:provider_id>/", views.save_key, name="save_key"),
    path("settings/keys/<int:provider_id>/remove/", views.remove_key, name="remove_key"),
]
