"""Admin: servicing."""
