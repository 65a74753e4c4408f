"""The agent's memory footprint with its minimal libcurl (RF_AGENT_CURL=
minimal, the default; docs/agent.md, "Performance"): the binary loads no
shared libcurl or OpenSSL, and a run that delivers the fixtures to a real
collector over HTTP peaks below the 8 MB target (the agent's own "peak RSS"
log line, its VmHWM). With Debian's libcurl the same run peaks at ~12 MB.
Skipped for a sanitizer build (ASan's shadow memory) and for
RF_AGENT_CURL=system."""
import os
import re
import shutil
import subprocess
import tempfile
import unittest
import uuid

import rfharness as h

FIXTURE_GROUPS = ("events", "pbk", "netip", "vpnconnection")
TARGET_KIB = 8 * 1024


def cmake_cache():
    try:
        with open(os.path.join(h.BUILD_DIR, "CMakeCache.txt")) as f:
            return f.read()
    except OSError:
        return ""


class AgentFootprintTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(h.AGENT):
            raise unittest.SkipTest("rasfleet-agent not built at " + h.AGENT)
        cache = cmake_cache()
        if "RF_SANITIZE:BOOL=ON" in cache:
            raise unittest.SkipTest("sanitizer build: its RSS is ASan's")
        if "RF_AGENT_CURL:STRING=minimal" not in cache:
            raise unittest.SkipTest("the agent uses the system libcurl (RF_AGENT_CURL)")
        cls.c = h.Collector()
        cls.c.start()

    @classmethod
    def tearDownClass(cls):
        rc = cls.c.stop()
        log = cls.c.read_log()
        cls.c.cleanup()
        assert rc == 0, "collector did not stop cleanly: %s\n%s" % (rc, log)

    def test_no_shared_libcurl_or_openssl(self):
        p = subprocess.run(["ldd", h.AGENT], capture_output=True, text=True, check=True)
        self.assertIn("libc.so", p.stdout)
        for lib in ("libcurl", "libssl", "libcrypto", "libgnutls", "libnghttp2"):
            self.assertNotIn(lib, p.stdout)

    def test_sending_run_peaks_below_target(self):
        tmp = tempfile.mkdtemp(prefix="rf-agent-footprint-")
        self.addCleanup(shutil.rmtree, tmp, True)
        src = os.path.join(tmp, "src")
        os.mkdir(src)
        for g in FIXTURE_GROUPS:
            d = os.path.join(h.FIXTURES, g)
            for name in os.listdir(d):
                shutil.copyfile(os.path.join(d, name), os.path.join(src, name))
        device = "agent-footprint-" + uuid.uuid4().hex[:12]
        p = subprocess.run(
            [h.AGENT, "--once", "--collector", "http://127.0.0.1:%d" % self.c.port,
             "--token", h.ADMIN_TOKEN, "--source-dir", src, "--state-dir",
             os.path.join(tmp, "state"), "--device-id", device, "--log-level", "info"],
            capture_output=True, text=True, timeout=300, env=h.agent_env())
        self.assertEqual(p.returncode, 0, p.stderr)
        # it did send: the collector holds this device's events
        self.assertGreater(self.c.sql(
            "SELECT count(*) FROM events t JOIN devices d ON d.id = t.device WHERE d.uid = ?",
            (device,))[0][0], 0)
        peaks = re.findall(r"peak RSS (\d+) KiB", p.stderr)
        self.assertTrue(peaks, p.stderr)
        self.assertLess(int(peaks[-1]), TARGET_KIB, p.stderr)


if __name__ == "__main__":
    unittest.main()
