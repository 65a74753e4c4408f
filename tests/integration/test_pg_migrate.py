"""`rasfleet-collector migrate --from FILE.db --db postgresql://...` over the
real binaries: a SQLite collector fed with every record kind (agent_status
too) is stopped, its file migrated into a throwaway PostgreSQL database,
and then: every table equals SQLite's row for row, tokens still
authenticate, a batch re-sent after the move is a duplicate, new batches
take new ids. Bad cases (unreachable server, non-empty target, a file that
is not a database, a database newer than the binary, a value PostgreSQL
cannot store) each give a clear error and exit code and leave the target
without a single row. Skipped without PostgreSQL's server binaries."""
import hashlib
import json
import os
import shutil
import sqlite3
import tempfile
import unittest
import uuid

import rfharness as h

NEED_PG = unittest.skipUnless(h.postgres_bindir() or os.environ.get("CI"), h.PG_SKIP_MESSAGE)

# table -> its key, for an ordered comparison (columns are SQLite's)
TABLES = {
    "meta": "key", "dict": "id", "devices": "id", "batches": "device, uid", "events": "id",
    "iface_metrics": "id", "pbk_entries": "id", "vpn_policies": "id", "tokens": "id",
    "agent_status": "device", "agent_losses": "id", "rollup_attempts": "day",
    "rollup_failures": "day, device, connection, code",
}


def migrate(source, url):
    r = h.subprocess.run([h.collector_binary(), "migrate", "--from", source, "--db", url],
                         capture_output=True, text=True, timeout=120)
    return r.returncode, r.stdout + r.stderr


def columns(db_path, table):
    con = sqlite3.connect(db_path)
    try:
        return [r[1] for r in con.execute('PRAGMA table_info("%s")' % table)]
    finally:
        con.close()


def sqlite_rows(db_path, table):
    cols = ",".join('"%s"' % c for c in columns(db_path, table))
    con = sqlite3.connect(db_path)
    try:
        return [tuple(bytes(v) if isinstance(v, (bytes, memoryview)) else v for v in row)
                for row in con.execute('SELECT %s FROM "%s" ORDER BY %s'
                                       % (cols, table, TABLES[table]))]
    finally:
        con.close()


def crlf(rows):
    """psql's output reaches Python with universal newlines (CR -> LF): the
    SQLite side gets the same treatment, and CRs are checked apart."""
    return [tuple(v.replace("\r\n", "\n").replace("\r", "\n") if isinstance(v, str) else v
                  for v in row) for row in rows]


def pg_rows(pgdb, db_path, table):
    cols = ",".join('"%s"' % c for c in columns(db_path, table))
    return pgdb.sql('SELECT %s FROM "%s" ORDER BY %s' % (cols, table, TABLES[table]))


def pg_counts(pgdb):
    return {t: pgdb.sql('SELECT count(*) FROM "%s"' % t)[0][0] for t in TABLES}


