#!/usr/bin/env bash
# make-corpus.sh - (re)generates the seed corpora tests/fuzz/corpus/<target>/
# from tests/fixtures plus hand-written edge cases. Deterministic: running it
# twice gives the same files. Targets whose input starts with control bytes
# (chunk plan, mode, cap) get those prefixes here; see each fuzz_<name>.c.
#
#   tests/fuzz/make-corpus.sh            # writes into tests/fuzz/corpus
#   tests/fuzz/make-corpus.sh OUTDIR     # writes elsewhere
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
fx=$root/tests/fixtures
out=${1:-$here/corpus}

reset_dir() { rm -rf "${out:?}/$1"; mkdir -p "$out/$1"; }
# put TARGET NAME printf-FORMAT  (the content is printf's expansion of the format)
put() { printf "$3" >"$out/$1/$2"; }
# putf TARGET NAME PREFIX-printf FILE
putf() { { printf "$3"; cat "$4"; } >"$out/$1/$2"; }
gz() { gzip -n -c -9; }

utf16le_bom() { printf '\xff\xfe'; iconv -f UTF-8 -t UTF-16LE; }
utf16be() { iconv -f UTF-8 -t UTF-16BE; }

# ---------------------------------------------------------------- batch_json
t=batch_json; reset_dir $t
cp "$fx/records/batch-all-kinds.json" "$out/$t/fixture-all-kinds.json"
put $t min-event.json '{"batch_id":"b1","agent":{"device_id":"d1"},"records":[{"kind":"ras_event","time":"2026-11-20T08:01:02.123Z","event_id":20227,"record_id":1,"level":"error","user":"u","connection":"c","error_code":809}]}'
put $t min-iface.json '{"schema":1,"batch_id":"b2","agent":{"device_id":"d1","hostname":"h","os_version":"10.0","agent_version":"1"},"records":[{"kind":"iface_metric","time":"2026-11-20t08:01:02z","alias":"Ethernet","index":3,"family":"ipv4","metric":25,"automatic":true,"connected":true,"if_type":"ethernet","mtu":1500}]}'
put $t min-pbk.json '{"batch_id":"b3","agent":{"device_id":"d1"},"records":[{"kind":"pbk_entry","time":"2026-11-20 08:01:02+01:00","scope":"user","connection":"Always On VPN","settings":{"IpInterfaceMetric":"3","VpnStrategy":"7","k":"v","k":"dup"}}]}'
put $t min-vpn.json '{"batch_id":"b4","agent":{"device_id":"d1"},"records":[{"kind":"vpn_policy","time":"2026-11-20T08:01:02.1234567-05:30","connection":"AOVPN","server":"vpn.example.com","tunnel_type":"IKEV2","auth_method":"Eap","split_tunneling":true,"device_tunnel":false,"dns_suffix":"corp","ipsec":{"cipher_transform":"AES128","auth_transform":"SHA256128","encryption_method":"AES128","integrity_check_method":"SHA256","dh_group":"Group14","pfs_group":"PFS2048"}}]}'
put $t empty-records.json '{"batch_id":"b","agent":{"device_id":"d"},"records":[]}'
put $t wrong-schema.json '{"schema":2,"batch_id":"b","agent":{"device_id":"d"},"records":[]}'
put $t codes.json '{"batch_id":"b","agent":{"device_id":"d"},"records":[{"kind":"ras_event","time":"2026-01-01T00:00:00Z","event_id":20226,"record_id":9007199254740991,"level":"information","user":"\\u00e9\\ud83d\\ude00","connection":"c<>&","reason_code":2148204801,"coid":"{3F2A0C1B-7A44-0000-8E61-0C2B447AD901}","message":"a\\nb\\u0000c"}]}'
put $t numbers.json '{"batch_id":"b","agent":{"device_id":"d"},"records":[{"kind":"iface_metric","time":"2026-01-01T00:00:00.5Z","alias":"x","index":1e2,"family":"IPv6","metric":-0,"automatic":false,"connected":false,"if_type":"vpn","mtu":4294967295}]}'
put $t malformed.json '{"batch_id":"b","agent":{"device_id":"d"},"records":[{"kind":'
put $t trailing.json '{"batch_id":"b","agent":{"device_id":"d"},"records":[]} x'
put $t leap.json '{"batch_id":"b","agent":{"device_id":"d"},"records":[{"kind":"pbk_entry","time":"2024-02-29T23:59:60Z","scope":"all_users","connection":"c","settings":{}}]}'
put $t not-object.json '[1,2,3]'

