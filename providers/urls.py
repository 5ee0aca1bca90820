from django.urls import path

from providers import views

app_name = "providers"

urlpatterns = [
    path("models/", views.model_list, name="models"),
    path("models/search/", views.model_search, name="model_search"),
]
