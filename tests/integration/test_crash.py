"""kill -9 of the collector in the middle of a stream of batches, repeated:
after every restart the database passes integrity_check, every batch that
got a 200 is stored exactly once, and no batch is stored in part."""
import os
import random
import threading
import time
import unittest
import uuid

import rfharness as h

CYCLES = int(os.environ.get("RF_CRASH_CYCLES", "20"))
THREADS = 4
EVENTS_PER_BATCH = 50


class CrashTest(unittest.TestCase):
    cycles = CYCLES

    def new_collector(self):
        """The collector under test (test_pg_crash.py runs this test on
        PostgreSQL by overriding this)."""
        return h.Collector()

    def test_kill9_mid_stream(self):
        rng = random.Random(20261125)
        c = self.new_collector()
        devices = ["crash-dev-%03d" % i for i in range(40)]
        next_record = {d: 1 for d in devices}
        lock = threading.Lock()
        acked = {}  # (device, batch_id) -> record ids
        try:
            for cycle in range(self.cycles):
                c.start()
                stop = threading.Event()

                def worker(seed):
                    wrng = random.Random(seed)
                    while not stop.is_set():
                        dev = wrng.choice(devices)
                        with lock:
                            first = next_record[dev]
                            next_record[dev] += EVENTS_PER_BATCH
                        batch = h.make_batch(device_id=dev, n_events=EVENTS_PER_BATCH,
                                             start_record=first)
                        try:
                            s, _, b = c.post_batch(batch, gzip_it=True)
                        except OSError:
                            return  # the collector is gone
                        if s == 200:
                            with lock:
                                acked[(dev, batch["batch_id"])] = first

                threads = [threading.Thread(target=worker, args=(cycle * 100 + i,))
                           for i in range(THREADS)]
                for t in threads:
                    t.start()
                time.sleep(rng.uniform(0.3, 1.2))
                c.kill9()
                stop.set()
                for t in threads:
                    t.join(timeout=60)
                self.verify(c, acked)
            self.assertGreater(len(acked), self.cycles, "the load loop acknowledged too few batches")
            # after the last crash the collector comes back and answers duplicates
            c.start()
            (dev, bid), first = next(iter(acked.items()))
            batch = h.make_batch(device_id=dev, batch_id=bid, n_events=EVENTS_PER_BATCH,
                                 start_record=first)
            s, _, b = c.post_batch(batch)
            self.assertEqual((s, b["duplicate"]), (200, True))
            self.assertEqual(c.stop(), 0)
            self.verify(c, acked)
        finally:
            c.cleanup()

    def verify(self, c, acked):
        if not c.pg:
            self.assertEqual(c.sql("PRAGMA integrity_check"), [("ok",)])
        stored = {(d, b): n for d, b, n in c.sql(
            "SELECT d.uid, b.uid, b.records FROM batches b JOIN devices d ON d.id = b.device")}
        for key in acked:
            self.assertIn(key, stored, "acknowledged batch lost: %r" % (key,))
        # no partial batch: events on disk equal the records of stored batches
        total = c.sql("SELECT count(*) FROM events")[0][0]
        self.assertEqual(total, sum(stored.values()))
        per_device = dict(c.sql("SELECT d.uid, count(*) FROM events e JOIN devices d"
                                " ON d.id = e.device GROUP BY d.uid"))
        want = {}
        for (d, _), n in stored.items():
            want[d] = want.get(d, 0) + n
        self.assertEqual(per_device, want)


if __name__ == "__main__":
    unittest.main(verbosity=2)
