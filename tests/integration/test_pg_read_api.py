"""test_read_api.py on PostgreSQL: every read-API answer equals SQL over the
raw rows of the collector's own PostgreSQL database over the answer's own
[from, to) (the hot windows from the aggregate pg_tail.c rebuilds and
follows, device detail through pg_reads.c, findings from the elected
collector), and a restart on the same database changes no answer; and
test_rollups.py's windows past the hot horizon (daily rollups in
PostgreSQL) against SQL the same way. The checks are test_read_api.py's
and test_rollups.py's, unchanged: only the collector differs (one
throwaway cluster for the module, a database per collector, the checks'
SQL through one kept-open psql session); RF_PG_READ_DEVICES sets a
smaller read-API fleet."""
import os
import unittest

import rfharness as h
import test_read_api
import test_rollups

NEED_PG = unittest.skipUnless(h.postgres_bindir() or os.environ.get("CI"), h.PG_SKIP_MESSAGE)


def pg_collector(**kw):
    return h.Collector(pg=h.postgres_cluster().create_database(keep_session=True), **kw)


@NEED_PG
class PgReadApiTest(test_read_api.ReadApiTest):
    devices = int(os.environ.get("RF_PG_READ_DEVICES", test_read_api.DEVICES))

    @classmethod
    def new_collector(cls):
        return pg_collector()


@NEED_PG
class PgDeviceDetailTest(test_read_api.DeviceDetailTest):
    def new_collector(self):
        return pg_collector()


@NEED_PG
class PgSnapshotSplitTest(test_read_api.SnapshotSplitTest):
    def new_collector(self):
        return pg_collector()


@NEED_PG
class PgRollupApiTest(test_rollups.RollupApiTest):
    @classmethod
    def new_collector(cls, **kw):
        return pg_collector(**kw)

    @unittest.skip("SQLite schema upgrades; PostgreSQL's migrations: test_pg_migrate.py")
    def test_upgrade_changes_no_answer(self):
        pass


if __name__ == "__main__":
    unittest.main(verbosity=2)
