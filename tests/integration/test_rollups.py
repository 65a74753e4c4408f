"""Windows past the hot horizon are answered from the daily rollups, exactly:
every answer for 90d/180d/365d (and 45d, 400d) equals SQL over the raw
events table over the answer's own [from, to), a collector restart changes
no answer, and a database as schema 1 or 2 left it (no rollup tables) gets
its rollups filled on upgrade and answers the same.

A small fleet is posted through the real ingest API: 36 devices with
attempts spread over ~400 days (the collector keeps raw rows for 3650
days, so SQL can check everything), failures of five codes on three
connections, a policy snapshot 200 days ago and a later one that moves one
connection to another server and drops another (its failures group under
"unknown"), OS builds that change in the latest batch, events one
millisecond either side of the UTC midnights where the windows begin,
non-outcome events, a duplicate batch and resent events under new batch
ids (counted once).
"""
import os
import random
import shutil
import sqlite3
import time
import unittest
import uuid

import rfharness as h

ms = h.ms
DAY = 86400000
DEVICES = 36
SEED = 20261206
CONNECTIONS = ["AOVPN User", "AOVPN Device", "Legacy VPN"]
SERVERS = ["vpn1.example.net", "vpn2.example.net", "vpn3.example.net"]
CODES = [809, 691, 13868, -2146762495, None]
LONG_WINDOWS = ("45d", "90d", "180d", "365d", "400d")
GROUP_BY = ("code", "connection", "server", "os_version", "agent_version")


def rfc3339(t_ms):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t_ms // 1000)) + ".%03dZ" % (t_ms % 1000)


def event(rid, t, event_id, conn, code=None):
    r = {"kind": "ras_event", "time": rfc3339(t), "event_id": event_id, "record_id": rid,
         "level": "error" if event_id == 20227 else "information", "user": "CORP\\user",
         "connection": conn}
    if code is not None:
        r["error_code"] = code
    return r


def policies(t, servers):
    return [{"kind": "vpn_policy", "time": rfc3339(t), "connection": conn, "server": srv,
             "tunnel_type": "Ikev2", "auth_method": "Eap", "split_tunneling": True,
             "device_tunnel": conn == "AOVPN Device"} for conn, srv in servers.items()]


def fleet_batches(now):
    """The fleet's batches, in the order to post them (per device oldest first)."""
    rnd = random.Random(SEED)
    today = now // DAY
    # the UTC midnights where the long windows begin (today included)
    edges = [(today - int(w[:-1]) + 1) * DAY for w in LONG_WINDOWS]
    out = []
    for d in range(DEVICES):
        uid = str(uuid.UUID(int=rnd.getrandbits(128)))
        agent = {"device_id": uid, "hostname": "LT-%04d" % d,
                 "os_version": rnd.choice(["10.0.19045", "10.0.22631"]),
                 "agent_version": rnd.choice(["0.1.0", "0.2.0"])}
        conns = CONNECTIONS[:1 + d % 3]
        first = {c: SERVERS[(d + i) % 2] for i, c in enumerate(conns)}
        latest = dict(first)
        if d % 4 == 0:
            latest["AOVPN User"] = "vpn3.example.net"   # moved: the latest snapshot counts
        if d % 5 == 0:
            latest.pop("Legacy VPN", None)              # dropped: "unknown"
        records = policies(now - 200 * DAY, first)
        rid = 0
        times = [now - rnd.randrange(400 * DAY) for _ in range(40 + d % 7 * 5)]
        times += [e + off for e in edges for off in (-1, 0) if rnd.random() < 0.6]
        for t in sorted(times):
            conn = rnd.choice(conns)
            rid += 1
            records.append(event(rid, t - 5000, 20221, conn))   # progress: not an attempt
            rid += 1
            if d % 9 == 8 or rnd.random() < 0.45:               # some devices never fail
                records.append(event(rid, t, 20225, conn))
            else:
                records.append(event(rid, t, 20227, conn, rnd.choice(CODES)))
        records.sort(key=lambda r: r["time"])
        batches = []
        for i in range(0, len(records), 120):
            batches.append({"schema": 1, "batch_id": "b-%d-%d" % (d, i), "agent": dict(agent),
                            "records": records[i:i + 120]})
        last = batches[-1]
        last["records"] = last["records"] + policies(now - 3600000, latest)
        if d % 3 == 0:
            last["agent"]["os_version"] = "10.0.26100"          # upgraded: current value counts
        out += batches
        if d % 2 == 0:
            # resent events under a new batch id, and the same batch twice
            out.append({"schema": 1, "batch_id": "resend-%d" % d, "agent": dict(agent),
                        "records": [r for r in records if r["kind"] == "ras_event"][::3]})
            out.append(batches[0])
    return out


