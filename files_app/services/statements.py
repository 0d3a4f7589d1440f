"""A file's state change as one `UPDATE … RETURNING` statement, its SQL compiled once.

Django compiles a queryset's SQL on every call: for a small file that compiling was most of a
worker's CPU (profiled: the UPDATE of each transition, then the SELECT that read the row
back). Here the SQL of a change is built once per shape (the fields set, the conditions) and
kept; a call only converts its values into parameters. The conditions written as `Q` (the
lease's, the sweep's) and the expressions set (`F("attempts") + 1`, a lease's end on the
database's clock) are compiled by Django, once each, so they stay written in one place.

RETURNING hands back the whole row in the same round trip (PostgreSQL; SQLite since 3.35),
converted as Django converts a SELECT's columns, so no read follows a write. A change that
webhooks hear of also returns whether the file's owner has any webhook (`owner_webhooks`), so
the many owners without one cost no query after it.
"""

import functools

from django.contrib.auth import get_user_model
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.models import Q
from django.db.models.sql import UpdateQuery

from ..models import File, Webhook

FIELDS = tuple(File._meta.concrete_fields)
FIELD = {field.name: field for field in FIELDS}


def quoted(name: str) -> str:
    return connection.ops.quote_name(name)


@functools.lru_cache(maxsize=16)
def returning(vendor: str) -> tuple[str, tuple]:
    """The RETURNING clause (every column, in the model's order) and, per column, the
    converters Django would apply to it in a SELECT."""
    if vendor == "sqlite" and connection.Database.sqlite_version_info < (3, 35):
        raise ImproperlyConfigured(
            f"SQLite {connection.Database.sqlite_version} has no UPDATE … RETURNING (3.35 "
            "and later have): use PostgreSQL, or a Python built with a newer SQLite."
        )
    columns = ", ".join(quoted(field.column) for field in FIELDS)
    converters = []
    for field in FIELDS:
        column = field.get_col(File._meta.db_table)
        converters.append(
            (
                column,
                tuple(connection.ops.get_db_converters(column))
                + tuple(column.get_db_converters(connection)),
            )
        )
    return f"RETURNING {columns}", tuple(converters)


def compiled(node) -> tuple[str, tuple]:
    """A condition (`Q`) or an expression, as Django compiles it into an UPDATE."""
    query = UpdateQuery(File)
    compiler = query.get_compiler(connection=connection)
    if isinstance(node, Q):
        where = query.build_where(node)
        sql, params = compiler.compile(where)
    else:
        sql, params = compiler.compile(node.resolve_expression(query, allow_joins=False))
    return sql, tuple(params)


@functools.lru_cache(maxsize=256)
def compiled_once(vendor: str, node) -> tuple[str, tuple]:
    """`compiled`, kept: a Q or an expression is hashable by what it says (the lease's
    conditions are the same objects' equals on every call)."""
    return compiled(node)


def owner_webhooks() -> str:
    """A RETURNING column: whether the changed file's owner has a webhook (one probe of the
    webhooks' owner index). It reads the statement's snapshot: see `processing.transition`."""
    files, webhooks, owner = (
        quoted(File._meta.db_table),
        quoted(Webhook._meta.db_table),
        quoted("owner_id"),
    )
    return f"EXISTS (SELECT 1 FROM {webhooks} WHERE {webhooks}.{owner} = {files}.{owner})"


@functools.lru_cache(maxsize=256)
def statement(
    vendor: str,
    assigned: tuple,
    equal: tuple,
    status_count: int,
    condition: str,
    with_owner_webhooks: bool,
) -> str:
    """The SQL of one shape of change. `assigned`: (field, SQL of its value); `equal`: the
    fields compared to a parameter; `status_count`: how many statuses the row may be in;
    `condition`: a compiled condition's SQL, or ""; `with_owner_webhooks`: RETURNING also
    `owner_webhooks`."""
    table = quoted(File._meta.db_table)
    sets = ", ".join(f"{quoted(FIELD[name].column)} = {sql}" for name, sql in assigned)
    wheres = [f"{quoted(FIELD[name].column)} = %s" for name in ("id", *equal)]
    if status_count:
        wheres.append(f"{quoted('status')} IN ({', '.join(['%s'] * status_count)})")
    if condition:
        wheres.append(f"({condition})")
    columns = returning(vendor)[0] + (f", {owner_webhooks()}" if with_owner_webhooks else "")
    return f"UPDATE {table} SET {sets} WHERE {' AND '.join(wheres)} {columns}"


