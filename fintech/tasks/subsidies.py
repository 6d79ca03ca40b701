"""Celery tasks: subsidies."""
