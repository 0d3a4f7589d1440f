"""Why a file FAILED: one code per reason, stored beside the message (`File.failure_code`)
and served as the GraphQL `FailureCode` enum, so clients and `storage_audit` act on the
code, never on the wording. Plain Python: the processors, which know nothing of Django,
raise with it too."""

import enum


class FailureCode(enum.StrEnum):
    """Each value is its name, written once (`auto()`)."""

    @staticmethod
    def _generate_next_value_(name, start, count, last_values):
        return name

    # The bytes: what the processors found.
    DAMAGED = enum.auto()  # they do not parse as their kind
    UNSUPPORTED = enum.auto()  # a format of that kind we do not read
    TOO_COMPLEX = enum.auto()  # past a limit: size, nesting, entries, ratio, memory
    # The stored copy: upload the file again.
    MISSING_BYTES = enum.auto()
    SIZE_MISMATCH = enum.auto()
    # The run: reprocessing may work.
    TOOK_TOO_LONG = enum.auto()
    TOO_MANY_ATTEMPTS = enum.auto()
    STORAGE_UNAVAILABLE = enum.auto()
    UNEXPECTED = enum.auto()
