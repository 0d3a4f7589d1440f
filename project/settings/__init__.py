"""Settings, read from the environment (12-factor), one module per topic.

`env` reads the environment; each topic module after it imports what it needs from the ones
before, and this package gathers them in that order, so `DJANGO_SETTINGS_MODULE` stays
`project.settings`. Every variable is documented in `.env.example`.
"""

from project.settings.env import *
from project.settings.base import *
from project.settings.security import *
from project.settings.database import *
from project.settings.storage import *
from project.settings.uploads import *
from project.settings.graphql import *
from project.settings.celery_channels import *
from project.settings.processing import *
from project.settings.observability import *
from project.settings.webhooks import *
