"""Hardening of the collector's front: HTTPS with TLS 1.2+ (a throwaway CA
made at test time), per-device rate limits (429 + Retry-After), backpressure
of the writer queue (503 queue_full), a slow client cut off by the
connection timeout, admin-token rotation on SIGHUP without a restart."""
import http.client
import json
import os
import shutil
import signal
import socket
import sqlite3
import ssl
import tempfile
import threading
import time
import unittest

import rfharness as h


class TlsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="rf-tls-")
        cls.files = h.make_test_pki(cls.tmp)
        cls.c = h.Collector(extra_args=["--tls-cert", cls.files["server.pem"],
                                        "--tls-key", cls.files["server.key"]])
        cls.c.start()

    @classmethod
    def tearDownClass(cls):
        cls.c.cleanup()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def https(self, host, cafile, method="GET", path="/healthz", body=None, headers=None,
              max_version=None):
        ctx = ssl.create_default_context(cafile=cafile)
        if max_version:
            ctx.minimum_version = ssl.TLSVersion.TLSv1
            ctx.maximum_version = max_version
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
        conn = http.client.HTTPSConnection(host, self.c.port, context=ctx, timeout=10)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    def test_good_certificate(self):
        s, data = self.https("localhost", self.files["ca.pem"])
        self.assertEqual(s, 200)
        batch = json.dumps(h.make_batch(device_id="tls-dev")).encode()
        s, data = self.https("localhost", self.files["ca.pem"], "POST", "/api/v1/ingest", batch,
                             {"Authorization": "Bearer " + h.ADMIN_TOKEN,
                              "Content-Type": "application/json"})
        self.assertEqual(s, 200, data)
        self.assertEqual(self.c.sql("SELECT count(*) FROM events")[0][0], 3)

    def test_wrong_host_name_refused(self):
        # the certificate names localhost / 127.0.0.1; the client expects another name
        ctx = ssl.create_default_context(cafile=self.files["ca.pem"])
        raw = socket.create_connection(("127.0.0.1", self.c.port), timeout=10)
        try:
            with self.assertRaises(ssl.SSLCertVerificationError):
                ctx.wrap_socket(raw, server_hostname="vpn-collector.example.net")
        finally:
            raw.close()

    def test_untrusted_ca_refused(self):
        with self.assertRaises(ssl.SSLCertVerificationError):
            self.https("localhost", self.files["other.pem"])

    def test_plain_http_gets_no_answer(self):
        try:
            s, _, _ = self.c.request("GET", "/healthz")
        except (http.client.HTTPException, ConnectionError, OSError):
            return
        self.assertNotEqual(s, 200)

    def test_tls_1_1_refused(self):
        try:
            self.https("localhost", self.files["ca.pem"], max_version=ssl.TLSVersion.TLSv1_1)
        except (ssl.SSLError, ConnectionError, OSError):
            return
        self.fail("a TLS 1.1 handshake succeeded")


