"""Accounts made from the command line (`manage.py create_user`): the admin makes the rest."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError

from ..exceptions import BadUserInput


def user_create(*, username: str, password: str | None = None, is_staff: bool = False):
    """A new user who may log in; returns (user, password). Without `password` one is
    generated, to be shown once. Staff may use the admin but see only their own files until
    given the `view_file` permission; superusers are made with `createsuperuser`."""
    User = get_user_model()
    if not username.strip():
        raise BadUserInput("Name the user: a username may not be empty.")
    if User.objects.filter(username=username).exists():
        raise BadUserInput(f"A user named {username!r} already exists.")
    password = password or secrets.token_urlsafe(12)
    try:  # AUTH_PASSWORD_VALIDATORS, as the admin's and Django's own forms apply them
        validate_password(password, user=User(username=username, is_staff=is_staff))
    except ValidationError as refused:
        raise BadUserInput("This password is refused: " + " ".join(refused.messages)) from None
    user = User.objects.create_user(username, password=password, is_staff=is_staff)
    return user, password
