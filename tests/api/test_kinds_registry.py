"""Kinds and results are each defined once: the GraphQL enum and union follow the processors.

Pure checks against the built schema (no database, no server): a kind added to
`processors.kinds`, or a processor added to `PROCESSORS` without its result type, fails here.
"""

from files_app import processors
from files_app.processors import kinds
from schema.graphql.api import schema
from schema.graphql.results import RESULT_TYPES


def sdl_type(name: str):
    return schema._schema.get_type(name)


def test_the_graphql_file_kind_enum_is_the_processors_kinds():
    assert list(sdl_type("FileKind").values) == [kind.value for kind in kinds.FileKind]


def test_every_processor_has_a_graphql_result_type():
    assert set(RESULT_TYPES) == set(processors.PROCESSORS)
    union = {member.name for member in sdl_type("FileResult").types}
    built_in = {entry.type.__strawberry_definition__.name for entry in RESULT_TYPES.values()}
    assert union == built_in | {"CustomResult"}  # every processor from outside (FILE_PROCESSORS)


def test_only_processors_from_outside_make_custom_files():
    assert processors.FileKind.CUSTOM not in processors.PROCESSORS
