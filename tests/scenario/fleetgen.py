#!/usr/bin/env python3
"""fleetgen - a deterministic Always On VPN fleet for rasfleet.

Builds N Windows clients with realistic attributes and the telemetry their
agents would ship (RasClient events of the last H hours ending now,
Get-NetIPInterface rows, rasphone.pbk entries, Get-VpnConnection policy
summaries) and posts it through the real ingest API (POST /api/v1/ingest),
a few connections at a time, retrying on 503 + Retry-After.

    python3 tests/scenario/fleetgen.py --url http://127.0.0.1:8080 \\
        --token "$(cat data/admin-token)" --scenario demo

Scenarios:
  healthy  background noise only: a trickle of 691 (wrong credentials) on
           random devices, a low rate of 809 (timeout) everywhere.
  causes   healthy + injected causes, each with the exact device ids in the
           manifest (--manifest FILE):
             sstp-cert-expired  the SSTP TLS certificate of vpn2 expired
                                (3 h ago, sudden): -2146762495 on every new
                                SSTP attempt to vpn2 (attribute: server
                                vpn2.example.net, tunnel_type Sstp)
             ipsec-legacy       devices still on an IKEv2-only profile with
                                the legacy cryptography suite (DES3/SHA1/
                                Group2); the servers moved to their new suite
                                30 h ago: 13868 on every attempt (attribute:
                                policy)
             metric-automatic   user-tunnel profiles deployed without
                                IpInterfaceMetric (0 = automatic): the VPN
                                gets metric 25, the same as a wired Ethernet
                                (rules metric-order for the wired ones with
                                the VPN up, pbk-metric for all of them)
             devtun-cert        device certificates of 10.0.19045 machines
                                enrolled from an old template expire one by
                                one over the last day and a half: 13806 on the
                                device tunnel (attribute: os_version)
             retired-profile    a handful of devices dialled an old profile
                                whose server name was retired (868) before
                                the profile was removed: too few devices for
                                a fleet finding; its failures group under
                                server "unknown" (the profile is not in the
                                latest policy snapshot)
  demo     causes with a moderate fleet (500 devices unless --devices).

Everything but the clock is deterministic by --seed: device ids, attributes,
which devices carry a cause, every event's offset from the end time and
the batch ids (derived from the seed and the end time, so posting the same
--seed/--end twice is idempotent: the second run gets duplicate answers).
Use a fresh database for each generated fleet.

Standard library only; exits 0 when every batch was accepted (or was a
duplicate), 1 when any batch was refused, 2 on bad arguments.
"""
import argparse
import calendar
import gzip
import http.client
import json
import os
import queue
import random
import sys
import threading
import time
import urllib.parse
import uuid

USER_CONN = "Always On VPN"
DEV_CONN = "Always On VPN Device Tunnel"
OLD_CONN = "Contoso Legacy VPN"
OLD_SERVER = "legacy-vpn.contoso.example.net"
SERVERS = ("vpn1.example.net", "vpn2.example.net")
DNS_SUFFIX = "corp.example.net"
OS_BUILDS = (("10.0.19045", 0.30), ("10.0.22631", 0.45), ("10.0.26100", 0.25))
AGENT_VERSIONS = (("0.1.0", 0.15), ("0.1.1", 0.35), ("0.2.0", 0.50))

# IPsec policies as Get-VpnConnection names them (cipher, auth, encryption,
# integrity, dh, pfs). RRAS vpn1 runs the enhanced (GCM) set, vpn2 the
# standard set (Set-IKEv2VpnSecurityBaseline); a client must match its
# server exactly, so each profile carries its server's set.
IPSEC = {
    "enhanced": ("GCMAES128", "GCMAES128", "GCMAES128", "SHA256", "Group14", "ECP256"),
    "standard": ("AES128", "SHA256128", "AES128", "SHA256", "Group14", "PFS2048"),
    "legacy": ("DES3", "SHA196", "DES3", "SHA1", "Group2", "None"),
}
SERVER_IPSEC = {SERVERS[0]: "enhanced", SERVERS[1]: "standard"}
IPSEC_FIELDS = ("cipher_transform", "auth_transform", "encryption_method",
                "integrity_check_method", "dh_group", "pfs_group")
# CustomIPSecPolicies in rasphone.pbk: six little-endian uint32 (notes section 10)
_PBK_ENUMS = {
    "integrity": {"MD5": 0, "SHA1": 1, "SHA256": 2, "SHA384": 3},
    "encryption": {"DES": 0, "DES3": 1, "AES128": 2, "AES192": 3, "AES256": 4,
                   "GCMAES128": 5, "GCMAES256": 6},
    "auth": {"MD596": 0, "SHA196": 1, "SHA256128": 2, "GCMAES128": 3, "GCMAES192": 4,
             "GCMAES256": 5},
    "cipher": {"DES": 1, "DES3": 2, "AES128": 3, "AES192": 4, "AES256": 5, "GCMAES128": 6,
               "GCMAES192": 7, "GCMAES256": 8},
    "dh": {"None": 0, "Group1": 1, "Group2": 2, "Group14": 3, "ECP256": 4, "ECP384": 5,
           "Group24": 6},
    "pfs": {"None": 0, "PFS1": 1, "PFS2": 2, "PFS2048": 3, "ECP256": 4, "ECP384": 5,
            "PFSMM": 6, "PFS24": 7},
}

