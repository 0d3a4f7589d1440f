"""The flush that empties the database after each transactional test, retried when
PostgreSQL breaks a deadlock by aborting it.

The session's Celery worker may still be finishing a file of the test that just ended (an
in-process `file_create` queues it on commit). Its statement locks the file's table, then its
trigger the owner's counter row; the flush's one TRUNCATE locks every table in the order
Django lists them, which varies from run to run. In the wrong order each waits for the other,
and PostgreSQL aborts one: when that is the flush, the test errors in its teardown. The flush
runs in a transaction, so trying it again is safe: the worker's statement, which won, holds
what the next try waits for until it commits.
"""

from django.db import OperationalError

DEADLOCK = "40P01"
ATTEMPTS = 5


def is_deadlock(error: OperationalError) -> bool:
    return getattr(error.__cause__, "pgcode", None) == DEADLOCK


def retried_on_deadlock(execute_sql_flush):
    """`DatabaseOperations.execute_sql_flush`, tried again when it lost a deadlock."""

    def execute(self, sql_list):
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return execute_sql_flush(self, sql_list)
            except OperationalError as error:
                if not is_deadlock(error) or attempt == ATTEMPTS:
                    raise  # else the next try waits for the other's locks, as any statement

    return execute
