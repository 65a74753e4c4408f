"""Several collectors on one PostgreSQL answer for the whole fleet
(server/pg_tail.c, the consistency promise of docs/storage.md).

One throwaway cluster, two collectors on their own loopback ports with a
short --pg-refresh-ms. Simulated agents post batches spread across both
(each retries a batch until some collector acknowledges it, as the agent
does); one collector is killed with SIGKILL in the middle of the load and
started again. Then:
- every acknowledged batch is stored exactly once (SQL);
- once the promised window has passed, both collectors' overview, errors
  (several group_by), trend and device list agree with each other and with
  SQL over the raw rows (h.ReadApiChecks, as test_read_api.py checks SQLite);
- a batch posted to one collector shows in the other's answers within the
  promised window (refresh interval + the write transaction), measured;
- a collector started on the existing database answers like those that saw
  everything (the rebuild).
Bounded: DEVICES x BATCHES_PER_DEVICE batches from WORKERS threads.
"""
import os
import random
import shutil
import subprocess
import threading
import time
import unittest
import uuid

import rfharness as h

NEED_PG = unittest.skipUnless(h.postgres_bindir() or os.environ.get("CI"), h.PG_SKIP_MESSAGE)

REFRESH_MS = 200
DEVICES = 60
BATCHES_PER_DEVICE = 8
WORKERS = 4
SEED = 11
CODES = [809, 812, 13801, 13868, 868]
CONNECTIONS = ["AOVPN User", "AOVPN Device"]
SERVERS = ["vpn1.example.net", "vpn2.example.net", "vpn3.example.net"]
GROUP_BY = ("code", "connection", "os_version", "server")
HOUR = 3600 * 1000


