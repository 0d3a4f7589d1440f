"""Every answer has a byte budget (`GRAPHQL_MAX_ANSWER_BYTES`), over HTTP and websockets.

Result strings and lists are capped, but a query can still ask for the same big field many
times (aliases, a page of 100 files): 16 copies of a page of archive listings make a 153 MB
answer, and +342 MiB of web RSS to build it. The budget is kept twice, so the process never
holds more than about the budget of one answer:

- while executing (`BudgetedExecution`): each scalar a field completes counts its UTF-8
  bytes (plus a key's worth of framing); past the budget execution stops at once, the data
  built so far is dropped and the answer is one `ANSWER_TOO_LARGE` error;
- while serialising (`encode`): the JSON is written piece by piece, strings through the
  standard library's C escaper, and stops as soon as it passes the budget, so escapes
  (a control character is 6 bytes of JSON) cannot take it over either.

Answers are UTF-8 (`ensure_ascii` off): with it, one emoji would be 12 bytes instead of 4. A
string holding a lone surrogate (a tar name decoded with `surrogateescape`) is escaped as
ASCII instead, which is still valid JSON.
"""

from json.encoder import encode_basestring, encode_basestring_ascii

from django.conf import settings
from graphql import GraphQLError, located_error
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from files_app.sizes import human_size

# What a completed scalar costs beyond its own bytes: its key, quotes, colon and comma.
FRAMING_BYTES = 8
# A number, boolean or null: at most this many bytes of JSON.
SCALAR_BYTES = 24


class AnswerTooLarge(Exception):
    """An answer passed its byte budget: the client asked for too much at once."""

    def __init__(self, limit: int):
        super().__init__(
            f"The answer is larger than {human_size(limit)}, the most one answer may be: ask "
            "for fewer fields, aliases or files at a time (a smaller `first`)."
        )
        self.limit = limit


def limit() -> int:
    return settings.GRAPHQL_MAX_ANSWER_BYTES


def text_bytes(value: str) -> int:
    return len(value) if value.isascii() else len(value.encode("utf-8", "surrogatepass"))


class BudgetedExecution(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, counting what it completes against the answer budget.

    Over it, `AnswerTooLarge` is raised where the scalar was completed and re-raised by
    every field above it, whatever its nullability, so execution ends there: the result is
    no data and that one error (graphql-core keeps an error raised at the root and drops the
    data, as it does for a non-null field's)."""

    spent = 0

    def complete_leaf_value(self, return_type, result):
        completed = super().complete_leaf_value(return_type, result)
        if type(completed) is str:
            self.spent += text_bytes(completed) + FRAMING_BYTES
        else:
            self.spent += SCALAR_BYTES
        if self.spent > limit():
            raise AnswerTooLarge(limit())
        return completed

    def handle_field_error(self, raw_error, return_type, field_details_list, path):
        original = raw_error.original_error if isinstance(raw_error, GraphQLError) else raw_error
        if isinstance(original, AnswerTooLarge):
            nodes = [details.node for details in field_details_list]
            raise located_error(raw_error, nodes, path.as_list())
        super().handle_field_error(raw_error, return_type, field_details_list, path)


class Writer:
    """JSON text in pieces, counting its UTF-8 bytes against a budget."""

    def __init__(self, budget: int):
        self.pieces: list[str] = []
        self.left = budget

    def put(self, piece: str, size: int) -> None:
        self.left -= size
        if self.left < 0:
            raise AnswerTooLarge(limit())
        self.pieces.append(piece)

    def string(self, value: str) -> None:
        if value.isascii():
            escaped = encode_basestring(value)
            self.put(escaped, len(escaped))
            return
        escaped = encode_basestring(value)
        try:
            size = len(escaped.encode())
        except UnicodeEncodeError:  # a lone surrogate: escaped as ASCII, still valid JSON
            escaped = encode_basestring_ascii(value)
            size = len(escaped)
        self.put(escaped, size)

    def value(self, value) -> None:
        kind = type(value)
        if kind is str:
            self.string(value)
        elif kind is dict:
            self.put("{", 1)
            for index, (key, item) in enumerate(value.items()):
                if index:
                    self.put(",", 1)
                self.string(str(key))
                self.put(":", 1)
                self.value(item)
            self.put("}", 1)
        elif kind is list or kind is tuple:
            self.put("[", 1)
            for index, item in enumerate(value):
                if index:
                    self.put(",", 1)
                self.value(item)
            self.put("]", 1)
        elif value is None:
            self.put("null", 4)
        elif value is True:
            self.put("true", 4)
        elif value is False:
            self.put("false", 5)
        elif isinstance(value, int):
            text = int.__repr__(value)
            self.put(text, len(text))
        elif isinstance(value, float):
            text = float.__repr__(value)  # GraphQL floats are finite
            self.put(text, len(text))
        elif isinstance(value, str):  # an enum's value (StrEnum)
            self.string(str(value))
        else:
            raise TypeError(f"Cannot encode {kind.__name__} as JSON")


def encode(data, budget: int | None = None) -> bytes:
    """`data` as compact UTF-8 JSON; AnswerTooLarge as soon as it passes `budget` bytes
    (the answer budget by default), before the rest is written."""
    writer = Writer(limit() if budget is None else budget)
    writer.value(data)
    return "".join(writer.pieces).encode("utf-8")
