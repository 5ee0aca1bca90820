from django.urls import path

from usage import views

app_name = "usage"

urlpatterns = [
    path("usage/", views.usage, name="dashboard"),
    path("usage/records.csv", views.records_csv, name="records_csv"),
    path("usage/charts.css", views.charts_css, name="charts_css"),
]
