from . import origination, parties, patents, risk, servicing, subsidies  # noqa: F401  (registers the admin classes)
