#!/usr/bin/python3
"""Drives Debian's python3-os-xenapi XenAPI client (unmodified) against a daemon.

Usage: os_xenapi_client.py URL USER PASSWORD

Prints one line per check, with values that do not depend on refs or uuids, so the
calling test can compare the whole output exactly. Exit code 0 unless the client raised
something unexpected.
"""
import re
import sys
import time
import xmlrpc.client

from os_xenapi.client import XenAPI

url, user, password = sys.argv[1:4]

s = XenAPI.Session(url)
# Login eagerly calls pool.get_all, pool.get_master, host.get_API_version_major/minor.
s.xenapi.login_with_password(user, password, "1.0", "os_xenapi_client.py")
print("API_version", s.API_version)

pifs = s.xenapi.PIF.get_all_records()
print("PIF.get_all_records", len(pifs))
print("devices", sorted(p["device"] for p in pifs.values()))
print("types", type(next(iter(pifs.values()))["MTU"]).__name__, type(next(iter(pifs.values()))["physical"]).__name__)

mgmt = s.xenapi.PIF.get_all_records_where('field "management" = "true"')
print("management", sorted(p["device"] for p in mgmt.values()), sorted(p["IP"] for p in mgmt.values()))

net = s.xenapi.network.create({
    "name_label": "py-net",
    "name_description": "made by os_xenapi",
    "MTU": "9000",
    "other_config": {"from": "python"},
    "tags": [],
})
rec = s.xenapi.network.get_record(net)
print("network.create", bool(re.match(r"^OpaqueRef:[0-9a-f-]{36}$", net)))
print("network.get_record", rec["name_label"], rec["name_description"], rec["MTU"], rec["other_config"], rec["tags"], rec["PIFs"], rec["managed"])
print("network.get_by_name_label", s.xenapi.network.get_by_name_label("py-net") == [net])

try:
    s.xenapi.PIF.get_record("OpaqueRef:NULL")
    print("Failure expected, got success")
except XenAPI.Failure as f:
    print("Failure", f.details)

try:
    s.xenapi.network.add_to_other_config(net, "from", "again")
except XenAPI.Failure as f:
    print("Failure", f.details[0], f.details[1], f.details[2], f.details[3] == net, f.details[4])

task = s.xenapi.Async.network.create({"name_label": "py-async", "other_config": {}})
for _ in range(200):
    status = s.xenapi.task.get_status(task)
    if status != "pending":
        break
    time.sleep(0.01)
result = s.xenapi.task.get_result(task)
m = re.match(r"^<value>(OpaqueRef:[0-9a-f-]{36})</value>$", result)
print("Async.network.create", status, bool(m), m and s.xenapi.network.get_name_label(m.group(1)))
s.xenapi.task.destroy(task)
if m:
    s.xenapi.network.destroy(m.group(1))

# A session that went away server-side: XenAPI.py logs in again and retries transparently.
old = s._session
xmlrpc.client.ServerProxy(url).session.logout(old)
print("after server-side logout", len(s.xenapi.pool.get_all()), s._session != old)

s.xenapi.network.destroy(net)
s.xenapi.session.logout()
print("logout", s._session)
