"""The triggers that keep `OwnerUsage` (bytes stored, files by status, per owner) in the
statement that writes a file: PostgreSQL and SQLite alike, so no write path can forget them
(the ORM, a bulk or cascading delete, the admin, raw SQL, a rolled-back transaction taking
its counts with it). Installed by migration 0007, and after a `migrate` (apps.py) whenever
what the database runs differs from what is written here, replaced in one transaction. A
change that moves counts needs `manage.py files_recount` once."""

from django.db import transaction

from .models import FileStatus

FILES, USAGE = "files_app_file", "files_app_ownerusage"
# Each status and the counter column that counts it.
STATUSES = {status: status.lower() for status in FileStatus.values}
COLUMNS = ", ".join(["bytes", *STATUSES.values()])


def is_(row: str, status: str, vendor: str) -> str:
    """1 when the row is in this status, else 0."""
    test = f"{row}.status = '{status}'"
    return f"({test})::int" if vendor == "postgresql" else f"({test})"


def subtract(row: str, vendor: str) -> str:
    deltas = [f"bytes = bytes - {row}.size"] + [
        f"{column} = {column} - {is_(row, status, vendor)}" for status, column in STATUSES.items()
    ]
    return f"UPDATE {USAGE} SET {', '.join(deltas)} WHERE owner_id = {row}.owner_id"


def add(vendor: str) -> str:
    values = ", ".join(["NEW.owner_id", "NEW.size"] + [is_("NEW", s, vendor) for s in STATUSES])
    table = USAGE if vendor == "postgresql" else ""
    prefix = f"{table}." if table else ""
    sums = ", ".join(
        f"{column} = {prefix}{column} + EXCLUDED.{column}"
        for column in ["bytes", *STATUSES.values()]
    )
    return (
        f"INSERT INTO {USAGE} (owner_id, {COLUMNS}) VALUES ({values}) "
        f"ON CONFLICT (owner_id) DO UPDATE SET {sums}"
    )


def moved(vendor: str) -> str:
    """Only a change of what is counted fires the update trigger (not progress, not a lease)."""
    differs = "IS DISTINCT FROM" if vendor == "postgresql" else "IS NOT"
    return " OR ".join(
        f"OLD.{column} {differs} NEW.{column}" for column in ("owner_id", "size", "status")
    )


def postgresql() -> list[str]:
    """Inserts and deletes are counted once per statement, from its transition table: a row
    trigger would update the one counter row once per file, and PostgreSQL makes each update
    of a row already updated in the same transaction walk every version before it, so a bulk
    insert or delete would cost the square of its rows. A status change is one row in its
    own transaction: a row trigger, fired only when a counted column changes."""
    sums = ", ".join(["SUM(size)"] + [f"SUM({is_('f', s, 'postgresql')})" for s in STATUSES])
    grouped = f"SELECT owner_id, {sums} FROM %s f GROUP BY owner_id ORDER BY owner_id"
    added = ", ".join(
        f"{column} = {USAGE}.{column} + EXCLUDED.{column}"
        for column in ["bytes", *STATUSES.values()]
    )
    removed = ", ".join(
        f"{column} = u.{column} - d.{column}" for column in ["bytes", *STATUSES.values()]
    )
    same_owner = ["bytes = bytes - OLD.size + NEW.size"] + [
        f"{column} = {column} - {is_('OLD', s, 'postgresql')} + {is_('NEW', s, 'postgresql')}"
        for s, column in STATUSES.items()
    ]
    return [
        f"""
CREATE OR REPLACE FUNCTION files_app_file_usage_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO {USAGE} (owner_id, {COLUMNS}) {grouped % "inserted"}
  ON CONFLICT (owner_id) DO UPDATE SET {added};
  RETURN NULL;
END $$""",
        f"""
CREATE OR REPLACE FUNCTION files_app_file_usage_deleted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  UPDATE {USAGE} u SET {removed}
  FROM ({grouped % "deleted"}) AS d (owner_id, {COLUMNS}) WHERE u.owner_id = d.owner_id;
  RETURN NULL;
END $$""",
        f"""
CREATE OR REPLACE FUNCTION files_app_file_usage_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.owner_id = NEW.owner_id THEN
    UPDATE {USAGE} SET {", ".join(same_owner)} WHERE owner_id = NEW.owner_id;
    IF FOUND THEN RETURN NULL; END IF;
  END IF;
  {subtract("OLD", "postgresql")};
  {add("postgresql")};
  RETURN NULL;
END $$""",
        f"CREATE TRIGGER files_app_file_usage_insert AFTER INSERT ON {FILES} "
        "REFERENCING NEW TABLE AS inserted FOR EACH STATEMENT "
        "EXECUTE FUNCTION files_app_file_usage_inserted()",
        f"CREATE TRIGGER files_app_file_usage_delete AFTER DELETE ON {FILES} "
        "REFERENCING OLD TABLE AS deleted FOR EACH STATEMENT "
        "EXECUTE FUNCTION files_app_file_usage_deleted()",
        f"CREATE TRIGGER files_app_file_usage_update AFTER UPDATE OF owner_id, size, status "
        f"ON {FILES} FOR EACH ROW WHEN ({moved('postgresql')}) "
        "EXECUTE FUNCTION files_app_file_usage_changed()",
    ]


