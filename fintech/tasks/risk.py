"""Celery tasks: risk."""
