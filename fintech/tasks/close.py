"""Celery tasks: close."""
