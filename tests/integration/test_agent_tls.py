"""The real rasfleet-agent delivering to the real collector over HTTPS on
127.0.0.1, with a throwaway PKI (rfharness.make_test_pki): with the CA given
by --ca-file the fixtures are stored exactly once and the spool is emptied;
a certificate for another host name, or a CA the agent was not given, makes
the agent refuse the connection (exit 1, an error that names the TLS
problem), keep the batch in its spool and send nothing; the same spool is
then delivered exactly once when the agent is given the right CA. Every
check reads the collector's SQLite file or the agent's spool."""
import gzip
import json
import os
import shutil
import subprocess
import tempfile
import unittest
import uuid

import rfharness as h

# short retries: a refused certificate does not fix itself within a cycle
FAST_FAIL = ["--retry-attempts", "2", "--retry-base", "100ms", "--retry-max-delay", "200ms",
             "--retry-budget", "1s", "--connect-timeout", "5s", "--timeout", "20s"]
# what the fixture directory gives (tests/integration/test_agent.py explains the figures)
EXPECTED = {"events": 4, "iface_metrics": 5, "pbk_entries": 4, "vpn_policies": 4, "batches": 1}
EXPECTED_RECORDS = 17
EXPECTED_EVENT_IDS = [418190, 418233, 418240, 418611]


def spooled_batches(state):
    """batch_id of every whole batch in the agent's spool, oldest first."""
    d = os.path.join(state, "spool")
    if not os.path.isdir(d):
        return []
    ids = []
    for name in sorted(n for n in os.listdir(d) if n.endswith(".batch")):
        with open(os.path.join(d, name), "rb") as f:
            raw = f.read()
        head, sep, rest = raw.partition(b"\n\n")
        assert sep, name
        fields = dict(line.split(b" ", 1) for line in head.split(b"\n")[1:])
        body = json.loads(gzip.decompress(rest[:int(fields[b"body"])]))
        assert body["batch_id"] == fields[b"batch_id"].decode(), name
        ids.append(body["batch_id"])
    return ids


class AgentTlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(h.AGENT):
            raise unittest.SkipTest("rasfleet-agent not built at " + h.AGENT)
        if not shutil.which("openssl"):
            raise unittest.SkipTest("the openssl command is needed to make the test PKI")
        cls.pki_dir = tempfile.mkdtemp(prefix="rf-agent-tls-pki-")
        cls.pki = h.make_test_pki(cls.pki_dir)
        cls.good = h.Collector(extra_args=["--tls-cert", cls.pki["server.pem"],
                                           "--tls-key", cls.pki["server.key"]])
        cls.wrong_host = h.Collector(extra_args=["--tls-cert", cls.pki["wrong-host.pem"],
                                                 "--tls-key", cls.pki["wrong-host.key"]])
        h.start_all((cls.good, cls.wrong_host), (cls.pki_dir,))

    @classmethod
    def tearDownClass(cls):
        h.stop_all((cls.good, cls.wrong_host), (cls.pki_dir,))

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rf-agent-tls-")
        self.src = os.path.join(self.tmp, "src")
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.src)
        h.copy_agent_fixtures(self.src)
        self.device = "agent-tls-" + uuid.uuid4().hex[:12]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_agent(self, collector, ca_file=None):
        args = [h.AGENT, "--once", "--collector", "https://127.0.0.1:%d" % collector.port,
                "--token", h.ADMIN_TOKEN, "--source-dir", self.src, "--state-dir", self.state,
                "--device-id", self.device] + FAST_FAIL
        if ca_file:
            args += ["--ca-file", ca_file]
        return subprocess.run(args, capture_output=True, text=True, timeout=300,
                              env=h.agent_env())

    def assertRun(self, p, code):
        self.assertEqual(p.returncode, code, "exit %d, stderr:\n%s" % (p.returncode, p.stderr))

    def counts(self, collector):
        """Telemetry rows and batches (the agent's own status reports left out)."""
        c = {t: collector.sql(
            "SELECT count(*) FROM %s t JOIN devices d ON d.id = t.device WHERE d.uid = ?" % t,
            (self.device,))[0][0] for t in EXPECTED}
        c["batches"] -= h.agent_reports(collector, self.device)
        return c

    def nothing_stored(self):
        for c in (self.good, self.wrong_host):
            self.assertEqual(c.sql("SELECT count(*) FROM devices WHERE uid = ?",
                                   (self.device,))[0][0], 0)

    def assertDeliveredOnce(self, batch_ids=None):
        """The fixtures are stored exactly once, by the good collector only,
        in the batches given (when given), and the spool is empty."""
        self.assertEqual(self.counts(self.good), EXPECTED)
        stored = self.good.sql(
            "SELECT b.uid, b.records FROM batches b JOIN devices d ON d.id = b.device"
            " WHERE d.uid = ?", (self.device,))
        reports = h.agent_reports(self.good, self.device)  # one record each
        self.assertEqual(sum(r for _, r in stored) - reports, EXPECTED_RECORDS)
        if batch_ids is not None:
            uids = {u for u, _ in stored}
            self.assertTrue(set(batch_ids) <= uids, (batch_ids, uids))
            self.assertEqual(len(uids), len(batch_ids) + reports)
        self.assertEqual([r[0] for r in self.good.sql(
            "SELECT e.record_id FROM events e JOIN devices d ON d.id = e.device"
            " WHERE d.uid = ? ORDER BY e.record_id", (self.device,))], EXPECTED_EVENT_IDS)
        self.assertEqual(spooled_batches(self.state), [])
        self.assertEqual(self.wrong_host.sql("SELECT count(*) FROM devices WHERE uid = ?",
                                             (self.device,))[0][0], 0)

    def assertRefused(self, p, words):
        """Exit 1, an error that names the TLS problem and what to change,
        the batch kept, nothing sent."""
        self.assertRun(p, 1)
        for w in ["TLS: the collector's certificate"] + words:
            self.assertIn(w, p.stderr)
        batches = spooled_batches(self.state)
        self.assertEqual(len(batches), 1, p.stderr)
        self.nothing_stored()
        return batches

    def test_good_certificate_and_ca_file(self):
        p = self.run_agent(self.good, ca_file=self.pki["ca.pem"])
        self.assertRun(p, 0)
        self.assertDeliveredOnce()
        # a second run has nothing new and stores nothing twice
        p = self.run_agent(self.good, ca_file=self.pki["ca.pem"])
        self.assertRun(p, 0)
        self.assertDeliveredOnce()

    def test_refused_certificates_keep_the_spool_until_the_right_ca(self):
        # (b) a certificate for another host name, signed by the CA the agent trusts
        p = self.run_agent(self.wrong_host, ca_file=self.pki["ca.pem"])
        kept = self.assertRefused(p, ["not issued for the host name", "'127.0.0.1'",
                                      "--collector"])
        # (c) the right certificate, but the agent does not know its CA
        p = self.run_agent(self.good)
        self.assertEqual(self.assertRefused(p, ["is not trusted", "--ca-file",
                                                "the system's CA bundle"]), kept)
        # and a CA file of another CA is the same refusal
        p = self.run_agent(self.good, ca_file=self.pki["other.pem"])
        self.assertEqual(self.assertRefused(p, ["is not trusted",
                                                "--ca-file " + self.pki["other.pem"]]), kept)
        # a CA file that cannot be read is named as such
        p = self.run_agent(self.good, ca_file=os.path.join(self.tmp, "missing.pem"))
        self.assertRun(p, 1)
        self.assertIn("TLS: cannot use the CA bundle " + os.path.join(self.tmp, "missing.pem"),
                      p.stderr)
        self.assertEqual(spooled_batches(self.state), kept)
        self.nothing_stored()
        # (d) the right CA: the kept batch is delivered, exactly once
        p = self.run_agent(self.good, ca_file=self.pki["ca.pem"])
        self.assertRun(p, 0)
        self.assertDeliveredOnce(kept)
        p = self.run_agent(self.good, ca_file=self.pki["ca.pem"])
        self.assertRun(p, 0)
        self.assertDeliveredOnce(kept)


if __name__ == "__main__":
    unittest.main(verbosity=2)
