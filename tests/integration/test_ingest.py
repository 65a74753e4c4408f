"""Ingest over real HTTP into a real SQLite file: the contract's happy paths
and every bad input of the collector-core issue, each checked against what
the database holds afterwards."""
import gzip
import http.client
import json
import os
import socket
import time
import unittest
import uuid

import rfharness as h


class IngestTest(unittest.TestCase):
    @classmethod
    def new_collector(cls):
        """The collector under test (test_pg_ingest.py runs these tests on
        PostgreSQL by overriding this)."""
        return h.Collector()

    @classmethod
    def setUpClass(cls):
        cls.c = cls.new_collector()
        cfg = os.path.join(cls.c.dir, "rasfleet.conf")
        with open(cfg, "w") as f:
            f.write("# test settings\nmax_body_bytes = 4194304\nmax_inflated_bytes = 16777216\n")
        cls.c.extra_args = ["--config", cfg]
        cls.c.start()

    @classmethod
    def tearDownClass(cls):
        h.stop_all((cls.c,))

    def counts(self):
        tables = ("events", "iface_metrics", "pbk_entries", "vpn_policies", "batches")
        row = self.c.sql("SELECT " + ", ".join("(SELECT count(*) FROM %s)" % t for t in tables))
        return dict(zip(tables, row[0]))

    def assertRefused(self, status, body, want_status, want_error, record=None, field=None):
        self.assertEqual(status, want_status, body)
        self.assertEqual(body["error"], want_error, body)
        self.assertTrue(body["message"], body)
        if record is not None:
            self.assertEqual(body["detail"]["record"], record, body)
        if field is not None:
            self.assertEqual(body["detail"]["field"], field, body)

    # ---- accepted ----
    def test_event_messages_come_back_byte_for_byte(self):
        """A 20226/20227 message that is its catalogue text is stored as a
        mark (event_message.h); every message, marked or not, comes back from
        the device API exactly as it was sent."""
        dev = "dev-msg-" + uuid.uuid4().hex[:8]
        coid = "3F2A0C1B-7A44-0000-8E61-0C2B447AD9%02d"

        def ev(i, event_id, code, message, user="CORP\\alice"):
            r = {"kind": "ras_event", "time": "2026-11-20T08:%02d:00Z" % i,
                 "event_id": event_id, "record_id": 900 + i,
                 "level": "error" if event_id == 20227 else "information", "user": user,
                 "connection": "Always On VPN", "coid": coid % i, "message": message}
            if event_id == 20227:
                r["error_code"] = code
            elif event_id == 20226:
                r["reason_code"] = code
            return r

        std = ("CoId={%s}: The user CORP\\alice dialed a connection named Always On VPN"
               " which has failed. The error code returned on failure is %d.")
        sent = [
            (ev(1, 20227, 809, std % (coid % 1, 809)), True),
            (ev(2, 20226, 631, "CoId={%s}: The user CORP\\alice dialed a connection named"
                " Always On VPN which has terminated. The reason code returned on termination"
                " is 631." % (coid % 2)), True),
            (ev(3, 20227, -2146893048, std % (coid % 3, -2146893048)), True),
            (ev(4, 20227, 809, (std % (coid % 4, 809)) + " "), False),  # one byte more
            (ev(5, 20227, 812, std % (coid % 5, 809)), False),  # the text names another code
            (ev(6, 20227, 809, "CoId={%s}: Der Benutzer CORP\\alice hat eine Verbindung mit"
                " dem Namen Always On VPN gew\u00e4hlt, die nicht hergestellt werden konnte."
                " Der bei dem Fehler zur\u00fcckgegebene Fehlercode lautet 809." % (coid % 6)),
             False),
            (ev(7, 20225, 0, "CoId={%s}: The user CORP\\alice has dialed a connection named"
                " Always On VPN to the Remote Access Server which has successfully connected."
                " The connection parameters are:\nTunnelProtocol = IKEv2\n" % (coid % 7)),
             False),
        ]
        batch = {"schema": 1, "batch_id": str(uuid.uuid4()),
                 "agent": {"device_id": dev, "hostname": "LT-MSG"},
                 "records": [r for r, _ in sent]}
        status, _, body = self.c.post_batch(batch)
        self.assertEqual(status, 200, body)
        status, detail = self.c.get_json("/api/v1/devices/" + dev)
        self.assertEqual(status, 200, detail)
        got = {e["record_id"]: e.get("message") for e in detail["recent_events"]}
        for r, _ in sent:
            self.assertEqual(got[r["record_id"]], r["message"], r["record_id"])
        rows = dict(self.c.sql(
            "SELECT e.record_id, CASE WHEN e.message IS NULL AND e.message_template = 1"
            " THEN 1 ELSE 0 END FROM events e JOIN devices d ON d.id = e.device"
            " WHERE d.uid = ?", (dev,)))
        self.assertEqual(rows, {r["record_id"]: int(marked) for r, marked in sent})

    def test_sample_batch_json_then_duplicate(self):
        batch = json.loads(h.fixture("records", "batch-all-kinds.json"))
        batch["batch_id"] = str(uuid.uuid4())
        batch["agent"]["device_id"] = "dev-" + uuid.uuid4().hex
        before = self.counts()
        status, _, body = self.c.post_batch(batch)
        self.assertEqual(status, 200, body)
        self.assertEqual(body, {"accepted": len(batch["records"]), "duplicate": False})
        after = self.counts()
        kinds = {}
        for r in batch["records"]:
            kinds[r["kind"]] = kinds.get(r["kind"], 0) + 1
        self.assertEqual(after["events"] - before["events"], kinds["ras_event"])
        self.assertEqual(after["iface_metrics"] - before["iface_metrics"], kinds["iface_metric"])
        self.assertEqual(after["pbk_entries"] - before["pbk_entries"], kinds["pbk_entry"])
        self.assertEqual(after["vpn_policies"] - before["vpn_policies"], kinds["vpn_policy"])
        # the same batch again: 200, duplicate, nothing stored twice
        status, _, body = self.c.post_batch(batch, gzip_it=True)
        self.assertEqual(status, 200)
        self.assertTrue(body["duplicate"])
        self.assertEqual(self.counts(), after)
        # the negative HRESULT is stored signed, the CoId without braces
        rows = self.c.sql("SELECT e.error_code FROM events e JOIN devices d ON d.id = e.device"
                          " WHERE d.uid = ? AND e.error_code < 0", (batch["agent"]["device_id"],))
        self.assertEqual(rows, [(-2146762495,)])

    def test_sample_ndjson_gzip(self):
        body = gzip.compress(h.fixture("records", "batch-all-kinds.ndjson"))
        dev = "nd-" + uuid.uuid4().hex
        hdr = {"Content-Type": "application/x-ndjson", "Content-Encoding": "gzip",
               "X-Rasfleet-Device": dev, "X-Rasfleet-Batch": "b-1",
               "Authorization": "Bearer " + h.ADMIN_TOKEN}
        status, _, data = self.c.request("POST", "/api/v1/ingest", body, hdr)
        self.assertEqual(status, 200, data)
        n = len([l for l in h.fixture("records", "batch-all-kinds.ndjson").splitlines() if l.strip()])
        self.assertEqual(json.loads(data)["accepted"], n)
        stored = self.c.sql("SELECT records FROM batches b JOIN devices d ON d.id = b.device"
                            " WHERE d.uid = ?", (dev,))
        self.assertEqual(stored, [(n,)])

    def test_pbk_settings_and_dictionary(self):
        dev = "dict-" + uuid.uuid4().hex
        for i in range(3):
            batch = h.make_batch(device_id=dev, start_record=100 * i + 1)
            status, _, body = self.c.post_batch(batch)
            self.assertEqual(status, 200, body)
        # strings repeated across batches are stored once
        self.assertEqual(self.c.sql("SELECT count(*) FROM dict WHERE s = 'Always On VPN'"), [(1,)])
        self.assertEqual(self.c.sql("SELECT count(*) FROM events e JOIN devices d ON d.id = e.device"
                                    " WHERE d.uid = ?", (dev,)), [(9,)])

    def test_device_list_newest_first_and_paged(self):
        tag = uuid.uuid4().hex[:8]
        for name in ("a", "b", "c", "a"):  # "a" reports again last
            s, _, _ = self.c.post_batch(h.make_batch(device_id="order-%s-%s" % (tag, name),
                                                     start_record=int(time.time() * 1000)))
            self.assertEqual(s, 200)
            time.sleep(0.005)
        s, b = self.c.get_json("/api/v1/devices?q=order-" + tag)
        self.assertEqual(s, 200)
        self.assertEqual([d["device_id"].rsplit("-", 1)[1] for d in b["devices"]], ["a", "c", "b"])
        self.assertEqual(b["total"], 3)
        s, b = self.c.get_json("/api/v1/devices?q=order-%s&limit=1&offset=1" % tag)
        self.assertEqual(([d["device_id"][-1] for d in b["devices"]], b["total"]), (["c"], 3))
        # unfiltered: the newest first, and the total is every known device
        s, b = self.c.get_json("/api/v1/devices?limit=1")
        s2, ov = self.c.get_json("/api/v1/overview")
        self.assertEqual(b["devices"][0]["device_id"], "order-%s-a" % tag)
        self.assertEqual(b["total"], ov["devices_known"])
        self.assertEqual(b["total"], self.c.sql("SELECT count(*) FROM devices")[0][0])

    # ---- refused: nothing written ----
    def refused_writes_nothing(self, fn):
        before = self.counts()
        fn()
        self.assertEqual(self.counts(), before)

    def test_malformed_json(self):
        def go():
            s, _, b = self.c.post_batch(b'{"schema":1,"batch_id":"x", "records": [')
            self.assertRefused(s, b, 400, "malformed_json")
            self.assertIn("line", b["message"])
        self.refused_writes_nothing(go)

    def test_wrong_type_names_record_and_field(self):
        batch = h.make_batch(n_events=3)
        batch["records"][2]["record_id"] = "418233"
        def go():
            s, _, b = self.c.post_batch(batch)
            self.assertRefused(s, b, 400, "wrong_type", record=2, field="record_id")
        self.refused_writes_nothing(go)
        # the batch id of a refused batch is not burnt: the fixed batch is stored
        batch["records"][2]["record_id"] = 418233
        s, _, b = self.c.post_batch(batch)
        self.assertEqual((s, b["duplicate"]), (200, False))

    def test_missing_required_field(self):
        batch = h.make_batch(n_events=2)
        del batch["records"][1]["connection"]
        def go():
            s, _, b = self.c.post_batch(batch)
            self.assertRefused(s, b, 400, "missing_field", record=1, field="connection")
        self.refused_writes_nothing(go)

    def test_missing_device_id(self):
        batch = h.make_batch()
        del batch["agent"]["device_id"]
        s, _, b = self.c.post_batch(batch)
        self.assertRefused(s, b, 400, "missing_field", field="agent.device_id")

    def test_unknown_kind(self):
        batch = h.make_batch(n_events=2)
        batch["records"].append({"kind": "dns_probe", "time": "2026-11-20T08:00:00Z"})
        def go():
            s, _, b = self.c.post_batch(batch)
            self.assertRefused(s, b, 400, "unknown_kind", record=2, field="kind")
            self.assertIn("dns_probe", b["message"])
        self.refused_writes_nothing(go)

    def test_time_not_rfc3339(self):
        for bad in ("2026-11-20 08:01", "20/11/2026 08:01:02", "2026-11-20T08:01:02", "\\/Date(1795161662123)\\/"):
            batch = h.make_batch(n_events=1)
            batch["records"][0]["time"] = bad
            s, _, b = self.c.post_batch(batch)
            self.assertRefused(s, b, 400, "invalid_time", record=0, field="time")

    def test_invalid_utf8(self):
        body = json.dumps(h.make_batch(n_events=1)).encode().replace(b"CORP", b"C\xc3\x28RP")
        def go():
            s, _, b = self.c.post_batch(body)
            self.assertRefused(s, b, 400, "invalid_utf8")
        self.refused_writes_nothing(go)

    def test_ten_megabyte_string(self):
        batch = h.make_batch(n_events=1)
        batch["records"][0]["message"] = "A" * (10 * 1024 * 1024)
        def go():
            # plain: the body itself is over the 4 MiB limit
            s, _, b = self.c.post_batch(batch)
            self.assertRefused(s, b, 413, "body_too_large")
            # gzip: small on the wire, inflates under the cap, refused by field
            s, _, b = self.c.post_batch(batch, gzip_it=True)
            self.assertRefused(s, b, 400, "field_too_long", record=0, field="message")
        self.refused_writes_nothing(go)

    def test_body_over_limit_refused_before_buffering(self):
        # Claim 100 MB and send only the headers: the answer must come before
        # any body byte is sent, proving the body is never buffered.
        sock = socket.create_connection(("127.0.0.1", self.c.port), timeout=10)
        try:
            sock.sendall(("POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n"
                          "Authorization: Bearer %s\r\nContent-Type: application/json\r\n"
                          "Content-Length: 104857600\r\n\r\n" % h.ADMIN_TOKEN).encode())
            data = sock.recv(4096).decode()
        finally:
            sock.close()
        self.assertTrue(data.startswith("HTTP/1.1 413"), data)
        self.assertIn("body_too_large", data)

    def test_chunked_body_over_limit(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.c.port, timeout=30)
        def chunks():
            for _ in range(80):
                yield b"x" * 65536  # 5 MiB in all, no Content-Length
        try:
            conn.request("POST", "/api/v1/ingest", body=chunks(), encode_chunked=True,
                         headers={"Authorization": "Bearer " + h.ADMIN_TOKEN,
                                  "Content-Type": "application/json",
                                  "Transfer-Encoding": "chunked"})
            resp = conn.getresponse()
            self.assertEqual(resp.status, 413)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the collector may close before the client finished sending
        finally:
            conn.close()

    def test_gzip_bomb(self):
        bomb = gzip.compress(b"{" + b" " * (64 * 1024 * 1024) + b"}", compresslevel=9)
        self.assertLess(len(bomb), 200 * 1024)
        def go():
            s, _, b = self.c.post_batch(bomb, headers={"Content-Encoding": "gzip"})
            self.assertRefused(s, b, 413, "inflated_too_large")
        self.refused_writes_nothing(go)

    def test_truncated_gzip(self):
        full = gzip.compress(json.dumps(h.make_batch(n_events=50)).encode())
        def go():
            s, _, b = self.c.post_batch(full[: len(full) // 2], headers={"Content-Encoding": "gzip"})
            self.assertRefused(s, b, 400, "bad_gzip")
            self.assertIn("truncated", b["message"])
        self.refused_writes_nothing(go)

    def test_unsupported_encoding_and_type(self):
        body = json.dumps(h.make_batch()).encode()
        s, _, b = self.c.post_batch(body, headers={"Content-Encoding": "br"})
        self.assertRefused(s, b, 415, "unsupported_encoding")
        s, _, b = self.c.post_batch(body, headers={"Content-Type": "text/plain"})
        self.assertRefused(s, b, 415, "unsupported_media_type")

    def test_ndjson_needs_headers(self):
        s, _, b = self.c.post_batch(h.fixture("records", "batch-all-kinds.ndjson"),
                                    headers={"Content-Type": "application/x-ndjson"})
        self.assertRefused(s, b, 400, "missing_header")

    def test_auth(self):
        batch = h.make_batch()
        s, rh, b = self.c.post_batch(batch, token=None)
        self.assertRefused(s, b, 401, "unauthorized")
        self.assertIn("bearer", rh.get("www-authenticate", "").lower())
        s, _, b = self.c.post_batch(batch, token="rf_not-a-real-token-xxxxxxxxxxxxxxxxxxxxxxxxxxx")
        self.assertRefused(s, b, 401, "unauthorized")
        reader = self.c.run_cli("token", "add", "--role", "reader", "--name", "dash")
        agent = self.c.run_cli("token", "add", "--role", "agent", "--name", "fleet")
        self.assertEqual((reader.returncode, agent.returncode), (0, 0), reader.stderr + agent.stderr)
        reader_tok, agent_tok = reader.stdout.strip(), agent.stdout.strip()
        self.assertTrue(reader_tok.startswith("rf_") and len(reader_tok) == 46)
        # tokens are picked up by the running collector within ~1 s
        deadline = time.time() + 10
        while time.time() < deadline:
            s, _, b = self.c.post_batch(batch, token=agent_tok)
            if s == 200:
                break
            time.sleep(0.2)
        self.assertEqual(s, 200, b)
        s, _, b = self.c.post_batch(h.make_batch(), token=reader_tok)
        self.assertRefused(s, b, 403, "forbidden")
        s, b = self.c.get_json("/api/v1/overview", token=agent_tok)
        self.assertEqual((s, b["error"]), (403, "forbidden"))
        # only hashes are stored
        listing = self.c.run_cli("token", "list")
        self.assertNotIn(agent_tok, listing.stdout)
        self.assertIn("fleet", listing.stdout)
        for (blob,) in self.c.sql("SELECT hash FROM tokens"):
            self.assertEqual(len(blob), 32)
            self.assertNotIn(agent_tok.encode(), blob)
        # revoke: refused again without a restart
        tok_id = [l.split()[0] for l in listing.stdout.splitlines() if l.endswith("fleet")][0]
        self.assertEqual(self.c.run_cli("token", "revoke", tok_id).returncode, 0)
        deadline = time.time() + 10
        while time.time() < deadline:
            s, _, b = self.c.post_batch(h.make_batch(), token=agent_tok)
            if s == 401:
                break
            time.sleep(0.2)
        self.assertEqual(s, 401)

    def test_too_many_records(self):
        batch = h.make_batch(n_events=20001)
        s, _, b = self.c.post_batch(batch, gzip_it=True)
        self.assertRefused(s, b, 413, "too_many_records")

    def test_method_and_unknown_path(self):
        s, rh, _ = self.c.request("GET", "/api/v1/ingest",
                                  headers={"Authorization": "Bearer " + h.ADMIN_TOKEN})
        self.assertEqual(s, 405)
        self.assertEqual(rh.get("allow"), "POST")
        s, _, _ = self.c.request("GET", "/nope")
        self.assertEqual(s, 404)

    def test_healthz_and_security_headers(self):
        s, rh, data = self.c.request("GET", "/healthz")
        self.assertEqual(s, 200)
        self.assertEqual(json.loads(data)["status"], "ok")
        self.assertEqual(rh.get("x-content-type-options"), "nosniff")
        self.assertEqual(rh.get("referrer-policy"), "no-referrer")
        self.assertIn("default-src", rh.get("content-security-policy", ""))

    def test_metrics_counts(self):
        self.c.post_batch(b"not json")
        s, _, data = self.c.request("GET", "/metrics")
        self.assertEqual(s, 200)
        text = data.decode()
        line = [l for l in text.splitlines()
                if l.startswith('rasfleet_ingest_rejects_total{reason="malformed_json"}')][0]
        self.assertGreaterEqual(int(line.split()[-1]), 1)
        for name in ("rasfleet_writer_queue_depth", "rasfleet_commit_duration_seconds_bucket",
                     "rasfleet_database_bytes", "rasfleet_ingest_records_total"):
            self.assertIn(name, text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