FIRST = ("alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy",
         "mallory", "nina", "oscar", "peggy", "quinn", "rupert", "sybil", "trent", "ursula",
         "victor", "wendy", "xavier", "yasmin", "zoe", "amir", "bea", "chen", "dara", "elif",
         "farid", "gosia", "hana", "ines", "jonas", "kofi", "lena", "mateo", "noor")
LAST = ("smith", "jones", "garcia", "muller", "rossi", "novak", "kim", "silva", "dubois",
        "jansen", "nilsen", "ivanova", "tanaka", "okafor", "khan", "lopez", "berg", "weber",
        "costa", "horvat", "meyer", "moreau", "sato", "walsh", "young", "zeller")

# 20226 reason codes (notes 2.3) with weights
REASONS = ((833, 30), (830, 20), (829, 14), (832, 10), (631, 10), (628, 10), (629, 6))
POST_LINK_CODES = (691, 812, 853)   # fail after 20223 (authentication)

STAGE_MSG_FAIL = ("CoId={%s}: The user %s dialed a connection named %s which has failed. "
                  "The error code returned on failure is %d.")
STAGE_MSG_END = ("CoId={%s}: The user %s dialed a connection named %s which has terminated. "
                 "The reason code returned on termination is %d.")
STAGE_MSG_OK = ("CoId={%s}: The user %s has dialed a connection named %s to the Remote "
                "Access Server which has successfully connected. The connection parameters "
                "are:\r\nTunnelRasIPv4Address = %s\r\nDial-in User = %s\r\nVpnStrategy = %s\r\n"
                "Authentication = %s\r\nDevice = %s")

HOUR = 3600.0
MINUTE = 60.0


def fmt_time(t):
    """RFC 3339 UTC with milliseconds for a float epoch time."""
    ms = int(round(t * 1000))
    s, ms = divmod(ms, 1000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(s)) + ".%03dZ" % ms


def parse_time(text):
    """--end: RFC 3339 UTC ('2026-11-20T08:00:00Z') or epoch seconds."""
    try:
        return float(text)
    except ValueError:
        pass
    text = text.strip().rstrip("Z").replace("z", "")
    frac = 0.0
    if "." in text:
        text, f = text.split(".", 1)
        frac = float("0." + f)
    return calendar.timegm(time.strptime(text, "%Y-%m-%dT%H:%M:%S")) + frac


def weighted(rng, pairs):
    x = rng.random() * sum(w for _, w in pairs)
    for v, w in pairs:
        x -= w
        if x < 0:
            return v
    return pairs[-1][0]


def guid(rng):
    return str(uuid.UUID(int=rng.getrandbits(128), version=4)).upper()


def ipsec_obj(name):
    return dict(zip(IPSEC_FIELDS, IPSEC[name]))


def ipsec_fingerprint(name):
    return "/".join(IPSEC[name])


def pbk_ipsec_hex(name):
    c, a, e, i, dh, pfs = IPSEC[name]
    vals = (_PBK_ENUMS["integrity"][i], _PBK_ENUMS["encryption"][e], _PBK_ENUMS["auth"][a],
            _PBK_ENUMS["cipher"][c], _PBK_ENUMS["dh"][dh], _PBK_ENUMS["pfs"][pfs])
    return "".join(v.to_bytes(4, "little").hex().upper() for v in vals)


def diurnal(t, t_end):
    """Multiplier of offline gaps: longer at night, peak ratio < 2. The fleet's
    day is anchored on the end time (which is 14:00 of it), so a fleet is the
    same whatever the hour it is generated at."""
    h = ((t - t_end) / HOUR + 14.0) % 24.0
    return 1.6 if (h >= 20 or h < 6) else 0.8


# ---------------------------------------------------------------- the fleet

class Device:
    __slots__ = ("idx", "device_id", "hostname", "form", "os", "agent", "server", "strategy",
                 "tunnel_type", "ipsec", "devtun", "user", "user_metric", "docked_end",
                 "docked_start", "eth_metric", "wifi_metric", "wifi_on_dock", "legacy",
                 "devcert_expiry", "retired", "events", "user_up_end", "dev_up_end",
                 "user_up_start", "dev_up_start", "vpn_index")


