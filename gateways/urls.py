from django.urls import path

from gateways import import_views, sync_views, views

app_name = "gateways"

urlpatterns = [
    path("gateways/", sync_views.gateways, name="gateways"),
    path("gateways/status/", sync_views.status, name="status"),
    path("gateways/sync/", sync_views.start_sync, name="sync"),
    path("gateways/runs/<int:pk>/", sync_views.run_progress, name="run"),
    path("gateways/stats.json", sync_views.stats, name="stats"),
    path("gateways/import/", import_views.import_gateway, name="import"),
    path("gateways/uni-api/api.yaml", sync_views.download_api_yaml, name="download_api_yaml"),
    path("gateways/providers/<int:pk>/names/", views.model_names, name="model_names"),
    path("gateways/models/<int:pk>/restore/", views.restore, name="restore"),
]