@NEED_PG
class PgMigrateTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = h.postgres_cluster()
        cls.dir = tempfile.mkdtemp(prefix="rasfleet-migrate-")
        cls.src = c = h.Collector()
        # tokens: one agent and one reader, created before the move
        r = c.run_cli("token", "add", "--role", "agent", "--name", "laptops")
        assert r.returncode == 0, r.stderr
        cls.agent_token = r.stdout.strip()
        r = c.run_cli("token", "add", "--role", "reader", "--name", "dash\tboard")
        assert r.returncode == 0, r.stderr
        c.start()
        cls.batches = []
        all_kinds = json.loads(h.fixture("records", "batch-all-kinds.json"))
        for i in range(6):
            b = json.loads(json.dumps(all_kinds))
            b["batch_id"] = str(uuid.uuid4())
            b["agent"]["device_id"] = "mig-%d-%s" % (i, uuid.uuid4().hex[:8])
            b["agent"]["hostname"] = "LT-MIG-%d" % i
            for k, rec in enumerate(b["records"]):
                if rec["kind"] == "ras_event":
                    rec["record_id"] = 1000 + k
            # a message COPY's text format must escape: tab, newline, CR,
            # backslash, and non-ASCII text
            b["records"][0]["message"] = "tab\there\nnew line\r\\back\\slash \u00e9\u4e2d \\N"
            cls.batches.append(b)
            s, _, body = c.post_batch(b, token=cls.agent_token if i % 2 else h.ADMIN_TOKEN)
            assert s == 200, (s, body)
        for i in range(3):
            b = h.make_batch(device_id=cls.batches[i]["agent"]["device_id"], n_events=40,
                             start_record=5000, code=691 + i)
            cls.batches.append(b)
            assert c.post_batch(b)[0] == 200
            st = h.make_status_batch(device_id=cls.batches[i]["agent"]["device_id"],
                                     dropped=i + 1, rejected=i, spool_bytes=1000 * i,
                                     spool_batches=i, last_error="proxy said\t\"no\"")
            cls.batches.append(st)
            s, _, body = c.post_batch(st)
            assert s == 200, (s, body)
        assert c.stop() == 0
        cls.db_path = os.path.join(cls.dir, "source.db")
        shutil.copy(c.db, cls.db_path)

    @classmethod
    def tearDownClass(cls):
        cls.src.cleanup()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def copy_source(self, name):
        path = os.path.join(self.dir, name)
        shutil.copy(self.db_path, path)
        return path

    def assert_no_rows(self, pgdb):
        """The target holds no rasfleet row (its schema may exist)."""
        tables = {r[0] for r in pgdb.sql("SELECT tablename FROM pg_tables"
                                         " WHERE schemaname = 'public'")}
        for t in TABLES:
            if t in tables:
                self.assertEqual(pgdb.sql('SELECT count(*) FROM "%s"' % t), [(0,)], t)

    def assert_same_tables(self, db_path, pgdb):
        for t in TABLES:
            self.assertEqual(pg_rows(pgdb, db_path, t), crlf(sqlite_rows(db_path, t)), t)
        con = sqlite3.connect(db_path)
        with_cr = con.execute("SELECT count(*) FROM events WHERE message LIKE '%' || char(13)"
                              " || '%'").fetchone()[0]
        con.close()
        self.assertGreater(with_cr, 0)
        self.assertEqual(pgdb.sql("SELECT count(*) FROM events WHERE message LIKE E'%\\r%'"),
                         [(with_cr,)])
        # every table has rows: the test exercised every record kind
        for t in TABLES:
            if t != "meta":
                self.assertGreater(len(sqlite_rows(db_path, t)), 0, t)

    # ---- the good path ----
    def test_migrate_then_serve(self):
        src = self.copy_source("good.db")
        with open(src, "rb") as f:
            before = hashlib.sha256(f.read()).hexdigest()
        pgdb = self.cluster.create_database()
        rc, out = migrate(src, pgdb.url)
        self.assertEqual(rc, 0, out)
        with open(src, "rb") as f:  # a current source is only read
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), before)
        self.assertNotIn("upgrading", out)
        for t in TABLES:  # progress: one line per table with its row count
            n = len(sqlite_rows(src, t))
            self.assertRegex(out, r"\n\s+%s\s+%d rows\s+[0-9.]+ s" % (t, n))
        self.assertRegex(out, r"migrated \d+ rows in 13 tables in [0-9.]+ s; row counts verified")
        self.assertNotIn(self.cluster.PASSWORD, out)
        self.assert_same_tables(src, pgdb)
        max_ids = {t: pgdb.sql('SELECT max(id) FROM "%s"' % t)[0][0]
                   for t in ("devices", "events", "dict", "tokens")}

        c = h.Collector(pg=pgdb).start()
        try:
            # the agent token made on SQLite authenticates on PostgreSQL
            old = self.batches[1]
            s, _, body = c.post_batch(old, token=self.agent_token)
            self.assertEqual((s, body["duplicate"]), (200, True), body)
            s, _, body = c.post_batch(old, token="0" * 43)
            self.assertEqual(s, 401)
            # every telemetry batch sent before the move is a duplicate now
            for b in self.batches:
                if b["records"][0]["kind"] == "agent_status":
                    continue  # not accepted on PostgreSQL by this build (docs/storage.md)
                s, _, body = c.post_batch(b)
                self.assertEqual((s, body["duplicate"]), (200, True), body)
            self.assertEqual(pg_counts(pgdb)["events"], len(sqlite_rows(src, "events")))
            # new data: a known device's new events and a new device, new ids
            known = self.batches[0]["agent"]["device_id"]
            for dev in (known, "mig-new-" + uuid.uuid4().hex):
                b = h.make_batch(device_id=dev, n_events=5, start_record=90000,
                                 hostname="LT-NEW")
                b["records"][0]["user"] = "CORP\\new-user-" + uuid.uuid4().hex[:6]
                s, _, body = c.post_batch(b, token=self.agent_token)
                self.assertEqual((s, body["duplicate"]), (200, False), body)
            self.assertEqual(pg_counts(pgdb)["events"], len(sqlite_rows(src, "events")) + 10)
            rows = pgdb.sql("SELECT e.id, d.id FROM events e JOIN devices d ON d.id = e.device"
                            " WHERE e.record_id >= 90000")
            self.assertEqual(len(rows), 10)
            self.assertTrue(all(e > max_ids["events"] for e, _ in rows))
            # (ON CONFLICT DO NOTHING of the re-sent devices used up sequence values)
            self.assertGreater(sorted({d for _, d in rows})[-1], max_ids["devices"])
            new_dict = pgdb.sql("SELECT id FROM dict WHERE s LIKE '%new-user-%'")
            self.assertEqual(len(new_dict), 2)
            self.assertTrue(all(i > max_ids["dict"] for (i,) in new_dict))
            # a token made after the move takes the next id
            r = c.run_cli("token", "add", "--role", "reader")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(pgdb.sql("SELECT max(id) FROM tokens"), [(max_ids["tokens"] + 1,)])
        finally:
            self.assertEqual(c.stop(), 0)
            c.cleanup()

    def test_older_schema_is_upgraded_first(self):
        """A file as schema 2 left it (no agent tables, no rollups, no message
        marks): store.c
        brings it to the current schema (rollups filled from the events),
        then it is copied."""
        src = self.copy_source("schema2.db")
        con = sqlite3.connect(src)
        con.executescript("DROP TABLE rollup_attempts; DROP TABLE rollup_failures;"
                          " DROP TABLE agent_losses; DROP TABLE agent_status;"
                          " ALTER TABLE events DROP COLUMN message_template;"
                          " PRAGMA user_version = 2;")
        con.close()
        pgdb = self.cluster.create_database()
        rc, out = migrate(src, pgdb.url)
        self.assertEqual(rc, 0, out)
        self.assertIn("source schema version 2: upgrading it to 5 first", out)
        for t in TABLES:
            self.assertEqual(pg_rows(pgdb, src, t), crlf(sqlite_rows(src, t)), t)
        self.assertGreater(pg_counts(pgdb)["rollup_failures"], 0)
        self.assertEqual(pg_counts(pgdb)["agent_status"], 0)

    # ---- bad cases: a clear error, an exit code, no row written ----
    def test_unreachable_server(self):
        url = "postgresql://rasfleet:secret-pw@127.0.0.1:%d/nothing?connect_timeout=3" \
            % h.free_port()
        rc, out = migrate(self.copy_source("unreach.db"), url)
        self.assertEqual(rc, 1, out)
        self.assertIn("cannot connect to PostgreSQL", out)
        self.assertNotIn("secret-pw", out)

    def test_target_not_empty(self):
        pgdb = self.cluster.create_database()
        rc, out = migrate(self.copy_source("first.db"), pgdb.url)
        self.assertEqual(rc, 0, out)
        before = pg_counts(pgdb)
        rc, out = migrate(self.copy_source("second.db"), pgdb.url)
        self.assertEqual(rc, 3, out)
        self.assertIn("already holds rasfleet data", out)
        self.assertIn("devices (", out)
        self.assertIn("Migrate into a new, empty database", out)
        self.assertEqual(pg_counts(pgdb), before)

    def test_target_with_a_token_only_is_refused(self):
        pgdb = self.cluster.create_database()
        r = h.subprocess.run([h.collector_binary(), "token", "add", "--role", "agent",
                              "--db", pgdb.url], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        rc, out = migrate(self.copy_source("tok.db"), pgdb.url)
        self.assertEqual(rc, 3, out)
        self.assertIn("tokens (1 rows)", out)
        self.assertEqual(pg_counts(pgdb)["devices"], 0)

    def test_not_a_database(self):
        pgdb = self.cluster.create_database()
        for name, content in (("text.db", b"this is not SQLite\n" * 100), ("empty.db", b"")):
            path = os.path.join(self.dir, name)
            with open(path, "wb") as f:
                f.write(content)
            rc, out = migrate(path, pgdb.url)
            self.assertEqual(rc, 1, out)
            self.assertIn("not a rasfleet", out)
            self.assert_no_rows(pgdb)
        rc, out = migrate(os.path.join(self.dir, "missing.db"), pgdb.url)
        self.assertEqual(rc, 1, out)
        self.assertIn("cannot open", out)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "missing.db")))

    def test_newer_database(self):
        src = self.copy_source("newer.db")
        con = sqlite3.connect(src)
        con.execute("PRAGMA user_version = 99")
        con.close()
        pgdb = self.cluster.create_database()
        rc, out = migrate(src, pgdb.url)
        self.assertEqual(rc, 1, out)
        self.assertIn("schema version 99, newer than this build", out)
        self.assert_no_rows(pgdb)

    def test_value_postgres_refuses_rolls_back(self):
        """A failure after some tables were copied (a NUL in the last
        table's text, then invalid UTF-8) leaves no row behind."""
        for bad in (b"nul\x00inside", b"latin1 \xe9t\xe9"):
            src = self.copy_source("bad.db")
            con = sqlite3.connect(src)
            con.execute("UPDATE agent_status SET last_error = CAST(? AS TEXT)", (bad,))
            con.commit()
            con.close()
            pgdb = self.cluster.create_database()
            rc, out = migrate(src, pgdb.url)
            self.assertEqual(rc, 1, out)
            self.assertIn("agent_status", out)
            self.assertNotIn("migrated ", out)
            self.assertRegex(out, r"\n\s+events\s+\d+ rows")  # it got that far
            self.assert_no_rows(pgdb)

    def test_usage(self):
        r = h.subprocess.run([h.collector_binary(), "migrate", "--from", self.db_path,
                              "--db", os.path.join(self.dir, "x.db")],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--db postgresql://", r.stderr)
        r = h.subprocess.run([h.collector_binary(), "migrate", "--db", "postgresql://x/y"],
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--from FILE.db", r.stderr)


if __name__ == "__main__":
    unittest.main()
