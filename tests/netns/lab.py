"""A small lab of Linux network namespaces: one per host, joined by a bridge.

Hosts are namespaces named `<tag>-<role>` (tag unique per run, so parallel
suites never meet). The `db` host holds a bridge; every other host, and
the test's own (root) namespace, has a veth link into it. Addresses are
`10.213.K.0/24`, with K picked so that no interface of the root namespace
already uses it. `destroy()` kills every process in the namespaces and
deletes them and the root-side link, whatever state the test left.
"""
import ipaddress
import os
import shutil
import signal
import subprocess
import uuid

from tests.support import Process

ROLES = {"db": 1, "web": 2, "wa": 3, "wb": 4}
HOST_OCTET = 254


class Unavailable(RuntimeError):
    """Network namespaces cannot be created here (not root, no `ip`)."""


def ip(*args, check=True):
    result = subprocess.run(["ip", *args], capture_output=True, text=True, timeout=30)
    if check and result.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def check_available():
    """Raise Unavailable with the reason when this machine cannot build the lab."""
    if shutil.which("ip") is None:
        raise Unavailable("the `ip` command (iproute2) is not installed")
    if os.geteuid() != 0:
        raise Unavailable("creating network namespaces needs root")
    probe = f"dgprobe{uuid.uuid4().hex[:6]}"
    result = subprocess.run(["ip", "netns", "add", probe], capture_output=True, text=True)
    if result.returncode != 0:
        raise Unavailable(f"`ip netns add` failed: {result.stderr.strip()}")
    ip("netns", "del", probe, check=False)


def _free_subnet():
    used = ip("-4", "-o", "addr", "show")
    for k in [int(b) for b in uuid.uuid4().bytes] + list(range(1, 255)):
        if 0 < k < 255 and f"10.213.{k}." not in used:
            return f"10.213.{k}"
    raise Unavailable("no free 10.213.K.0/24 subnet in the root namespace")


class Lab:
    def __init__(self, log_dir):
        self.tag = f"dg{uuid.uuid4().hex[:6]}"
        self.log_dir = log_dir
        self.prefix = _free_subnet()
        self.network = ipaddress.ip_network(f"{self.prefix}.0/24")
        self.processes = []

    def ns(self, role):
        return f"{self.tag}-{role}"

    def addr(self, role):
        return f"{self.prefix}.{ROLES[role] if role != 'test' else HOST_OCTET}"

    def link(self, role):
        return f"{self.tag}{role}"

    def build(self):
        """Create the namespaces, the bridge in `db` and a veth per host."""
        db = self.ns("db")
        for role in ROLES:
            ip("netns", "add", self.ns(role))
            ip("-n", self.ns(role), "link", "set", "lo", "up")
        ip("-n", db, "link", "add", "br0", "type", "bridge")
        ip("-n", db, "addr", "add", f"{self.addr('db')}/24", "dev", "br0")
        ip("-n", db, "link", "set", "br0", "up")
        for role in [r for r in ROLES if r != "db"]:
            ip("link", "add", self.link(role), "netns", self.ns(role), "type", "veth",
               "peer", "name", f"{self.link(role)}p", "netns", db)
            ip("-n", self.ns(role), "addr", "add", f"{self.addr(role)}/24", "dev", self.link(role))
            ip("-n", self.ns(role), "link", "set", self.link(role), "up")
            self._plug(f"{self.link(role)}p")
        # the test process reaches the hosts through one link from the root namespace
        ip("link", "add", self.link("t"), "type", "veth", "peer", "name", f"{self.link('t')}p", "netns", db)
        ip("addr", "add", f"{self.addr('test')}/24", "dev", self.link("t"))
        ip("link", "set", self.link("t"), "up")
        self._plug(f"{self.link('t')}p")
        return self

    def _plug(self, name):
        ip("-n", self.ns("db"), "link", "set", name, "master", "br0")
        ip("-n", self.ns("db"), "link", "set", name, "up")

    def start(self, role, name, argv, env):
        """Start `argv` inside host `role`; the returned Process logs to the lab's log dir."""
        process = Process(f"{role}-{name}", ["ip", "netns", "exec", self.ns(role), *argv], self.log_dir, env=env)
        process.env = dict(env)
        self.processes.append(process.start())
        return process

    def pids(self, role):
        out = subprocess.run(["ip", "netns", "pids", self.ns(role)], capture_output=True, text=True).stdout
        return [int(p) for p in out.split()]

    def kill_host(self, role):
        """kill -9 every process of host `role` and take its link down; return the pids killed."""
        pids = self.pids(role)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        ip("-n", self.ns(role), "link", "set", self.link(role), "down", check=False)
        ip("-n", self.ns("db"), "link", "set", f"{self.link(role)}p", "down", check=False)
        return pids

    def destroy(self):
        for role in ROLES:
            for pid in self.pids(role):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
        for process in self.processes:
            if process.proc is not None:
                try:
                    process.proc.wait(10)
                except subprocess.TimeoutExpired:
                    pass
                process._log.close()
        ip("link", "del", self.link("t"), check=False)
        for role in ROLES:
            ip("netns", "del", self.ns(role), check=False)