def prepared(
    file_id, *, only_if=(), where=None, changes: dict, with_owner_webhooks: bool = False
) -> tuple[str, list]:
    """The SQL and parameters of `UPDATE file SET changes WHERE id, only_if, where`; with
    `with_owner_webhooks`, the File returned says whether its owner has a webhook
    (`owner_has_webhooks`)."""
    vendor = connection.vendor
    assigned, params = [], []
    for name, value in changes.items():
        if hasattr(value, "resolve_expression"):
            sql, expression_params = compiled_once(vendor, value)
            assigned.append((name, sql))
            params.extend(expression_params)
        else:
            assigned.append((name, "%s"))
            params.append(FIELD[name].get_db_prep_save(value, connection=connection))
    params.append(FIELD["id"].get_db_prep_value(FIELD["id"].to_python(file_id), connection))
    equal = ()
    condition = ""
    if isinstance(where, Q):
        condition, condition_params = compiled_once(vendor, where)
    else:
        equal = tuple(where or ())
        condition_params = ()
        for name in equal:
            params.append(FIELD[name].get_db_prep_value(where[name], connection))
    params.extend(str(status) for status in only_if)
    params.extend(condition_params)
    sql = statement(vendor, tuple(assigned), equal, len(only_if), condition, with_owner_webhooks)
    return sql, params


def row_to_file(row) -> File:
    """A RETURNING row as a File, converted as a SELECT's would be; a column after the
    model's (`owner_webhooks`) becomes its `owner_has_webhooks` (a boolean on PostgreSQL, 0
    or 1 on SQLite), not a field."""
    _, converters = returning(connection.vendor)
    values = []
    for value, (column, each) in zip(row[: len(FIELDS)], converters, strict=True):
        for converter in each:
            value = converter(value, column, connection)
        values.append(value)
    file = File.from_db(connection.alias, None, values)
    if len(row) > len(FIELDS):
        file.owner_has_webhooks = bool(row[len(FIELDS)])
    return file


def execute(sql: str, params) -> File | None:
    """Run a statement ending in RETURNING: the changed row, or None when none matched.
    Every row is fetched, so SQLite has finished the statement (and let go of its write
    lock) before the cursor closes."""
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    return row_to_file(rows[-1]) if rows else None


def owner_locked(sql: str, params: list, *, file_id) -> tuple[str, list]:
    """`sql` preceded by a lock on the file's owner's row (NO KEY UPDATE: see
    `fair_share.user_lock`), in the same round trip. On
    PostgreSQL an UPDATE's subqueries read the snapshot taken when it began, before it waited
    for any lock, so a count of the owner's files made inside it could miss a start committed
    meanwhile; a statement of its own that takes the lock first makes the UPDATE's snapshot
    later than every start it waited for. Both go as one query string: one round trip, one
    implicit transaction (the lock lasts until the UPDATE is done). SQLite runs one write at
    a time, so the UPDATE alone counts right."""
    if connection.vendor != "postgresql":
        return sql, params
    users = quoted(get_user_model()._meta.db_table)
    files = quoted(File._meta.db_table)
    lock = (
        f"SELECT 1 FROM {users} WHERE {quoted('id')} = "
        f"(SELECT {quoted('owner_id')} FROM {files} WHERE {quoted('id')} = %s) FOR NO KEY UPDATE; "
    )
    file_pk = FIELD["id"].get_db_prep_value(FIELD["id"].to_python(file_id), connection)
    return lock + sql, [file_pk, *params]
