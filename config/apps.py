from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """The project's own settings-level pieces: its deployment checks (config/checks.py)."""

    name = "config"

    def ready(self) -> None:
        from config import checks

        checks.count_subclasses()
