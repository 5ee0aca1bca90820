from django.urls import path

from gateways import views

app_name = "gateways"

urlpatterns = [
    path("gateways/providers/<int:pk>/names/", views.model_names, name="model_names"),
    path("gateways/models/<int:pk>/restore/", views.restore, name="restore"),
]
