from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class FintechConfig(AppConfig):
    name = "fintech"
    verbose_name = _("Patent-pledge financing")
