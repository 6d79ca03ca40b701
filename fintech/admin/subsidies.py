"""Admin: subsidies."""
