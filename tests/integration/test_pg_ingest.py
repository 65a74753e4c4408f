"""Ingest into PostgreSQL over real HTTP: every case of test_ingest.py run
against a collector with --db postgresql://... (a throwaway cluster started
for this run), plus what only PostgreSQL needs checking: dedupe seen in
SQL, rows identical to what SQLite stores for the same batch, the read
endpoints that need SQL refusing with 501 (the others answer from the hot
aggregate: test_pg_multinode.py), and a password that never reaches the log. test_auth runs unchanged: the
token command and the collector keep tokens in PostgreSQL too."""
import json
import os
import time
import unittest
import uuid

import rfharness as h
import test_ingest

NEED_PG = unittest.skipUnless(h.postgres_bindir() or os.environ.get("CI"), h.PG_SKIP_MESSAGE)


@NEED_PG
class PgIngestTest(test_ingest.IngestTest):
    @classmethod
    def new_collector(cls):
        cls.pgdb = h.postgres_cluster().create_database()
        return h.Collector(pg=cls.pgdb)

    # ---- PostgreSQL only ----
    def events_counted(self):
        text = self.c.request("GET", "/metrics")[2].decode()
        return [int(l.split()[-1]) for l in text.splitlines()
                if l.startswith('rasfleet_ingest_records_total{kind="ras_event"}')][0]

    def test_dedupe_in_sql(self):
        dev = "pgdup-" + uuid.uuid4().hex
        batch = h.make_batch(device_id=dev, n_events=20)
        for gz in (False, True, False):
            s, _, b = self.c.post_batch(batch, gzip_it=gz)
            self.assertEqual(s, 200, b)
        self.assertEqual(self.c.sql("SELECT count(*), sum(records) FROM batches b JOIN devices d"
                                    " ON d.id = b.device WHERE d.uid = ?", (dev,)), [(1, 20)])
        self.assertEqual(self.c.sql("SELECT count(*), count(DISTINCT record_id) FROM events e"
                                    " JOIN devices d ON d.id = e.device WHERE d.uid = ?",
                                    (dev,)), [(20, 20)])
        # a new batch id resending half of the events: the batch is new, only
        # the unseen events are stored
        again = h.make_batch(device_id=dev, n_events=20, start_record=11)
        before = self.events_counted()
        s, _, b = self.c.post_batch(again)
        self.assertEqual((s, b["duplicate"]), (200, False))
        # the commit hook was told which records were new: 10 of 20
        self.assertEqual(self.events_counted() - before, 10)
        self.assertEqual(self.c.sql("SELECT count(*) FROM events e JOIN devices d"
                                    " ON d.id = e.device WHERE d.uid = ?", (dev,)), [(30,)])
        s, data = self.c.request("GET", "/metrics")[0::2]
        line = [l for l in data.decode().splitlines()
                if l.startswith('rasfleet_ingest_batches_total{result="duplicate"}')][0]
        self.assertGreaterEqual(int(line.split()[-1]), 2)

    def test_same_rows_as_sqlite(self):
        batch = json.loads(h.fixture("records", "batch-all-kinds.json"))
        batch["agent"]["device_id"] = dev = "same-" + uuid.uuid4().hex
        queries = [
            "SELECT e.time, e.received > 0, e.event_id, e.record_id, e.level, u.s, c.s,"
            " e.error_code, e.reason_code, e.coid, e.message FROM events e"
            " JOIN devices d ON d.id = e.device JOIN dict u ON u.id = e.\"user\""
            " JOIN dict c ON c.id = e.connection WHERE d.uid = ? ORDER BY e.record_id",
            "SELECT m.time, a.s, m.ifindex, m.family, m.metric, m.automatic, m.connected,"
            " m.if_type, m.mtu FROM iface_metrics m JOIN devices d ON d.id = m.device"
            " JOIN dict a ON a.id = m.alias WHERE d.uid = ? ORDER BY m.ifindex",
            "SELECT p.time, p.scope, c.s, s.s FROM pbk_entries p JOIN devices d"
            " ON d.id = p.device JOIN dict c ON c.id = p.connection JOIN dict s"
            " ON s.id = p.settings WHERE d.uid = ? ORDER BY c.s, p.scope",
            "SELECT v.time, c.s, sv.s, t.s, a.s, v.split_tunneling, v.device_tunnel,"
            " (SELECT s FROM dict WHERE id = v.dns_suffix), (SELECT s FROM dict WHERE id = v.ipsec)"
            " FROM vpn_policies v JOIN devices d ON d.id = v.device JOIN dict c"
            " ON c.id = v.connection JOIN dict sv ON sv.id = v.server JOIN dict t"
            " ON t.id = v.tunnel_type JOIN dict a ON a.id = v.auth_method WHERE d.uid = ?"
            " ORDER BY c.s",
            "SELECT d.hostname, d.os_version, d.agent_version, b.uid, b.records FROM devices d"
            " JOIN batches b ON b.device = d.id WHERE d.uid = ?",
        ]
        with h.Collector() as lite:
            s, _, b = lite.post_batch(batch)
            self.assertEqual(s, 200, b)
            want = [lite.sql(q, (dev,)) for q in queries]
        s, _, b = self.c.post_batch(batch)
        self.assertEqual(s, 200, b)
        for q, rows in zip(queries, want):
            got = self.c.sql(q.replace("e.received > 0", "(e.received > 0)::int"), (dev,))
            self.assertTrue(rows, q)
            self.assertEqual(got, rows, q)

    def test_awkward_strings_round_trip(self):
        """Strings travel in PostgreSQL array literals: quotes, backslashes,
        braces, commas, the word NULL, newlines and non-ASCII must come back
        byte for byte; a pbk settings object longer than a btree key (~2700
        bytes) must be stored once in dict like any other."""
        dev = "awk-" + uuid.uuid4().hex
        nasty = ['a"b\\c{d},e', "NULL", "", "line1\nline2\ttab \u00e9 \U0001F600", "{}",
                 "\\", '"', " lead and trail "]
        batch = h.make_batch(device_id=dev, n_events=len(nasty))
        for r, text in zip(batch["records"], nasty):
            r["user"] = "CORP\\" + text
            r["message"] = text
            r["connection"] = "VPN " + text
        settings = {"Key%02d" % i: "v" * 200 + str(i) for i in range(20)}
        batch["records"].append({"kind": "pbk_entry", "time": "2026-11-20T08:05:00Z",
                                 "scope": "user", "connection": "NULL", "settings": settings})
        for attempt in range(2):  # the second time from the dictionary cache
            if attempt:
                batch = dict(batch, batch_id=str(uuid.uuid4()))
                for i, r in enumerate(batch["records"][:-1]):
                    r["record_id"] = 1000 + i
            s, _, b = self.c.post_batch(batch)
            self.assertEqual((s, b["duplicate"]), (200, False), b)
        query = ("SELECT u.s, c.s, e.message FROM events e JOIN devices d ON d.id = e.device"
                 " JOIN dict u ON u.id = e.\"user\" JOIN dict c ON c.id = e.connection"
                 " WHERE d.uid = ? ORDER BY e.record_id")
        rows = self.c.sql(query, (dev,))
        self.assertEqual([r[:2] for r in rows],
                         [("CORP\\" + t, "VPN " + t) for t in nasty] * 2)
        self.assertEqual([r[2] for r in rows if r[2]], [t for t in nasty if t] * 2)
        with h.Collector() as lite:  # and exactly what SQLite stores
            self.assertEqual(lite.post_batch(batch)[0], 200)
            self.assertEqual(rows[len(nasty):], lite.sql(query, (dev,)))
        stored = self.c.sql("SELECT s FROM pbk_entries p JOIN dict s ON s.id = p.settings"
                            " JOIN devices d ON d.id = p.device WHERE d.uid = ?", (dev,))
        self.assertEqual(len(stored), 2)
        self.assertEqual(stored[0], stored[1])
        self.assertGreater(len(stored[0][0]), 3000)
        self.assertEqual(json.loads(stored[0][0]), settings)
        self.assertEqual(self.c.sql("SELECT count(*) FROM dict WHERE s = ?", (stored[0][0],)),
                         [(1,)])

    def test_sql_read_endpoints_say_not_implemented(self):
        """What the hot aggregate answers works; what needs SQL (device
        detail, windows past the hot horizon, saving the baseline) says 501."""
        for path in ("/api/v1/overview", "/api/v1/errors", "/api/v1/trend", "/api/v1/devices",
                     "/api/v1/findings", "/api/v1/remediation/agent-spool-drops/devices",
                     "/api/v1/overview?window=30d"):
            s, b = self.c.get_json(path)
            self.assertEqual(s, 200, (path, b))
        for path in ("/api/v1/devices/some-device", "/api/v1/overview?window=90d",
                     "/api/v1/errors?window=400d", "/api/v1/trend?window=60d",
                     "/api/v1/devices?window=32d"):
            s, b = self.c.get_json(path)
            self.assertEqual((s, b["error"]), (501, "not_implemented"), path)
            self.assertIn("not implemented", b["message"])
            self.assertIn("PostgreSQL", b["message"])
        s, _, data = self.c.request("PUT", "/api/v1/settings/ipsec-baseline",
                                    b'{"server_custom":false}',
                                    {"Authorization": "Bearer " + h.ADMIN_TOKEN})
        self.assertEqual(s, 501, data)
        # what does not depend on stored data still answers
        s, b = self.c.get_json("/api/v1/catalog")
        self.assertEqual(s, 200)
        s, b = self.c.get_json("/api/v1/settings/ipsec-baseline")
        self.assertEqual(s, 200)

    def test_agent_status_refused_as_unknown_kind(self):
        """agent_status is not stored on PostgreSQL yet: refused as an unknown kind
        (which the agent treats like a collector older than the kind), nothing
        stored, telemetry unaffected."""
        s, _, b = self.c.post_batch(h.make_status_batch(device_id="pg-status", dropped=2))
        self.assertEqual((s, b["error"]), (400, "unknown_kind"), b)
        self.assertIn("PostgreSQL", b["message"])
        self.assertEqual(b["detail"], {"record": 0, "field": "kind"})
        self.assertEqual(self.c.sql("SELECT count(*) FROM devices WHERE uid = 'pg-status'")[0][0], 0)
        s, _, b = self.c.post_batch(h.make_batch(device_id="pg-status"))
        self.assertEqual(s, 200, b)

    def test_health_metrics_and_log(self):
        s, _, data = self.c.request("GET", "/healthz")
        self.assertEqual(s, 200)
        self.assertEqual(json.loads(data)["devices_known"],
                         self.c.sql("SELECT count(*) FROM devices")[0][0])
        deadline = time.time() + 10
        while True:  # database size is refreshed every few seconds
            text = self.c.request("GET", "/metrics")[2].decode()
            size = [int(float(l.split()[-1])) for l in text.splitlines()
                    if l.startswith("rasfleet_database_bytes ")][0]
            if size > 0 or time.time() > deadline:
                break
            time.sleep(0.5)
        pg_size = self.c.sql("SELECT pg_database_size(current_database())")[0][0]
        self.assertGreater(size, 0)
        self.assertLess(abs(size - pg_size), pg_size)
        log = self.c.read_log()
        self.assertIn("postgresql://rasfleet:***@127.0.0.1", log)
        self.assertNotIn(h.PostgresCluster.PASSWORD, log)
        self.assertEqual(self.c.sql("SELECT max(version) FROM schema_version"), [(2,)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