def build_fleet(n, seed, scenario):
    """Device attributes and cause membership (no events yet)."""
    rng = random.Random("fleet:%d" % seed)
    causes = scenario in ("causes", "demo")
    devs = []
    n_desktops = int(round(n * 0.2))
    desktop_slots = set(rng.sample(range(n), n_desktops))
    lt = dt = 0
    for i in range(n):
        d = Device()
        d.idx = i
        d.device_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
        d.form = "desktop" if i in desktop_slots else "laptop"
        if d.form == "desktop":
            dt += 1
            d.hostname = "DT-%04d" % dt
        else:
            lt += 1
            d.hostname = "LT-%04d" % lt
        d.os = weighted(rng, OS_BUILDS)
        d.agent = weighted(rng, AGENT_VERSIONS)
        d.server = SERVERS[1] if rng.random() < 0.4 else SERVERS[0]
        # SSTP-only profile for sites whose firewalls drop UDP 500/4500
        if rng.random() < 0.25:
            d.strategy, d.tunnel_type, d.ipsec = 5, "Sstp", None
        else:
            d.strategy, d.tunnel_type, d.ipsec = 14, "Ikev2", SERVER_IPSEC[d.server]
        d.devtun = rng.random() < (0.55 if d.form == "desktop" else 0.35)
        d.user = "CORP\\%s.%s" % (rng.choice(FIRST), rng.choice(LAST))
        d.user_metric = 3
        if d.form == "desktop":
            d.docked_start = d.docked_end = True
            d.wifi_metric = None
            d.wifi_on_dock = False
        else:
            d.docked_start = rng.random() < 0.3
            d.docked_end = rng.random() < 0.3
            d.wifi_metric = rng.choice((35, 45, 45, 55))
            d.wifi_on_dock = rng.random() < 0.5
        d.eth_metric = 15 if rng.random() < 0.15 else 25
        d.legacy = False
        d.devcert_expiry = None
        d.retired = False
        d.vpn_index = 40 + rng.randrange(20)
        d.events = []
        devs.append(d)
    plan = {"legacy": [], "metric": [], "devcert": [], "retired": []}
    if causes:
        ikev2 = [d for d in devs if d.tunnel_type == "Ikev2"]
        n_legacy = max(12, int(round(n * 0.05)))
        for d in rng.sample(ikev2, min(n_legacy, len(ikev2))):
            d.legacy = True
            d.strategy, d.ipsec = 7, "legacy"
            plan["legacy"].append(d)
        n_metric = max(12, int(round(n * 0.10)))
        for d in rng.sample(devs, min(n_metric, n)):
            d.user_metric = 0
            plan["metric"].append(d)
        old = [d for d in devs if d.devtun and d.os == "10.0.19045"]
        for d in old:
            if rng.random() < 0.7:
                plan["devcert"].append(d)
        others = [d for d in devs if not d.legacy]
        for d in rng.sample(others, min(6, len(others))):
            d.retired = True
            plan["retired"].append(d)
    return devs, plan


# ---------------------------------------------------------------- events

class Sim:
    """Simulates one device's tunnels over [t_sim, t_end] and keeps the
    events of [t_start, t_end]."""

    def __init__(self, d, rng, t_start, t_end, scenario_times):
        self.d, self.rng = d, rng
        self.t_start, self.t_end = t_start, t_end
        self.ts = scenario_times

    def outcome(self, conn, t):
        """None = success, else the error code of this attempt."""
        d, rng, ts = self.d, self.rng, self.ts
        if conn == DEV_CONN:
            if d.devcert_expiry is not None and t >= d.devcert_expiry:
                return 13806
            return 809 if rng.random() < 0.010 else None
        if conn == OLD_CONN:
            return 868
        if d.legacy and t >= ts["ipsec_change"]:
            return 13868
        if (ts.get("sstp_expired") is not None and d.tunnel_type == "Sstp"
                and d.server == SERVERS[1] and t >= ts["sstp_expired"]):
            return -2146762495
        x = rng.random()
        if x < 0.010:
            return 809
        if x < 0.016:
            return 691
        return None

    def tunnel(self, conn, user, on_mean, off_mean, retry_mean, giveup, t_first):
        """Returns whether the tunnel is up at t_end and whether it was up at t_start."""
        rng, d, out = self.rng, self.d, self.d.events
        t = t_first
        up_at_start = False
        if conn == DEV_CONN:
            device = "WAN Miniport (IKEv2)"
        elif conn == OLD_CONN:
            device = "WAN Miniport (PPTP)"
        else:
            device = "WAN Miniport (SSTP)" if d.tunnel_type == "Sstp" else "WAN Miniport (IKEv2)"
        strategy = {5: "SstpOnly", 7: "Ikev2Only", 14: "Ikev2Sstp"}.get(d.strategy, "Default")
        streak = 0   # consecutive failures: always-on retries back off
        while t < self.t_end:
            coid = guid(rng)
            code = self.outcome(conn, t)
            keep = t >= self.t_start
            t2 = t + rng.uniform(0.15, 0.8)
            if keep:
                out.append((t, 20221, conn, user, None, None, coid, None))
                out.append((t2, 20222, conn, user, None, None, coid, None))
            if code is None:
                t3 = t2 + rng.uniform(0.8, 4.0)
                t5 = t3 + rng.uniform(0.05, 0.6)
                if keep:
                    out.append((t3, 20223, conn, user, None, None, coid, None))
                    out.append((t3 + 0.01, 20224, conn, user, None, None, coid, None))
                    addr = "10.%d.%d.%d" % (20 + SERVERS.index(d.server) if d.server in SERVERS
                                            else 99, rng.randrange(256), rng.randrange(1, 255))
                    msg = STAGE_MSG_OK % (coid, user, conn, addr, user, strategy,
                                          "MachineCertificate" if conn == DEV_CONN else "EAP",
                                          device)
                    out.append((t5, 20225, conn, user, None, None, coid, msg))
                dur = max(120.0, rng.expovariate(1.0 / on_mean))
                t_end_s = t5 + dur
                if t5 <= self.t_start < t_end_s:
                    up_at_start = True
                if t_end_s >= self.t_end:
                    return True, up_at_start
                if t_end_s >= self.t_start:
                    reason = weighted(rng, REASONS)
                    out.append((t_end_s, 20226, conn, user, None, reason, coid,
                                STAGE_MSG_END % (coid, user, conn, reason)))
                t = t_end_s + rng.expovariate(1.0 / off_mean) * diurnal(t_end_s, self.t_end) + 5.0
                streak = 0
            else:
                streak += 1
                if code in POST_LINK_CODES:
                    t3 = t2 + rng.uniform(0.8, 3.0)
                    if keep:
                        out.append((t3, 20223, conn, user, None, None, coid, None))
                    tf = t3 + rng.uniform(0.5, 6.0)
                elif code == 809:
                    tf = t2 + rng.uniform(28.0, 75.0)
                else:
                    tf = t2 + rng.uniform(0.2, 2.5)
                if keep:
                    out.append((tf, 20227, conn, user, code, None, coid,
                                STAGE_MSG_FAIL % (coid, user, conn, code)))
                if conn == OLD_CONN:
                    return False, False
                if rng.random() < giveup:
                    t = tf + rng.expovariate(1.0 / off_mean) * diurnal(tf, self.t_end) + 5.0
                    streak = 0
                else:
                    backoff = min(2 ** (streak - 1), 6)
                    t = tf + 30.0 + rng.expovariate(1.0 / (retry_mean * backoff))
        return False, up_at_start


