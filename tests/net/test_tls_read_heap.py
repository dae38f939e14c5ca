"""A TLS read asks for a 256 KiB buffer and shrinks it to the record. Unless glibc's malloc
threshold was raised first (loadgen.execution.heap.raise_mmap_threshold, done when the load
starts), each such read maps fresh memory: mmap + mremap + munmap and a page fault per HTTPS
response. Checked in a fresh interpreter (a malloc state nothing else has touched), on
in-memory TLS objects: no socket, no timing, page faults counted by the kernel."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc",
                                reason="the mmap threshold is glibc malloc's behaviour")

CHILD = textwrap.dedent("""
    import resource, ssl, sys
    cert, key, warm = sys.argv[1], sys.argv[2], sys.argv[3] == "warm"
    if warm:
        from loadgen.execution.heap import raise_mmap_threshold
        raise_mmap_threshold()
    server = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server.load_cert_chain(cert, key)
    client = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    client.check_hostname, client.verify_mode = False, ssl.CERT_NONE
    c_in, c_out, s_in, s_out = (ssl.MemoryBIO() for _ in range(4))
    c = client.wrap_bio(c_in, c_out)
    s = server.wrap_bio(s_in, s_out, server_side=True)
    for _ in range(10):  # the handshake, pumped by hand
        for end in (c, s):
            try:
                end.do_handshake()
            except ssl.SSLWantReadError:
                pass
        s_in.write(c_out.read())
        c_in.write(s_out.read())
    n, got = 2000, 0
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(n):
        s.write(b"x" * 150)  # one small response record
        c_in.write(s_out.read())
        got += len(c.read(262144))  # what asyncio's and uvloop's SSL protocols ask for
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before
    assert got == 150 * n
    print(faults / n)
""")


def faults_per_read(cert: Path, key: Path, mode: str) -> float:
    r = subprocess.run([sys.executable, "-c", CHILD, str(cert), str(key), mode],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr[-2000:]
    return float(r.stdout.strip())


def test_tls_reads_reuse_heap_memory_once_the_threshold_is_raised(cert_files):
    cert, key = cert_files
    cold = faults_per_read(cert, key, "cold")
    warm = faults_per_read(cert, key, "warm")
    assert cold >= 1.0  # the trouble: fresh pages for every read
    assert warm < 0.05  # the fix: the buffer comes from the heap, pages already there
