"""WSGI entry point for gunicorn: `gunicorn wsgi:app`."""

from moderation import create_app

app = create_app()