def simulate_device(d, seed, t_start, t_end, ts):
    rng = random.Random("dev:%d:%d" % (seed, d.idx))
    sim = Sim(d, rng, t_start, t_end, ts)
    warm = 8 * HOUR   # history before the window, so it starts in steady state
    t0 = t_start - warm
    d.user_up_end, d.user_up_start = sim.tunnel(
        USER_CONN, d.user, on_mean=180 * MINUTE, off_mean=100 * MINUTE, retry_mean=9 * MINUTE,
        giveup=0.12, t_first=t0 + rng.uniform(0, 2 * HOUR))
    d.dev_up_end = d.dev_up_start = False
    if d.devtun:
        d.dev_up_end, d.dev_up_start = sim.tunnel(
            DEV_CONN, "SYSTEM", on_mean=360 * MINUTE, off_mean=60 * MINUTE,
            retry_mean=8 * MINUTE, giveup=0.10, t_first=t0 + rng.uniform(0, 1 * HOUR))
    if d.retired:
        # a few dials of the old profile before it was removed
        lo = max(t_start, t_end - 20 * HOUR)
        hi = max(lo + HOUR, t_end - 8 * HOUR)
        for _ in range(rng.randint(2, 5)):
            sim.tunnel(OLD_CONN, d.user, 1, 1, 1, 1, t_first=rng.uniform(lo, hi))
    d.events.sort(key=lambda e: e[0])


# ---------------------------------------------------------------- snapshots

def iface_rows(d, at_end):
    docked = d.docked_end if at_end else d.docked_start
    user_up = d.user_up_end if at_end else d.user_up_start
    dev_up = d.dev_up_end if at_end else d.dev_up_start
    rows = []   # (alias, index, metric, automatic, connected, if_type, mtu)
    if d.form == "desktop":
        rows.append(("Ethernet", 12, d.eth_metric, True, True, "ethernet", 1500))
    else:
        if docked:
            rows.append(("Ethernet 2", 23, d.eth_metric, True, True, "ethernet", 1500))
        wifi_up = (not docked) or d.wifi_on_dock
        rows.append(("Wi-Fi", 18, d.wifi_metric, True, wifi_up, "wifi", 1500))
    if user_up:
        m = d.user_metric if d.user_metric else 25
        rows.append((USER_CONN, d.vpn_index, m, d.user_metric == 0, True, "vpn", 1400))
    if dev_up:
        rows.append((DEV_CONN, d.vpn_index + 1, 4, False, True, "vpn", 1400))
    rows.append(("Loopback Pseudo-Interface 1", 1, 75, True, True, "loopback", 4294967295))
    return rows


