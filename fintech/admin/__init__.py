from . import parties, patents  # noqa: F401  (registers the admin classes)
