"""The agent's report on itself, end to end: the real agent runs with a tiny
spool while the collector is down, so its spool drops batches; then the
collector comes up and the drop counts arrive in the agent's agent_status
report, are stored, and appear in the device detail, the overview, the
device list filter, the agent-spool-drops finding, the remediation feed and
/metrics, and all of it survives a collector restart. Also: the counters
survive agent restarts, a collector that predates the record kind costs
nothing but the report, and a refused batch is counted.

Exactness: every generated event is either stored by the collector or
counted in the agent's dropped_records_total, never both and never lost
silently."""
import gzip
import http.server
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import uuid

import rfharness as h
from test_agent import AGENT, FAST_FAIL, agent_env, event_xml, free_port, spool_files

# The smallest spool the agent accepts: twice the smallest batch (16 KiB of
# JSON, about 50 events, 3 KiB of gzip), so it holds about 10 batches.
SPOOL = ["--spool-max-bytes", "32K", "--batch-bytes", "16K"]


def events(first, n):
    return "".join(event_xml(rid) for rid in range(first, first + n))


class AgentStatusTest(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(AGENT):
            self.skipTest("rasfleet-agent not built at " + AGENT)
        self.tmp = tempfile.mkdtemp(prefix="rf-status-it-")
        self.src = os.path.join(self.tmp, "src")
        self.state = os.path.join(self.tmp, "state")
        os.mkdir(self.src)
        self.device = "status-it-" + uuid.uuid4().hex[:12]
        self.c = None

    def tearDown(self):
        if self.c:
            rc = self.c.stop()
            log = self.c.read_log()
            self.c.cleanup()
            self.assertEqual(rc, 0, "collector did not stop cleanly:\n" + log)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_agent(self, *extra, url):
        args = [AGENT, "--once", "--collector", url, "--token", h.ADMIN_TOKEN,
                "--source-dir", self.src, "--state-dir", self.state,
                "--device-id", self.device] + list(extra)
        return subprocess.run(args, capture_output=True, text=True, timeout=300,
                              env=agent_env())

    def assertRun(self, p, code):
        self.assertEqual(p.returncode, code, "exit %d, stderr:\n%s" % (p.returncode, p.stderr))

    def status_json(self):
        with open(os.path.join(self.state, "status.json")) as f:
            return json.load(f)

    def write(self, name, text):
        with open(os.path.join(self.src, name), "w") as f:
            f.write(text)

    def get(self, path):
        s, body = self.c.get_json(path)
        self.assertEqual(s, 200, "%s: %s" % (path, body))
        return body

    def stored_events(self):
        return self.c.sql("SELECT count(*) FROM events e JOIN devices d ON d.id = e.device"
                          " WHERE d.uid = ?", (self.device,))[0][0]

    def answers(self):
        """Everything a reader sees of this device's agent, for the restart comparison."""
        dev = self.get("/api/v1/devices/%s" % self.device)
        ov = self.get("/api/v1/overview?window=24h")
        listed = self.get("/api/v1/devices?dropped=1&window=24h")
        flagged = self.get("/api/v1/devices?finding=agent-spool-drops")
        finding = self.get("/api/v1/findings?rule=agent-spool-drops")["findings"]
        feed = self.get("/api/v1/remediation/agent-spool-drops?device_id=%s" % self.device)
        # a window past the hot horizon counts the same losses, from agent_losses
        ov_daily = self.get("/api/v1/overview?window=90d")
        listed_daily = self.get("/api/v1/devices?dropped=1&window=90d")
        keys = ("agents_dropping", "dropped_batches", "dropped_records", "rejected_batches")
        self.assertEqual(ov_daily["resolution"], "1d")
        self.assertEqual({k: ov_daily[k] for k in keys}, {k: ov[k] for k in keys})
        self.assertEqual([d["device_id"] for d in listed_daily["devices"]],
                         [d["device_id"] for d in listed["devices"]])
        return {
            "agent": dev["agent"],
            "open_findings": [f for f in dev["open_findings"] if f["rule"] == "agent-spool-drops"],
            "overview": {k: ov[k] for k in ("agents_dropping", "dropped_batches",
                                            "dropped_records", "rejected_batches")},
            "dropped_list": [d["device_id"] for d in listed["devices"]],
            "finding_list": [d["device_id"] for d in flagged["devices"]],
            "finding": [(f["id"], f["devices_affected"], f["devices"]) for f in finding],
            "feed": feed["needs_remediation"],
        }

    def test_drops_while_down_arrive_and_survive_a_restart(self):
        dead = "http://127.0.0.1:%d" % free_port()
        # run 1, collector down: 2000 events in about 40 batches, the spool holds about 10
        self.write("a.xml", events(1, 2000))
        p = self.run_agent(*SPOOL, *FAST_FAIL, url=dead)
        self.assertRun(p, 1)
        st1 = self.status_json()["spool"]
        self.assertGreater(st1["dropped_batches"], 0, st1)
        self.assertLessEqual(st1["bytes"], 32 * 1024)
        self.assertIn("spool: dropping batch", p.stderr)
        # run 2, still down, a new export: the counters go on from run 1 (a new process)
        self.write("b.xml", events(10000, 1000))
        p = self.run_agent(*SPOOL, *FAST_FAIL, url=dead)
        self.assertRun(p, 1)
        st2 = self.status_json()["spool"]
        self.assertGreater(st2["dropped_batches"], st1["dropped_batches"])
        self.assertGreater(st2["dropped_records"], st1["dropped_records"])
        with open(os.path.join(self.state, "spool", "dropped")) as f:
            self.assertEqual(f.read(), "batches %d\nrecords %d\nrejected 0\n"
                             % (st2["dropped_batches"], st2["dropped_records"]))
        spooled = st2["batches"]
        self.assertGreater(spooled, 0)

        # the collector comes up: the spool is delivered, then the report
        self.c = h.Collector()
        self.c.start()
        t_before = time.time()
        p = self.run_agent(*SPOOL, url="http://127.0.0.1:%d" % self.c.port)
        self.assertRun(p, 0)
        self.assertEqual(spool_files(self.state), [])
        dropped, dropped_records = st2["dropped_batches"], st2["dropped_records"]
        # exact: every event is stored or counted as dropped
        self.assertEqual(self.stored_events() + dropped_records, 3000)
        print("spool of 32 KiB while the collector was down: %d batches (%d of 3000 events) "
              "dropped, %d batches waited; %d events stored" % (
                  dropped, dropped_records, spooled, self.stored_events()), file=sys.stderr)

        # stored: the latest report and one loss (what it added to nothing before it)
        row = self.c.sql(
            "SELECT s.dropped_batches_total, s.dropped_records_total, s.rejected_batches_total,"
            " s.spool_bytes, s.spool_limit_bytes, s.reports, s.last_drop IS NOT NULL"
            " FROM agent_status s JOIN devices d ON d.id = s.device WHERE d.uid = ?",
            (self.device,))
        self.assertEqual(row, [(dropped, dropped_records, 0, 0, 32 * 1024, 1, 1)])
        self.assertEqual(self.c.sql(
            "SELECT dropped_batches, dropped_records, rejected_batches FROM agent_losses l"
            " JOIN devices d ON d.id = l.device WHERE d.uid = ?", (self.device,)),
            [(dropped, dropped_records, 0)])

        # device detail
        agent = self.get("/api/v1/devices/%s" % self.device)["agent"]
        self.assertEqual(agent["dropped_batches_total"], dropped)
        self.assertEqual(agent["dropped_records_total"], dropped_records)
        self.assertEqual(agent["rejected_batches_total"], 0)
        self.assertEqual(agent["spool_bytes"], 0)
        self.assertEqual(agent["spool_batches"], 0)
        self.assertEqual(agent["spool_limit_bytes"], 32 * 1024)
        self.assertEqual(agent["agent_version"], "0.1.0")
        self.assertEqual(agent["source_errors"], 0)
        self.assertEqual(agent["reports"], 1)
        self.assertIn("cannot reach 127.0.0.1", agent["last_error"].replace("http://", ""))
        self.assertIsNotNone(agent["last_error_time"])
        self.assertIsNotNone(agent["last_success"])  # the deliveries of this run
        self.assertEqual(agent["last_drop"], agent["time"])
        self.assertEqual([(x["dropped_batches"], x["dropped_records"], x["rejected_batches"])
                          for x in agent["losses"]], [(dropped, dropped_records, 0)])
        self.assertGreaterEqual(h_time(agent["time"]), t_before - 2)

        before = self.answers()
        self.assertEqual(before["overview"], {"agents_dropping": 1, "dropped_batches": dropped,
                                              "dropped_records": dropped_records,
                                              "rejected_batches": 0})
        self.assertEqual(before["dropped_list"], [self.device])
        self.assertEqual(before["finding_list"], [self.device])
        self.assertEqual(len(before["finding"]), 1)
        self.assertEqual(before["finding"][0][1], 1)
        self.assertEqual(before["finding"][0][2], [self.device])
        self.assertTrue(before["feed"])
        ev = before["open_findings"][0]["evidence"]
        self.assertEqual(ev["dropped_batches_total"], dropped)
        self.assertEqual(ev["dropped_records_total"], dropped_records)
        self.assertIn("agent dropped %d batches (%d records)" % (dropped, dropped_records),
                      ev["reason"])
        self.assertIn("spool_max_bytes", before["open_findings"][0]["remediation"]["text"])
        s, _, metrics = self.c.request("GET", "/metrics")
        self.assertEqual(s, 200)
        self.assertIn(b"\nrasfleet_agents_dropping 1\n", metrics)
        self.assertIn(b"\nrasfleet_agent_dropped_batches %d\n" % dropped, metrics)

        # a collector restart changes no answer
        self.assertEqual(self.c.stop(), 0)
        self.c.start()
        self.assertEqual(self.answers(), before)

        # the next run drops nothing and has nothing new to say: no report, no new
        # loss, the same counts (an idle run stays idle)
        p = self.run_agent(*SPOOL, url="http://127.0.0.1:%d" % self.c.port)
        self.assertRun(p, 0)
        after = self.answers()
        self.assertEqual(after["agent"]["reports"], 1)
        self.assertEqual(after["agent"]["losses"], before["agent"]["losses"])
        self.assertEqual(after["agent"]["last_drop"], before["agent"]["last_drop"])
        self.assertEqual(after["overview"], before["overview"])
        self.assertEqual(after["finding_list"], [self.device])  # within 7 days of its reports

    def test_refused_batch_counted_and_reported(self):
        self.c = h.Collector(settings={"max_records": 3})
        self.c.start()
        url = "http://127.0.0.1:%d" % self.c.port
        self.write("a.xml", "".join(event_xml(i) for i in range(1, 6)))  # 5 > max_records
        p = self.run_agent(url=url)
        self.assertRun(p, 1)
        self.assertEqual(self.status_json()["spool"]["rejected_batches"], 1)
        agent = self.get("/api/v1/devices/%s" % self.device)["agent"]
        self.assertEqual(agent["rejected_batches_total"], 1)
        self.assertEqual(agent["dropped_batches_total"], 0)
        self.assertIn("HTTP 413", agent["last_error"])
        self.assertEqual([x["rejected_batches"] for x in agent["losses"]], [1])
        self.assertIsNone(agent["last_drop"])
        ov = self.get("/api/v1/overview?window=1h")
        self.assertEqual((ov["agents_dropping"], ov["rejected_batches"]), (0, 1))
        self.assertEqual(self.get("/api/v1/devices?dropped=1")["total"], 0)
        s, body = self.c.get_json("/api/v1/devices?dropped=yes")
        self.assertEqual((s, body["error"]), (400, "bad_request"))
        self.assertEqual(self.get("/api/v1/devices?finding=agent-spool-drops")["total"], 0)
        # nothing new: the next run does not report
        p = self.run_agent(url=url)
        self.assertRun(p, 0)
        agent = self.get("/api/v1/devices/%s" % self.device)["agent"]
        self.assertEqual((agent["rejected_batches_total"], agent["reports"]), (1, 1))
        # something new (a file it cannot parse): reported, and the refusal counter
        # survived the agent's restart: 1 again, no new loss
        self.write("garbage.pbk", "\x00\x01binary\x02")
        p = self.run_agent(url=url)
        agent = self.get("/api/v1/devices/%s" % self.device)["agent"]
        self.assertEqual((agent["rejected_batches_total"], agent["reports"]), (1, 2))
        self.assertEqual(agent["source_errors"], 1, p.stderr)
        self.assertEqual(len(agent["losses"]), 1)

    def test_collector_without_the_record_kind(self):
        """A collector older than agent_status refuses the report with 400 unknown_kind:
        the telemetry is delivered, nothing is moved aside, the run exits 0."""
        posted = []

        class OldCollector(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                batch = json.loads(gzip.decompress(
                    self.rfile.read(int(self.headers["Content-Length"]))))
                kinds = [r["kind"] for r in batch["records"]]
                posted.append(kinds)
                if "agent_status" in kinds:
                    self.send_response(400)
                    out = json.dumps({"error": "unknown_kind", "message":
                                      "unknown record kind 'agent_status'",
                                      "detail": {"record": 0, "field": "kind"}}).encode()
                else:
                    self.send_response(200)
                    out = json.dumps({"accepted": len(kinds), "duplicate": False}).encode()
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *a):
                pass

        srv = http.server.HTTPServer(("127.0.0.1", 0), OldCollector)
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        try:
            self.write("a.xml", "".join(event_xml(i) for i in range(1, 4)))
            url = "http://127.0.0.1:%d" % srv.server_address[1]
            p = self.run_agent(url=url)
            self.assertRun(p, 0)
            self.assertIn("does not know agent_status records", p.stderr)
            p = self.run_agent(url=url)  # nothing new: only the report, refused again
            self.assertRun(p, 0)
        finally:
            srv.shutdown()
            srv.server_close()
        # the telemetry batch never carries the report; the report travels alone
        self.assertEqual(posted, [["ras_event"] * 3, ["agent_status"], ["agent_status"]])
        self.assertEqual(spool_files(self.state), [])
        self.assertEqual(os.listdir(os.path.join(self.state, "spool", "rejected")), [])
        st = self.status_json()
        self.assertEqual(st["spool"]["rejected_batches"], 0)
        self.assertIsNone(st["last_error"])


def h_time(text):
    """Seconds since the epoch of an RFC 3339 time with milliseconds."""
    import calendar
    return calendar.timegm(time.strptime(text[:19], "%Y-%m-%dT%H:%M:%S"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
