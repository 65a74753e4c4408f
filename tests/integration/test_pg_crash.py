"""test_crash.py on PostgreSQL: kill -9 of the collector mid-stream,
restart, and every batch acknowledged with 200 is stored exactly once, none
in part (the server itself keeps running; a PostgreSQL that goes away is
test_pg_faults.py)."""
import os
import unittest

import rfharness as h
import test_crash


@unittest.skipUnless(h.postgres_bindir() or os.environ.get("CI"), h.PG_SKIP_MESSAGE)
class PgCrashTest(test_crash.CrashTest):
    cycles = int(os.environ.get("RF_PG_CRASH_CYCLES", "8"))

    def new_collector(self):
        return h.Collector(pg=h.postgres_cluster().create_database())


if __name__ == "__main__":
    unittest.main(verbosity=2)