# ---------------------------------------------------------------- ndjson
# flag byte 0x00: fixed ids; 0x17: ids + hostname/os/agent from the input
t=ndjson; reset_dir $t
putf $t fixture-all-kinds '\x00' "$fx/records/batch-all-kinds.ndjson"
put $t blank-lines '\x00\n\r\n  {"kind":"iface_metric","time":"2026-11-20T08:01:02Z","alias":"a","index":1,"family":"ipv4","metric":1,"automatic":true,"connected":true,"if_type":"wifi"}\r\n\n'
put $t headers '\x17dev-1\x00batch-1\x00host \xc3\xa9\x00Windows 11\x00agent 1.0\x00{"kind":"pbk_entry","time":"2026-11-20T08:01:02Z","scope":"user","connection":"c","settings":{"a":"b"}}'
put $t bad-id '\x10dev 1\x00batch\x00\x00\x00\x00'
put $t too-many '\x08{"kind":"pbk_entry","time":"2026-11-20T08:01:02Z","scope":"user","connection":"c","settings":{}}\n{"kind":"pbk_entry","time":"2026-11-20T08:01:02Z","scope":"user","connection":"c","settings":{}}\n{"kind":"pbk_entry","time":"2026-11-20T08:01:02Z","scope":"user","connection":"c","settings":{}}\n{"kind":"pbk_entry","time":"2026-11-20T08:01:02Z","scope":"user","connection":"c","settings":{}}\n'
put $t bad-line '\x00{"kind":"ras_event"}\n{oops\n'

# ---------------------------------------------------------------- gzip_inflate
# two cap bytes (big endian; 0xFFFF = 1 MiB) then the stream
t=gzip_inflate; reset_dir $t
{ printf '\xff\xff'; gz <"$fx/records/batch-all-kinds.json"; } >"$out/$t/fixture-json.gz"
{ printf '\x00\x10'; gz <"$fx/records/batch-all-kinds.ndjson"; } >"$out/$t/fixture-capped.gz"
{ printf '\x10\x00'; printf 'hello ' | gz; printf 'world' | gz; } >"$out/$t/two-members.gz"
{ printf '\x01\x00'; printf '' | gz; } >"$out/$t/empty.gz"
{ printf '\x00\x40'; head -c 100000 /dev/zero | gz; } >"$out/$t/bomb-small.gz"
{ printf '\xff\xff'; printf 'abcdef' | gz | head -c 15; } >"$out/$t/truncated.gz"
{ printf '\xff\xff'; printf 'abc' | gz; printf '\x00\x00'; } >"$out/$t/trailing-zeros.gz"
put $t not-gzip '\x00\x10plain text'

# ---------------------------------------------------------------- ingest_decode
# mode byte: 1 gzip, 2 ndjson, 4 wrap (harness gzips), 8 small limits
t=ingest_decode; reset_dir $t
putf $t json '\x00' "$fx/records/batch-all-kinds.json"
putf $t json-wrap '\x04' "$fx/records/batch-all-kinds.json"
putf $t ndjson '\x02' "$fx/records/batch-all-kinds.ndjson"
putf $t ndjson-wrap-small '\x0e' "$fx/records/batch-all-kinds.ndjson"
{ printf '\x01'; gz <"$fx/records/batch-all-kinds.json"; } >"$out/$t/json-gzip"
{ printf '\x03'; gz <"$fx/records/batch-all-kinds.ndjson"; } >"$out/$t/ndjson-gzip"
{ printf '\x09'; head -c 50000 /dev/zero | tr '\0' ' ' | gz; } >"$out/$t/gzip-over-inflated-cap"
put $t bad-utf8 '\x00{"batch_id":"\xc3\x28"}'
put $t overlong-utf8 '\x04{"batch_id":"\xe0\x80\xaf"}'
put $t unknown-kind '\x00{"batch_id":"b","agent":{"device_id":"d"},"records":[{"kind":"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9","time":"x"}]}'