def rfc3339(t_ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ms // 1000)) + ".%03dZ" % (t_ms % 1000)


def fleet_batches(now):
    """Per device, its batches in posting order: outcome events spread over
    the last 6 days (most in the last 20 hours), progress events that are
    not attempts, events resent under a new batch id (deduplicated), VPN
    policy snapshots of which one arrives after a newer one (ignored), and
    a changing os_version."""
    rnd = random.Random(SEED)
    out = []
    for d in range(DEVICES):
        uid = "mn-%02d-%s" % (d, uuid.UUID(int=rnd.getrandbits(128)).hex[:12])
        agent = {"device_id": uid, "hostname": "LT-MN-%02d" % d, "os_version": "10.0.19045",
                 "agent_version": "0.2.0"}
        batches, rid = [], 0
        for b in range(BATCHES_PER_DEVICE):
            records = []
            for _ in range(rnd.randrange(5, 25)):
                if rnd.random() < 0.2:   # older than a day, inside the 7d window
                    t = now - rnd.randrange(21 * HOUR, 6 * 24 * HOUR)
                else:
                    t = now - rnd.randrange(5 * 60000, 20 * HOUR)
                conn = rnd.choice(CONNECTIONS)
                rid += 1
                records.append({"kind": "ras_event", "time": rfc3339(t), "event_id": 20221,
                                "record_id": rid, "level": "information", "user": "CORP\\u",
                                "connection": conn})
                rid += 1
                ev = {"kind": "ras_event", "time": rfc3339(t + 1000), "record_id": rid,
                      "user": "CORP\\u", "connection": conn}
                if rnd.random() < 0.5:
                    ev.update(event_id=20225, level="information")
                else:
                    ev.update(event_id=20227, level="error", error_code=rnd.choice(CODES))
                records.append(ev)
            if b in (1, BATCHES_PER_DEVICE - 2):
                # the later snapshot first, then an older one: ignored
                t = now - (2 if b == 1 else 1) * HOUR
                records += [{"kind": "vpn_policy", "time": rfc3339(t), "connection": c,
                             "server": rnd.choice(SERVERS), "tunnel_type": "Ikev2",
                             "auth_method": "Eap", "split_tunneling": True,
                             "device_tunnel": c == "AOVPN Device"} for c in CONNECTIONS]
            if b == BATCHES_PER_DEVICE - 1 and d % 3 == 0:
                agent = dict(agent, os_version="10.0.26100")
            if b == BATCHES_PER_DEVICE - 1:   # resend some events under a new batch id
                records += [r for bb in batches for r in bb["records"]
                            if r["kind"] == "ras_event"][::4]
            batches.append({"schema": 1, "batch_id": "mn-%d-%d" % (d, b), "agent": dict(agent),
                            "records": records})
        out.append(batches)
    return out


def health(c):
    st, body = c.get_json("/healthz")
    return body if st == 200 else None


def wait_complete(c, t_ms, timeout=30):
    """Waits until c's hot aggregate has every transaction committed before t_ms."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        b = health(c)
        if b and b.get("hot_aggregate") and h.ms(b["hot_aggregate"]["complete_as_of"]) >= t_ms:
            return b["hot_aggregate"]
        time.sleep(0.05)
    raise AssertionError("not complete as of %d after %ds: %s" % (t_ms, timeout, health(c)))


@NEED_PG
class PgMultiNodeTest(h.ReadApiChecks, unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.pgdb = h.postgres_cluster().create_database()
        args = ["--pg-refresh-ms", str(REFRESH_MS)]
        cls.a = h.Collector(pg=cls.pgdb, extra_args=args).start()
        cls.b = h.Collector(pg=cls.pgdb, extra_args=args).start()
        cls.c = cls.a
        cls.acked = {}
        cls.expected_events = 0
        try:
            cls.load()
        except BaseException:
            cls.a.cleanup()
            cls.b.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        for c in (cls.a, cls.b):
            rc = c.stop()
            log = c.read_log()
            c.cleanup()
            assert rc == 0, "collector did not stop cleanly: %s\n%s" % (rc, log)

    @classmethod
    def post_until_acked(cls, batch, first):
        """Posts to `first`, then alternates collectors until one answers 200
        (the agent's retry); at most 60 s."""
        nodes = [first, cls.b if first is cls.a else cls.a]
        deadline = time.time() + 60
        k = 0
        while time.time() < deadline:
            c = nodes[k % 2]
            k += 1
            try:
                if c.port and c.proc and c.proc.poll() is None:
                    st, _, body = c.post_batch(batch, gzip_it=True)
                    if st == 200:
                        return body
            except OSError:
                pass
            time.sleep(0.05)
        raise AssertionError("batch %s never acknowledged" % batch["batch_id"])

    @classmethod
    def load(cls):
        cls.now = int(time.time() * 1000)
        devices = fleet_batches(cls.now)
        for batches in devices:
            seen = set()
            for b in batches:
                for r in b["records"]:
                    if r["kind"] == "ras_event" and r["record_id"] not in seen:
                        seen.add(r["record_id"])
                        cls.expected_events += 1
        lock = threading.Lock()
        errors = []
        half = threading.Event()

        def worker(k):
            try:
                n = 0
                for d in range(k, DEVICES, WORKERS):
                    for i, b in enumerate(devices[d]):
                        first = cls.a if (d + i) % 2 == 0 else cls.b
                        body = cls.post_until_acked(b, first)
                        with lock:
                            cls.acked[(b["agent"]["device_id"], b["batch_id"])] = body
                        n += 1
                        if k == 0 and n == 10:
                            half.set()
            except BaseException as e:  # reported by the main thread
                errors.append(e)
                half.set()

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(WORKERS)]
        for t in threads:
            t.start()
        half.wait(60)
        # collector B dies mid-load (SIGKILL: no drain), then comes back
        cls.b.kill9()
        time.sleep(0.3)
        cls.b.start()
        for t in threads:
            t.join(120)
        if errors:
            raise errors[0]
        cls.loaded_ms = int(time.time() * 1000)

    # ---- checks ----
    def test_every_acknowledged_batch_stored_once(self):
        want = {(d, b) for d, b in self.acked}
        self.assertEqual(len(want), DEVICES * BATCHES_PER_DEVICE)
        rows = self.c.sql("SELECT d.uid, b.uid FROM batches b JOIN devices d ON d.id = b.device"
                          " WHERE d.uid LIKE 'mn-%'")
        self.assertEqual(len(rows), len(set(rows)))
        self.assertEqual(set(rows), want)
        self.assertEqual(self.c.sql("SELECT count(*) FROM events e JOIN devices d"
                                    " ON d.id = e.device WHERE d.uid LIKE 'mn-%'")[0][0],
                         self.expected_events)

    def answers(self, c):
        """Hot-window answers of collector c, keyed by path (generated_at
        left out; groups of equal failures sorted by key)."""
        out = {}
        paths = ["/api/v1/overview", "/api/v1/overview?window=7d", "/api/v1/overview?window=1h"]
        paths += ["/api/v1/errors?group_by=%s&window=%s" % (by, w)
                  for by in GROUP_BY for w in ("24h", "7d")]
        paths += ["/api/v1/trend?window=24h", "/api/v1/trend?window=7d&bucket=1d",
                  "/api/v1/trend?window=24h&code=809"]
        paths += ["/api/v1/devices?limit=1000", "/api/v1/devices?limit=1000&code=13868&window=7d"]
        for p in paths:
            st, body = c.get_json(p)
            self.assertEqual(st, 200, (p, body))
            body.pop("generated_at", None)
            body.get("groups", []).sort(key=lambda g: (-g["failures"], str(g["key"])))
            if isinstance(body.get("devices"), list):
                body["devices"] = sorted(body["devices"], key=lambda x: x["device_id"])
            out[p] = body
        return out

    def stable_answers(self, *collectors):
        """Answers of each collector, taken within one minute (windows end at
        the current minute): retried when a minute boundary passed."""
        for _ in range(3):
            minute = int(time.time() // 60)
            got = [self.answers(c) for c in collectors]
            if int(time.time() // 60) == minute:
                return got
        self.fail("could not read the answers within one minute")

    def assert_same(self, x, y, what):
        for path, body in x.items():
            self.assertEqual(y[path], body, "%s: %s" % (what, path))

    def check_against_sql(self, c):
        saved, self.c = self.c, c
        try:
            for w in ("24h", "7d", "1h"):
                body = self.get("/api/v1/overview?window=" + w)
                frm, to = self.window(body)
                self.assertEqual((body["attempts"], body["failures"]), self.sql_outcomes(frm, to), w)
                self.assertEqual(body["devices_known"],
                                 self.c.sql("SELECT count(*) FROM devices")[0][0])
                self.assertEqual(body["devices_reporting"], self.c.sql(
                    "SELECT count(*) FROM devices WHERE last_seen >= ?", (frm,))[0][0], w)
            for by in GROUP_BY:
                for w in ("24h", "7d"):
                    body = self.get("/api/v1/errors?group_by=%s&window=%s" % (by, w))
                    frm, to = self.window(body)
                    self.assertEqual(self.api_groups(body, by), self.sql_groups(by, frm, to),
                                     "group_by=%s window=%s" % (by, w))
            self.check_trend("window=24h&bucket=4h")
            self.check_trend("window=7d&bucket=1d")
            self.check_trend("window=24h&bucket=6h&code=809", code=809)
            body = self.get("/api/v1/devices?limit=1000")
            got = {d["device_id"]: d for d in body["devices"]}
            want = {uid: (os_v, last) for uid, os_v, last in self.c.sql(
                "SELECT uid, os_version, last_seen FROM devices")}
            self.assertEqual(set(got), set(want))
            for uid, (os_v, last) in want.items():
                self.assertEqual(got[uid]["os_version"], os_v, uid)
                self.assertEqual(h.ms(got[uid]["last_seen"]), last, uid)
            seen = [h.ms(d["last_seen"]) for d in body["devices"]]
            self.assertEqual(seen, sorted(seen, reverse=True), "newest first")
        finally:
            self.c = saved

    def test_1_both_collectors_agree_with_each_other_and_sql(self):
        for c in (self.a, self.b):
            wait_complete(c, self.loaded_ms)
        x, y = self.stable_answers(self.a, self.b)
        self.assertGreater(x["/api/v1/overview"]["failures"], 100)
        self.assert_same(x, y, "A vs B")
        self.check_against_sql(self.a)   # and so B's, equal to A's
        # the tail applied rows: the restarted B rebuilt, then tailed A's
        text = self.b.request("GET", "/metrics")[2].decode()
        applied = [float(l.split()[-1]) for l in text.splitlines()
                   if l.startswith("rasfleet_pg_tail_rows_applied_total ")]
        self.assertEqual(len(applied), 1)
        self.assertGreater(applied[0], 0)
        for name in ("rasfleet_pg_tail_lag_seconds", "rasfleet_pg_tail_refreshes_total",
                     "rasfleet_pg_tail_errors_total", "rasfleet_pg_tail_connected 1",
                     "rasfleet_pg_tail_last_refresh_timestamp_seconds"):
            self.assertIn("\n" + name, text)
        promtool = shutil.which("promtool")
        if promtool:
            r = subprocess.run([promtool, "check", "metrics"], input=text.encode(),
                               capture_output=True)
            self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode())
        lag = [float(l.split()[-1]) for l in text.splitlines()
               if l.startswith("rasfleet_pg_tail_lag_seconds ")][0]
        self.assertLess(lag, 10)
        hb = health(self.b)["hot_aggregate"]
        self.assertTrue(hb["connected"])
        self.assertIsNone(hb["last_error"])

    def test_2_batch_on_a_visible_on_b_within_the_promise(self):
        code = 4242 + random.randrange(1000)
        uid = "probe-" + uuid.uuid4().hex[:8]
        batch = h.make_batch(device_id=uid, n_events=3, code=code,
                             time_str=rfc3339(int(time.time() * 1000) - 60000))
        path = "/api/v1/errors?group_by=code&window=1h"
        st, before = self.b.get_json(path)
        self.assertNotIn(code, [g["code"] for g in before["groups"]])
        t0 = time.time()
        st, _, body = self.a.post_batch(batch)
        self.assertEqual(st, 200, body)
        acked = time.time()
        # A sees its own commit at once (the commit hook)
        st, mine = self.a.get_json(path)
        self.assertIn((code, 3), [(g["code"], g["failures"]) for g in mine["groups"]])
        # B within refresh interval + the write transaction (+ scheduling noise)
        promise = REFRESH_MS / 1000 + (acked - t0)
        deadline = acked + promise + 3.0
        seen = None
        while time.time() < deadline:
            st, got = self.b.get_json(path)
            if (code, 3) in [(g["code"], g["failures"]) for g in got["groups"]]:
                seen = time.time()
                break
            time.sleep(0.02)
        self.assertIsNotNone(seen, "B never showed A's batch")
        sys_msg = "visible on B %.0f ms after A acknowledged it (promise %.0f ms + noise)\n" % (
            (seen - acked) * 1000, promise * 1000)
        os.write(2, sys_msg.encode())
        st, dev = self.b.get_json("/api/v1/devices?q=" + uid)
        self.assertEqual([d["device_id"] for d in dev["devices"]], [uid])
        # a resend of the same batch to B changes nothing
        st, _, body = self.b.post_batch(batch)
        self.assertEqual((st, body["duplicate"]), (200, True))
        wait_complete(self.a, int(time.time() * 1000))
        st, again = self.a.get_json(path)
        self.assertIn((code, 3), [(g["code"], g["failures"]) for g in again["groups"]])

    def test_3_restart_rebuild_answers_like_those_that_saw_everything(self):
        now_ms = int(time.time() * 1000)
        for c in (self.a, self.b):
            wait_complete(c, now_ms)
        fresh = h.Collector(pg=self.pgdb, extra_args=["--pg-refresh-ms", str(REFRESH_MS)])
        fresh.start()
        try:
            x, z = self.stable_answers(self.a, fresh)
            self.assert_same(x, z, "A vs a collector started on the database")
            self.check_against_sql(fresh)
            hb = health(fresh)["hot_aggregate"]
            self.assertTrue(hb["connected"])
            self.assertEqual(hb["source"], "postgresql")
        finally:
            rc = fresh.stop()
            log = fresh.read_log()
            fresh.cleanup()
            self.assertEqual(rc, 0, log[-6000:])

    def test_5_long_transaction_holds_the_window_back(self):
        """A transaction left open elsewhere (it wrote, so it holds an id)
        keeps xmin below every later commit: B applies nothing committed
        after it started, and says so (lag grows), until it ends."""
        cl = self.pgdb.cluster
        psql = subprocess.Popen([cl.psql_bin, "-X", "-q", "-h", cl.dir, "-p", str(cl.port),
                                 "-U", "postgres", "-d", self.pgdb.name],
                                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            psql.stdin.write("BEGIN; SELECT pg_current_xact_id();\n")
            psql.stdin.flush()
            deadline = time.time() + 20
            while time.time() < deadline and not cl.psql(
                    self.pgdb.name, "SELECT count(*) FROM pg_stat_activity WHERE backend_xid IS"
                    " NOT NULL AND state = 'idle in transaction'")[0][0]:
                time.sleep(0.05)
            code = 6000 + random.randrange(1000)
            batch = h.make_batch(device_id="probe-" + uuid.uuid4().hex[:8], n_events=2,
                                 code=code, time_str=rfc3339(int(time.time() * 1000) - 60000))
            st, _, body = self.a.post_batch(batch)
            self.assertEqual(st, 200, body)
            path = "/api/v1/errors?group_by=code&window=1h"
            time.sleep(10 * REFRESH_MS / 1000)
            st, got = self.b.get_json(path)
            self.assertNotIn(code, [g["code"] for g in got["groups"]])
            lag = self.tail_series(self.b)["rasfleet_pg_tail_lag_seconds"]
            self.assertGreater(lag, 8 * REFRESH_MS / 1000)
        finally:
            psql.communicate("COMMIT;\n", timeout=30)
        ended = int(time.time() * 1000)
        wait_complete(self.b, ended, timeout=10)
        st, got = self.b.get_json(path)
        self.assertIn((code, 2), [(g["code"], g["failures"]) for g in got["groups"]])
        self.assertLess(self.tail_series(self.b)["rasfleet_pg_tail_lag_seconds"], 5)

    def tail_series(self, c):
        text = c.request("GET", "/metrics")[2].decode()
        return {l.split()[0]: float(l.split()[1]) for l in text.splitlines()
                if l.startswith("rasfleet_pg_tail_")}

    def test_9_database_outage_keeps_answers_and_recovers(self):
        """PostgreSQL stops: the aggregate keeps answering what it has and
        /metrics shows the tail disconnected and the lag growing; once the
        server is back the tail reconnects (backoff) and catches up."""
        cluster = self.pgdb.cluster
        wait_complete(self.a, int(time.time() * 1000))
        st, before = self.a.get_json("/api/v1/overview?window=7d")
        self.assertEqual(st, 200)
        errors0 = self.tail_series(self.a)["rasfleet_pg_tail_errors_total"]
        cluster.stop_server("fast")
        try:
            deadline = time.time() + 20
            while time.time() < deadline:
                m = self.tail_series(self.a)
                if m["rasfleet_pg_tail_connected"] == 0 and \
                        m["rasfleet_pg_tail_errors_total"] > errors0:
                    break
                time.sleep(0.1)
            self.assertEqual(m["rasfleet_pg_tail_connected"], 0, m)
            lag1 = m["rasfleet_pg_tail_lag_seconds"]
            st, during = self.a.get_json("/api/v1/overview?window=7d")
            self.assertEqual(st, 200, during)
            self.assertEqual((during["attempts"], during["failures"]),
                             (before["attempts"], before["failures"]))
            time.sleep(1.0)
            self.assertGreater(self.tail_series(self.a)["rasfleet_pg_tail_lag_seconds"], lag1)
        finally:
            cluster.start_server()
        code = 5000 + random.randrange(1000)
        batch = h.make_batch(device_id="probe-" + uuid.uuid4().hex[:8], n_events=2, code=code,
                             time_str=rfc3339(int(time.time() * 1000) - 60000))
        self.post_until_acked(batch, self.b)
        acked = int(time.time() * 1000)
        hb = wait_complete(self.a, acked, timeout=45)
        self.assertTrue(hb["connected"])
        st, got = self.a.get_json("/api/v1/errors?group_by=code&window=1h")
        self.assertIn((code, 2), [(g["code"], g["failures"]) for g in got["groups"]])


if __name__ == "__main__":
    unittest.main(verbosity=2)