def snapshot_records(d, t, at_end, include_retired):
    ts = fmt_time(t)
    recs = []
    for fam in ("ipv4", "ipv6"):
        for alias, index, metric, auto, conn, if_type, mtu in iface_rows(d, at_end):
            recs.append({"kind": "iface_metric", "time": ts, "alias": alias, "index": index,
                         "family": fam, "metric": metric, "automatic": auto,
                         "connected": conn, "if_type": if_type, "mtu": mtu})
    # rasphone.pbk: the user tunnel (AppData), the device tunnel (ProgramData)
    user = {
        "Encoding": "1", "PBVersion": "8", "Type": "2", "AutoLogon": "0",
        "UseRasCredentials": "0", "VpnStrategy": str(d.strategy), "ExcludedProtocols": "0",
        "DataEncryption": "8", "PreferredPort": "VPN2-0",
        "PreferredDevice": "WAN Miniport (SSTP)" if d.strategy == 5 else "WAN Miniport (IKEv2)",
        "CustomAuthKey": "25", "AuthRestrictions": "128", "IpPrioritizeRemote": "0",
        "IpInterfaceMetric": str(d.user_metric), "IpDnsFlags": "0" if d.devtun else "1",
        "IpNBTFlags": "0", "IpDnsSuffix": DNS_SUFFIX, "Ipv6PrioritizeRemote": "0",
        "Ipv6InterfaceMetric": str(d.user_metric), "DisableClassBasedDefaultRoute": "1",
        "DisableMobility": "0", "NetworkOutageTime": "0", "CacheCredentials": "1",
        "NumCustomPolicy": "1" if d.ipsec else "0",
    }
    if d.ipsec:
        user["CustomIPSecPolicies"] = pbk_ipsec_hex(d.ipsec)
    user.update({"NumEku": "0", "Disable_IKEv2_Fragmentation": "0", "AutoTiggerCapable": "1",
                 "AlwaysOnCapable": "1", "DeviceTunnel": "0", "PrivateNetwork": "1",
                 "PhoneNumber": d.server})
    recs.append({"kind": "pbk_entry", "time": ts, "scope": "user", "connection": USER_CONN,
                 "settings": user})
    if d.devtun:
        dev_ipsec = SERVER_IPSEC[d.server]
        recs.append({"kind": "pbk_entry", "time": ts, "scope": "all_users", "connection": DEV_CONN,
                     "settings": {
                         "Encoding": "1", "PBVersion": "8", "Type": "2",
                         "VpnStrategy": "7", "PreferredDevice": "WAN Miniport (IKEv2)",
                         "IpPrioritizeRemote": "0", "IpInterfaceMetric": "4",
                         "IpDnsFlags": "1", "IpNBTFlags": "0", "Ipv6PrioritizeRemote": "0",
                         "Ipv6InterfaceMetric": "4", "DisableClassBasedDefaultRoute": "1",
                         "DisableMobility": "0", "NetworkOutageTime": "0",
                         "NumCustomPolicy": "1", "CustomIPSecPolicies": pbk_ipsec_hex(dev_ipsec),
                         "Disable_IKEv2_Fragmentation": "0", "AutoTiggerCapable": "1",
                         "AlwaysOnCapable": "1", "DeviceTunnel": "1", "UseRasCredentials": "0",
                         "PhoneNumber": d.server}})
    if include_retired:
        recs.append({"kind": "pbk_entry", "time": ts, "scope": "user", "connection": OLD_CONN,
                     "settings": {"Encoding": "1", "PBVersion": "8", "Type": "2",
                                  "VpnStrategy": "0", "IpPrioritizeRemote": "1",
                                  "IpInterfaceMetric": "0", "Ipv6InterfaceMetric": "0",
                                  "PhoneNumber": OLD_SERVER}})
    pol = {"kind": "vpn_policy", "time": ts, "connection": USER_CONN, "server": d.server,
           "tunnel_type": d.tunnel_type, "auth_method": "Eap", "split_tunneling": True,
           "device_tunnel": False, "dns_suffix": DNS_SUFFIX}
    if d.ipsec:
        pol["ipsec"] = ipsec_obj(d.ipsec)
    recs.append(pol)
    if d.devtun:
        recs.append({"kind": "vpn_policy", "time": ts, "connection": DEV_CONN,
                     "server": d.server, "tunnel_type": "Ikev2",
                     "auth_method": "MachineCertificate", "split_tunneling": True,
                     "device_tunnel": True, "dns_suffix": DNS_SUFFIX,
                     "ipsec": ipsec_obj(SERVER_IPSEC[d.server])})
    if include_retired:
        recs.append({"kind": "vpn_policy", "time": ts, "connection": OLD_CONN,
                     "server": OLD_SERVER, "tunnel_type": "Automatic",
                     "auth_method": "MSChapv2", "split_tunneling": False,
                     "device_tunnel": False})
    return recs


def event_record(e, record_id):
    t, eid, conn, user, code, reason, coid, msg = e
    r = {"kind": "ras_event", "time": fmt_time(t), "event_id": eid, "record_id": record_id,
         "level": "error" if eid == 20227 else "information", "user": user,
         "connection": conn, "coid": coid}
    if code is not None:
        r["error_code"] = code
    if reason is not None:
        r["reason_code"] = reason
    if msg is not None:
        r["message"] = msg
    return r


