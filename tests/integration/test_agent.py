"""The real rasfleet-agent against the real collector on loopback: the
fixtures delivered exactly once (and nothing on a second run), every bad
input of the agent issue reported and skipped without harming the other
files, a 200 MB export streamed in bounded memory, the collector down and
back, Retry-After honoured, SIGKILL at random points, a bad token, a batch
the collector refuses, a full disk under the spool, config file and daemon
mode. Every check reads the collector's SQLite file or the agent's own
files (spool, status.json)."""
import gzip
import http.server
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import rfharness as h

AGENT = h.AGENT
agent_env = h.agent_env
FAST_FAIL = ["--retry-attempts", "2", "--retry-base", "100ms", "--retry-max-delay", "200ms",
             "--retry-budget", "1s", "--connect-timeout", "1s", "--timeout", "10s"]


def sanitized_build():
    try:
        with open(os.path.join(h.BUILD_DIR, "CMakeCache.txt")) as f:
            return "RF_SANITIZE:BOOL=ON" in f.read()
    except OSError:
        return False


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def copy_fixtures(dst, *groups):
    for g in groups:
        src = os.path.join(h.FIXTURES, g)
        for name in os.listdir(src):
            shutil.copyfile(os.path.join(src, name), os.path.join(dst, name))


def event_xml(record_id, event_id=20227, provider="RasClient", data=None, when=None):
    when = when or "2026-11-20T08:%02d:%02d.1234567Z" % (record_id // 60 % 60, record_id % 60)
    if data is None:
        data = ["{3F2A0C1B-7A44-0000-8E61-%012X}" % record_id, "CORP\\alice", "Always On VPN", "809"]
    return ("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
            "<Provider Name='%s'/><EventID Qualifiers='0'>%d</EventID><Level>2</Level>"
            "<TimeCreated SystemTime='%s'/><EventRecordID>%d</EventRecordID>"
            "<Channel>Application</Channel><Computer>LT-0421</Computer></System><EventData>%s"
            "</EventData></Event>\r\n") % (provider, event_id, when, record_id,
                                           "".join("<Data>%s</Data>" % d for d in data))


def netip_json(i):
    return json.dumps([
        {"InterfaceAlias": "Always On VPN", "InterfaceIndex": 41, "AddressFamily": 2,
         "InterfaceMetric": 3 + i, "AutomaticMetric": 0, "ConnectionState": 1, "NlMtu": 1400},
        {"InterfaceAlias": "Ethernet", "InterfaceIndex": 12, "AddressFamily": 2,
         "InterfaceMetric": 25 + i, "AutomaticMetric": 1, "ConnectionState": 1, "NlMtu": 1500},
        {"InterfaceAlias": "Wi-Fi", "InterfaceIndex": 18, "AddressFamily": 2,
         "InterfaceMetric": 50, "AutomaticMetric": 1, "ConnectionState": 0, "NlMtu": 1500},
        {"InterfaceAlias": "Ethernet", "InterfaceIndex": 12, "AddressFamily": 23,
         "InterfaceMetric": 25, "AutomaticMetric": 1, "ConnectionState": 1, "NlMtu": 1500},
    ])


def spool_files(state):
    d = os.path.join(state, "spool")
    if not os.path.isdir(d):
        return []
    return sorted(n for n in os.listdir(d) if n.endswith(".batch"))


def check_spool_file(path):
    """A .batch file is whole: header, gzip body of a JSON batch, delta."""
    with open(path, "rb") as f:
        raw = f.read()
    head, sep, rest = raw.partition(b"\n\n")
    assert sep, path
    fields = dict(line.split(b" ", 1) for line in head.split(b"\n")[1:])
    body_len, delta_len = int(fields[b"body"]), int(fields[b"delta"])
    assert len(rest) == body_len + delta_len, path
    batch = json.loads(gzip.decompress(rest[:body_len]))
    assert batch["batch_id"] == fields[b"batch_id"].decode(), path
    assert len(batch["records"]) == int(fields[b"records"]), path
    return batch


class AgentTestBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.exists(AGENT):
            raise unittest.SkipTest("rasfleet-agent not built at " + AGENT)
        cls.c = h.Collector()
        cls.c.start()

    @classmethod
    def tearDownClass(cls):
        h.stop_all((cls.c,))

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="rf-agent-it-")
        self.src = os.path.join(self.tmp, "src")
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.src)
        self.device = "agent-it-" + uuid.uuid4().hex[:12]

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def url(self, collector=None):
        return "http://127.0.0.1:%d" % (collector or self.c).port

    def run_agent(self, *extra, url=None, token=h.ADMIN_TOKEN, src=None, state=None,
                  timeout=300, env=None):
        args = [AGENT, "--once", "--collector", url or self.url(), "--token", token,
                "--source-dir", src or self.src, "--state-dir", state or self.state,
                "--device-id", self.device] + list(extra)
        return subprocess.run(args, capture_output=True, text=True, timeout=timeout,
                              env=agent_env(env))

    def assertRun(self, p, code):
        self.assertEqual(p.returncode, code, "exit %d, stderr:\n%s" % (p.returncode, p.stderr))

    def count(self, table, collector=None):
        return (collector or self.c).sql(
            "SELECT count(*) FROM %s t JOIN devices d ON d.id = t.device WHERE d.uid = ?" % table,
            (self.device,))[0][0]

    def reports(self, collector=None):
        """agent_status records the collector stored for this device."""
        return h.agent_reports(collector or self.c, self.device)

    def counts(self, collector=None):
        """Telemetry rows and batches (the agent's own reports left out)."""
        c = {t: self.count(t, collector)
             for t in ("events", "iface_metrics", "pbk_entries", "vpn_policies", "batches")}
        c["batches"] -= self.reports(collector)
        return c

    def record_ids(self, collector=None):
        return [r[0] for r in (collector or self.c).sql(
            "SELECT e.record_id FROM events e JOIN devices d ON d.id = e.device WHERE d.uid = ?"
            " ORDER BY e.record_id", (self.device,))]

    def stored_records(self, collector=None):
        """Telemetry records in the stored batches (the agent's reports left out)."""
        return (collector or self.c).sql(
            "SELECT coalesce(sum(b.records), 0) FROM batches b JOIN devices d ON d.id = b.device"
            " WHERE d.uid = ?", (self.device,))[0][0] - self.reports(collector)

    def status(self):
        with open(os.path.join(self.state, "status.json")) as f:
            return json.load(f)

    def problems_for(self, name):
        return [p for p in self.status()["problems"] if p["path"] == name]

    def write(self, name, data):
        path = os.path.join(self.src, name)
        with open(path, "wb") as f:
            f.write(data if isinstance(data, bytes) else data.encode())
        return path


