"""The read API is exact: every answer equals SQL over the raw rows of the
same SQLite file, over the answer's own [from, to), and a restart (the hot
aggregate rebuilt from SQLite) changes no answer. test_pg_read_api.py runs
the same classes on PostgreSQL.

A generated fleet (tests/scenario/fleetgen.py, causes scenario, a few
hundred devices) is posted through the real ingest API first. The SQL runs
after the API call with the API's "from"/"to"; nothing is ingested while the
comparisons run, so both see the same rows.

Definitions checked (server/api.c): an attempt is one outcome event (20225
success or 20227 failure); counts are over events.time in [from, to);
devices_reporting = devices with last_seen >= from; errors group_by server
uses the device's latest vpn_policy snapshot for the failing event's
connection ("unknown" when none); os_version/agent_version are the device's
current values.
"""
import json
import os
import subprocess
import sys
import time
import unittest
import uuid

import rfharness as h

SOURCE_DIR = os.environ.get("RF_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "../.."))
FLEETGEN = os.path.join(SOURCE_DIR, "tests", "scenario", "fleetgen.py")
DEVICES = 300
SEED = 7
IF_TYPES = ["ethernet", "wifi", "vpn", "loopback", "cellular", "other"]


ms = h.ms


def run_fleetgen(c, *extra):
    args = [sys.executable, FLEETGEN, "--url", "http://127.0.0.1:%d" % c.port,
            "--token", h.ADMIN_TOKEN] + [str(a) for a in extra]
    p = subprocess.run(args, capture_output=True, text=True, timeout=300)
    return p


class ReadApiTest(h.ReadApiChecks, unittest.TestCase):
    devices = DEVICES   # the fleet's size (test_pg_read_api.py: RF_PG_READ_DEVICES)

    @classmethod
    def new_collector(cls):
        """The collector under test, not started (test_pg_read_api.py: on PostgreSQL)."""
        return h.Collector()

    @classmethod
    def setUpClass(cls):
        cls.c = cls.new_collector().start()
        try:
            cls.load()
        except BaseException:
            cls.c.cleanup()
            raise

    @classmethod
    def load(cls):
        cls.manifest_path = os.path.join(cls.c.dir, "manifest.json")
        cls.end = time.time()
        p = run_fleetgen(cls.c, "--scenario", "causes", "--devices", cls.devices,
                         "--seed", SEED, "--end", "%.3f" % cls.end,
                         "--manifest", cls.manifest_path, "--gzip", "--concurrency", 3)
        assert p.returncode == 0, "fleetgen failed:\n%s\n%s" % (p.stdout, p.stderr)
        sys.stderr.write(p.stderr)
        with open(cls.manifest_path) as f:
            cls.manifest = json.load(f)
        out = cls.c.run_cli("token", "add", "--role", "agent", "--name", "it-agent")
        assert out.returncode == 0, out.stderr
        cls.agent_token = out.stdout.split()[-1]
        out = cls.c.run_cli("token", "add", "--role", "reader", "--name", "it-reader")
        assert out.returncode == 0, out.stderr
        cls.reader_token = out.stdout.split()[-1]
        cls.causes = {x["id"]: x for x in cls.manifest["causes"]}

    @classmethod
    def tearDownClass(cls):
        h.stop_all((cls.c,))

    # ---- overview ----
    def test_overview_matches_sql(self):
        for w in ("24h", "1h", "15m", "7d", "30d"):
            body = self.get("/api/v1/overview?window=" + w)
            frm, to = self.window(body)
            self.assertEqual(body["window"], w)
            self.assertEqual(frm % 60000, 0)
            self.assertEqual(to % 60000, 0)
            self.assertLessEqual(to - 60000, time.time() * 1000)
            attempts, failures = self.sql_outcomes(frm, to)
            self.assertEqual((body["attempts"], body["failures"]), (attempts, failures), w)
            self.assertAlmostEqual(body["failure_rate"],
                                   failures / attempts if attempts else 0.0, places=5)
            self.assertEqual(body["devices_known"], self.c.sql("SELECT count(*) FROM devices")[0][0])
            self.assertEqual(body["devices_reporting"], self.c.sql(
                "SELECT count(*) FROM devices WHERE last_seen >= ?", (frm,))[0][0], w)
            groups = self.sql_groups("code", frm, to)
            want = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]
            self.assertEqual([(t["code"], (t["failures"], t["devices"])) for t in body["top_errors"]],
                             want, w)
        # the fleet really has something to count in each window
        body = self.get("/api/v1/overview")
        self.assertEqual(body["window"], "24h")
        self.assertGreater(body["failures"], 3 * self.devices)
        self.assertEqual(body["devices_known"], self.devices)
        self.assertEqual(body["devices_reporting"], self.devices)

    # ---- errors ----
    def test_errors_group_by_matches_sql(self):
        for by in ("code", "connection", "os_version", "agent_version", "server"):
            for w in ("24h", "2h", "7d"):
                body = self.get("/api/v1/errors?group_by=%s&window=%s" % (by, w))
                self.assertEqual(body["group_by"], by)
                frm, to = self.window(body)
                self.assertEqual(self.api_groups(body, by), self.sql_groups(by, frm, to),
                                 "group_by=%s window=%s" % (by, w))
        body = self.get("/api/v1/errors")   # default: code
        self.assertEqual(body["group_by"], "code")
        for g in body["groups"]:
            self.assertEqual(g["key"], str(g["code"]))

    def test_errors_by_server_follows_latest_policy(self):
        body = self.get("/api/v1/errors?group_by=server&window=24h")
        got = self.api_groups(body, "server")
        # the retired profile is gone from the latest policy snapshot: "unknown"
        retired = self.causes["retired-profile"]["devices"]
        self.assertTrue(retired)
        self.assertIn("unknown", got)
        self.assertEqual(got["unknown"][1], len(retired), got)
        # the SSTP certificate failures all belong to vpn2
        body = self.get("/api/v1/errors?group_by=server&code=-2146762495")
        frm, to = self.window(body)
        got = self.api_groups(body, "server")
        self.assertEqual(list(got), ["vpn2.example.net"])
        self.assertEqual(got, self.sql_groups("server", frm, to, code=-2146762495))
        # hex and decimal forms of a code are the same filter
        hx = self.get("/api/v1/errors?group_by=connection&code=0x800B0101")
        self.assertEqual(self.api_groups(hx, "connection"),
                         self.sql_groups("connection", *self.window(hx), code=-2146762495))

    # ---- trend ----
    def test_trend_matches_sql(self):
        body = self.check_trend("bucket=1h&window=24h")
        self.assertIn(len(body["points"]), (24, 25))
        self.assertGreater(sum(p["failures"] for p in body["points"]), 0)
        body = self.check_trend("bucket=1h&window=24h&code=13868", code=13868)
        self.assertGreater(sum(p["failures"] for p in body["points"]), 0)
        self.check_trend("bucket=1h&window=24h&code=-2146762495", code=-2146762495)
        self.check_trend("bucket=15m&window=6h")
        self.check_trend("bucket=1d&window=7d&code=691", code=691)
        self.check_trend("bucket=7m&window=2h")
        # before the injected expiry there is no certificate failure, after it there is
        body = self.get("/api/v1/trend?bucket=1h&window=24h&code=-2146762495")
        inj = ms(self.causes["sstp-cert-expired"]["injected_at"])
        for p in body["points"]:
            if ms(p["t"]) + 3600000 <= inj:
                self.assertEqual(p["failures"], 0, p)

    # ---- devices ----
    def api_device_ids(self, query):
        body = self.get("/api/v1/devices?limit=1000&" + query)
        ids = [d["device_id"] for d in body["devices"]]
        self.assertEqual(body["total"], len(ids))
        self.assertEqual(len(set(ids)), len(ids))
        return body, set(ids)

    def test_devices_by_code_match_sql(self):
        codes = [r[0] for r in self.c.sql("SELECT DISTINCT error_code FROM events"
                                           " WHERE event_id = 20227")]
        self.assertGreaterEqual(len(codes), 5)
        for code in codes:
            for w in ("24h", "3h", "7d"):
                # the list answer states no window: bracket it with two answers that do
                for _ in range(3):
                    w1 = self.window(self.get("/api/v1/overview?window=" + w))
                    body, got = self.api_device_ids("code=%d&window=%s" % (code, w))
                    frm, to = self.window(self.get("/api/v1/overview?window=" + w))
                    if (frm, to) == w1:
                        break
                want = {r[0] for r in self.c.sql(
                    "SELECT DISTINCT d.uid FROM events e JOIN devices d ON d.id = e.device"
                    " WHERE e.event_id = 20227 AND e.error_code = ? AND e.time >= ?"
                    " AND e.time < ?", (code, frm, to))}
                self.assertEqual(got, want, "code=%d window=%s" % (code, w))
        # the manifest knows the same devices
        _, got = self.api_device_ids("code=13868")
        self.assertEqual(got, set(self.causes["ipsec-legacy"]["devices"]))
        _, got = self.api_device_ids("code=868")
        self.assertEqual(got, set(self.causes["retired-profile"]["devices"]))

    def test_devices_list_paging_search_and_finding(self):
        body, ids = self.api_device_ids("")
        self.assertEqual(ids, {d["device_id"] for d in self.manifest["devices"]})
        full = [d["device_id"] for d in body["devices"]]
        seen = [d["last_seen"] for d in body["devices"]]
        self.assertEqual(seen, sorted(seen, reverse=True))
        paged = []
        for off in range(0, self.devices, 70):
            page = self.get("/api/v1/devices?limit=70&offset=%d" % off)
            self.assertEqual(page["total"], self.devices)
            paged += [d["device_id"] for d in page["devices"]]
        self.assertEqual(paged, full)
        # device summaries carry the device's current values
        rows = {r[0]: r[1:] for r in self.c.sql(
            "SELECT uid, hostname, os_version, agent_version FROM devices")}
        for d in body["devices"]:
            self.assertEqual((d["hostname"], d["os_version"], d["agent_version"]), rows[d["device_id"]])
        # q= searches hostnames (case-insensitive)
        _, got = self.api_device_ids("q=dt-00")
        self.assertEqual(got, {u for u, (hn, _, _) in rows.items() if hn.lower().startswith("dt-00")})
        self.assertTrue(got)
        # finding= equals the remediation list
        for rule in ("metric-order", "pbk-metric", "ipsec-weak"):
            _, got = self.api_device_ids("finding=" + rule)
            rem = self.get("/api/v1/remediation/%s/devices" % rule)
            self.assertEqual(got, set(rem["devices"]), rule)
            self.assertEqual(rem["count"], len(rem["devices"]))
        _, got = self.api_device_ids("finding=metric-order")
        self.assertEqual(got, set(self.causes["metric-automatic"]["devices"]))

    # ---- device detail ----
    def check_device(self, uid):
        body = self.get("/api/v1/devices/" + uid)
        dev = self.c.sql("SELECT id, hostname, os_version, agent_version FROM devices WHERE uid = ?",
                         (uid,))[0]
        self.assertEqual((body["device_id"], body["hostname"], body["os_version"],
                          body["agent_version"]), (uid,) + tuple(dev[1:]))
        did = dev[0]
        rows = self.c.sql(
            "SELECT a.s, i.ifindex, i.family, i.metric, i.automatic, i.connected, i.if_type, i.mtu"
            " FROM iface_metrics i JOIN dict a ON a.id = i.alias WHERE i.device = ? AND i.time ="
            " (SELECT max(time) FROM iface_metrics WHERE device = ?)", (did, did))
        want = sorted((a, ix, "ipv6" if fam == 6 else "ipv4", m, bool(au), bool(co),
                       IF_TYPES[t], mtu) for a, ix, fam, m, au, co, t, mtu in rows)
        got = sorted((i["alias"], i["index"], i["family"], i["metric"], i["automatic"],
                      i["connected"], i["if_type"], i.get("mtu")) for i in body["interfaces"])
        self.assertEqual(got, want, uid)
        latest = self.c.sql("SELECT max(time) FROM iface_metrics WHERE device = ?", (did,))[0][0]
        self.assertTrue(all(ms(i["time"]) == latest for i in body["interfaces"]))
        # pbk entries and policies of the latest snapshot
        pbk = self.c.sql(
            "SELECT c.s, s.s FROM pbk_entries p JOIN dict c ON c.id = p.connection JOIN dict s"
            " ON s.id = p.settings WHERE p.device = ? AND p.time ="
            " (SELECT max(time) FROM pbk_entries WHERE device = ?)", (did, did))
        self.assertEqual(sorted((e["connection"], json.dumps(e["settings"], sort_keys=True))
                                for e in body["pbk_entries"]),
                         sorted((c, json.dumps(json.loads(s), sort_keys=True)) for c, s in pbk))
        pol = self.c.sql(
            "SELECT c.s, sv.s, tt.s FROM vpn_policies p JOIN dict c ON c.id = p.connection"
            " JOIN dict sv ON sv.id = p.server JOIN dict tt ON tt.id = p.tunnel_type"
            " WHERE p.device = ? AND p.time = (SELECT max(time) FROM vpn_policies"
            " WHERE device = ?)", (did, did))
        self.assertEqual(sorted((p["connection"], p["server"], p["tunnel_type"])
                                for p in body["policies"]), sorted(pol))
        # recent events: the newest 100, newest first
        ev = self.c.sql("SELECT time, event_id, record_id FROM events WHERE device = ?"
                        " ORDER BY time DESC, record_id DESC LIMIT 100", (did,))
        self.assertEqual([(ms(e["time"]), e["event_id"], e["record_id"])
                          for e in body["recent_events"]], ev)
        n_coid = self.c.sql("SELECT count(DISTINCT coid) FROM events WHERE device = ?",
                            (did,))[0][0]
        self.assertEqual(len(body["attempts"]), min(50, n_coid))
        last = self.c.sql("SELECT time, error_code FROM events WHERE device = ? AND"
                          " event_id = 20227 ORDER BY time DESC LIMIT 1", (did,))
        if last:
            self.assertEqual((ms(body["last_error"]["time"]), body["last_error"]["code"]), last[0])
        else:
            self.assertIsNone(body["last_error"])
        return body

    def test_device_detail_matches_sql(self):
        by_id = {d["device_id"]: d for d in self.manifest["devices"]}
        picks = [self.causes["metric-automatic"]["devices"][0],
                 self.causes["retired-profile"]["devices"][0],
                 self.causes["devtun-cert"]["devices"][0],
                 self.causes["sstp-cert-expired"]["devices"][0]]
        picks += [d["device_id"] for d in self.manifest["devices"][:6]]
        for uid in picks:
            body = self.check_device(uid)
            self.assertEqual(body["hostname"], by_id[uid]["hostname"])
        # metric-order devices: the open finding, and the rows its evidence names
        # (the VPN interface and the physical ones not above it) marked inverted
        unmarked = []
        for uid in self.causes["metric-automatic"]["devices"]:
            body = self.get("/api/v1/devices/" + uid)
            mo = [f for f in body["open_findings"] if f["rule"] == "metric-order"]
            self.assertTrue(mo, uid)
            inverted = {(i["alias"], i["family"]) for i in body["interfaces"] if i["inverted"]}
            for f in mo:
                ev = f["evidence"]
                want = {(ev["vpn"]["alias"], ev["family"])}
                want |= {(p["alias"], ev["family"]) for p in ev["physical"]}
                if not want <= inverted:
                    unmarked.append(body["hostname"])
                    example = "%s: %s not marked; VPN rows %s" % (
                        body["hostname"], sorted(want - inverted),
                        [(i["alias"], i["family"], i["metric"]) for i in body["interfaces"]
                         if i["if_type"] == "vpn"])
        if unmarked:
            self.fail("%d of %d metric-order devices have rows of the finding not"
                      " marked inverted in the device detail (%s), e.g. %s"
                      % (len(set(unmarked)), len(self.causes["metric-automatic"]["devices"]),
                         " ".join(sorted(set(unmarked))), example))
        # the retired profile: in the first snapshot, not in the latest one
        uid = self.causes["retired-profile"]["devices"][0]
        body = self.check_device(uid)
        self.assertNotIn("Contoso Legacy VPN", [p["connection"] for p in body["policies"]])
        old = self.c.sql("SELECT count(*) FROM vpn_policies p JOIN devices d ON d.id = p.device"
                         " JOIN dict c ON c.id = p.connection WHERE d.uid = ? AND"
                         " c.s = 'Contoso Legacy VPN'", (uid,))[0][0]
        self.assertEqual(old, 1)

    # ---- refusals ----
    def test_bad_parameters_are_400(self):
        for path in ("/api/v1/overview?window=abc", "/api/v1/overview?window=0m",
                     "/api/v1/overview?window=401d", "/api/v1/errors?window=-1h",
                     "/api/v1/trend?window=90d&bucket=1h", "/api/v1/trend?window=90d&bucket=36h",
                     "/api/v1/trend?bucket=0m", "/api/v1/trend?bucket=90s",
                     "/api/v1/trend?bucket=1m&window=30d",
                     "/api/v1/errors?group_by=foo", "/api/v1/devices?limit=-1",
                     "/api/v1/devices?limit=1001", "/api/v1/devices?offset=x",
                     "/api/v1/errors?code=xyz", "/api/v1/trend?code=xyz",
                     "/api/v1/devices?code=xyz", "/api/v1/devices?finding=no-such-rule",
                     "/api/v1/remediation/metric-order"):
            body = self.get(path, status=400)
            self.assertEqual(body["error"], "bad_request", path)
            self.assertTrue(body["message"], path)

    def test_not_found_and_auth(self):
        self.get_findings()  # PostgreSQL: published by now (below: 200 for a reader)
        # a running collector picks up added tokens within a second
        deadline = time.time() + 5
        while self.c.get_json("/api/v1/overview", token=self.reader_token)[0] != 200 \
                and time.time() < deadline:
            time.sleep(0.2)
        body = self.get("/api/v1/devices/" + str(uuid.uuid4()), status=404)
        self.assertEqual(body["error"], "not_found")
        self.assertTrue(body["message"])
        self.assertEqual(self.get("/api/v1/remediation/no-such-rule/devices", status=404)["error"],
                         "not_found")
        for path in ("/api/v1/overview", "/api/v1/errors", "/api/v1/trend", "/api/v1/devices",
                     "/api/v1/findings", "/api/v1/remediation/metric-order/devices",
                     "/api/v1/devices/" + self.manifest["devices"][0]["device_id"]):
            st, body = self.c.get_json(path, token=None)
            self.assertEqual(st, 401, path)
            st, body = self.c.get_json(path, token="not-a-token-" + uuid.uuid4().hex)
            self.assertEqual(st, 401, path)
            st, body = self.c.get_json(path, token=self.agent_token)
            self.assertEqual(st, 403, path)
            self.assertTrue(body["error"], body)
            st, body = self.c.get_json(path, token=self.reader_token)
            self.assertEqual(st, 200, path)
        # a reader may not ingest
        st, _, body = self.c.post_batch(h.make_batch(), token=self.reader_token)
        self.assertEqual(st, 403, body)

    def test_remediation_feed(self):
        rem = self.get("/api/v1/remediation/metric-order/devices")
        flagged = set(rem["devices"])
        self.assertEqual(flagged, set(self.causes["metric-automatic"]["devices"]))
        uid = sorted(flagged)[0]
        body = self.get("/api/v1/remediation/metric-order?device_id=" + uid)
        self.assertEqual((body["device_id"], body["rule"], body["needs_remediation"]),
                         (uid, "metric-order", True))
        self.assertTrue(body["detail"]["known_device"])
        self.assertTrue(body["detail"]["findings"])
        ok = next(d["device_id"] for d in self.manifest["devices"] if d["device_id"] not in flagged)
        body = self.get("/api/v1/remediation/metric-order?device_id=" + ok)
        self.assertFalse(body["needs_remediation"])
        self.assertTrue(body["detail"]["known_device"])
        body = self.get("/api/v1/remediation/metric-order?device_id=never-seen")
        self.assertFalse(body["needs_remediation"])
        self.assertFalse(body["detail"]["known_device"])

    # ---- restart ----
    def capture(self):
        """Every answer, normalised: ordering that depends on in-memory
        indexes (ties, discovery order) is sorted away; generated_at dropped."""
        out = {}
        paths = ["/api/v1/overview?window=%s" % w for w in ("24h", "1h", "7d")]
        paths += ["/api/v1/errors?group_by=%s&window=%s" % (by, w)
                  for by in ("code", "connection", "server", "os_version", "agent_version")
                  for w in ("24h", "7d")]
        paths += ["/api/v1/errors?group_by=server&code=13806",
                  "/api/v1/trend?bucket=1h&window=24h", "/api/v1/trend?bucket=1h&code=13868",
                  "/api/v1/trend?bucket=10m&window=3h&code=-2146762495",
                  "/api/v1/devices?limit=1000", "/api/v1/devices?code=13806&limit=1000",
                  "/api/v1/devices?finding=metric-order&limit=1000",
                  "/api/v1/findings"]
        paths += ["/api/v1/remediation/%s/devices" % r
                  for r in ("metric-order", "pbk-metric", "ipsec-weak")]
        uids = [self.causes["metric-automatic"]["devices"][0],
                self.causes["retired-profile"]["devices"][0],
                self.causes["devtun-cert"]["devices"][0]]
        paths += ["/api/v1/devices/" + u for u in uids]
        paths += ["/api/v1/remediation/metric-order?device_id=" + u for u in uids]
        for p in paths:
            body = self.get_findings() if p == "/api/v1/findings" else self.get(p)
            body.pop("generated_at", None)
            body.pop("node", None)  # PostgreSQL: the publishing collector's host/pid
            if "groups" in body:
                body["groups"] = sorted(body["groups"], key=lambda g: json.dumps(g, sort_keys=True))
            if "findings" in body and isinstance(body["findings"], list) and p.endswith("findings"):
                for f in body["findings"]:
                    if "devices" in f:
                        f["devices"] = sorted(f["devices"])
                    ex = f.get("evidence", {}).get("examples")
                    if ex:
                        f["evidence"]["examples"] = sorted(ex, key=lambda e: e["device_id"])
                body["findings"] = sorted(body["findings"], key=lambda f: f["id"])
            if "devices" in body and p.endswith("/devices"):
                body["devices"] = sorted(body["devices"])
            elif "devices" in body:
                # newest last_seen first; devices stored in the same commit tie,
                # and their order is the aggregate's discovery order (api.md
                # leaves it open; PostgreSQL rebuilds in another one)
                body["devices"] = sorted(sorted(body["devices"], key=lambda d: d["device_id"]),
                                         key=lambda d: d["last_seen"], reverse=True)
            out[p] = body
        return out

    def get_findings(self):
        """The findings document. On PostgreSQL it is the elected collector's
        and answers 503 findings_pending until one has published (docs/api.md):
        retried for up to 30 s."""
        deadline = time.time() + 30
        st, body = self.c.get_json("/api/v1/findings")
        while st == 503 and time.time() < deadline:
            self.assertEqual(body["error"], "findings_pending", body)
            time.sleep(0.3)
            st, body = self.c.get_json("/api/v1/findings")
        self.assertEqual(st, 200, body)
        return body

    def fresh_findings(self, since):
        """Waits until the findings document (recomputed in the background)
        was built after `since` (epoch s)."""
        deadline = time.time() + 30
        while time.time() < deadline:
            if ms(self.get_findings()["generated_at"]) >= int(since * 1000):
                return
            time.sleep(0.3)
        self.fail("the findings were not recomputed within 30 s")

    def test_restart_changes_no_answer(self):
        for attempt in range(3):
            # one minute for the whole comparison: windows are whole minutes,
            # and the findings before the restart must be computed in it too
            if time.time() % 60 > 25:
                time.sleep(60.5 - time.time() % 60)
            minute = int(time.time() // 60)
            # an empty batch of a known device changes the fleet's version:
            # the background analyzer recomputes the findings within seconds
            uid = self.manifest["devices"][-1]["device_id"]
            # taken before the probe: a recompute that already includes it may
            # come before the post returns, and the next would be 60 s away
            t0 = time.time()
            st, _, body = self.c.post_batch({"schema": 1, "batch_id": "probe-%d" % minute,
                                             "agent": {"device_id": uid}, "records": []})
            self.assertEqual(st, 200, body)
            self.fresh_findings(t0)
            before = self.capture()
            rc = self.c.stop()
            self.assertEqual(rc, 0, self.c.read_log())
            self.c.start()
            after = self.capture()
            if int(time.time() // 60) == minute:
                break
        else:
            self.fail("could not compare within one minute")
        self.assertTrue(before["/api/v1/findings"]["findings"])
        for p in before:
            b, a = before[p], after[p]
            if p == "/api/v1/findings":
                with self.subTest(path=p, part="finding ids"):
                    self.assertEqual([f["id"] for f in a["findings"]],
                                     [f["id"] for f in b["findings"]],
                                     "finding ids changed across a restart")
                def key(f):
                    ev = f.get("evidence", {})
                    return (f["rule"], ev.get("code"), ev.get("attribute"), ev.get("value"))
                fb = {key(f): {k: v for k, v in f.items() if k != "id"} for f in b["findings"]}
                fa = {key(f): {k: v for k, v in f.items() if k != "id"} for f in a["findings"]}
                with self.subTest(path=p, part="findings"):
                    self.assertEqual(sorted(fa, key=repr), sorted(fb, key=repr))
                    changed = ["%s: %s" % (k, ", ".join(
                        "%s %s -> %s" % (x, json.dumps(fb[k].get(x))[:80],
                                         json.dumps(fa[k].get(x))[:80])
                        for x in fb[k] if fa[k].get(x) != fb[k].get(x)))
                               for k in fb if k in fa and fa[k] != fb[k]]
                    if changed:
                        self.fail("findings changed across a restart:\n" + "\n".join(changed))
                continue
            with self.subTest(path=p):
                self.assertEqual(a, b, "answer changed across a restart: " + p)
        # and the rebuilt answers are still exact
        self.test_overview_matches_sql()
        self.test_errors_group_by_matches_sql()

    def test_duplicate_resend_changes_nothing(self):
        before = {p: self.get(p) for p in ("/api/v1/overview?window=7d",
                                          "/api/v1/errors?group_by=server&window=7d")}
        n = self.c.sql("SELECT (SELECT count(*) FROM events), (SELECT count(*) FROM batches)")[0]
        p = run_fleetgen(self.c, "--scenario", "causes", "--devices", self.devices,
                         "--seed", SEED, "--end", "%.3f" % self.end, "--concurrency", 2)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("0 accepted", p.stderr)
        self.assertEqual(self.c.sql("SELECT (SELECT count(*) FROM events),"
                                    " (SELECT count(*) FROM batches)")[0], n)
        for path, body in before.items():
            now = self.get(path)
            for k in ("generated_at", "from", "to"):
                now.pop(k, None)
                body.pop(k, None)
            self.assertEqual(now, body, path)


class DeviceDetailTest(unittest.TestCase):
    def new_collector(self):
        """A fresh collector, not started (test_pg_read_api.py: on PostgreSQL)."""
        return h.Collector()

    def test_inverted_rows_with_both_tunnels_up(self):
        """User tunnel on automatic metric 25, device tunnel pinned at 4,
        Ethernet 25, all connected: metric-order flags the user tunnel, and
        the device page marks its row (and Ethernet's) inverted."""
        with self.new_collector() as c:
            dev = "inv-" + uuid.uuid4().hex
            t = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(time.time() - 60))

            def iface(alias, idx, metric, if_type):
                return {"kind": "iface_metric", "time": t, "alias": alias, "index": idx,
                        "family": "ipv4", "metric": metric, "automatic": metric == 25,
                        "connected": True, "if_type": if_type}
            b = {"schema": 1, "batch_id": "b1",
                 "agent": {"device_id": dev, "hostname": "DT-INV", "os_version": "10.0.22631",
                           "agent_version": "0.2.0"},
                 "records": [iface("Always On VPN Device Tunnel", 42, 4, "vpn"),
                             iface("Always On VPN", 41, 25, "vpn"),
                             iface("Ethernet", 12, 25, "ethernet")]}
            st, _, body = c.post_batch(b)
            self.assertEqual(st, 200, body)
            st, rem = c.get_json("/api/v1/remediation/metric-order?device_id=" + dev)
            self.assertTrue(rem["needs_remediation"], rem)
            st, det = c.get_json("/api/v1/devices/" + dev)
            marks = {i["alias"]: i["inverted"] for i in det["interfaces"]}
            self.assertEqual(marks, {"Always On VPN Device Tunnel": False, "Always On VPN": True,
                                     "Ethernet": True})


class SnapshotSplitTest(unittest.TestCase):
    """A device's snapshot (interfaces / pbk / policies of one collection run,
    all with the same time) may arrive split over two batches: the agent's
    batcher (agent/batcher.c) cuts at --batch-records without regard to
    record kinds. The answers must be the same as SQL over the stored rows,
    before and after a restart."""

    new_collector = DeviceDetailTest.new_collector

    def test_snapshot_split_over_two_batches(self):
        with self.new_collector() as c:
            dev = "split-" + uuid.uuid4().hex
            now = time.time()
            snap_t = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 300))
            ev_t = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(now - 600))
            agent = {"device_id": dev, "hostname": "LT-SPLIT", "os_version": "10.0.22631",
                     "agent_version": "0.2.0"}

            def iface(alias, idx, metric, if_type):
                return {"kind": "iface_metric", "time": snap_t, "alias": alias, "index": idx,
                        "family": "ipv4", "metric": metric, "automatic": True,
                        "connected": True, "if_type": if_type, "mtu": 1500}

            def policy(conn, server, dt):
                return {"kind": "vpn_policy", "time": snap_t, "connection": conn,
                        "server": server, "tunnel_type": "Ikev2",
                        "auth_method": "MachineCertificate" if dt else "Eap",
                        "split_tunneling": True, "device_tunnel": dt,
                        "ipsec": dict(zip(("cipher_transform", "auth_transform",
                                           "encryption_method", "integrity_check_method",
                                           "dh_group", "pfs_group"),
                                          ("AES128", "SHA256128", "AES128", "SHA256",
                                           "Group14", "PFS2048")))}
            fail = {"kind": "ras_event", "time": ev_t, "event_id": 20227, "record_id": 10,
                    "level": "error", "user": "CORP\\alice", "connection": "Always On VPN",
                    "error_code": 809, "coid": str(uuid.uuid4()).upper()}
            # batch 1: the event, the VPN and Ethernet rows (25 vs 25: metric-order),
            # the user tunnel policy; batch 2: the rest of the same snapshot
            b1 = {"schema": 1, "batch_id": "b1", "agent": agent,
                  "records": [fail, iface("Always On VPN", 41, 25, "vpn"),
                              iface("Ethernet", 12, 25, "ethernet"),
                              policy("Always On VPN", "vpn2.example.net", False)]}
            b2 = {"schema": 1, "batch_id": "b2", "agent": agent,
                  "records": [iface("Wi-Fi", 18, 45, "wifi"),
                              policy("Always On VPN Device Tunnel", "vpn2.example.net", True)]}
            for b in (b1, b2):
                st, _, body = c.post_batch(b)
                self.assertEqual(st, 200, body)

            def answers():
                st, srv = c.get_json("/api/v1/errors?group_by=server&window=1h")
                st2, rem = c.get_json("/api/v1/remediation/metric-order?device_id=" + dev)
                st3, det = c.get_json("/api/v1/devices/" + dev)
                self.assertEqual((st, st2, st3), (200, 200, 200))
                return ({g["key"]: g["failures"] for g in srv["groups"]},
                        rem["needs_remediation"], len(det["interfaces"]), len(det["policies"]))

            before = answers()
            self.assertEqual(c.stop(), 0)
            c.start()
            after = answers()
            # SQL: the stored snapshot is all five rows; the failure's connection
            # has a policy on vpn2; VPN 25 >= Ethernet 25
            self.assertEqual(after, ({"vpn2.example.net": 1}, True, 3, 2))
            self.assertEqual(before, after,
                             "the hot aggregate kept only the second batch's part of the snapshot")


if __name__ == "__main__":
    unittest.main(verbosity=2)
