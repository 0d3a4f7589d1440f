"""docs/reliability.md item 37: the per-owner counters (bytes stored, files by status) kept in
the statement that writes a file, read by the quota and `totalCount`, repaired by
`files_recount`."""

from tools.protections.runner import Protection

TRIGGERS = "files_app/usage_triggers.py"
USAGE = "files_app/services/usage.py"
SELECTORS = "files_app/selectors.py"
QUERIES = "schema/graphql/queries.py"
USAGE_TESTS = "tests/uploads/test_owner_usage.py"
COUNT_TESTS = "tests/api/test_total_count.py"
INSTALLED = "    statements = written()\n"


def without(trigger: str) -> tuple[str, str, str]:
    """The triggers installed but the one whose SQL contains `trigger`."""
    kept = f"    statements = [s for s in written() if {trigger!r} not in s]\n"
    return (TRIGGERS, INSTALLED, kept)


PROTECTIONS = [
    Protection(
        "37 counters: a new file counted in the statement that inserts it",
        [without("AFTER INSERT")],
        [f"{USAGE_TESTS}::test_counters_follow_a_file_from_upload_to_deletion"],
    ),
    Protection(
        "37 counters: a status change counted in the statement that makes it",
        [without("AFTER UPDATE")],
        [f"{USAGE_TESTS}::test_counters_follow_a_file_from_upload_to_deletion"],
    ),
    Protection(
        "37 counters: a deleted file uncounted, by the sweep, the audit or a bulk delete",
        [without("AFTER DELETE")],
        [f"{USAGE_TESTS}::test_counters_follow_the_sweep_the_audit_and_bulk_deletes"],
    ),
    Protection(
        "37 counters: files_recount corrects a counter that drifted",
        [(USAGE, "        OwnerUsage.objects.filter(owner_id=owner_id).update(**actual)\n", "")],
        [f"{USAGE_TESTS}::test_files_recount_corrects_a_counter_that_drifted"],
    ),
    Protection(
        "37 counters: the quota reads the owner's counter, not a sum over their files",
        [
            (
                SELECTORS,
                'stored_bytes=figure(OwnerUsage.objects.filter(owner=user), "SUM", "bytes"),',
                'stored_bytes=figure(File.objects.filter(owner=user), "SUM", "size"),',
            )
        ],
        [f"{USAGE_TESTS}::test_the_quota_reads_the_counter_not_the_rows"],
    ),
    Protection(
        "37 counters: an unfiltered totalCount reads the counters",
        [
            (
                QUERIES,
                "narrow = not set(filters) <= COUNTED_FILTERS and isinstance(nodes, QuerySet)",
                "narrow = isinstance(nodes, QuerySet)",
            )
        ],
        [f"{COUNT_TESTS}::test_an_unfiltered_count_is_exact_and_read_from_the_counter"],
    ),
    Protection(
        "37 counters: a filtered totalCount past the cap says it is capped",
        [
            (
                SELECTORS,
                "        return files, FileCount(COUNT_CAP, True)\n",
                "        return files, FileCount(len(ids), False)\n",
            )
        ],
        [f"{COUNT_TESTS}::test_any_other_filter_counts_rows_up_to_the_cap"],
    ),
]
