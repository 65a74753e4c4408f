"""The deploy/ artefacts, checked with their ecosystems' own tools: the
systemd unit with systemd-analyze verify, /metrics with promtool, the
example config by the collector itself, and the shell scripts with bash -n."""
import os
import shutil
import subprocess
import tempfile
import unittest

import rfharness as h

SRC = os.environ.get("RF_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
CI = os.environ.get("CI") == "true"


def tool(name):
    path = shutil.which(name)
    if not path and CI:
        raise AssertionError(name + " is required in CI (deploy/install-deps.sh --test installs it)")
    return path


class DeployTest(unittest.TestCase):
    def test_systemd_unit_verifies(self):
        exe = tool("systemd-analyze")
        if not exe:
            self.skipTest("systemd-analyze not installed")
        unit = os.path.join(SRC, "deploy", "rasfleet-collector.service")
        r = subprocess.run([exe, "verify", unit], capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertEqual(r.stderr.strip(), "", r.stderr)
        with open(unit) as f:
            text = f.read()
        for opt in ("DynamicUser=yes", "StateDirectory=rasfleet", "NoNewPrivileges=yes",
                    "ProtectSystem=strict", "CapabilityBoundingSet="):
            self.assertIn(opt, text)

    def test_metrics_pass_promtool(self):
        exe = tool("promtool")
        if not exe:
            self.skipTest("promtool not installed")
        with h.Collector() as c:
            # produce some of every series: a stored batch, a duplicate, a refusal
            batch = h.make_batch()
            c.post_batch(batch)
            c.post_batch(batch)
            c.post_batch(b"{")
            # one agent that dropped 3 batches, one healthy: the fleet gauges
            s, _, _ = c.post_batch(h.make_status_batch(dropped=3, spool_bytes=5000,
                                                       spool_batches=2))
            self.assertEqual(s, 200)
            s, _, _ = c.post_batch(h.make_status_batch(spool_bytes=100, spool_batches=1))
            self.assertEqual(s, 200)
            s, rh, data = c.request("GET", "/metrics")
            self.assertEqual(s, 200)
            self.assertTrue(rh["content-type"].startswith("text/plain; version=0.0.4"))
        r = subprocess.run([exe, "check", "metrics"], input=data, capture_output=True)
        self.assertEqual(r.returncode, 0, (r.stdout + r.stderr).decode())
        self.assertIn(b'rasfleet_ingest_batches_total{result="duplicate"} 1', data)
        self.assertIn(b'rasfleet_ingest_records_total{kind="agent_status"} 2\n', data)
        for line in (b"rasfleet_agents_reporting_status 2", b"rasfleet_agents_dropping 1",
                     b"rasfleet_agent_spool_bytes 5100", b"rasfleet_agent_spool_batches 3",
                     b"rasfleet_agent_dropped_batches 3"):
            self.assertIn(b"\n" + line + b"\n", data)

    def test_example_config_is_accepted(self):
        example = os.path.join(SRC, "deploy", "rasfleet.conf.example")
        r = subprocess.run([h.collector_binary(), "--config", example, "--version"],
                           capture_output=True, text=True)
        self.assertEqual(r.returncode, 0, r.stderr)
        fd, bad = tempfile.mkstemp(suffix=".conf")
        os.close(fd)
        try:
            with open(bad, "w") as f:
                f.write("listen = 127.0.0.1:8080\nretention_days = soon\n")
            r = subprocess.run([h.collector_binary(), "--config", bad, "--version"],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 2)
            self.assertIn(":2:", r.stderr)
            self.assertIn("retention_days", r.stderr)
        finally:
            os.unlink(bad)

    def test_scripts_parse(self):
        for name in ("install-deps.sh", "quickstart.sh", "test-all.sh"):
            path = os.path.join(SRC, "deploy", name)
            r = subprocess.run(["bash", "-n", path], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, name + ": " + r.stderr)
            self.assertTrue(os.access(path, os.X_OK), name + " is not executable")

    def test_sigterm_drains_and_exits_zero(self):
        c = h.Collector()
        try:
            c.start()
            for i in range(20):
                s, _, _ = c.post_batch(h.make_batch(device_id="drain", n_events=100,
                                                    start_record=i * 100 + 1), gzip_it=True)
                self.assertEqual(s, 200)
            self.assertEqual(c.stop(), 0)
            self.assertIn("stopped cleanly", c.read_log())
            # checkpointed: the WAL is empty after a clean stop
            wal = c.db + "-wal"
            self.assertTrue(not os.path.exists(wal) or os.path.getsize(wal) == 0)
            self.assertEqual(c.sql("SELECT count(*) FROM events")[0][0], 2000)
        finally:
            c.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
