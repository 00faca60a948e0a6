#!/usr/bin/python3
"""Integration: Debian's python3-pylibmc (libmemcached) against the real sluiced.

pylibmc speaks plain memcached: binary protocol, SASL PLAIN, every key on vbucket 0. Run by
ctest with /usr/bin/python3 (Debian's interpreter, where python3-pylibmc is installed); the
server binary comes from SLUICED_BIN. Each test starts its own sluiced on a free port with a
temporary data directory and stops it with SIGTERM, expecting a clean exit.
"""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import pylibmc

USER = "admin"
PASSWORD = "password"


class Sluiced:
    """The sluiced process of one test."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="sluice-pylibmc-")
        users = os.path.join(self.dir, "users.json")
        with open(users, "w") as f:
            json.dump({"users": [{"name": USER, "password": PASSWORD}]}, f)
        self.log_path = os.path.join(self.dir, "stderr.log")
        binary = os.environ.get("SLUICED_BIN", "./build/sluiced")
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [binary, "--port", "0", "--host", "127.0.0.1", "--metrics-port", "0",
             "--data-dir", os.path.join(self.dir, "data"), "--users", users,
             "--vbuckets", "16", "--log-level", "warn"],
            stdout=subprocess.PIPE, stderr=self.log, text=True)
        line = self.proc.stdout.readline()  # blocks until the listening line (or EOF)
        prefix = "sluiced listening on "
        if not line.startswith(prefix):
            self.stop()
            raise RuntimeError("sluiced did not start: %r; log:\n%s" % (line, self.read_log()))
        self.address = line[len(prefix):].strip()

    def read_log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        code = None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                code = self.proc.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                code = self.proc.wait()
        else:
            code = self.proc.returncode
        self.proc.stdout.close()
        self.log.close()
        return code

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


class PylibmcTest(unittest.TestCase):
    def setUp(self):
        self.server = Sluiced()
        self.mc = pylibmc.Client([self.server.address], binary=True,
                                 username=USER, password=PASSWORD)

    def tearDown(self):
        self.mc.disconnect_all()
        code = self.server.stop()
        log = self.server.read_log()
        self.server.cleanup()
        self.assertEqual(code, 0, "sluiced exit status; log:\n" + log)
        self.assertNotIn("Sanitizer", log)

    def test_set_get_delete(self):
        self.assertTrue(self.mc.set("alpha", "one"))
        self.assertEqual(self.mc.get("alpha"), "one")
        self.assertTrue(self.mc.set("bytes", b"\x00\x01\xff"))
        self.assertEqual(self.mc.get("bytes"), b"\x00\x01\xff")
        self.assertIsNone(self.mc.get("missing"))
        self.assertTrue(self.mc.delete("alpha"))
        self.assertIsNone(self.mc.get("alpha"))
        self.assertFalse(self.mc.delete("alpha"))

    def test_add_and_replace(self):
        self.assertTrue(self.mc.add("k", "first"))
        self.assertFalse(self.mc.add("k", "second"))
        self.assertEqual(self.mc.get("k"), "first")
        self.assertTrue(self.mc.replace("k", "third"))
        self.assertEqual(self.mc.get("k"), "third")
        with self.assertRaises(pylibmc.NotFound):  # as against memcached itself
            self.mc.replace("nope", "x")
        self.assertIsNone(self.mc.get("nope"))

    def test_incr_decr(self):
        self.assertTrue(self.mc.set("n", "10"))
        self.assertEqual(self.mc.incr("n"), 11)
        self.assertEqual(self.mc.incr("n", 5), 16)
        self.assertEqual(self.mc.decr("n", 6), 10)
        self.assertEqual(self.mc.decr("n", 100), 0)  # memcached: decrement stops at 0
        self.assertEqual(self.mc.get("n"), "0")
        with self.assertRaises(pylibmc.NotFound):
            self.mc.incr("no-counter")

    def test_append_prepend(self):
        self.assertTrue(self.mc.set("s", "mid"))
        self.assertTrue(self.mc.append("s", "-end"))
        self.assertTrue(self.mc.prepend("s", "start-"))
        self.assertEqual(self.mc.get("s"), "start-mid-end")
        self.assertFalse(self.mc.append("absent", "x"))

    def test_touch(self):
        self.assertTrue(self.mc.set("t", "v", time=3600))
        self.assertTrue(self.mc.touch("t", 7200))
        self.assertEqual(self.mc.get("t"), "v")
        self.assertFalse(self.mc.touch("absent", 10))

    def test_multi(self):
        docs = {"m%d" % i: "value-%d" % i for i in range(50)}
        self.assertEqual(self.mc.set_multi(docs), [])  # no key failed
        got = self.mc.get_multi(list(docs) + ["absent-1", "absent-2"])
        self.assertEqual(got, docs)
        self.assertEqual(self.mc.delete_multi(["m0", "m1"]), True)
        self.assertEqual(self.mc.get_multi(["m0", "m1", "m2"]), {"m2": "value-2"})

    def test_python_values(self):
        # pylibmc's own flags encode ints and pickled objects; the server keeps flags verbatim.
        self.assertTrue(self.mc.set("int", 42))
        self.assertEqual(self.mc.get("int"), 42)
        self.assertTrue(self.mc.set("obj", {"a": [1, 2]}))
        self.assertEqual(self.mc.get("obj"), {"a": [1, 2]})

    def test_stats(self):
        self.assertTrue(self.mc.set("x", "y"))
        self.mc.get("x")
        stats = self.mc.get_stats()
        self.assertEqual(len(stats), 1)
        name, values = stats[0]
        self.assertIn(self.server.address.split(":")[-1], name.decode() if isinstance(name, bytes) else name)
        values = {(k.decode() if isinstance(k, bytes) else k): (v.decode() if isinstance(v, bytes) else v)
                  for k, v in values.items()}
        self.assertGreaterEqual(int(values["cmd_set"]), 1)
        self.assertGreaterEqual(int(values["get_hits"]), 1)
        self.assertEqual(int(values["curr_items"]), 1)
        self.assertIn("pid", values)


if __name__ == "__main__":
    unittest.main(verbosity=2)