# ---------------------------------------------------------------- event_xml
# byte 0: chunk plan seed (low 3 bits: max chunk), byte 1: callback stop
t=event_xml; reset_dir $t
putf $t wevtutil-whole '\x07\x00' "$fx/events/rasclient-wevtutil.xml"
putf $t wevtutil-1byte '\x00\x00' "$fx/events/rasclient-wevtutil.xml"
putf $t wevtutil-stop2 '\x05\x81' "$fx/events/rasclient-wevtutil.xml"
putf $t pretty-3byte '\x02\x00' "$fx/events/rasclient-wevtutil-pretty.xml"
{ printf '\x03\x00'; utf16le_bom <"$fx/events/rasclient-wevtutil.xml"; } >"$out/$t/wevtutil-utf16le-bom"
{ printf '\x01\x00'; utf16be <"$fx/events/rasclient-wevtutil.xml"; } >"$out/$t/wevtutil-utf16be"
put $t decl-root '\x04\x00<?xml version="1.0" encoding="UTF-8"?>\n<Events><Event xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><System><Provider Name="rasclient"/><EventID>20226</EventID><EventRecordID>7</EventRecordID><Level>Warning</Level><TimeCreated SystemTime="2026-11-20T08:01:02+01:00"/></System><EventData><Data>{3F2A0C1B-7A44-0000-8E61-0C2B447AD901}</Data><Data>CORP\\bob</Data><Data>VPN</Data><Data>0x341</Data></EventData><RenderingInfo Culture="en-US"><Message>m\xc3\xa9ssage</Message></RenderingInfo></Event></Events>'
put $t other-provider '\x06\x00<Event><System><Provider Name="Other"/><EventID>1</EventID></System></Event>'
put $t truncated '\x06\x00<Event><System><Provider Name="RasClient"/><EventID>20227</Even'
put $t text-outside '\x06\x00hello <Event/>'
put $t bad-time '\x06\x00<Event><System><Provider Name="RasClient"/><EventID>20227</EventID><TimeCreated SystemTime="/Date(1795161662123+0100)/"/></System><EventData><Data>x</Data><Data>u</Data><Data>c</Data><Data>-2146762495</Data><Data>4</Data><Data>5</Data><Data>6</Data><Data>7</Data><Data>8</Data><Data>9</Data></EventData></Event>'
put $t doctype '\x06\x00<!DOCTYPE x [<!ENTITY a "aaaa">]><Event>&a;</Event>'

# ---------------------------------------------------------------- event_json
t=event_json; reset_dir $t
cp "$fx/events/rasclient-ps7.json" "$out/$t/ps7.json"
cp "$fx/events/rasclient-ps51-single.json" "$out/$t/ps51-single.json"
utf16le_bom <"$fx/events/rasclient-ps7.json" >"$out/$t/ps7-utf16le-bom.json"
put $t date-object.json '{"Id":20227,"RecordId":"12","Level":2,"TimeCreated":{"value":"\\/Date(1795161662123)\\/","DateTime":"x"},"Properties":[{"Value":"{3F2A0C1B-7A44-0000-8E61-0C2B447AD901}"},{"Value":"u"},{"Value":"c"},{"Value":809}],"Message":"m"}'
put $t mixed-array.json '[1,null,{"ProviderName":"Other"},{"EventID":20226,"TimeCreated":"2026-11-20T08:01:02.1234567Z","Data":"single"},{"Id":1.5,"TimeCreated":"x"}]'
put $t not-json.json '{"Id":'
put $t bom-utf8.json '\xef\xbb\xbf[]'

