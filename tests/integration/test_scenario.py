"""Fleet scenarios end to end: a generated fleet (tests/scenario/fleetgen.py)
is posted through the real ingest API, then GET /api/v1/findings must name
each injected cause with the attribute that explains it and exactly the
devices the generator put there (its manifest), and a healthy fleet (only
background noise: a trickle of 691, a low rate of 809) must yield no
warning.

The expected values are the causes' definitions, not the analyzer's
current output: when a check here fails, the analyzer (or the generator)
is wrong, and the message says by how much.
"""
import calendar
import json
import os
import subprocess
import sys
import time
import unittest

import rfharness as h

SOURCE_DIR = os.environ.get("RF_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
FLEETGEN = os.path.join(SOURCE_DIR, "tests", "scenario", "fleetgen.py")
CAUSES_DEVICES = 1500
HEALTHY_DEVICES = 1000
DEV_CONN = "Always On VPN Device Tunnel"
SEED = int(os.environ.get("RF_SCENARIO_SEED", "1"))   # fleetgen's default fleet; another seed: another fleet, same causes


def ms(text):
    base, frac = text.rstrip("Z"), "0"
    if "." in base:
        base, frac = base.split(".", 1)
    return calendar.timegm(time.strptime(base, "%Y-%m-%dT%H:%M:%S")) * 1000 + int(frac[:3].ljust(3, "0"))


def load_fleet(c, scenario, devices, seed):
    manifest = os.path.join(c.dir, "manifest-%s.json" % scenario)
    t0 = time.monotonic()
    p = subprocess.run([sys.executable, FLEETGEN, "--url", "http://127.0.0.1:%d" % c.port,
                        "--token", h.ADMIN_TOKEN, "--scenario", scenario, "--devices",
                        str(devices), "--seed", str(seed), "--manifest", manifest],
                       capture_output=True, text=True, timeout=300)
    took = time.monotonic() - t0
    assert p.returncode == 0, "fleetgen failed (%d):\n%s\n%s" % (p.returncode, p.stdout, p.stderr)
    sys.stderr.write("%s(%.1f s wall)\n" % (p.stderr, took))
    with open(manifest) as f:
        return json.load(f)


def fresh_findings(c):
    """The findings document once it includes the last batch stored: computed
    at or after the newest device's last_seen (the receipt time of the last
    commit; /devices lists newest first). The collector recomputes it in the
    background every few seconds when data changed. (Waiting for a document
    newer than the wall clock instead raced with a recompute that had already
    included the last batch: the next one comes 60 s later.)"""
    st, devs = c.get_json("/api/v1/devices?limit=1")
    assert st == 200, devs
    since_ms = ms(devs["devices"][0]["last_seen"]) if devs["devices"] else 0
    deadline = time.time() + 30
    while True:
        st, doc = c.get_json("/api/v1/findings")
        assert st == 200, doc
        if ms(doc["generated_at"]) >= since_ms:   # both in whole ms
            return doc
        assert time.time() < deadline, "findings not recomputed within 30 s: " + doc["generated_at"]
        time.sleep(0.3)


def fleet_findings(doc):
    return [f for f in doc["findings"] if f["rule"] in ("fleet-concentration", "fleet-spike")]


class CausesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = h.Collector().start()
        try:
            cls.m = load_fleet(cls.c, "causes", CAUSES_DEVICES, SEED)
            cls.cause = {x["id"]: x for x in cls.m["causes"]}
            cls.doc = fresh_findings(cls.c)
        except BaseException:
            cls.c.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        h.stop_all((cls.c,))

    def concentration(self, code, attribute):
        found = [f for f in self.doc["findings"] if f["rule"] == "fleet-concentration"
                 and f["evidence"]["code"] == code and f["evidence"]["attribute"] == attribute]
        self.assertLessEqual(len(found), 1)
        if not found:
            have = ["%s/%s=%s (support %.2f, lift %.2f)" % (
                f["evidence"]["code"], f["evidence"]["attribute"], f["evidence"]["value"],
                f["evidence"]["support"], f["evidence"]["lift"])
                for f in self.doc["findings"] if f["rule"] == "fleet-concentration"]
            self.fail("no concentration of %d on %s; the analyzer has: %s" % (code, attribute, have))
        return found[0]

    def check_concentration(self, cause, attribute, value):
        f = self.concentration(cause["code"], attribute)
        ev = f["evidence"]
        self.assertEqual(ev["value"], value)
        self.assertEqual(sorted(f["devices"]), cause["devices"],
                         "devices of %s/%s differ from the injected ones" % (cause["id"], attribute))
        self.assertEqual(ev["failing_devices"], len(cause["devices"]))
        self.assertEqual(f["devices_affected"], len(cause["devices"]))
        self.assertEqual(ev["reporting_devices"], CAUSES_DEVICES)
        self.assertEqual(ev["failing_with_value"], len(cause["devices"]))
        self.assertAlmostEqual(ev["support"], 1.0)
        # share of the fleet with the value, from the generator's own device list
        key = {"server": "server", "tunnel_type": "tunnel_type", "os_version": "os_version"}
        if attribute in key:
            n = sum(1 for d in self.m["devices"] if d[key[attribute]] == value)
            self.assertEqual(ev["fleet_with_value"], n)
            self.assertAlmostEqual(ev["lift"], CAUSES_DEVICES / n, places=2)
        self.assertGreaterEqual(ev["lift"], 2.0)
        self.assertEqual(f["severity"], "high" if ev["lift"] >= 5 else "medium")
        self.assertTrue(f["remediation"]["text"])
        return f

    # (a) the SSTP certificate of vpn2 expired 3 h ago
    def test_sstp_cert_concentrated_on_vpn2(self):
        cause = self.cause["sstp-cert-expired"]
        self.assertGreaterEqual(len(cause["devices"]), 50)
        self.check_concentration(cause, "server", "vpn2.example.net")
        self.check_concentration(cause, "tunnel_type", "Sstp")
        # only SSTP devices of vpn2 were hit
        by_id = {d["device_id"]: d for d in self.m["devices"]}
        self.assertTrue(all(by_id[u]["server"] == "vpn2.example.net"
                            and by_id[u]["tunnel_type"] == "Sstp" for u in cause["devices"]))

    def test_sstp_cert_spike_with_onset(self):
        cause = self.cause["sstp-cert-expired"]
        spikes = [f for f in self.doc["findings"] if f["rule"] == "fleet-spike"
                  and f["evidence"]["code"] == cause["code"]]
        self.assertEqual(len(spikes), 1, "no spike finding for the certificate expiry")
        f = spikes[0]
        self.assertEqual(f["severity"], "critical" if f["devices_affected"] >= 50 else "high")
        self.assertTrue(set(f["devices"]) <= set(cause["devices"]))
        injected, first = ms(cause["injected_at"]), ms(cause["first_failure"])
        onset = ms(f["evidence"]["onset"])
        # the expiry itself is not observable: the onset is the first failure,
        # which the generator puts within minutes of the expiry
        self.assertLess(first - injected, 10 * 60000, "generator: first failure too late")
        self.assertLessEqual(
            abs(onset - first), 5 * 60000,
            "spike onset %s, but the failures began at %s (injected %s): off by %.0f min"
            % (f["evidence"]["onset"], cause["first_failure"], cause["injected_at"],
               (onset - first) / 60000.0))
        self.assertEqual(f["first_seen"], f["evidence"]["onset"])

    # (b) legacy IPsec policy
    def test_legacy_policy_concentration(self):
        cause = self.cause["ipsec-legacy"]
        self.assertEqual(cause["devices"], cause["population"])
        f = self.check_concentration(cause, "policy", cause["value"])
        ev = f["evidence"]
        self.assertEqual(ev["policy_fields"], cause["policy_fields"])
        self.assertEqual(ev["policy_fields"]["dh_group"], "Group2")
        self.assertEqual(ev["fleet_with_value"], len(cause["population"]))
        self.assertEqual(f["severity"], "high")
        self.assertIn("13868", f["title"])
        # the device rule names the same devices
        st, rem = self.c.get_json("/api/v1/remediation/ipsec-weak/devices")
        self.assertEqual(sorted(rem["devices"]), cause["population"])

    # (d) device-tunnel certificates of one OS build
    def test_device_tunnel_cert_on_one_build(self):
        cause = self.cause["devtun-cert"]
        self.assertGreaterEqual(len(cause["devices"]), 20)
        self.check_concentration(cause, "os_version", "10.0.19045")
        f = self.concentration(cause["code"], "connection")
        self.assertEqual(f["evidence"]["value"], DEV_CONN)
        self.assertEqual(sorted(f["devices"]), cause["devices"])

    # (c) metric order
    def test_metric_order_devices(self):
        cause = self.cause["metric-automatic"]
        self.assertGreaterEqual(len(cause["devices"]), 10)
        self.assertLess(len(cause["devices"]), 200)   # the finding lists at most 200
        f = [x for x in self.doc["findings"] if x["rule"] == "metric-order"]
        self.assertEqual(len(f), 1)
        f = f[0]
        self.assertEqual(f["severity"], "high")
        self.assertEqual(sorted(f["devices"]), cause["devices"])
        self.assertEqual(f["devices_affected"], len(cause["devices"]))
        st, rem = self.c.get_json("/api/v1/remediation/metric-order/devices")
        self.assertEqual(st, 200)
        self.assertEqual(sorted(rem["devices"]), cause["devices"])
        self.assertEqual(rem["count"], len(cause["devices"]))
        # every automatic-metric profile is flagged by pbk-metric, wired or not
        st, rem = self.c.get_json("/api/v1/remediation/pbk-metric/devices")
        self.assertEqual(sorted(rem["devices"]), cause["pbk_metric_devices"])

    def test_remediation_feed_per_device(self):
        cause = self.cause["metric-automatic"]
        uid = cause["devices"][0]
        st, body = self.c.get_json("/api/v1/remediation/metric-order?device_id=" + uid)
        self.assertEqual(st, 200)
        self.assertTrue(body["needs_remediation"], body)
        ev = body["detail"]["findings"][0]["evidence"]
        self.assertEqual(ev["vpn"]["metric"], 25)
        self.assertTrue(any(p["if_type"] == "ethernet" for p in ev["physical"]), ev)
        healthy = next(d for d in self.m["devices"] if d["user_metric"] == 3
                       and d["device_id"] not in self.cause["ipsec-legacy"]["population"])
        st, body = self.c.get_json("/api/v1/remediation/metric-order?device_id="
                                   + healthy["device_id"])
        self.assertFalse(body["needs_remediation"], body)
        self.assertTrue(body["detail"]["known_device"])
        # an automatic-metric laptop on Wi-Fi only: pbk-metric yes, metric-order no
        wifi = [u for u in cause["pbk_metric_devices"] if u not in cause["devices"]]
        self.assertTrue(wifi)
        st, body = self.c.get_json("/api/v1/remediation/metric-order?device_id=" + wifi[0])
        self.assertFalse(body["needs_remediation"])
        st, body = self.c.get_json("/api/v1/remediation/pbk-metric?device_id=" + wifi[0])
        self.assertTrue(body["needs_remediation"])

    def test_no_spurious_fleet_findings(self):
        """Only the injected causes: no finding for the background 691/809,
        for the retired profile's handful of 868, or on an attribute that
        does not explain the cause."""
        legacy = self.cause["ipsec-legacy"]["value"]
        allowed = {(-2146762495, "server", "vpn2.example.net"),
                   (-2146762495, "tunnel_type", "Sstp"),
                   (13868, "policy", legacy),
                   (13806, "os_version", "10.0.19045"),
                   (13806, "connection", DEV_CONN)}
        extra = []
        for f in fleet_findings(self.doc):
            ev = f["evidence"]
            if f["rule"] == "fleet-spike":
                if ev["code"] != -2146762495:
                    extra.append("spike of %d (%s)" % (ev["code"], f["summary"]))
            elif (ev["code"], ev["attribute"], ev["value"]) not in allowed:
                extra.append("%d concentrated on %s=%r (support %.2f, lift %.2f, %d of %d "
                             "failing devices; %d of %d in the fleet)" % (
                                 ev["code"], ev["attribute"], ev["value"], ev["support"],
                                 ev["lift"], ev["failing_with_value"], ev["failing_devices"],
                                 ev["fleet_with_value"], ev["reporting_devices"]))
        if extra:
            self.fail("fleet findings that name no injected cause:\n  " + "\n  ".join(extra))
        codes = {f["evidence"]["code"] for f in fleet_findings(self.doc)}
        self.assertFalse(codes & {691, 809, 868}, codes)


class SpikeOnsetTest(unittest.TestCase):
    """The onset of a spike is when the failures began, also when they
    ramp up before reaching their full rate (an expired server certificate:
    sessions already up stay up, new ones fail as they come)."""

    def test_onset_of_a_ramp(self):
        code = 853
        with h.Collector() as c:
            now_min = int(time.time() // 60)
            t0 = now_min - 180   # 3 h ago; nothing of the code before
            fails = []           # (minute, device)
            for k in range(15):                  # 30 min: one failure every 2 min
                fails.append((t0 + 2 * k, k % 40))
            for m in range(t0 + 30, now_min):    # then 4 per minute
                for j in range(4):
                    fails.append((m, (m * 4 + j) % 40))
            by_dev = {}
            for m, d in fails:
                by_dev.setdefault(d, []).append(m)
            for d, minutes in sorted(by_dev.items()):
                recs = [{"kind": "ras_event",
                         "time": time.strftime("%Y-%m-%dT%H:%M:05.000Z", time.gmtime(m * 60)),
                         "event_id": 20227, "record_id": i + 1, "level": "error",
                         "user": "CORP\\user%d" % d, "connection": "Always On VPN",
                         "error_code": code, "coid": "%08X-0000-4000-8000-%012X" % (d, i)}
                        for i, m in enumerate(sorted(minutes))]
                st, _, body = c.post_batch({"schema": 1, "batch_id": "ramp-%d" % d,
                                            "agent": {"device_id": "ramp-%02d" % d,
                                                      "hostname": "LT-R%02d" % d,
                                                      "os_version": "10.0.22631",
                                                      "agent_version": "0.2.0"},
                                            "records": recs})
                self.assertEqual(st, 200, body)
            doc = fresh_findings(c)
            spikes = [f for f in doc["findings"] if f["rule"] == "fleet-spike"
                      and f["evidence"]["code"] == code]
            self.assertEqual(len(spikes), 1, doc)
            ev = spikes[0]["evidence"]
            late = (ms(ev["onset"]) - t0 * 60000) / 60000.0
            self.assertLessEqual(
                abs(late), 5, "onset %s, failures began at %s (%.0f min earlier): baseline %d "
                "failures (%.2f/h), recent %d (%.2f/h); the first 30 min had 5 per 10 min, none "
                "in the 24 h before" % (
                    ev["onset"], time.strftime("%Y-%m-%dT%H:%M:00Z", time.gmtime(t0 * 60)), late,
                    ev["baseline_failures"], ev["baseline_per_hour"], ev["recent_failures"],
                    ev["recent_per_hour"]))


class HealthyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.c = h.Collector().start()
        try:
            cls.m = load_fleet(cls.c, "healthy", HEALTHY_DEVICES, SEED + 1)
            cls.doc = fresh_findings(cls.c)
        except BaseException:
            cls.c.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        h.stop_all((cls.c,))

    def test_background_noise_is_there(self):
        st, body = self.c.get_json("/api/v1/errors?group_by=code")
        got = {g["code"]: g["devices"] for g in body["groups"]}
        self.assertEqual(set(got), {691, 809})
        for code in (691, 809):
            self.assertEqual(got[code], self.m["background"][str(code)]["devices_24h"])
            self.assertGreaterEqual(got[code], 15)
        self.assertEqual(self.m["causes"], [])

    def test_no_high_or_critical_fleet_finding(self):
        bad = ["%s %s: %s" % (f["rule"], f["severity"], f["title"]) for f in fleet_findings(self.doc)
               if f["severity"] in ("high", "critical")]
        self.assertEqual(bad, [])

    def test_no_691_finding(self):
        self.assertEqual([f["title"] for f in self.doc["findings"]
                          if f.get("evidence", {}).get("code") == 691], [])

    def test_no_finding_at_all(self):
        # every profile follows docs/rules.md's recommendations, and the noise
        # is spread evenly: nothing to report
        self.assertEqual(["%s %s: %s" % (f["rule"], f["severity"], f["title"])
                          for f in self.doc["findings"]], [])


if __name__ == "__main__":
    unittest.main(verbosity=2)
