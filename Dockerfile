FROM python:3.11-slim
WORKDIR /app
COPY setup.cfg pyproject.toml README.md ./
COPY actors actors
COPY web web
COPY storage storage
COPY integrations integrations
COPY cli cli
COPY settings.py gunicorn.conf.py Procfile ./
RUN pip install --no-cache-dir . && pip install --no-cache-dir --no-deps dramatiq-dashboard==0.4.0
ENV PYTHONUNBUFFERED=1
EXPOSE 8000
CMD ["gunicorn", "-c", "gunicorn.conf.py", "web.wsgi:app"]
