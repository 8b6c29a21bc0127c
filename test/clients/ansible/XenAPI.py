"""`import XenAPI` for Ansible's community.general xenserver modules, from Debian's package.

The modules import xapi's own XenAPI.py (the `XenAPI` module on PyPI). Debian ships the same
module as `os_xenapi.client.XenAPI` (python3-os-xenapi), whose local-socket transport still has
Python 2's send_request signature and whose xapi_local() points at /var/xapi/xapi. This module
re-exports it with the two differences of xapi's current XenAPI.py: a Python 3 send_request,
and xapi_local() on /var/lib/xcp/xapi (XENAPI_LOCAL_SOCKET overrides the path: the tests run a
daemon on a socket of their own). Nothing else is changed.
"""
import os
import xmlrpc.client

from os_xenapi.client.XenAPI import *  # noqa: F401,F403  (Session, Failure, ...)
from os_xenapi.client.XenAPI import Session
from os_xenapi.client.XenAPI import UDSTransport as _DebianUDSTransport


class UDSTransport(_DebianUDSTransport):
    def send_request(self, host, handler, request_body, debug):
        return xmlrpc.client.Transport.send_request(self, host, handler, request_body, debug)


def xapi_local():
    path = os.environ.get("XENAPI_LOCAL_SOCKET", "/var/lib/xcp/xapi")
    return Session("http://" + path.replace("/", "_") + "/", transport=UDSTransport())
