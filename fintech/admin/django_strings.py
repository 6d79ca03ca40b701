"""Strings of Django's own admin templates that Django's Chinese catalogue leaves in English
(the sidebar's table caption and its links' labels). Marked here so that `makemessages` keeps
them in our catalogue, which is searched before Django's; nothing imports these names."""

from django.utils.translation import gettext_noop

DJANGO_ADMIN_STRINGS = (
    gettext_noop("Model name"),
    gettext_noop("Add link"),
    gettext_noop("Change or view list link"),
)
