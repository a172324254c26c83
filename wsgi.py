"""Entry point for `flask --app wsgi` and WSGI servers."""
from crm import create_app

app = create_app()
