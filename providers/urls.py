from django.urls import path

from providers import views

urlpatterns = [
    path("models/", views.catalogue, name="models"),
]
