"""PostgreSQL going away and coming back, refusing writes, and two
collectors sharing one database (the scale-out layout of issue #7):

- the server stopped mid-stream: the collector answers 503 (never crashes,
  never acknowledges what it did not commit), /healthz says so, and once
  the server is back every batch is stored exactly once;
- a database that refuses writes (read-only): 503 until it accepts again;
- two collectors on different ports, the same batches posted to both at
  once: each stored once, exactly one of the two answers says
  duplicate:false; then agents spread over both while one is killed with
  kill -9 and its agents fail over: every acknowledged batch stored once.
"""
import os
import threading
import time
import unittest
import uuid

import rfharness as h


def post_until_stored(collectors, batch, deadline, answers=None):
    """Posts like an agent: on 503 or a dead collector, retry (the next
    collector in the list) until 200 or the deadline. Returns the body."""
    i = 0
    while time.time() < deadline:
        c = collectors[i % len(collectors)]
        try:
            s, rh, b = c.post_batch(batch, gzip_it=True)
        except OSError:
            s, b = None, None
        if answers is not None:
            answers.append((s, b))
        if s == 200:
            return b
        if s not in (None, 503):
            raise AssertionError("unexpected answer %s %r" % (s, b))
        i += 1
        time.sleep(0.05 if s is None else 0.2)
    raise AssertionError("batch %s not stored before the deadline" % batch["batch_id"])


# the agents here post as fast as they can: per-device rate limits are not
# under test
NO_RATE_LIMIT = {"rate_device_per_minute": 0}


def run_threads(targets):
    """Starts a thread per (function, args); returns a join() that re-raises
    the first exception any of them raised."""
    errors = []

    def wrap(fn, args):
        try:
            fn(*args)
        except BaseException as e:  # noqa: B902 - reported by join()
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=t) for t in targets]
    for t in threads:
        t.start()

    def join():
        for t in threads:
            t.join(timeout=120)
        if errors:
            raise errors[0]
    return join


