"""What a query may ask for, counted before it runs: the most its answer could be, in bytes.

Depth and alias limits count the shape of a query, not what it returns: 15 aliases of a
page of 100 archive listings pass both and ask for up to 160 MB. Here each field costs the
most its value can be (a string from a processor's result up to MAX_RESULT_STRING_BYTES, a
number a few bytes), times the longest its lists can be (a page of the `files` connection,
a result's list up to MAX_RESULT_ITEMS), aliases and fragments all counted. A query whose
worst case is over GRAPHQL_MAX_QUERY_COST is refused (GRAPHQL_VALIDATION_FAILED) before
anything is read; a query under it can still be refused once it runs, by the answer budget
(schema/graphql/answers.py), which counts what the answer really holds.

The count is an upper bound: every fragment of a union counts (a file has one result type),
and a page given as a variable counts as the largest page. Every list field in the schema
must have its bound in LIST_ITEMS (tests/test_query_cost.py checks it), or be a connection's
`edges`, whose bound is the page asked for.
"""

import functools

from django.conf import settings
from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    InlineFragmentNode,
    IntValueNode,
    ValidationRule,
    get_named_type,
    is_leaf_type,
)

from files_app.models import WebhookEvent
from files_app.processors import MAX_RESULT_ITEMS, MAX_RESULT_STRING_BYTES
from files_app.sizes import human_size

# A string or id: as long as the longest a result string may be (a file name is at most
# 255 characters, up to 1,020 bytes).
TEXT_BYTES = MAX_RESULT_STRING_BYTES
# A number, boolean, enum or date.
SCALAR_BYTES = 32
# A field's key, quotes, colon, comma and braces.
FRAMING_BYTES = 16
TEXT_TYPES = frozenset({"String", "ID"})
PAGE_ARGUMENTS = ("first", "last")
# The most items each list field holds; a callable takes the settings' values (`Bounds`).
LIST_ITEMS = {
    ("ArchiveResult", "entries"): MAX_RESULT_ITEMS,
    ("AudioResult", "tags"): MAX_RESULT_ITEMS,
    ("CsvResult", "header"): MAX_RESULT_ITEMS,
    ("CsvResult", "columns"): MAX_RESULT_ITEMS,
    ("CsvResult", "badRows"): MAX_RESULT_ITEMS,
    ("Mutation", "uploadFiles"): lambda bounds: bounds.files_per_request,
    ("UploadUrl", "fields"): 16,  # a presigned POST's form fields
    ("Query", "webhooks"): lambda bounds: settings.WEBHOOK_MAX_PER_USER,
    ("Webhook", "events"): len(WebhookEvent),
}
EDGES = "edges"


def is_list(output_type) -> bool:
    if isinstance(output_type, GraphQLNonNull):
        output_type = output_type.of_type
    return isinstance(output_type, GraphQLList)


def page_of(node: FieldNode, largest: int) -> int:
    """The page a connection field asks for: its literal `first`/`last`, else the largest."""
    for argument in node.arguments or ():
        if argument.name.value in PAGE_ARGUMENTS and isinstance(argument.value, IntValueNode):
            return max(0, min(int(argument.value.value), largest))
    return largest


class Bounds:
    def __init__(self, page_size: int, files_per_request: int):
        self.page_size, self.files_per_request = page_size, files_per_request

    def items(self, parent_name: str, field_name: str, page: int) -> int:
        if field_name == EDGES and parent_name.endswith("Connection"):
            return page
        bound = LIST_ITEMS[(parent_name, field_name)]
        return bound(self) if callable(bound) else bound


def cost_of(context, selection_set, parent_type, bounds: Bounds, page: int, seen: frozenset):
    """The most bytes `selection_set` on `parent_type` can answer."""
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += field_cost(context, selection, parent_type, bounds, page, seen)
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            on = context.schema.get_type(condition.name.value) if condition else parent_type
            if on is not None:
                total += cost_of(context, selection.selection_set, on, bounds, page, seen)
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = context.get_fragment(name)
            if fragment is None or name in seen:  # unknown or cyclic: other rules say so
                continue
            on = context.schema.get_type(fragment.type_condition.name.value)
            if on is not None:
                total += cost_of(context, fragment.selection_set, on, bounds, page, seen | {name})
    return total


def field_cost(context, node: FieldNode, parent_type, bounds: Bounds, page: int, seen) -> int:
    name = node.name.value
    fields = getattr(parent_type, "fields", {})
    if name.startswith("__") or name not in fields:  # introspection, or unknown (refused)
        return FRAMING_BYTES + TEXT_BYTES
    definition = fields[name]
    named = get_named_type(definition.type)
    if is_leaf_type(named):
        each = TEXT_BYTES if named.name in TEXT_TYPES else SCALAR_BYTES
    elif node.selection_set is None:
        each = 0
    else:
        inner_page = page_of(node, bounds.page_size) if node.arguments else page
        each = cost_of(context, node.selection_set, named, bounds, inner_page, seen)
    items = bounds.items(parent_type.name, name, page) if is_list(definition.type) else 1
    return FRAMING_BYTES + items * (each + FRAMING_BYTES)


@functools.cache
def query_cost_rule(limit: int, page_size: int, files_per_request: int) -> type:
    """A validation rule refusing an operation whose worst-case answer is over `limit`."""
    bounds = Bounds(page_size, files_per_request)

    class QueryCost(ValidationRule):
        def enter_operation_definition(self, node, *_):
            root = self.context.schema.get_root_type(node.operation)
            if root is None:
                return
            cost = cost_of(self.context, node.selection_set, root, bounds, page_size, frozenset())
            if cost > limit:
                self.report_error(
                    GraphQLError(
                        f"This query could return up to {human_size(cost)} (each field at its "
                        f"largest, times its lists and aliases); the most a query may ask for "
                        f"is {human_size(limit)}: ask for fewer fields, aliases or files at a "
                        "time (a smaller `first`).",
                        node,
                    )
                )

    return QueryCost