def device_batches(d, seed, t_start, t_end, max_records, end_key):
    """The device's batches: events in time order, the first snapshot (window
    start) in the first batch and the latest snapshot (now) in the last."""
    rng = random.Random("rec:%d:%d" % (seed, d.idx))
    rid = rng.randrange(100000, 900000)
    first = snapshot_records(d, t_start, False, d.retired)
    last = snapshot_records(d, t_end, True, False)
    evs = []
    for e in d.events:
        rid += 1 + (rng.random() < 0.3) * rng.randrange(1, 40)   # other Application events
        evs.append(event_record(e, rid))
    room = max(1, max_records - max(len(first), len(last)))
    chunks = [evs[i:i + room] for i in range(0, len(evs), room)] or [[]]
    chunks[0] = first + chunks[0]
    if len(chunks[-1]) + len(last) > max_records:
        chunks.append([])
    chunks[-1] = chunks[-1] + last
    agent = {"device_id": d.device_id, "hostname": d.hostname, "os_version": d.os,
             "agent_version": d.agent}
    out = []
    for k, recs in enumerate(chunks):
        bid = str(uuid.uuid5(uuid.NAMESPACE_URL, "rasfleet-fleetgen:%d:%s:%d:%d"
                             % (seed, end_key, d.idx, k)))
        out.append({"schema": 1, "batch_id": bid, "agent": agent, "records": recs})
    return out


# ---------------------------------------------------------------- posting

class Poster:
    def __init__(self, url, token, use_gzip, concurrency, timeout=60):
        u = urllib.parse.urlsplit(url)
        if u.scheme not in ("http", "https") or not u.hostname:
            raise ValueError("--url must be http(s)://host:port")
        self.https = u.scheme == "https"
        self.host, self.port = u.hostname, u.port or (443 if self.https else 80)
        self.path = (u.path.rstrip("/") or "") + "/api/v1/ingest"
        self.token, self.gzip, self.concurrency, self.timeout = token, use_gzip, concurrency, timeout
        self.lock = threading.Lock()
        self.stats = {"batches": 0, "records": 0, "accepted": 0, "duplicates": 0, "refused": 0,
                      "retries_503": 0, "bytes": 0}
        self.errors = []
        self.abort = False

    def check(self):
        """GET /healthz once: a wrong URL fails fast instead of retrying every batch."""
        conn = self._conn()
        try:
            conn.request("GET", self.path[:-len("/api/v1/ingest")] + "/healthz")
            resp = conn.getresponse()
            resp.read()
            return resp.status, None
        except (OSError, http.client.HTTPException) as e:
            return None, str(e)
        finally:
            conn.close()

    def _conn(self):
        cls = http.client.HTTPSConnection if self.https else http.client.HTTPConnection
        return cls(self.host, self.port, timeout=self.timeout)

    def _post(self, conn, body, headers):
        conn.request("POST", self.path, body=body, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        return resp.status, resp.getheader("Retry-After"), data, resp.will_close

    def post_one(self, conn, batch):
        body = json.dumps(batch, separators=(",", ":")).encode()
        headers = {"Content-Type": "application/json", "Authorization": "Bearer " + self.token}
        if self.gzip:
            body = gzip.compress(body, 1)
            headers["Content-Encoding"] = "gzip"
        tries = 0
        while True:
            tries += 1
            try:
                if conn is None:
                    conn = self._conn()
                status, retry_after, data, closing = self._post(conn, body, headers)
                if closing:
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException) as e:
                if conn is not None:
                    conn.close()
                conn = None
                if tries < 8:
                    time.sleep(min(2.0, 0.1 * tries))
                    continue
                self._refused(batch, None, "connection failed: %s" % e)
                return conn
            if status == 503 and tries < 60:
                with self.lock:
                    self.stats["retries_503"] += 1
                try:
                    delay = float(retry_after) if retry_after else 1.0
                except ValueError:
                    delay = 1.0
                time.sleep(min(max(delay, 0.05), 30.0))
                continue
            if status == 200:
                try:
                    ans = json.loads(data)
                except ValueError:
                    ans = {}
                with self.lock:
                    self.stats["batches"] += 1
                    self.stats["records"] += len(batch["records"])
                    self.stats["bytes"] += len(body)
                    if ans.get("duplicate"):
                        self.stats["duplicates"] += 1
                    else:
                        self.stats["accepted"] += int(ans.get("accepted", 0))
                return conn
            self._refused(batch, status, data[:300].decode("utf-8", "replace"))
            if status in (401, 403):
                self.abort = True   # the token will not do for any other batch either
            return conn

    def _refused(self, batch, status, text):
        with self.lock:
            self.stats["refused"] += 1
            if len(self.errors) < 20:
                self.errors.append("device %s batch %s: %s %s" % (
                    batch["agent"]["device_id"], batch["batch_id"], status, text))

    def run(self, jobs):
        """jobs: iterable of callables returning a device's list of batches
        (posted in order on one connection)."""
        q = queue.Queue(maxsize=self.concurrency * 4)
        failure = []

        def worker():
            conn = None
            while True:
                job = q.get()
                if job is None:
                    break
                try:
                    for b in ([] if self.abort else job()):
                        conn = self.post_one(conn, b)
                except Exception as e:  # noqa: BLE001 - report, keep the others going
                    failure.append(e)
            if conn is not None:
                conn.close()

        threads = [threading.Thread(target=worker, daemon=True) for _ in range(self.concurrency)]
        for t in threads:
            t.start()
        for j in jobs:
            q.put(j)
        for _ in threads:
            q.put(None)
        for t in threads:
            t.join()
        if failure:
            raise failure[0]