class FixturesTest(AgentTestBase):
    def test_fixtures_delivered_exactly_once(self):
        copy_fixtures(self.src, "events", "pbk", "netip", "vpnconnection")
        p = self.run_agent()
        self.assertRun(p, 0)
        # both wevtutil files, the PowerShell 7 export and the 5.1 export describe the
        # same events: 4 events, each with its real record number
        self.assertEqual(self.record_ids(), [418190, 418233, 418240, 418611])
        # 4 + 1 interfaces; 1 + 1 + 2 pbk entries; 3 + 1 policies from Get-VpnConnection (the
        # device tunnel's CustomIPSecPolicies gives none: Get-VpnConnection names it)
        self.assertEqual(self.counts(), {"events": 4, "iface_metrics": 5, "pbk_entries": 4,
                                         "vpn_policies": 4, "batches": 1})
        self.assertEqual(self.stored_records(), 17)
        dev = self.c.sql("SELECT hostname, os_version, agent_version FROM devices WHERE uid = ?",
                         (self.device,))[0]
        self.assertEqual(dev[0], socket.gethostname())
        self.assertEqual(dev[1], "%s %s" % (os.uname().sysname, os.uname().release))
        self.assertEqual(dev[2], "0.1.0")
        # the 20227 keeps its code, the interfaces named like a VPN profile are typed vpn
        self.assertEqual(self.c.sql(
            "SELECT error_code FROM events e JOIN devices d ON d.id = e.device"
            " WHERE d.uid = ? AND record_id = 418233", (self.device,)), [(809,)])
        self.assertEqual(self.c.sql(
            "SELECT count(*) FROM iface_metrics i JOIN devices d ON d.id = i.device"
            " WHERE d.uid = ? AND i.if_type = 2", (self.device,))[0][0], 2)
        self.assertEqual(spool_files(self.state), [])
        st = self.status()
        self.assertEqual(st["last_cycle"]["exit_code"], 0)
        self.assertEqual(st["last_cycle"]["records_spooled"], 17)
        self.assertEqual(st["problems"], [])

        self.assertEqual(self.reports(), 1)
        before = self.counts()
        p = self.run_agent()
        self.assertRun(p, 0)
        self.assertEqual(self.counts(), before)  # not even an empty batch of telemetry
        self.assertEqual(self.reports(), 1)  # nor a status report: nothing changed
        self.assertEqual(self.status()["last_cycle"]["files_unchanged"], 11)
        # new mtimes, same bytes: still nothing new
        for n in os.listdir(self.src):
            os.utime(os.path.join(self.src, n))
        p = self.run_agent()
        self.assertRun(p, 0)
        self.assertEqual(self.counts(), before)
        self.assertEqual(self.status()["last_cycle"]["records_spooled"], 0)
        self.assertEqual(self.reports(), 1)
        self.assertEqual(spool_files(self.state), [])  # reports never wait in the spool

    def test_new_events_appended_are_sent_alone(self):
        lines = [event_xml(i) for i in range(1, 11)]
        self.write("events.xml", "".join(lines[:6]))
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.record_ids(), list(range(1, 7)))
        self.write("events.xml", "".join(lines))  # the export grew
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.record_ids(), list(range(1, 11)))
        self.assertEqual(self.stored_records(), 10)

    def test_pbk_policy_derived_without_vpnconnection_export(self):
        shutil.copyfile(os.path.join(h.FIXTURES, "pbk", "allusers-two-entries.pbk"),
                        os.path.join(self.src, "rasphone.pbk"))
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.count("pbk_entries"), 2)
        rows = self.c.sql(
            "SELECT c.s, s.s, t.s, a.s, p.split_tunneling, p.device_tunnel, ip.s"
            " FROM vpn_policies p JOIN devices d ON d.id = p.device"
            " JOIN dict c ON c.id = p.connection JOIN dict s ON s.id = p.server"
            " JOIN dict t ON t.id = p.tunnel_type JOIN dict a ON a.id = p.auth_method"
            " JOIN dict ip ON ip.id = p.ipsec WHERE d.uid = ?", (self.device,))
        self.assertEqual(len(rows), 1)
        conn, server, tunnel, auth, split, device_tunnel, ipsec = rows[0]
        self.assertEqual((conn, server, tunnel, auth, split, device_tunnel),
                         ("Always On VPN Device Tunnel", "vpn.example.net", "Ikev2",
                          "MachineCertificate", 1, 1))
        self.assertEqual(json.loads(ipsec), {
            "cipher_transform": "GCMAES256", "auth_transform": "GCMAES256",
            "encryption_method": "GCMAES256", "integrity_check_method": "SHA256",
            "dh_group": "ECP384", "pfs_group": "None"})
        scopes = self.c.sql("SELECT p.scope FROM pbk_entries p JOIN devices d ON d.id = p.device"
                            " WHERE d.uid = ?", (self.device,))
        self.assertEqual(scopes, [(0,), (0,)])  # all_users

    def test_config_file_and_flag_override(self):
        copy_fixtures(self.src, "netip")
        cfg = os.path.join(self.tmp, "agent.conf")
        with open(cfg, "w") as f:
            f.write("# agent settings\ncollector = http://127.0.0.1:1\ntoken = %s\n"
                    "source_dir = %s\nstate_dir = %s\ndevice_id = %s\nonce = true\n"
                    "batch_records = 2\n" % (h.ADMIN_TOKEN, self.src, self.state, self.device))
        p = subprocess.run([AGENT, "--config", cfg, "--collector", self.url()],
                           capture_output=True, text=True, timeout=120, env=agent_env())
        self.assertRun(p, 0)
        self.assertEqual(self.count("iface_metrics"), 5)
        self.assertEqual(self.counts()["batches"], 3)  # batch_records = 2 from the file: 2 + 2 + 1
        bad = os.path.join(self.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("collector = http://x\nno_such_key = 1\n")
        p = subprocess.run([AGENT, "--config", bad], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 2)
        self.assertIn("bad.conf:2: unknown key 'no_such_key'", p.stderr)


class BadInputTest(AgentTestBase):
    """Each bad file is reported (path, line/offset, reason), skipped, and does not stop the
    good file beside it from being delivered; the run still exits 0."""

    def good_file(self):
        shutil.copyfile(os.path.join(h.FIXTURES, "netip", "netipinterface-ps51.json"),
                        os.path.join(self.src, "good-netip.json"))

    def assertGoodDelivered(self):
        self.assertEqual(self.count("iface_metrics"), 4)

    def test_truncated_xml_keeps_complete_events(self):
        self.good_file()
        text = h.fixture("events", "rasclient-wevtutil.xml").decode()
        cut = text.index("<EventRecordID>418611")  # inside the third event
        self.write("cut.xml", text[:cut])
        p = self.run_agent()
        self.assertRun(p, 0)
        self.assertEqual(self.record_ids(), [418190, 418233])
        self.assertGoodDelivered()
        probs = self.problems_for("cut.xml")
        self.assertEqual(len(probs), 1, probs)
        self.assertTrue(probs[0]["fatal"])
        self.assertEqual(probs[0]["line"], 3)
        self.assertEqual(probs[0]["offset"], cut)
        self.assertIn("truncated", probs[0]["reason"])
        self.assertIn("source cut.xml:3", p.stderr)

    def test_event_without_event_id(self):
        self.good_file()
        lines = h.fixture("events", "rasclient-wevtutil.xml").decode().split("\r\n")
        lines[0] = lines[0].replace("<EventID Qualifiers='0'>20227</EventID>", "")
        self.write("noid.xml", "\r\n".join(lines))
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.record_ids(), [418190, 418240, 418611])
        self.assertGoodDelivered()
        probs = self.problems_for("noid.xml")
        self.assertEqual([(x["line"], x["fatal"]) for x in probs], [(1, False)])
        self.assertIn("without EventID", probs[0]["reason"])

    def test_20227_without_error_code(self):
        self.good_file()
        lines = h.fixture("events", "rasclient-wevtutil.xml").decode().split("\r\n")
        lines[1] = lines[1].replace("<Data>13806</Data>", "")
        self.write("nocode.xml", "\r\n".join(lines))
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.record_ids(), [418233, 418240, 418611])
        self.assertGoodDelivered()
        probs = self.problems_for("nocode.xml")
        self.assertEqual([(x["line"], x["fatal"]) for x in probs], [(2, False)])
        self.assertIn("20227 without a parsable error code", probs[0]["reason"])

    def test_pbk_section_without_keys(self):
        self.good_file()
        self.write("empty-section.pbk", "[Empty VPN]\r\n")
        self.assertRun(self.run_agent(), 0)
        rows = self.c.sql("SELECT c.s, s.s FROM pbk_entries p JOIN devices d ON d.id = p.device"
                          " JOIN dict c ON c.id = p.connection JOIN dict s ON s.id = p.settings"
                          " WHERE d.uid = ?", (self.device,))
        self.assertEqual(rows, [("Empty VPN", "{}")])
        self.assertGoodDelivered()
        self.assertEqual(self.problems_for("empty-section.pbk"), [])

    def test_binary_garbage_named_pbk(self):
        self.good_file()
        self.write("garbage.pbk", bytes(random.Random(7).getrandbits(8) for _ in range(4096)))
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.count("pbk_entries"), 0)
        self.assertGoodDelivered()
        probs = self.problems_for("garbage.pbk")
        self.assertEqual(len([x for x in probs if x["fatal"]]), 1, probs)
        self.assertEqual(probs[-1]["fatal"], True)  # the parse stops at the fatal one
        self.assertEqual(self.status()["last_cycle"]["files_failed"], 1)

    def test_utf16_without_bom(self):
        self.good_file()
        text = h.fixture("vpnconnection", "vpnconnection-array.json").decode()
        self.write("vpn-utf16.json", text.encode("utf-16-le"))
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.count("vpn_policies"), 3)
        self.assertGoodDelivered()
        self.assertEqual(self.problems_for("vpn-utf16.json"), [])

    def test_json_with_bom(self):
        self.write("bom.json", b"\xef\xbb\xbf" + h.fixture("netip", "netipinterface-ps51.json"))
        self.write("bom-events.json", b"\xef\xbb\xbf" + h.fixture("events", "rasclient-ps7.json"))
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.count("iface_metrics"), 4)
        self.assertEqual(self.record_ids(), [418233, 418611])
        self.assertEqual(self.status()["problems"], [])

    def test_unreadable_entries(self):
        # tests run as root, so chmod 000 would not stop a read: a dangling symlink and a
        # FIFO (opening which would block a careless reader forever) stand in for it
        self.good_file()
        os.symlink(os.path.join(self.tmp, "nowhere.xml"), os.path.join(self.src, "gone.xml"))
        os.mkfifo(os.path.join(self.src, "pipe.xml"))
        p = self.run_agent(timeout=60)
        self.assertRun(p, 0)
        self.assertGoodDelivered()
        gone, pipe = self.problems_for("gone.xml"), self.problems_for("pipe.xml")
        self.assertEqual(len(gone), 1)
        self.assertIn("dangling", gone[0]["reason"])
        self.assertEqual(len(pipe), 1)
        self.assertIn("not a regular file", pipe[0]["reason"])

    def test_unknown_json_reported(self):
        self.good_file()
        self.write("other.json", '{"Something": 1}')
        self.write("broken.json", '[{"InterfaceAlias": "x",\n "InterfaceMetric": ]')
        self.assertRun(self.run_agent(), 0)
        self.assertGoodDelivered()
        self.assertIn("no known export", self.problems_for("other.json")[0]["reason"])
        broken = self.problems_for("broken.json")
        self.assertEqual(len(broken), 1)
        self.assertEqual(broken[0]["line"], 2)

    def test_200mb_xml_streamed_in_bounded_memory(self):
        asan = sanitized_build()
        env = {"ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "") +
               ":quarantine_size_mb=4:thread_local_quarantine_size_kb=64"}

        def make(path, total_bytes, rasclient_every):
            other = event_xml(0, event_id=7036, provider="Service Control Manager",
                              data=["Windows Update", "running"])
            n = rid = 0
            with open(path, "w") as f:
                while n < total_bytes:
                    rid += 1
                    line = event_xml(rid) if rid % rasclient_every == 0 else other
                    f.write(line)
                    n += len(line)
            return rid // rasclient_every

        def peak_rss_kib(src, state):
            # the agent's own VmHWM from its last log line (ru_maxrss of a child also
            # counts the parent's pages from before exec)
            p = subprocess.run([AGENT, "--once", "--collector", self.url(), "--token",
                                h.ADMIN_TOKEN, "--source-dir", src, "--state-dir", state,
                                "--device-id", self.device, "--log-level", "info"],
                               capture_output=True, text=True, timeout=900, env=agent_env(env))
            m = re.search(r"peak RSS (\d+) KiB", p.stderr)
            self.assertIsNotNone(m, p.stderr[-2000:])
            return p.returncode, int(m.group(1))

        small_src = os.path.join(self.tmp, "small")
        os.mkdir(small_src)
        n_small = make(os.path.join(small_src, "small.xml"), 2 << 20, 300)
        rc, small_rss = peak_rss_kib(small_src, os.path.join(self.tmp, "state-small"))
        self.assertEqual(rc, 0)
        self.assertEqual(self.count("events"), n_small)

        n_big = make(os.path.join(self.src, "big.xml"), 200 << 20, 300)
        self.assertGreater(os.path.getsize(os.path.join(self.src, "big.xml")), 200 << 20)
        rc, big_rss = peak_rss_kib(self.src, self.state)
        self.assertEqual(rc, 0)
        # the same device: the small file's events carry the same record numbers
        self.assertEqual(self.count("events"), n_big)
        print("agent peak RSS: 2 MB export %d KiB, 200 MB export %d KiB%s" %
              (small_rss, big_rss, " (ASan build)" if asan else ""), file=sys.stderr)
        # streaming: 100x the input may not cost more than 16 MiB more memory
        self.assertLess(big_rss - small_rss, 16 * 1024)
        if not asan:
            self.assertLess(big_rss, 32 * 1024)


