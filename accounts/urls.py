from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.settings_page, name="settings"),
    path("default-model/", views.save_default_model, name="settings_default_model"),
    path("keys/<int:provider_id>/", views.save_key, name="settings_save_key"),
    path("keys/<int:provider_id>/remove/", views.remove_key, name="settings_remove_key"),
]
