#!/usr/bin/python3
"""Seed 004 through Debian's python3-os-xenapi XenAPI.py (unmodified), for the contract corpus.

Usage: seed004_os_xenapi.py URL USER PASSWORD

Login, network.create MGT, find the management PIF and eth3 with get_all_records_where,
Bond.create active-backup, Bond.get_record, PIF.get_record of the master, a VLAN on the bond,
Bond.destroy, the Failures a client meets on the way, logout. Prints one line per step;
exits non-zero if a call that should succeed fails or a Failure does not come.
"""
import sys

from os_xenapi.client import XenAPI

url, user, password = sys.argv[1:4]
s = XenAPI.Session(url)
s.xenapi.login_with_password(user, password, "1.0", "seed004_os_xenapi.py")
print("API_version", s.API_version)


def failure(what, fn):
    try:
        fn()
    except XenAPI.Failure as f:
        print("Failure", what, f.details[0])
        return
    raise SystemExit("%s succeeded but a Failure was expected" % what)


net = s.xenapi.network.create({"name_label": "MGT", "name_description": "", "MTU": "1500",
                               "other_config": {}, "tags": []})
mgmt = s.xenapi.PIF.get_all_records_where('field "management" = "true"')
eth3 = s.xenapi.PIF.get_all_records_where('field "device" = "eth3"')
members = list(mgmt) + list(eth3)
print("members", [r["device"] for r in list(mgmt.values()) + list(eth3.values())])

bond = s.xenapi.Bond.create(net, members, "", "active-backup", {})
rec = s.xenapi.Bond.get_record(bond)
print("Bond", rec["mode"], len(rec["slaves"]), rec["primary_slave"] == members[0])
master = s.xenapi.PIF.get_record(rec["master"])
print("master", master["device"], master["management"], master["IP"], master["network"] == net)
failure("Bond.create again", lambda: s.xenapi.Bond.create(net, members, "", "active-backup", {}))

vnet = s.xenapi.network.create({"name_label": "VLAN 42 on MGT", "name_description": "", "MTU": "1500",
                                "other_config": {}, "tags": []})
vlan = s.xenapi.VLAN.create(rec["master"], "42", vnet)
vrec = s.xenapi.VLAN.get_record(vlan)
print("VLAN", vrec["tag"], vrec["tagged_PIF"] == rec["master"])
failure("VLAN.create same tag", lambda: s.xenapi.VLAN.create(rec["master"], "42", vnet))

s.xenapi.Bond.destroy(bond)
failure("Bond.get_record after destroy", lambda: s.xenapi.Bond.get_record(bond))
back = s.xenapi.PIF.get_record(members[0])
print("after destroy", back["device"], back["management"], back["IP"])
failure("PIF.get_record(OpaqueRef:NULL)", lambda: s.xenapi.PIF.get_record("OpaqueRef:NULL"))
s.xenapi.session.logout()
print("logout")
