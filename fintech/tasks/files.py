"""Celery tasks: files."""
