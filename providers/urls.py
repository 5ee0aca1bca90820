from django.urls import path

from providers import views

urlpatterns = [
    path("", views.catalogue, name="home"),
]
