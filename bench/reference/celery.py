"""`celery -A bench.reference.celery worker --pool=solo`"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "bench.reference.settings")
app = Celery("reference")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["bench.reference"])
