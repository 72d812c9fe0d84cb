"""gunicorn entry point: `gunicorn -c gunicorn.conf.py web.wsgi:app`."""
import settings
from web.app import create_app

app = create_app()
settings.configure_logging(app.settings.log_level)