@unittest.skipUnless(h.postgres_bindir() or os.environ.get("CI"), h.PG_SKIP_MESSAGE)
class PgFaultTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cluster = h.postgres_cluster()

    def assertStoredOnce(self, db, batches):
        rows = db.sql("SELECT d.uid, b.uid, b.records FROM batches b JOIN devices d"
                      " ON d.id = b.device")
        stored = {(d, b): n for d, b, n in rows}
        self.assertEqual(len(stored), len(rows))
        for batch in batches:
            key = (batch["agent"]["device_id"], batch["batch_id"])
            self.assertIn(key, stored, "acknowledged batch lost: %r" % (key,))
        self.assertEqual(db.sql("SELECT count(*) FROM events")[0][0], sum(stored.values()))
        self.assertEqual(db.sql("SELECT count(*) - count(DISTINCT h) FROM dict"), [(0,)])
        self.assertEqual(db.sql("SELECT count(*) - count(DISTINCT uid) FROM devices"), [(0,)])

    def test_server_stopped_mid_stream(self):
        db = self.cluster.create_database()
        c = h.Collector(pg=db, settings=NO_RATE_LIMIT).start()
        try:
            batches, answers, stop = [], [], threading.Event()
            deadline = time.time() + 90

            def agent(n):
                while not stop.is_set():
                    b = h.make_batch(device_id="outage-%d" % n, n_events=20,
                                     start_record=len(batches) * 100 + 1)
                    batches.append(b)
                    post_until_stored([c], b, deadline, answers)

            join = run_threads([(agent, (i,)) for i in range(3)])
            time.sleep(1.0)
            self.cluster.stop_server("fast")
            # while it is down: 503 with Retry-After, and /healthz says so
            s, rh, b = c.post_batch(h.make_batch())
            self.assertEqual((s, b["error"]), (503, "storage_unavailable"), b)
            self.assertIn("retry-after", rh)
            time.sleep(1.5)
            self.assertEqual(c.request("GET", "/healthz")[0], 503)
            self.cluster.start_server()
            back = time.time()
            while c.request("GET", "/healthz")[0] != 200:
                self.assertLess(time.time() - back, 20, "no recovery:\n" + c.read_log())
                time.sleep(0.2)
            time.sleep(1.0)
            stop.set()
            join()
            self.assertTrue(any(s == 503 for s, _ in answers), "the outage was not seen")
            self.assertTrue(c.proc.poll() is None, "collector died:\n" + c.read_log())
            self.assertEqual(c.stop(), 0, c.read_log())
            self.assertStoredOnce(db, batches)
            self.assertGreater(len(batches), 10)
        finally:
            if not self.cluster.running:
                self.cluster.start_server()
            c.cleanup()

    def test_read_only_database(self):
        db = self.cluster.create_database()
        c = h.Collector(pg=db, settings=NO_RATE_LIMIT).start()
        try:
            self.assertEqual(c.post_batch(h.make_batch())[0], 200)
            db.cluster.psql("postgres", "ALTER DATABASE %s SET default_transaction_read_only = on"
                            % db.name)
            db.cluster.psql("postgres", "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                            " WHERE datname = '%s'" % db.name)
            batch = h.make_batch()
            s, _, b = c.post_batch(batch)
            if s == 200:  # the first group may have reconnected before the ALTER applied
                batch = h.make_batch()
                s, _, b = c.post_batch(batch)
            self.assertEqual((s, b["error"]), (503, "storage_unavailable"), b)
            self.assertEqual(c.request("GET", "/healthz")[0], 503)
            db.cluster.psql("postgres", "ALTER DATABASE %s RESET default_transaction_read_only"
                            % db.name)
            b = post_until_stored([c], batch, time.time() + 20)
            self.assertFalse(b["duplicate"])
            self.assertEqual(c.stop(), 0)
            self.assertStoredOnce(db, [batch])
        finally:
            c.cleanup()

    def test_two_collectors_share_one_database(self):
        db = self.cluster.create_database()
        a = h.Collector(pg=db, settings=NO_RATE_LIMIT).start()
        b = h.Collector(pg=db, settings=NO_RATE_LIMIT).start()
        try:
            # 1. the same batches to both at once
            batches = [h.make_batch(device_id="both-%d" % (i % 7), n_events=30,
                                    start_record=i * 100 + 1) for i in range(60)]
            answers = {i: [] for i in range(len(batches))}
            deadline = time.time() + 90

            def send(c, idxs):
                for i in idxs:
                    answers[i].append(post_until_stored([c], batches[i], deadline))

            order = list(range(len(batches)))
            run_threads([(send, (c, o)) for c in (a, b) for o in (order[0::2], order[1::2])])()
            for i, got in answers.items():
                self.assertEqual(len(got), 2)
                self.assertEqual(sorted(x["duplicate"] for x in got), [False, True], got)
            self.assertStoredOnce(db, batches)
            # 2. agents spread over both; kill -9 one mid-load; its agents fail over
            acked, stop = [], threading.Event()
            lock = threading.Lock()

            def agent(n, first):
                k = 0
                while not stop.is_set():
                    batch = h.make_batch(device_id="spread-%d" % n, n_events=20,
                                         start_record=k * 100 + 1)
                    k += 1
                    post_until_stored([first, b if first is a else a], batch, deadline)
                    with lock:
                        acked.append(batch)

            join = run_threads([(agent, (n, (a, b)[n % 2])) for n in range(4)])
            time.sleep(1.5)
            a.kill9()
            time.sleep(1.5)
            stop.set()
            join()
            self.assertGreater(len(acked), 8)
            self.assertEqual(b.stop(), 0, b.read_log())
            self.assertStoredOnce(db, batches + acked)
        finally:
            a.cleanup()
            b.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
