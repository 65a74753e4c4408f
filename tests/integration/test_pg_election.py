"""Analyzer election on PostgreSQL (server/pg_election.c) over the real
binaries: two collectors on one database, exactly one holds the advisory
lock and computes the findings (/metrics rasfleet_analyzer_leader, /healthz
"analyzer"), both serve the same document (the findings row: generated,
node); kill -9 of the leader and the other takes over within a bounded
time; a collector that cannot win the lock and finds no published row
answers 503 findings_pending. Skipped without PostgreSQL's server binaries."""
import os
import subprocess
import time
import unittest

import rfharness as h

NEED_PG = unittest.skipUnless(h.postgres_bindir() or os.environ.get("CI"), h.PG_SKIP_MESSAGE)
LOCK_KEY = 7021802845648004213  # server/pg_election.c
TAKEOVER_S = 15  # the analyzer ticks every 5 s


def leader_gauge(c):
    text = c.request("GET", "/metrics")[2].decode()
    return [int(float(l.split()[-1])) for l in text.splitlines()
            if l.startswith("rasfleet_analyzer_leader ")][0]


def role(c):
    s, body = c.get_json("/healthz", token=None)
    return body["analyzer"] if s == 200 else None


def wait_for(what, fn, timeout):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.time() > deadline:
            raise AssertionError("timed out after %d s waiting for %s" % (timeout, what))
        time.sleep(0.2)


@NEED_PG
class PgElectionTest(unittest.TestCase):
    def setUp(self):
        self.cluster = h.postgres_cluster()
        self.pgdb = self.cluster.create_database()
        self.collectors = []

    def tearDown(self):
        for c in self.collectors:
            c.cleanup()

    def collector(self):
        c = h.Collector(pg=self.pgdb)
        self.collectors.append(c)
        return c.start()

    def leaders(self):
        return [c for c in self.collectors if c.proc and leader_gauge(c) == 1]

    def findings(self, c):
        s, body = c.get_json("/api/v1/findings")
        return body if s == 200 else None

    def test_one_leader_same_findings_and_takeover(self):
        a = self.collector()
        b = self.collector()
        for c in (a, b):  # something to compute from
            self.assertEqual(c.post_batch(h.make_batch(n_events=5))[0], 200)
        leader = wait_for("one leader", lambda: len(self.leaders()) == 1 and self.leaders()[0],
                          TAKEOVER_S)
        follower = b if leader is a else a
        self.assertEqual(leader_gauge(follower), 0)
        self.assertEqual((role(leader), role(follower)), ("leader", "follower"))

        # both serve the leader's document: the findings row
        def same():
            fl, ff = self.findings(leader), self.findings(follower)
            return fl and fl == ff and fl
        doc = wait_for("the same findings on both", same, TAKEOVER_S)
        self.assertEqual(doc["node"].rsplit("/", 1)[1], str(leader.proc.pid))
        row = self.pgdb.sql("SELECT generated, node FROM findings WHERE id = 1")
        self.assertEqual(row[0][1], doc["node"])
        self.assertEqual(row[0][0], h.ms(doc["generated_at"]))
        self.assertIn("findings", doc)
        # the rule filter works on the follower's copy too
        s, body = follower.get_json("/api/v1/findings?rule=no-such-rule")
        self.assertEqual((s, body["findings"], body["node"]), (200, [], doc["node"]))

        # kill -9 the leader: its session ends, the follower takes the lock
        t0 = time.time()
        leader.kill9()
        wait_for("the follower to take over", lambda: leader_gauge(follower) == 1, TAKEOVER_S)
        took = time.time() - t0
        self.assertEqual(role(follower), "leader")
        new = wait_for("findings from the new leader",
                       lambda: (lambda d: d and d["node"] != doc["node"] and d)(
                           self.findings(follower)), TAKEOVER_S)
        self.assertEqual(new["node"].rsplit("/", 1)[1], str(follower.proc.pid))
        self.assertGreaterEqual(h.ms(new["generated_at"]), h.ms(doc["generated_at"]))
        self.assertEqual(self.pgdb.sql("SELECT node FROM findings"), [(new["node"],)])
        print("takeover after kill -9: %.1f s" % took)

        # the killed collector comes back as a follower serving the same row
        leader.start()
        wait_for("the restarted one to serve the row",
                 lambda: self.findings(leader) == self.findings(follower), TAKEOVER_S)
        self.assertEqual((leader_gauge(leader), leader_gauge(follower)), (0, 1))

    def test_no_leader_yet_is_503_then_takeover_on_release(self):
        # someone else holds the lock (a psql session) and no row exists
        holder = subprocess.Popen(
            [self.cluster.psql_bin, "-X", "-q", "-h", self.cluster.dir, "-p",
             str(self.cluster.port), "-U", "postgres", "-d", self.pgdb.name, "-c",
             "SELECT pg_advisory_lock(%d)" % LOCK_KEY, "-c", "SELECT pg_sleep(60)"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait_for("the lock to be held", lambda: self.pgdb.sql(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted")[0][0]
                == 1, 10)
            c = self.collector()
            time.sleep(1)
            self.assertEqual(leader_gauge(c), 0)
            self.assertEqual(role(c), "follower")
            s, body = c.get_json("/api/v1/findings")
            self.assertEqual((s, body["error"]), (503, "findings_pending"))
        finally:
            # the holder's backend sleeps and would not notice its client
            # going away: end the session, as a dead collector's would end
            self.cluster.psql(self.pgdb.name, "SELECT pg_terminate_backend(pid) FROM pg_locks"
                              " WHERE locktype = 'advisory' AND granted"
                              " AND pid <> pg_backend_pid()")
            holder.kill()
            holder.wait()
        wait_for("the collector to take the released lock", lambda: leader_gauge(c) == 1,
                 TAKEOVER_S)
        doc = wait_for("findings", lambda: self.findings(c), TAKEOVER_S)
        self.assertEqual(doc["node"].rsplit("/", 1)[1], str(c.proc.pid))

    def test_sqlite_collector_is_its_own_leader(self):
        with h.Collector() as c:
            self.assertEqual((leader_gauge(c), role(c)), (1, "leader"))
            s, body = c.get_json("/api/v1/findings")
            self.assertEqual(s, 200)
            self.assertNotIn("node", body)  # unchanged on SQLite


if __name__ == "__main__":
    unittest.main()