# ---------------------------------------------------------------- manifest

def failing_devices(devs, code, since=None, conn=None):
    out = []
    for d in devs:
        for e in d.events:
            if e[1] == 20227 and e[4] == code and (since is None or e[0] >= since) \
                    and (conn is None or e[2] == conn):
                out.append(d)
                break
    return out


def first_failure(devs, code):
    ts = [e[0] for d in devs for e in d.events if e[1] == 20227 and e[4] == code]
    return min(ts) if ts else None


def ids(devs):
    return sorted(d.device_id for d in devs)


def metric_order_expected(d):
    """metric-order fires when a connected VPN row's metric >= a connected
    physical row's (same family; rows identical across families here)."""
    rows = iface_rows(d, True)
    vpn = [r[2] for r in rows if r[5] == "vpn" and r[4]]
    phys = [r[2] for r in rows if r[5] in ("ethernet", "wifi", "cellular") and r[4]]
    return bool(vpn and phys and max(vpn) >= min(phys))


def build_manifest(devs, plan, scenario, seed, t_start, t_end, ts):
    day_ago = t_end - 24 * HOUR
    causes = []
    if scenario in ("causes", "demo"):
        sstp = [d for d in devs if d.tunnel_type == "Sstp" and d.server == SERVERS[1]]
        code = -2146762495
        f24 = failing_devices(devs, code, since=day_ago)
        causes.append({
            "id": "sstp-cert-expired", "code": code, "code_hex": "0x800B0101",
            "rules": ["fleet-concentration", "fleet-spike"],
            "attribute": "server", "value": SERVERS[1],
            "also": {"tunnel_type": "Sstp"},
            "injected_at": fmt_time(ts["sstp_expired"]),
            "first_failure": fmt_time(first_failure(devs, code)) if f24 else None,
            "population": ids(sstp),
            "devices": ids(f24),
            "why": "the SSTP TLS certificate of vpn2 expired; sessions up at that moment stay "
                   "up, every new SSTP attempt to vpn2 fails (IKEv2 and vpn1 keep working)",
        })
        code = 13868
        f24 = failing_devices(devs, code, since=day_ago)
        causes.append({
            "id": "ipsec-legacy", "code": code, "rules": ["fleet-concentration", "ipsec-weak"],
            "attribute": "policy", "value": ipsec_fingerprint("legacy"),
            "policy_fields": ipsec_obj("legacy"),
            "injected_at": fmt_time(ts["ipsec_change"]),
            "population": ids(plan["legacy"]), "devices": ids(f24),
            "why": "IKEv2-only profile with the legacy cryptography suite; the servers now "
                   "require their new suite, so IKE finds no common proposal",
        })
        wired = [d for d in plan["metric"] if metric_order_expected(d)]
        causes.append({
            "id": "metric-automatic", "rules": ["metric-order", "pbk-metric"],
            "population": ids(plan["metric"]),
            "devices": ids(wired),
            "pbk_metric_devices": ids(plan["metric"]),
            "why": "user tunnel deployed without IpInterfaceMetric (0 = automatic, VPN metric "
                   "25): not below a connected Ethernet (25 or 15); Wi-Fi (35+) is fine",
        })
        code = 13806
        f24 = failing_devices(devs, code, since=day_ago)
        causes.append({
            "id": "devtun-cert", "code": code, "rules": ["fleet-concentration"],
            "attribute": "os_version", "value": "10.0.19045",
            "also": {"connection": DEV_CONN},
            "population": ids(plan["devcert"]), "devices": ids(f24),
            "expiries": {d.device_id: fmt_time(d.devcert_expiry) for d in plan["devcert"]},
            "why": "machine certificates of 10.0.19045 devices enrolled from an old template "
                   "expire one by one: the device tunnel fails with 13806",
        })
        code = 868
        causes.append({
            "id": "retired-profile", "code": code, "rules": [],
            "population": ids(plan["retired"]),
            "devices": ids(failing_devices(devs, code, since=day_ago)),
            "connection": OLD_CONN,
            "why": "too few devices for a fleet finding; the profile is gone from the latest "
                   "snapshot, so errors?group_by=server counts these failures as 'unknown'",
        })
    bg = {}
    for code in (691, 809):
        f24 = failing_devices(devs, code, since=day_ago)
        bg[str(code)] = {"devices_24h": len(f24),
                         "failures_24h": sum(1 for d in devs for e in d.events
                                             if e[1] == 20227 and e[4] == code
                                             and e[0] >= day_ago)}
    return {
        "generator": "tests/scenario/fleetgen.py", "scenario": scenario, "seed": seed,
        "devices_count": len(devs), "window_start": fmt_time(t_start), "end": fmt_time(t_end),
        "servers": {s: SERVER_IPSEC[s] for s in SERVERS},
        "causes": causes, "background": bg,
        "devices": [{
            "device_id": d.device_id, "hostname": d.hostname, "os_version": d.os,
            "agent_version": d.agent, "server": d.server, "tunnel_type": d.tunnel_type,
            "vpn_strategy": d.strategy, "ipsec": d.ipsec, "device_tunnel": d.devtun,
            "form": d.form, "docked": d.docked_end, "user_metric": d.user_metric,
            "user_tunnel_up": d.user_up_end, "device_tunnel_up": d.dev_up_end,
            "events": len(d.events),
        } for d in devs],
    }