# ---------------------------------------------------------------- pbk
t=pbk; reset_dir $t
cp "$fx/pbk/"*.pbk "$out/$t/"
put $t edge-cases.pbk '; comment\r\n[A]\r\nPassword=secret\r\nPreSharedKey=\r\nCustomAuthData=0123\r\nCustomAuthData=45zz\r\nCustomIPSecPolicies= 020000000600000006000000060000000500000000000000 \r\nDEVICE=vpn\r\nPhoneNumber=vpn.example.com\r\nPhoneNumber=second\r\nMEDIA=rastapi\r\nDevice=x\r\n[A]\r\n[]\r\n[B\r\n=novalue\r\nk=v\rk2=v2\n'
put $t utf8-name.pbk '[VPN \xc3\xa9t\xc3\xa9]\nIpInterfaceMetric=3\n'
put $t no-section.pbk 'key=value\n'
put $t control.pbk '[A]\nk=\x01\n'
put $t blank.pbk '  \r\n\t\n'
printf '[A]\nIpInterfaceMetric=3\n' | utf16be >"$out/$t/utf16be-nobom.pbk"

# ---------------------------------------------------------------- ipsec_blob
t=ipsec_blob; reset_dir $t
put $t allusers-blob '020000000600000006000000060000000500000000000000'
put $t padded '  \t0000000000000000000000000000000000000000000000ff \t'
put $t unknowns 'ffffffffFFFFFFFF09000000080000000700000008000000'
put $t bad-hex '02000000060000000600000006000000050000000000000g'
put $t short '0200'

# ---------------------------------------------------------------- netip_json
t=netip_json; reset_dir $t
cp "$fx/netip/"*.json "$out/$t/"
put $t strings.json '[{"ifAlias":"Always On VPN","ifIndex":"42","AddressFamily":"IPv6","InterfaceMetric":"3","AutomaticMetric":false,"ConnectionState":"Connected","NlMtu":4294967295,"InterfaceDescription":"WAN Miniport (IKEv2)"},{"InterfaceAlias":"Wi-Fi","InterfaceIndex":7,"AddressFamily":2,"InterfaceMetric":4294967296,"AutomaticMetric":1,"ConnectionState":1}]'
put $t object.json '{"InterfaceAlias":"Loopback Pseudo-Interface 1","InterfaceIndex":1,"AddressFamily":23,"InterfaceMetric":75,"AutomaticMetric":"Enabled","ConnectionState":"Disconnected","NlMtu":1.5}'

# ---------------------------------------------------------------- vpnconn_json
t=vpnconn_json; reset_dir $t
cp "$fx/vpnconnection/"*.json "$out/$t/"
put $t numbers.json '[{"Name":"Dev","ServerAddress":"s","TunnelType":"ikev2","AuthenticationMethod":["MachineCertificate"],"SplitTunneling":"True","AllUserConnection":1,"IPsecCustomPolicy":[{"AuthenticationTransformConstants":3,"CipherTransformConstants":7,"DHGroup":99,"EncryptionMethod":-1,"IntegrityCheckMethod":2.5,"PfsGroup":"pfs2048"},{}]},{"Name":"x","ServerAddress":"s","TunnelType":5,"AuthenticationMethod":"Eap","SplitTunneling":false}]'
put $t flattened.json '{"Name":"A","ServerAddress":"s","TunnelType":"Sstp","AuthenticationMethod":"Eap","SplitTunneling":0,"DnsSuffix":"","IPsecCustomPolicy":"Microsoft.Management.Infrastructure.CimInstance"}'

# ---------------------------------------------------------------- textenc
# byte 0: chunk plan seed
t=textenc; reset_dir $t
putf $t pbk-utf16le-bom '\x01' "$fx/pbk/aovpn-user-utf16le.pbk"
putf $t pbk-utf8 '\x05' "$fx/pbk/aovpn-user-utf8.pbk"
put $t utf8-bom '\x00\xef\xbb\xbfa\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80'
put $t utf16le-nobom '\x02a\x00b\x00\x3d\xd8\x00\xde'
put $t utf16be-bom '\x03\xfe\xff\x00a\xd8\x3d\xde\x00'
put $t lone-surrogate '\x00\xff\xfe\x00\xdc\x41\x00'
put $t odd-length '\x00\xff\xfea'
put $t nul-then-bad '\x07a\x00\xff'
put $t cut-utf8 '\x00abc\xe2\x82'
put $t overlong '\x01\xc0\xaf\xe0\x80\xaf'