def sqlite() -> list[str]:
    return [
        f"CREATE TRIGGER files_app_file_usage_insert AFTER INSERT ON {FILES} "
        f"BEGIN {add('sqlite')}; END",
        f"CREATE TRIGGER files_app_file_usage_delete AFTER DELETE ON {FILES} "
        f"BEGIN {subtract('OLD', 'sqlite')}; END",
        f"CREATE TRIGGER files_app_file_usage_update AFTER UPDATE OF owner_id, size, status "
        f"ON {FILES} WHEN {moved('sqlite')} "
        f"BEGIN {subtract('OLD', 'sqlite')}; {add('sqlite')}; END",
    ]


def install(connection, *, unless_current: bool = False) -> None:
    """Replace the triggers (and their functions) with the ones written here; with
    `unless_current`, only if what the database runs differs (after every `migrate`: on
    PostgreSQL, dropping a trigger waits for, then blocks, every query on the file table)."""
    written = {"postgresql": postgresql, "sqlite": sqlite}.get(connection.vendor)
    if written is None:
        return
    statements = written()
    if unless_current and current(connection, statements):
        return
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        for statement in [*drop(connection.vendor), *statements]:
            cursor.execute(statement)


def current(connection, statements: list[str]) -> bool:
    """Whether the database runs exactly these: on SQLite, each trigger's own text; on
    PostgreSQL, the three triggers by name and each function's body."""
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute(
                "SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s", [FILES]
            )
            return sorted(row[0] for row in cursor.fetchall()) == sorted(statements)
        cursor.execute(
            "SELECT tgname FROM pg_trigger WHERE tgrelid = %s::regclass AND NOT tgisinternal",
            [FILES],
        )
        triggers = {row[0] for row in cursor.fetchall()}
        cursor.execute("SELECT prosrc FROM pg_proc WHERE proname LIKE 'files_app_file_usage_%%'")
        bodies = {row[0].strip() for row in cursor.fetchall()}
    wanted = {s.split("$$")[1].strip() for s in statements if "$$" in s}
    names = {f"files_app_file_usage_{event}" for event in ("insert", "delete", "update")}
    created = sum("CREATE TRIGGER" in s for s in statements)
    return bodies == wanted and triggers == names and created == len(names)


def drop(vendor: str) -> list[str]:
    on = f" ON {FILES}" if vendor == "postgresql" else ""
    return [
        f"DROP TRIGGER IF EXISTS files_app_file_usage_{event}{on}"
        for event in ("insert", "delete", "update")
    ]
