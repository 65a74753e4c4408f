"""Ingest into PostgreSQL over real HTTP: every case of test_ingest.py run
against a collector with --db postgresql://... (a throwaway cluster started
for this run), plus what only PostgreSQL needs checking: dedupe seen in
SQL, rows identical to what SQLite stores for the same batch (agent_status,
agent_losses and daily rollups too), every read endpoint answering (the hot
ones from the fleet-wide aggregate: test_pg_multinode.py; the SQL ones:
test_pg_reads.py), and a password that never reaches the log. test_auth runs unchanged: the
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
            # SQLite keeps a 20226/20227 message that is its catalogue text as
            # a mark (event_message.h), PostgreSQL as text: compared rendered
            "SELECT e.time, e.received > 0, e.event_id, e.record_id, e.level, u.s, c.s,"
            " e.error_code, e.reason_code, e.coid, CASE WHEN e.message_template = 1 THEN"
            " 'CoId={' || e.coid || '}: The user ' || u.s || ' dialed a connection named '"
            " || c.s || CASE e.event_id WHEN 20226 THEN ' which has terminated. The reason"
            " code returned on termination is ' || e.reason_code ELSE ' which has failed. The"
            " error code returned on failure is ' || e.error_code END || '.' ELSE e.message END"
            " FROM events e"
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

    def test_read_endpoints_answer(self):
        """Every read endpoint answers on PostgreSQL: windows inside the hot
        horizon from the fleet-wide aggregate, longer ones, device detail
        and the baseline from SQL."""
        for path in ("/api/v1/overview", "/api/v1/errors", "/api/v1/trend", "/api/v1/devices",
                     "/api/v1/remediation/agent-spool-drops/devices",
                     "/api/v1/overview?window=30d", "/api/v1/overview?window=90d",
                     "/api/v1/errors?window=400d", "/api/v1/trend?window=60d&bucket=1d",
                     "/api/v1/devices?window=32d"):
            s, b = self.c.get_json(path)
            self.assertEqual(s, 200, (path, b))
        s, b = self.c.get_json("/api/v1/devices/some-device")
        self.assertEqual((s, b["error"]), (404, "not_found"))
        # the catalogue and the active baseline
        s, b = self.c.get_json("/api/v1/catalog")
        self.assertEqual(s, 200)
        s, b = self.c.get_json("/api/v1/settings/ipsec-baseline")
        self.assertEqual(s, 200)
        # findings: the elected collector's document (test_pg_election.py),
        # or 503 findings_pending in the moment before one is published
        s, b = self.c.get_json("/api/v1/findings")
        self.assertIn((s, b.get("error")), ((200, None), (503, "findings_pending")), b)

    # ---- agent_status and daily rollups (pg_derived.c): SQLite's definitions ----
    STATUS_SQL = ("SELECT s.time, s.agent_version, s.spool_bytes, s.spool_batches,"
                  " s.spool_limit_bytes, s.dropped_batches_total, s.dropped_records_total,"
                  " s.rejected_batches_total, s.last_success, s.last_error, s.last_error_time,"
                  " s.source_errors, s.last_drop, s.reports FROM agent_status s JOIN devices d"
                  " ON d.id = s.device WHERE d.uid = ?")
    LOSSES_SQL = ("SELECT l.time, l.dropped_batches, l.dropped_records, l.rejected_batches"
                  " FROM agent_losses l JOIN devices d ON d.id = l.device WHERE d.uid = ?"
                  " ORDER BY l.id")

    @staticmethod
    def status_batches(dev):
        """Reports of one device: a first one, losses, a repeated batch, a
        counter reset, two reports and events in one batch, a report without
        the optional counters."""
        t = lambda m: "2026-11-20T08:%02d:00Z" % m
        first = h.make_status_batch(device_id=dev, time_str=t(1), dropped=1, rejected=0)
        lossy = h.make_status_batch(device_id=dev, time_str=t(2), dropped=3, dropped_records=41,
                                    rejected=2, last_error="HTTP 503", source_errors=1)
        reset = h.make_status_batch(device_id=dev, time_str=t(3), dropped=1, rejected=0)
        two = h.make_batch(device_id=dev, n_events=2, start_record=500)
        for m, dropped in ((4, 2), (5, 2)):
            two["records"] += h.make_status_batch(time_str=t(m), dropped=dropped,
                                                  rejected=4)["records"]
        bare = h.make_status_batch(device_id=dev, time_str=t(6), dropped=2)
        st = bare["records"][0]
        for k in ("dropped_records_total", "rejected_batches_total", "spool_limit_bytes",
                  "agent_version"):
            del st[k]
        return [first, lossy, lossy, reset, two, bare]

    def test_agent_status_stored_as_on_sqlite(self):
        dev = "pg-status-" + uuid.uuid4().hex
        batches = self.status_batches(dev)
        answers = []
        with h.Collector() as lite:
            for b in batches:
                s, _, body = lite.post_batch(b)
                self.assertEqual(s, 200, body)
                answers.append(body["duplicate"])
            want = [lite.sql(self.STATUS_SQL, (dev,)), lite.sql(self.LOSSES_SQL, (dev,))]
        got_answers, reports = [], []
        for b in batches:
            s, _, body = self.c.post_batch(b)
            self.assertEqual(s, 200, body)
            got_answers.append(body["duplicate"])
            reports.append(h.agent_reports(self.c, dev))
        self.assertEqual(got_answers, answers)
        self.assertEqual(got_answers, [False, False, True, False, False, False])
        # the repeated batch counted nothing
        self.assertEqual(reports, [1, 2, 2, 3, 5, 6])
        got = [self.c.sql(self.STATUS_SQL, (dev,)), self.c.sql(self.LOSSES_SQL, (dev,))]
        self.assertEqual(got, want)
        # and the losses are what the reports say (agentloss.h): first report
        # 1 batch / 10 records; then +2/+31 and 2 refused; a reset counts its
        # totals; 2 dropped and 4 refused; the last report adds 0 dropped
        # (2 -> 2) but its absent counters reset to 0 (nothing to add)
        losses = [r[1:] for r in got[1]]
        self.assertEqual(losses, [(1, 10, 0), (2, 31, 2), (1, 10, 0), (1, 10, 4)])
        status = got[0][0]
        self.assertEqual(status[-1], 6)                       # reports
        self.assertEqual(status[-2], h.ms("2026-11-20T08:04:00Z"))  # last_drop
        self.assertIsNone(status[6])                          # dropped_records_total absent
        # the hot aggregate on this collector was fed the same reports
        self.assertEqual(self.c.sql("SELECT count(*) FROM agent_losses l JOIN devices d"
                                    " ON d.id = l.device WHERE d.uid = ?", (dev,)), [(4,)])

    def test_rollups_agree_with_raw_rows(self):
        """A fleet over 400 days (test_rollups.py's), resent events and a
        repeated batch, posted concurrently so that groups hold several
        batches, and batches the database refuses inside those groups: the
        rollup tables equal SQL over the raw rows, and equal SQLite's."""
        import concurrent.futures
        import test_rollups
        db = h.postgres_cluster().create_database()
        now = int(time.time() * 1000)
        batches = test_rollups.fleet_batches(now)
        refused = []
        for i, b in enumerate(batches[5::17]):
            r = json.loads(json.dumps(b))
            r["batch_id"] = "refuse-%d" % i
            for k, rec in enumerate(r["records"]):
                if rec["kind"] == "ras_event":
                    rec["record_id"] = 900000 + i * 1000 + k
            refused.append(r)
        by_device = {}
        for b in batches + refused:
            by_device.setdefault(b["agent"]["device_id"], []).append(b)

        def post_device(c, items):
            return [c.post_batch(b)[0] for b in items]

        attempts_sql = "SELECT day, attempts FROM rollup_attempts ORDER BY day"
        failures_sql = ("SELECT r.day, d.uid, c.s, r.code, r.failures FROM rollup_failures r"
                        " JOIN devices d ON d.id = r.device JOIN dict c ON c.id = r.connection"
                        " ORDER BY 1, 2, 3, 4")
        day = "(CASE WHEN e.time < 0 THEN 0 ELSE e.time END) / 86400000"
        # SQLite stored the batches PostgreSQL refused (record ids from 900000)
        raw_attempts = ("SELECT %s, count(*) FROM events e WHERE e.event_id IN (20225, 20227)"
                        " AND e.record_id < 900000 GROUP BY 1 ORDER BY 1" % day)
        raw_failures = ("SELECT %s, d.uid, c.s, coalesce(e.error_code, 0), count(*) FROM events e"
                        " JOIN devices d ON d.id = e.device JOIN dict c ON c.id = e.connection"
                        " WHERE e.event_id = 20227 AND e.record_id < 900000"
                        " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4" % day)
        with h.Collector(pg=db, extra_args=["--retention-days", "3650"]) as pg, \
                h.Collector(extra_args=["--retention-days", "3650"]) as lite:
            db.sql("CREATE FUNCTION refuse_batch() RETURNS trigger LANGUAGE plpgsql AS"
                   " $$BEGIN IF NEW.uid LIKE 'refuse-%' THEN RAISE EXCEPTION 'refused for the test'"
                   " USING ERRCODE = 'check_violation'; END IF; RETURN NEW; END$$;"
                   " CREATE TRIGGER refuse_batch BEFORE INSERT ON batches FOR EACH ROW"
                   " EXECUTE FUNCTION refuse_batch()")
            statuses = []
            # devices in parallel, each device's batches in order
            with concurrent.futures.ThreadPoolExecutor(8) as pool:
                for c in (pg, lite):
                    statuses.append(sorted(sum(pool.map(lambda items: post_device(c, items),
                                                        by_device.values()), [])))
            self.assertEqual(statuses[0].count(500), len(refused), statuses[0])
            self.assertEqual(set(statuses[0]), {200, 500})  # refused by the database
            self.assertEqual(set(statuses[1]), {200})  # SQLite has no trigger
            got = [pg.sql(attempts_sql), pg.sql(failures_sql)]
            self.assertEqual(got, [pg.sql(raw_attempts), pg.sql(raw_failures)])
            self.assertGreater(len(got[0]), 300)
            self.assertEqual(pg.sql("SELECT count(*) FROM batches WHERE uid LIKE 'refuse-%'"),
                             [(0,)])
            self.assertEqual(got, [lite.sql(raw_attempts), lite.sql(raw_failures)])
            # SQLite's rollup tables hold the refused batches' events too
            self.assertGreater(sum(n for _, n in lite.sql(attempts_sql)),
                               sum(n for _, n in got[0]))

    def test_retention_of_rollups_and_losses(self):
        """--retention-days ages raw rows and agent_losses out, and
        --rollup-retention-days the daily rollups, as on SQLite."""
        import test_rollups
        db = h.postgres_cluster().create_database()
        now = int(time.time() * 1000)
        day = 86400000
        batches = test_rollups.fleet_batches(now)[:40]
        dev = batches[0]["agent"]["device_id"]
        for days_ago, dropped in ((200, 1), (50, 2), (1, 3)):
            t = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime((now - days_ago * day) / 1000))
            batches.append(h.make_status_batch(device_id=dev, dropped=dropped, time_str=t))
        with h.Collector(pg=db, extra_args=["--retention-days", "3650"]) as c:
            for b in batches:
                self.assertEqual(c.post_batch(b)[0], 200)
            days = [r[0] for r in db.sql("SELECT day FROM rollup_attempts ORDER BY day")]
            self.assertLess(days[0], now // day - 150)  # something to age out
            self.assertEqual(db.sql("SELECT count(*) FROM agent_losses"), [(3,)])
        with h.Collector(pg=db, extra_args=["--retention-days", "30",
                                            "--rollup-retention-days", "150"]) as c:
            deadline = time.time() + 30
            while time.time() < deadline:
                if db.sql("SELECT count(*) FROM agent_losses") == [(1,)] and \
                        db.sql("SELECT min(day) FROM rollup_attempts")[0][0] >= now // day - 150:
                    break
                time.sleep(0.3)
            cut = now - 30 * day
            self.assertEqual(db.sql("SELECT count(*) FROM events WHERE time < ?", (cut - 60000,)),
                             [(0,)])
            self.assertEqual(db.sql("SELECT count(*) FROM agent_losses"), [(1,)])
            self.assertGreaterEqual(db.sql("SELECT min(day) FROM rollup_attempts")[0][0],
                                    now // day - 150)
            self.assertGreaterEqual(db.sql("SELECT min(day) FROM rollup_failures")[0][0],
                                    now // day - 150)
            # the rollups keep what the raw rows no longer have
            self.assertLess(db.sql("SELECT min(day) FROM rollup_attempts")[0][0],
                            now // day - 30)
            self.assertIn("retention: deleted", c.read_log())

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
        self.assertEqual(self.c.sql("SELECT max(version) FROM schema_version"), [(3,)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
