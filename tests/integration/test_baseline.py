"""The operator's IPsec baseline through the admin API: only the admin may
set it, a bad document is refused, setting it re-runs the IPsec checks on
the fleet at once (ipsec-mismatch appears), and it survives a restart."""
import json
import time
import unittest

import rfharness as h

STANDARD = {"cipher_transform": "AES128", "auth_transform": "SHA256128",
            "encryption_method": "AES128", "integrity_check_method": "SHA256",
            "dh_group": "Group14", "pfs_group": "PFS2048"}


def policy_batch(device, ipsec):
    b = h.make_batch(device_id=device, n_events=0)
    rec = {"kind": "vpn_policy", "time": "2026-11-20T08:05:00Z", "connection": "Always On VPN",
           "server": "vpn.example.net", "tunnel_type": "Ikev2", "auth_method": "Eap",
           "split_tunneling": True, "device_tunnel": False}
    if ipsec:
        rec["ipsec"] = ipsec
    b["records"] = [rec]
    return b


class BaselineTest(unittest.TestCase):
    def put(self, c, doc, token=h.ADMIN_TOKEN):
        body = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
        s, _, data = c.request("PUT", "/api/v1/settings/ipsec-baseline", body,
                               {"Authorization": "Bearer " + token,
                                "Content-Type": "application/json"})
        return s, json.loads(data)

    def test_baseline_roundtrip(self):
        c = h.Collector()
        c.start()
        try:
            enhanced = dict(STANDARD, cipher_transform="GCMAES128", auth_transform="GCMAES128",
                            encryption_method="GCMAES128", pfs_group="ECP256")
            self.assertEqual(c.post_batch(policy_batch("bl-standard", STANDARD))[0], 200)
            self.assertEqual(c.post_batch(policy_batch("bl-enhanced", enhanced))[0], 200)
            s, b = c.get_json("/api/v1/remediation/ipsec-mismatch/devices")
            self.assertEqual((s, b["count"]), (200, 0))  # no baseline: no mismatch verdict
            reader = c.run_cli("token", "add", "--role", "reader").stdout.strip()
            time.sleep(1.5)
            s, b = self.put(c, {"server_custom": True, "policy": STANDARD}, token=reader)
            self.assertEqual((s, b["error"]), (403, "forbidden"))
            s, b = self.put(c, b'{"server_custom": "yes"}')
            self.assertEqual((s, b["error"]), (400, "bad_request"))
            s, b = self.put(c, {"server_custom": True, "policy": dict(STANDARD, dh_group=None)})
            self.assertEqual(s, 400)
            s, b = self.put(c, {"server_custom": True, "policy": STANDARD})
            self.assertEqual(s, 200, b)
            self.assertEqual(b["policy"], STANDARD)
            s, b = c.get_json("/api/v1/remediation/ipsec-mismatch/devices")
            self.assertEqual(b["devices"], ["bl-enhanced"])
            self.assertEqual(c.stop(), 0)
            c.start()  # saved in the database
            s, b = c.get_json("/api/v1/settings/ipsec-baseline", token=reader)
            self.assertEqual((s, b["configured"], b["policy"]), (200, True, STANDARD))
            s, b = c.get_json("/api/v1/remediation/ipsec-mismatch?device_id=bl-enhanced")
            self.assertTrue(b["needs_remediation"])
            ev = b["detail"]["findings"][0]["evidence"]
            self.assertIn("pfs_group", json.dumps(ev))
        finally:
            c.cleanup()


if __name__ == "__main__":
    unittest.main(verbosity=2)