# ---------------------------------------------------------------- time
t=time; reset_dir $t
put $t ms '2026-11-20T08:01:02.123Z'
put $t frac7 '2026-11-20T08:01:02.1234567Z'
put $t offset '2026-11-20 08:01:02+05:30'
put $t leap-second '2016-12-31t23:59:60z'
put $t leap-day '2024-02-29T00:00:00-23:59'
put $t duration-d '7d'
put $t duration-max '100000000s'
put $t duration-zero '0h'
put $t year0 '0000-01-01T00:00:00Z'

# ---------------------------------------------------------------- catalog_code
t=catalog_code; reset_dir $t
for c in 809 -2146762495 2148204801 0x800B0101 800b0101 80092013 0X329 13806 -0 4294967295 -2147483648 0x 12345678 +809 ' 809'; do
  printf '%s' "$c" >"$out/$t/code_$(printf '%s' "$c" | od -An -tx1 | tr -d ' \n')"
done

# ---------------------------------------------------------------- config_set
# mode byte: bit 0 = whole file; bits 1..7 = error buffer size
t=config_set; reset_dir $t
put $t pairs '\xfelisten\x00[::1]:8443\x00threads\x004\x00log_level\x00debug\x00admin_token\x000123456789abcdef\x00'
put $t bad-values '\x02listen\x00:80\x00max_body_bytes\x00-1\x00hot_days\x00367\x00nope\x00x\x00'
put $t file '\xff# comment\n listen = 0.0.0.0:8080 \ndb=/var/lib/rasfleet/db\nretention_days = 30\nipsec_baseline = AES128/SHA256128/AES128/SHA256/Group14/PFS2048\n'
put $t file-bad '\x01threads = 0\n'

# ---------------------------------------------------------------- static_path
t=static_path; reset_dir $t
for u in / /index.html /app.js /sub/page.html /sub/deeper/x.txt /sub/ /sub /.hidden /sub/.git/config /link.html /../secret.txt '/sub/../index.html' '//etc/passwd' '/a\\b' /noext /missing.css; do
  printf '%s' "$u" >"$out/$t/url_$(printf '%s' "$u" | od -An -tx1 | tr -d ' \n')"
done

# ---------------------------------------------------------------- baseline
t=baseline; reset_dir $t
put $t custom.json '{"server_custom":true,"policy":{"cipher_transform":"AES128","auth_transform":"SHA256128","encryption_method":"AES128","integrity_check_method":"SHA256","dh_group":"Group14","pfs_group":"PFS2048"}}'
put $t weak.json '{"server_custom":true,"policy":{"cipher_transform":"DES3","auth_transform":"SHA196","encryption_method":"DES3","integrity_check_method":"SHA1","dh_group":"Group2","pfs_group":"None"}}'
put $t defaults.json '{"server_custom":false}'
put $t bad.json '{"server_custom":"yes"}'

# ---------------------------------------------------------------- checks
t=checks; reset_dir $t
cp "$fx/records/batch-all-kinds.json" "$out/$t/fixture-all-kinds.json"
put $t metric-tie.json '{"batch_id":"b","agent":{"device_id":"d"},"records":[{"kind":"iface_metric","time":"2026-11-20T08:01:02Z","alias":"VPN \xc3\xa9","index":1,"family":"ipv4","metric":25,"automatic":false,"connected":true,"if_type":"vpn"},{"kind":"iface_metric","time":"2026-11-20T08:01:02Z","alias":"Ethernet","index":2,"family":"ipv4","metric":25,"automatic":true,"connected":true,"if_type":"ethernet"},{"kind":"pbk_entry","time":"2026-11-20T08:01:02Z","scope":"all_users","connection":"VPN \xc3\xa9","settings":{"IpInterfaceMetric":"99999999999999999999","DeviceTunnel":"1","VpnStrategy":"14","DisableMobility":"0","NetworkOutageTime":"-5","IpDnsFlags":"3"}}]}\x02'

echo "corpus written to $out: $(find "$out" -type f | wc -l) files"
