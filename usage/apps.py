from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = "Usage and quotas"

    def ready(self) -> None:
        from usage import health  # the models are loaded only now

        health.register()
