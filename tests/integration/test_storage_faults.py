"""Disk full and a read-only database while the collector runs: ingest gets
503 storage_unavailable with Retry-After and /healthz says so, the process
keeps running, nothing acknowledged is lost, and writes resume when the
space comes back."""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import rfharness as h

# these tests post hundreds of batches from one device on purpose
NO_RATE_LIMIT = {"rate_device_per_minute": 0}


def can_mount():
    d = tempfile.mkdtemp(prefix="rf-mnt-probe-")
    try:
        ok = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", d],
                            capture_output=True).returncode == 0
        if ok:
            subprocess.run(["umount", d])
        return ok
    finally:
        os.rmdir(d)


class StorageFaultTest(unittest.TestCase):
    def wait_health(self, c, want, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            s, _, _ = c.request("GET", "/healthz")
            if s == want:
                return
            time.sleep(0.2)
        self.fail("healthz never answered %d" % want)

    def test_db_size_cap_gives_503(self):
        with h.Collector(extra_args=["--max-db-bytes", "400000"], settings=NO_RATE_LIMIT) as c:
            acked = 0
            saw = None
            for i in range(200):
                s, rh, b = c.post_batch(h.make_batch(device_id="cap-dev", n_events=200,
                                                     start_record=i * 200 + 1), gzip_it=True)
                if s == 200:
                    acked += 1
                    continue
                saw = (s, rh, b)
                break
            self.assertIsNotNone(saw, "the database cap was never reached")
            s, rh, b = saw
            self.assertEqual((s, b["error"]), (503, "storage_unavailable"))
            self.assertIn("Retry-After".lower(), rh)
            self.assertIn("full", b["message"].lower())
            self.wait_health(c, 503)
            stored = c.sql("SELECT count(*) FROM batches")[0][0]
            self.assertEqual(stored, acked)
            self.assertEqual(c.sql("SELECT count(*) FROM events")[0][0], acked * 200)
            self.assertIsNone(c.proc.poll(), "collector died")

    @unittest.skipUnless(os.geteuid() == 0 and can_mount(), "needs root and tmpfs mounts")
    def test_disk_full_then_space_returns(self):
        mnt = tempfile.mkdtemp(prefix="rf-full-")
        subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", mnt], check=True)
        try:
            c = h.Collector(db=os.path.join(mnt, "rasfleet.db"), settings=NO_RATE_LIMIT)
            c.start()
            try:
                acked, failed = [], None
                for i in range(400):
                    batch = h.make_batch(device_id="full-dev", n_events=100,
                                         start_record=i * 100 + 1)
                    s, rh, b = c.post_batch(batch, gzip_it=True)
                    if s == 200:
                        acked.append(batch)
                    else:
                        failed = (s, b, batch)
                        break
                self.assertIsNotNone(failed, "tmpfs never filled up")
                self.assertEqual((failed[0], failed[1]["error"]), (503, "storage_unavailable"))
                self.wait_health(c, 503)
                self.assertIsNone(c.proc.poll(), "collector died on a full disk")
                subprocess.run(["mount", "-o", "remount,size=64m", mnt], check=True)
                self.wait_health(c, 200)
                s, _, b = c.post_batch(failed[2], gzip_it=True)  # the agent's retry
                self.assertEqual((s, b["duplicate"]), (200, False))
                self.assertEqual(c.stop(), 0)
                self.assertEqual(c.sql("PRAGMA integrity_check"), [("ok",)])
                self.assertEqual(c.sql("SELECT count(*) FROM batches")[0][0], len(acked) + 1)
                self.assertEqual(c.sql("SELECT count(*) FROM events")[0][0], (len(acked) + 1) * 100)
            finally:
                c.cleanup()
        finally:
            subprocess.run(["umount", "-l", mnt])
            shutil.rmtree(mnt, ignore_errors=True)

    def test_readonly_database_file_at_start(self):
        # A database the collector may not write (opened read-only by SQLite
        # because of a read-only flag it cannot override): 503, no crash.
        work = tempfile.mkdtemp(prefix="rf-ro-")
        try:
            db = os.path.join(work, "rasfleet.db")
            c = h.Collector(workdir=work, db=db)
            c.start()
            s, _, b = c.post_batch(h.make_batch(device_id="ro-dev"))
            self.assertEqual(s, 200)
            self.assertEqual(c.stop(), 0)
            if subprocess.run(["chattr", "+i", db], capture_output=True).returncode != 0:
                self.skipTest("chattr +i not supported here")
            try:
                c.start()
                s, rh, b = c.post_batch(h.make_batch(device_id="ro-dev"))
                self.assertEqual((s, b["error"]), (503, "storage_unavailable"), b)
                self.assertIn("retry-after", rh)
                self.wait_health(c, 503)
                self.assertIsNone(c.proc.poll())
                self.assertEqual(c.stop(), 0)
            finally:
                subprocess.run(["chattr", "-i", db])
            self.assertEqual(c.sql("SELECT count(*) FROM batches")[0][0], 1)
        finally:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