# ---------------------------------------------------------------- main

def generate(args):
    t_end = parse_time(args.end) if args.end else time.time()
    t_start = t_end - args.hours * HOUR
    scenario = args.scenario
    ts = {"ipsec_change": t_end - 30 * HOUR, "sstp_expired": None}
    if scenario in ("causes", "demo"):
        # whole minute, 3 h ago (or mid-window for short windows)
        ago = min(3 * HOUR, args.hours * HOUR / 2)
        ts["sstp_expired"] = (int(t_end - ago) // 60) * 60
    devs, plan = build_fleet(args.devices, args.seed, scenario)
    rng = random.Random("expiry:%d" % args.seed)
    lo = t_end - min(40 * HOUR, args.hours * HOUR - 2 * HOUR)
    for d in plan["devcert"]:
        d.devcert_expiry = rng.uniform(lo, t_end - 2 * HOUR)
    for d in devs:
        simulate_device(d, args.seed, t_start, t_end, ts)
    return devs, plan, t_start, t_end, ts


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--url", required=True, help="collector base URL, e.g. http://127.0.0.1:8080")
    p.add_argument("--token", required=True, help="admin or agent token")
    p.add_argument("--devices", type=int, default=None,
                   help="fleet size (default 2000; 500 for --scenario demo)")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--scenario", choices=("demo", "healthy", "causes"), default="causes")
    p.add_argument("--hours", type=float, default=48.0, help="history ending now (default 48)")
    p.add_argument("--end", default=None,
                   help="end of the history (RFC 3339 UTC or epoch seconds; default now)")
    p.add_argument("--manifest", default=None, help="write the expected causes (JSON) here")
    p.add_argument("--gzip", action="store_true", help="gzip each batch")
    p.add_argument("--concurrency", type=int, default=4, help="parallel connections")
    p.add_argument("--max-records", type=int, default=500, help="records per batch (<= 500)")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args(argv)
    if args.devices is None:
        args.devices = 500 if args.scenario == "demo" else 2000
    if args.devices < 1 or args.hours < 4 or not 1 <= args.concurrency <= 64 \
            or not 20 <= args.max_records <= 500:
        p.error("need --devices >= 1, --hours >= 4, --concurrency 1..64, --max-records 20..500")
    t0 = time.monotonic()
    devs, plan, t_start, t_end, ts = generate(args)
    t_gen = time.monotonic() - t0
    end_key = "%d" % int(round(t_end * 1000))
    try:
        poster = Poster(args.url, args.token, args.gzip, args.concurrency)
    except ValueError as e:
        p.error(str(e))
    status, err = poster.check()
    if status is None:
        print("fleetgen: cannot reach %s: %s" % (args.url, err), file=sys.stderr)
        return 1

    def job(d):
        return lambda: device_batches(d, args.seed, t_start, t_end, args.max_records, end_key)

    t1 = time.monotonic()
    poster.run(job(d) for d in devs)
    t_post = time.monotonic() - t1
    st = poster.stats
    if args.manifest:
        man = build_manifest(devs, plan, args.scenario, args.seed, t_start, t_end, ts)
        man["post"] = dict(st, seconds_generate=round(t_gen, 2), seconds_post=round(t_post, 2))
        tmp = args.manifest + ".tmp"
        with open(tmp, "w") as f:
            json.dump(man, f, indent=1)
        os.replace(tmp, args.manifest)
    total = time.monotonic() - t0
    if not args.quiet or st["refused"]:
        print("fleetgen: %s, %d devices, %.0f h: %d batches, %d records (%d accepted, %d "
              "duplicate batches, %d refused, %d retries after 503), %.1f MB; simulate %.1f s,"
              " build+post %.1f s (%.0f records/s), total %.1f s"
              % (args.scenario, len(devs), args.hours, st["batches"], st["records"],
                 st["accepted"], st["duplicates"], st["refused"], st["retries_503"],
                 st["bytes"] / 1e6, t_gen, t_post, st["records"] / t_post if t_post else 0,
                 total), file=sys.stderr)
    for e in poster.errors:
        print("fleetgen: refused: " + e, file=sys.stderr)
    return 1 if st["refused"] else 0


if __name__ == "__main__":
    sys.exit(main())