class RollupApiTest(h.ReadApiChecks, unittest.TestCase):
    @classmethod
    def new_collector(cls, **kw):
        """The collector under test, not started (test_pg_read_api.py: on PostgreSQL)."""
        return h.Collector(**kw)

    @classmethod
    def setUpClass(cls):
        cls.c = cls.new_collector(extra_args=["--retention-days", "3650"]).start()
        try:
            cls.load()
        except BaseException:
            cls.c.cleanup()
            raise

    @classmethod
    def load(cls):
        cls.now = int(time.time() * 1000)
        seen = set()
        for b in fleet_batches(cls.now):
            key = (b["agent"]["device_id"], b["batch_id"])
            st, _, body = cls.c.post_batch(b, gzip_it=True)
            assert st == 200, "ingest answered %d: %s" % (st, body)
            assert body["duplicate"] == (key in seen), body
            seen.add(key)

    @classmethod
    def tearDownClass(cls):
        h.stop_all((cls.c,))

    # ---- checks against SQL ----
    def check_daily_window(self, body, w):
        frm, to = self.window(body)
        days = int(w[:-1])
        self.assertEqual(body["window"], w)
        self.assertEqual(body["resolution"], "1d", w)
        self.assertEqual(frm % DAY, 0, w)
        self.assertEqual(to - frm, days * DAY, w)
        self.assertEqual(to, (int(time.time() * 1000) // DAY + 1) * DAY, "ends with today")
        return frm, to

    def check_overview(self, w):
        body = self.get("/api/v1/overview?window=" + w)
        frm, to = self.check_daily_window(body, w)
        attempts, failures = self.sql_outcomes(frm, to)
        self.assertEqual((body["attempts"], body["failures"]), (attempts, failures), w)
        self.assertAlmostEqual(body["failure_rate"], failures / attempts if attempts else 0.0,
                               places=5)
        self.assertEqual(body["devices_known"], DEVICES)
        self.assertEqual(body["devices_reporting"], self.c.sql(
            "SELECT count(*) FROM devices WHERE last_seen >= ?", (frm,))[0][0])
        groups = self.sql_groups("code", frm, to)
        want = sorted(groups.items(), key=lambda kv: (-kv[1][0], kv[0]))[:10]
        self.assertEqual([(t["code"], (t["failures"], t["devices"])) for t in body["top_errors"]],
                         want, w)
        return body

    def answers(self):
        """Every long-window answer (minus generated_at), keyed by path."""
        out = {}
        paths = ["/api/v1/overview?window=" + w for w in LONG_WINDOWS]
        paths += ["/api/v1/errors?group_by=%s&window=%s" % (by, w)
                  for by in GROUP_BY for w in LONG_WINDOWS]
        paths += ["/api/v1/trend?window=365d&bucket=7d", "/api/v1/trend?window=90d&code=809",
                  "/api/v1/devices?window=180d&code=13868&limit=1000"]
        for p in paths:
            body = self.get(p)
            body.pop("generated_at", None)
            # ties may come in another order after a restart (fleet string
            # ids, recency of devices committed in the same millisecond)
            body.get("groups", []).sort(key=lambda g: (-g["failures"], str(g["key"])))
            if "devices" in body:
                # the window decides which devices are listed; their summaries
                # are not windowed answers (last_error is rebuilt from the hot
                # horizon only, see fleet_load.c)
                body["devices"] = sorted(d["device_id"] for d in body["devices"])
            out[p] = body
        return out

    def test_overview_matches_sql(self):
        for w in LONG_WINDOWS:
            body = self.check_overview(w)
            self.assertGreater(body["failures"], 0, w)
        # the fleet really spreads over the windows
        counts = [self.get("/api/v1/overview?window=" + w)["attempts"] for w in LONG_WINDOWS]
        self.assertEqual(counts, sorted(counts))
        self.assertLess(counts[0], counts[-1])
        # inside the horizon: the hot path, per minute
        body = self.get("/api/v1/overview?window=31d")
        self.assertEqual(body["resolution"], "1m")
        self.assertEqual(self.sql_outcomes(*self.window(body)),
                         (body["attempts"], body["failures"]))

    def test_errors_group_by_matches_sql(self):
        for by in GROUP_BY:
            for w in LONG_WINDOWS:
                body = self.get("/api/v1/errors?group_by=%s&window=%s" % (by, w))
                frm, to = self.check_daily_window(body, w)
                self.assertEqual(body["group_by"], by)
                got = self.api_groups(body, by)
                self.assertEqual(got, self.sql_groups(by, frm, to),
                                 "group_by=%s window=%s" % (by, w))
        # the semantics the fleet was built to show: a moved server, a dropped
        # profile ("unknown"), an upgraded OS build
        got = self.api_groups(self.get("/api/v1/errors?group_by=server&window=365d"), "server")
        self.assertIn("vpn3.example.net", got)
        self.assertIn("unknown", got)
        got = self.api_groups(self.get("/api/v1/errors?group_by=os_version&window=365d"),
                              "os_version")
        self.assertIn("10.0.26100", got)
        # with a code filter (decimal and hex forms)
        for code_s, code in (("809", 809), ("0x800B0101", -2146762495)):
            for by in ("server", "connection"):
                body = self.get("/api/v1/errors?group_by=%s&window=180d&code=%s" % (by, code_s))
                frm, to = self.window(body)
                self.assertEqual(self.api_groups(body, by),
                                 self.sql_groups(by, frm, to, code=code), (by, code_s))

    def test_trend_matches_sql(self):
        body = self.check_trend("window=90d&bucket=1d")
        self.assertEqual(body["resolution"], "1d")
        self.assertIn(len(body["points"]), (90, 91))
        body = self.check_trend("window=365d")          # the default bucket: 1d
        self.assertEqual((body["bucket"], body["bucket_seconds"]), ("1d", 86400))
        self.check_trend("window=180d&bucket=7d&code=809", code=809)
        self.check_trend("window=365d&bucket=30d")
        self.check_trend("window=400d&bucket=2d&code=-2146762495", code=-2146762495)
        body = self.check_trend("window=45d&bucket=1d&code=0", code=0)
        self.assertGreater(sum(p["failures"] for p in body["points"]), 0)

    def test_devices_by_code_match_sql(self):
        for code in (809, 13868, 0):
            for w in ("90d", "365d"):
                body = self.get("/api/v1/devices?limit=1000&window=%s&code=%d" % (w, code))
                frm, to = self.window(self.get("/api/v1/overview?window=" + w))
                want = {r[0] for r in self.c.sql(
                    "SELECT DISTINCT d.uid FROM events e JOIN devices d ON d.id = e.device"
                    " WHERE e.event_id = 20227 AND coalesce(e.error_code, 0) = ? AND"
                    " e.time >= ? AND e.time < ?", (code, frm, to))}
                self.assertEqual({d["device_id"] for d in body["devices"]}, want, (code, w))
                self.assertEqual(body["total"], len(want))

    def test_bad_windows_and_buckets_are_400(self):
        for path in ("/api/v1/overview?window=401d", "/api/v1/errors?window=9624h",
                     "/api/v1/trend?window=90d&bucket=1h", "/api/v1/trend?window=90d&bucket=36h",
                     "/api/v1/trend?window=32d&bucket=12h",
                     "/api/v1/devices?window=500d&code=809"):
            body = self.get(path, status=400)
            self.assertEqual(body["error"], "bad_request", path)
            self.assertTrue(body["message"], path)
        body = self.get("/api/v1/trend?window=90d&bucket=1h", status=400)
        self.assertIn("whole days", body["message"])
        body = self.get("/api/v1/overview?window=401d", status=400)
        self.assertIn("400d", body["message"])

    def test_restart_changes_no_answer(self):
        # the hot aggregate is rebuilt, the rollups stay
        before = self.answers()
        self.assertEqual(self.c.stop(), 0)
        self.c.start()
        self.assert_same_answers(before, self.answers(), "after a restart")

    def test_upgrade_changes_no_answer(self):
        # the same SQLite database as schemas 3, 2 and 1 left it (no rollup
        # tables; no agent_status tables before 3; schema 1 with its
        # events(time) index): a collector upgrades it, filling the rollups
        # from the raw events
        before = self.answers()
        self.assertEqual(self.c.stop(), 0)
        try:
            for version in (3, 2, 1):
                path = os.path.join(self.c.dir, "schema%d.db" % version)
                shutil.copy(self.c.db, path)
                con = sqlite3.connect(path)
                # before schema 5 every message was text (storage.md, message marks)
                con.executescript(
                    "UPDATE events SET message = 'CoId={' || coid || '}: The user '"
                    " || (SELECT s FROM dict WHERE id = events.user) || ' dialed a connection"
                    " named ' || (SELECT s FROM dict WHERE id = events.connection) || CASE"
                    " event_id WHEN 20226 THEN ' which has terminated. The reason code returned"
                    " on termination is ' || reason_code ELSE ' which has failed. The error"
                    " code returned on failure is ' || error_code END || '.'"
                    " WHERE message_template = 1;"
                    " ALTER TABLE events DROP COLUMN message_template;")
                con.executescript("DROP TABLE rollup_attempts; DROP TABLE rollup_failures;")
                if version <= 2:
                    con.executescript("DROP TABLE agent_losses; DROP TABLE agent_status;")
                if version == 1:
                    con.executescript("DROP INDEX events_minute;"
                                      " CREATE INDEX events_time ON events(time);")
                con.execute("PRAGMA user_version = %d" % version)
                con.commit()
                con.close()
                up = h.Collector(db=path, extra_args=["--retention-days", "3650"]).start()
                try:
                    self.assertIn("database migrated to schema version 4", up.read_log())
                    self.assert_same_answers(before, self.answers_of(up),
                                             "upgraded from schema %d" % version)
                finally:
                    self.assertEqual(up.stop(), 0)
                    up.cleanup()
        finally:
            self.c.start()

    def answers_of(self, collector):
        saved, self.c = self.c, collector
        try:
            return self.answers()
        finally:
            self.c = saved

    def assert_same_answers(self, before, after, what):
        for path, body in before.items():
            if (body.get("from"), body.get("to")) != (after[path].get("from"), after[path].get("to")):
                continue  # a UTC midnight passed in between: another window
            self.assertEqual(after[path], body, "%s: %s" % (what, path))


if __name__ == "__main__":
    unittest.main(verbosity=2)