class DeliveryTest(AgentTestBase):
    def test_collector_down_then_back(self):
        copy_fixtures(self.src, "events", "pbk", "netip", "vpnconnection")
        dead = "http://127.0.0.1:%d" % free_port()
        p = self.run_agent("--batch-records", "5", *FAST_FAIL, url=dead)
        self.assertRun(p, 1)
        files = spool_files(self.state)
        self.assertEqual(len(files), 4)  # 17 records in batches of 5
        ids = [check_spool_file(os.path.join(self.state, "spool", f))["batch_id"] for f in files]
        self.assertEqual(sum(len(check_spool_file(os.path.join(self.state, "spool", f))["records"])
                             for f in files), 17)
        st = self.status()
        self.assertEqual(st["spool"]["batches"], 4)
        self.assertIn("cannot reach", st["last_error"])
        self.assertEqual(self.counts()["batches"], 0)
        # still down: nothing lost, nothing collected twice
        p = self.run_agent(*FAST_FAIL, url=dead)
        self.assertRun(p, 1)
        self.assertEqual(spool_files(self.state), files)
        # back: everything exactly once, with the batch ids it was spooled under
        p = self.run_agent(*FAST_FAIL)
        self.assertRun(p, 0)
        self.assertEqual(spool_files(self.state), [])
        self.assertEqual(self.counts(), {"events": 4, "iface_metrics": 5, "pbk_entries": 4,
                                         "vpn_policies": 4, "batches": 4})
        stored = sorted(r[0] for r in self.c.sql(
            "SELECT b.uid FROM batches b JOIN devices d ON d.id = b.device WHERE d.uid = ?",
            (self.device,)))
        # every batch under the id it was spooled with; the others are the run's report
        self.assertEqual(sorted(set(stored) & set(ids)), sorted(ids))
        self.assertEqual(len(stored), len(ids) + self.reports())
        self.assertEqual(self.reports(), 1)  # the runs that could not reach it reported nothing
        self.assertRun(self.run_agent(*FAST_FAIL), 0)
        self.assertEqual(self.stored_records(), 17)

    def test_bad_token_keeps_spool(self):
        copy_fixtures(self.src, "netip")
        p = self.run_agent(token="not-a-valid-token-0123456789")
        self.assertRun(p, 3)
        self.assertEqual(len(spool_files(self.state)), 1)
        self.assertEqual(os.listdir(os.path.join(self.state, "spool", "rejected")), [])
        self.assertIn("HTTP 401", self.status()["last_error"])
        self.assertEqual(self.counts()["batches"], 0)
        self.assertRun(self.run_agent(), 0)
        self.assertEqual(self.count("iface_metrics"), 5)
        self.assertEqual(spool_files(self.state), [])

    def test_refused_batch_moved_aside(self):
        c = h.Collector()
        cfg = os.path.join(c.dir, "c.conf")
        with open(cfg, "w") as f:
            f.write("max_records = 3\n")
        c.extra_args = ["--config", cfg]
        c.start()
        try:
            copy_fixtures(self.src, "netip")  # 5 records in one batch: over max_records
            p = self.run_agent(url=self.url(c))
            self.assertRun(p, 1)
            self.assertEqual(spool_files(self.state), [])
            rej = sorted(os.listdir(os.path.join(self.state, "spool", "rejected")))
            self.assertEqual(len(rej), 2)
            self.assertTrue(rej[0].endswith(".batch") and rej[1].endswith(".reason"))
            with open(os.path.join(self.state, "spool", "rejected", rej[1])) as f:
                self.assertTrue(f.read().startswith("HTTP 413 from "))
            self.assertEqual(self.count("iface_metrics", c), 0)
            # not retried forever: the next run has nothing pending
            self.assertRun(self.run_agent(url=self.url(c)), 0)
        finally:
            c.cleanup()

    def test_retry_after_honoured(self):
        seen = []

        reports = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                batch = json.loads(gzip.decompress(body))
                if [r["kind"] for r in batch["records"]] == ["agent_status"]:
                    reports.append((time.monotonic(), batch["records"][0]))
                else:
                    seen.append((time.monotonic(), batch["batch_id"],
                                 self.headers["Authorization"]))
                if len(seen) <= 2 and not reports:
                    self.send_response(503)
                    self.send_header("Retry-After", "1")
                    out = b'{"error":"saturated","message":"busy"}'
                else:
                    self.send_response(200)
                    out = json.dumps({"accepted": len(batch["records"]),
                                      "duplicate": False}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=srv.serve_forever, daemon=True)
        t.start()
        try:
            copy_fixtures(self.src, "netip")
            p = self.run_agent("--retry-base", "100ms", "--retry-max-delay", "200ms",
                               url="http://127.0.0.1:%d" % srv.server_address[1])
            self.assertRun(p, 0)
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(len(seen), 3)
        self.assertEqual(len({s[1] for s in seen}), 1)  # the same batch id every time
        self.assertEqual(seen[0][2], "Bearer " + h.ADMIN_TOKEN)
        self.assertGreaterEqual(seen[1][0] - seen[0][0], 0.95)
        self.assertGreaterEqual(seen[2][0] - seen[1][0], 0.95)
        # then the run's report, alone, after its telemetry, with the 503 as its last error
        self.assertEqual(len(reports), 1)
        self.assertGreater(reports[0][0], seen[2][0])
        self.assertIn("HTTP 503", reports[0][1]["last_error"])
        self.assertEqual(reports[0][1]["spool_batches"], 0)

    def test_retry_after_beyond_budget_gives_up(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers["Content-Length"]))
                self.send_response(429)
                self.send_header("Retry-After", "3600")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            copy_fixtures(self.src, "netip")
            t0 = time.monotonic()
            p = self.run_agent(url="http://127.0.0.1:%d" % srv.server_address[1])
            self.assertRun(p, 1)
            self.assertLess(time.monotonic() - t0, 30)  # did not sleep an hour
        finally:
            srv.shutdown()
            srv.server_close()
        self.assertEqual(len(spool_files(self.state)), 1)
        self.assertIn("HTTP 429", self.status()["last_error"])

    def test_sigkill_at_random_points(self):
        rng = random.Random(20261125)
        n_netip, per_cycle, cycles = 20, 300, 8
        ids = list(range(1, 3001))
        self.write("events.xml", "".join(event_xml(i) for i in ids))
        for i in range(n_netip):
            self.write("netip-%02d.json" % i, netip_json(i))
        args = [AGENT, "--once", "--collector", self.url(), "--token", h.ADMIN_TOKEN,
                "--source-dir", self.src, "--state-dir", self.state, "--device-id", self.device,
                "--batch-records", "40", "--log-level", "warn"]
        killed = 0
        for cycle in range(cycles):
            # new events every cycle, so every cycle has work to be killed in
            more = list(range(100000 + cycle * per_cycle, 100000 + (cycle + 1) * per_cycle))
            self.write("more-%d.xml" % cycle, "".join(event_xml(i) for i in more))
            ids += more
            proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                    env=agent_env())
            time.sleep(rng.uniform(0.02, 0.4))
            if proc.poll() is None:
                proc.send_signal(signal.SIGKILL)
                killed += 1
            proc.wait()
            for f in spool_files(self.state):  # whatever is there is whole
                check_spool_file(os.path.join(self.state, "spool", f))
            # an agent killed mid-cycle never stored a record twice
            self.assertLessEqual(self.stored_records(), len(ids) + 4 * n_netip)
        self.assertGreater(killed, 0, "the agent always finished before the kill")
        p = self.run_agent()
        self.assertRun(p, 0)
        self.assertEqual(self.record_ids(), sorted(ids))
        self.assertEqual(self.count("iface_metrics"), 4 * n_netip)
        self.assertEqual(self.stored_records(), len(ids) + 4 * n_netip)
        self.assertEqual(spool_files(self.state), [])
        self.assertFalse([n for n in os.listdir(os.path.join(self.state, "spool"))
                          if n.endswith(".tmp")])

    def test_disk_full_under_the_spool(self):
        mnt = os.path.join(self.tmp, "small-disk")
        os.mkdir(mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs", mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            self.skipTest("cannot mount a tmpfs (needs root and CAP_SYS_ADMIN): " + r.stderr)
        try:
            state = os.path.join(mnt, "state")
            n_events = 4000
            self.write("events.xml", "".join(event_xml(i) for i in range(1, n_events + 1)))
            dead = "http://127.0.0.1:%d" % free_port()
            p = self.run_agent("--batch-records", "100", *FAST_FAIL, url=dead, state=state)
            self.assertRun(p, 4)
            self.assertIn("No space left on device", p.stderr)
            files = spool_files(state)
            self.assertGreater(len(files), 0)
            spooled = sum(len(check_spool_file(os.path.join(state, "spool", f))["records"])
                          for f in files)
            self.assertLess(spooled, n_events)
            self.assertFalse([n for n in os.listdir(os.path.join(state, "spool"))
                              if n.endswith(".tmp")])
            # room again and the collector up: everything exactly once
            r = subprocess.run(["mount", "-o", "remount,size=64m", mnt],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            p = self.run_agent("--batch-records", "100", state=state)
            self.assertRun(p, 0)
            self.assertEqual(self.record_ids(), list(range(1, n_events + 1)))
            self.assertEqual(self.stored_records(), n_events)
        finally:
            subprocess.run(["umount", "-l", mnt], capture_output=True)


class DaemonTest(AgentTestBase):
    def test_interval_mode_picks_up_new_files_and_stops_on_sigterm(self):
        self.write("a.xml", event_xml(1))
        proc = subprocess.Popen(
            [AGENT, "--interval", "1s", "--collector", self.url(), "--token", h.ADMIN_TOKEN,
             "--source-dir", self.src, "--state-dir", self.state, "--device-id", self.device],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=agent_env())
        try:
            deadline = time.time() + 60
            while time.time() < deadline and self.record_ids() != [1]:
                time.sleep(0.1)
            self.assertEqual(self.record_ids(), [1])
            # a second agent on the same state dir is refused while the daemon runs
            p = self.run_agent()
            self.assertEqual(p.returncode, 1)
            self.assertIn("locked by another agent", p.stderr)
            self.write("b.xml", event_xml(2))
            while time.time() < deadline and self.record_ids() != [1, 2]:
                time.sleep(0.1)
            self.assertEqual(self.record_ids(), [1, 2])
        finally:
            proc.send_signal(signal.SIGTERM)
            rc = proc.wait(timeout=30)
            err = proc.stderr.read().decode()
            proc.stderr.close()
        self.assertEqual(rc, 0, err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
