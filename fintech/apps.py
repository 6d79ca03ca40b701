from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FintechConfig(AppConfig):
    name = "fintech"
    verbose_name = _("Patent-pledge financing")

    def ready(self) -> None:
        import config.safety  # noqa: F401  (registers the production-settings check)
