"""The GraphQL multipart request spec's rules, strictly: `operations`, then `map`, then one
file part per map entry (github.com/jaydenseric/graphql-multipart-request-spec).

Anything ambiguous is refused rather than guessed, so no upload is ever dropped without a
word: a field or part sent twice, a JSON key given twice, a part `map` does not name, a part
mapped to two places, a path that does not lead to a null inside `variables`.
"""

import json

from files_app.numbers import parse_digits

from ..errors import EdgeError, ErrorCode

OPERATIONS = "operations"
MAP = "map"
VARIABLES_KEY = "variables"


class DuplicateKey(ValueError):
    pass


def refuse_duplicate_keys(pairs: list[tuple]) -> dict:
    """json.loads would keep the last of two equal keys and drop the other without a word."""
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def load_json(raw: bytes, what: str, code: ErrorCode):
    """Strict JSON: duplicate keys refused; nesting deep enough to exhaust the parser's
    recursion (a few kilobytes of `[[[[`) is a client error, not a 500."""
    try:
        return json.loads(raw, object_pairs_hook=refuse_duplicate_keys)
    except DuplicateKey as duplicate:
        raise EdgeError(f"{what} has the key {duplicate.args[0]!r} twice.", code) from None
    except RecursionError:
        raise EdgeError(f"{what} is nested too deeply.", code) from None
    except (TypeError, ValueError):
        raise EdgeError(f"{what} is not valid JSON.", code) from None


def parse_operations(raw: bytes):
    operations = load_json(raw, f"The `{OPERATIONS}` field", ErrorCode.INVALID_UPLOAD)
    if isinstance(operations, list):
        raise EdgeError(
            "Batched operations are not supported: send one operation a request.",
            ErrorCode.BAD_REQUEST,
        )
    if not isinstance(operations, dict):
        raise EdgeError.invalid_upload("`operations` must be a JSON object.")
    return operations


def parse_map(raw: bytes, *, max_files: int) -> dict[str, str]:
    """part name -> the one path it fills. Checked before any file byte arrives."""
    files_map = load_json(raw, f"The `{MAP}` field", ErrorCode.INVALID_UPLOAD)
    if not isinstance(files_map, dict):
        raise EdgeError.invalid_upload("`map` must be a JSON object of part name -> paths.")
    if len(files_map) > max_files:
        raise EdgeError(
            f"Too many files: at most {max_files} in one request.", ErrorCode.TOO_MANY_FILES
        )
    paths = {}
    for part_name, part_paths in files_map.items():
        if (
            not isinstance(part_paths, list)
            or not part_paths
            or not all(isinstance(path, str) for path in part_paths)
        ):
            raise EdgeError.invalid_upload(
                f"map entry {part_name!r} must be a non-empty list of paths."
            )
        if len(part_paths) > 1:
            raise EdgeError.invalid_upload(
                f"map maps the part {part_name!r} to {len(part_paths)} places; "
                "send each file once, in its own part."
            )
        paths[part_name] = part_paths[0]
    if len(set(paths.values())) < len(paths):
        raise EdgeError.invalid_upload("map maps two parts to the same path.")
    return paths


def check_path(operations, path: str) -> None:
    """Refuse a path that does not lead to a null inside `variables`, before any bytes."""
    put_file_at(operations, path, None, check_only=True)


def put_file_at(operations: dict, path: str, file, *, check_only: bool = False) -> None:
    """Replace the null at `path` (e.g. `variables.files.0`) with the file, refusing any path
    that does not lead to a variable."""
    keys = path.split(".")
    target = operations
    if len(keys) < 2 or keys[0] != VARIABLES_KEY:
        raise EdgeError.invalid_upload(f"map path {path!r} does not point into `variables`.")
    for depth, key in enumerate(keys):
        last = depth == len(keys) - 1
        position = parse_digits(key)
        if isinstance(target, list) and position is not None and position < len(target):
            index = position
        elif isinstance(target, dict) and key in target:
            index = key
        else:
            raise EdgeError.invalid_upload(f"map path {path!r} does not exist in `operations`.")
        if last:
            if target[index] is not None:
                raise EdgeError.invalid_upload(f"map path {path!r} must point at a null value.")
            if not check_only:
                target[index] = file
        else:
            target = target[index]
