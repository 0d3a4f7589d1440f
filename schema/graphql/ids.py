"""File ids arrive as Relay global ids; a bare UUID is accepted too (handy with curl)."""

import uuid

import strawberry
from strawberry.relay import GlobalID

from files_app.exceptions import BadUserInput

FILE_TYPE_NAME = "File"


def decode_file_id(raw_id: strawberry.ID | str) -> uuid.UUID:
    value = str(raw_id)
    try:
        return uuid.UUID(value)
    except ValueError:
        pass
    try:
        global_id = GlobalID.from_id(value)
        if global_id.type_name != FILE_TYPE_NAME:
            raise ValueError(global_id.type_name)
        return uuid.UUID(global_id.node_id)
    except Exception:
        raise BadUserInput(f"{value!r} is not a File id.") from None


def encode_file_id(file_id: uuid.UUID) -> strawberry.ID:
    return strawberry.ID(str(GlobalID(FILE_TYPE_NAME, str(file_id))))