class LimitsTest(unittest.TestCase):
    def test_device_rate_limit(self):
        with h.Collector(settings={"rate_device_per_minute": 6, "rate_device_burst": 3}) as c:
            codes = []
            for i in range(5):
                s, rh, b = c.post_batch(h.make_batch(device_id="chatty", start_record=10 * i + 1))
                codes.append(s)
                if s == 429:
                    self.assertEqual(b["error"], "rate_limited")
                    self.assertGreaterEqual(int(rh["retry-after"]), 1)
            self.assertEqual(codes[:3], [200, 200, 200])
            self.assertIn(429, codes[3:])
            # another device is not affected
            s, _, _ = c.post_batch(h.make_batch(device_id="quiet"))
            self.assertEqual(s, 200)
            # the refused batches stored nothing
            self.assertEqual(c.sql("SELECT count(*) FROM batches")[0][0], codes.count(200) + 1)

    def test_queue_backpressure_503(self):
        with h.Collector(settings={"queue_batches": 2, "rate_device_per_minute": 0}) as c:
            blocker = sqlite3.connect(c.db, timeout=30, isolation_level=None)
            blocker.execute("BEGIN IMMEDIATE")  # the writer waits behind this lock
            results, lock = [], threading.Lock()

            def post(i):
                try:
                    s, rh, b = c.post_batch(h.make_batch(device_id="bp-%d" % i), )
                except OSError as e:
                    s, rh, b = -1, {}, {"error": str(e)}
                with lock:
                    results.append((i, s, rh, b))

            threads = [threading.Thread(target=post, args=(i,)) for i in range(12)]
            for t in threads:
                t.start()
            deadline = time.time() + 20
            while time.time() < deadline:
                with lock:
                    if sum(1 for r in results if r[1] == 503) >= 1:
                        break
                time.sleep(0.05)
            blocker.execute("ROLLBACK")
            blocker.close()
            for t in threads:
                t.join(timeout=60)
            busy = [r for r in results if r[1] == 503]
            ok = [r for r in results if r[1] == 200]
            self.assertTrue(busy, results)
            for r in busy:
                self.assertEqual(r[3]["error"], "queue_full")
                self.assertIn("retry-after", r[2])
            self.assertEqual(len(ok) + len(busy), 12, results)
            stored = {u for (u,) in c.sql("SELECT d.uid FROM batches b JOIN devices d ON d.id = b.device")}
            self.assertEqual(stored, {"bp-%d" % r[0] for r in ok})

    def test_slow_client_is_cut_off(self):
        with h.Collector(settings={"connection_timeout": 2}) as c:
            sock = socket.create_connection(("127.0.0.1", c.port), timeout=15)
            start = time.time()
            closed_after = None
            try:
                sock.sendall(b"POST /api/v1/ingest HTTP/1.1\r\nHost: x\r\n")
                for _ in range(12):  # one byte a second, at most 12 s
                    time.sleep(1)
                    try:
                        sock.sendall(b"X")
                        if sock.recv(1, socket.MSG_DONTWAIT) == b"":
                            closed_after = time.time() - start
                            break
                    except BlockingIOError:
                        continue
                    except OSError:
                        closed_after = time.time() - start
                        break
            finally:
                sock.close()
            self.assertIsNotNone(closed_after, "the slow client was never disconnected")
            self.assertLess(closed_after, 10)
            s, _, _ = c.request("GET", "/healthz")  # and the collector still serves
            self.assertEqual(s, 200)

    def test_static_files_stay_inside_the_web_dir(self):
        tmp = tempfile.mkdtemp(prefix="rf-web-")
        try:
            os.makedirs(os.path.join(tmp, "web"))
            os.makedirs(os.path.join(tmp, "outside"))
            with open(os.path.join(tmp, "web", "index.html"), "w") as f:
                f.write("<!doctype html><title>ok</title>")
            with open(os.path.join(tmp, "outside", "secret.txt"), "w") as f:
                f.write("secret")
            os.symlink("../outside", os.path.join(tmp, "web", "assets"))
            with h.Collector(extra_args=["--web-dir", os.path.join(tmp, "web")]) as c:
                s, rh, body = c.request("GET", "/")
                self.assertEqual((s, body), (200, b"<!doctype html><title>ok</title>"))
                self.assertIn("script-src 'self'", rh["content-security-policy"])
                for path in ("/assets/secret.txt", "/../outside/secret.txt", "/.hidden",
                             "/%2e%2e/outside/secret.txt"):
                    s, _, body = c.request("GET", path)
                    self.assertEqual(s, 404, path)
                    self.assertNotIn(b"secret", body)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_admin_token_rotation_on_sighup(self):
        tmp = tempfile.mkdtemp(prefix="rf-rot-")
        try:
            path = os.path.join(tmp, "admin-token")
            old, new = "old-admin-token-0123456789", "new-admin-token-9876543210"
            with open(path, "w") as f:
                f.write(old + "\n")
            c = h.Collector(extra_args=["--admin-token-file", path], env={"RASFLEET_ADMIN_TOKEN": ""})
            c.start()
            try:
                self.assertEqual(c.get_json("/api/v1/overview", token=old)[0], 200)
                with open(path, "w") as f:
                    f.write(new + "\n")
                c.proc.send_signal(signal.SIGHUP)
                deadline = time.time() + 10
                while time.time() < deadline and c.get_json("/api/v1/overview", token=new)[0] != 200:
                    time.sleep(0.1)
                self.assertEqual(c.get_json("/api/v1/overview", token=new)[0], 200)
                self.assertEqual(c.get_json("/api/v1/overview", token=old)[0], 401)
                self.assertIsNone(c.proc.poll())
                self.assertNotIn(new, c.read_log())  # secrets are never logged
                self.assertNotIn(old, c.read_log())
            finally:
                c.cleanup()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
