"""JSON: valid or not (with the error's line and column), top-level type and size — streamed.

ijson parses the file as a stream in constant memory; only when a file is invalid and small
enough is it parsed again whole, to say exactly where the error is. Nesting deeper than
`max_json_depth` ends the file FAILED: the parser's stack, and the exact-error pass's
recursion, grow with it, and nothing real nests that deep.
"""

import json

import ijson

from ..failures import FailureCode
from .base import ProcessingError, ProcessingSource, Result
from .encoding import UTF8_BOM

SCALAR_TYPES = {"string": "string", "number": "number", "boolean": "boolean", "null": "null"}
ITEM_START_EVENTS = {"start_map", "start_array", "string", "number", "boolean", "null"}
DEPTH_CHANGE = {"start_map": 1, "start_array": 1, "end_map": -1, "end_array": -1}


def result_fields(
    valid,
    top_level_type=None,
    key_count=None,
    item_count=None,
    error=None,
    error_line=None,
    error_column=None,
) -> dict:
    return {
        "valid": valid,
        "error": error,
        "error_line": error_line,
        "error_column": error_column,
        "top_level_type": top_level_type,
        "key_count": key_count,
        "item_count": item_count,
    }


def skip_bom(reader) -> None:
    if reader.raw.read(len(UTF8_BOM)) != UTF8_BOM:
        reader.raw.seek(0)


def exact_error(source: ProcessingSource) -> dict:
    source.stream.seek(0)
    text = source.stream.read().decode("utf-8-sig", errors="replace")
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        return result_fields(
            False, error=error.msg, error_line=error.lineno, error_column=error.colno
        )
    return result_fields(False, error="Not valid JSON.")


def process(source: ProcessingSource) -> Result:
    reader = source.progress_reader()
    skip_bom(reader)
    top_level_type = None
    keys = items = depth = 0
    most = source.limits.max_json_depth
    try:
        # basic_parse, not parse: parse gives every event the path to it, a string as long
        # as the nesting, and builds a whole buffer's events at once (200,000 `[` in 400 KB:
        # 10 GiB). The depth is tracked here instead, and checked at each level.
        for event, _value in ijson.basic_parse(reader, multiple_values=False):
            if top_level_type is None:
                top_level_type = {"start_map": "object", "start_array": "array"}.get(
                    event, SCALAR_TYPES.get(event, "number")
                )
            if depth == 1 and event == "map_key":
                keys += 1
            elif depth == 1 and event in ITEM_START_EVENTS:
                items += 1
            depth += DEPTH_CHANGE.get(event, 0)
            if depth > most:
                raise ProcessingError(
                    f"This JSON is nested more than {most} levels deep, more than we process.",
                    FailureCode.TOO_COMPLEX,
                )
        if top_level_type is None:
            raise ijson.common.IncompleteJSONError("The file holds no JSON value.")
    except (ijson.JSONError, UnicodeDecodeError, ValueError) as error:
        if source.size <= source.limits.json_exact_error_max_bytes:
            result = exact_error(source)
        else:
            result = result_fields(False, error=str(error).strip() or "Not valid JSON.")
        source.report_progress(1.0)
        return Result(fields=result)
    source.report_progress(1.0)
    return Result(
        fields=result_fields(
            True,
            top_level_type,
            key_count=keys if top_level_type == "object" else None,
            item_count=items if top_level_type == "array" else None,
        )
    )
