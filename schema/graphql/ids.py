"""Ids arrive as Relay global ids (`File:…`, `Webhook:…`); a bare UUID is accepted too (handy
with curl). Written once for every type the API names by id."""

import uuid

import strawberry
from strawberry.relay import GlobalID

from files_app.exceptions import BadUserInput

FILE_TYPE_NAME = "File"
WEBHOOK_TYPE_NAME = "Webhook"


def decode_id(raw_id: strawberry.ID | str, *, type_name: str) -> uuid.UUID:
    value = str(raw_id)
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    try:
        global_id = GlobalID.from_id(value)
        if global_id.type_name != type_name:
            raise ValueError(global_id.type_name)
        return uuid.UUID(global_id.node_id)
    except Exception:
        raise BadUserInput(f"{value!r} is not a {type_name} id.") from None


def encode_id(pk: uuid.UUID, *, type_name: str) -> strawberry.ID:
    return strawberry.ID(str(GlobalID(type_name, str(pk))))


def decode_file_id(raw_id: strawberry.ID | str) -> uuid.UUID:
    return decode_id(raw_id, type_name=FILE_TYPE_NAME)


def encode_file_id(file_id: uuid.UUID) -> strawberry.ID:
    return encode_id(file_id, type_name=FILE_TYPE_NAME)


def decode_webhook_id(raw_id: strawberry.ID | str) -> uuid.UUID:
    return decode_id(raw_id, type_name=WEBHOOK_TYPE_NAME)


def encode_webhook_id(webhook_id: uuid.UUID) -> strawberry.ID:
    return encode_id(webhook_id, type_name=WEBHOOK_TYPE_NAME)
