#!/usr/bin/env python3
"""Which tables and indexes the frames of a SQLite WAL file belong to (B1 analysis).

Usage: wal-frames-by-table.py DB   (DB-wal beside it; copy both while the server is stopped,
e.g. after a SIGKILL, so the WAL still holds the last commits).

Reads the WAL's valid frames (those with the header's salts) and maps each frame's page number
to its table or index through SQLite's `dbstat` (the `sqlite3` command-line tool, run on a copy
of the database with the WAL, so the page owners are the ones after the last commit).
"""
import collections
import shutil
import struct
import subprocess
import sys
import tempfile
import os

db = sys.argv[1]
wal = open(db + "-wal", "rb").read()
page_size = struct.unpack(">I", wal[8:12])[0]
salts = wal[16:24]
frame = 24 + page_size
pages, commits, off = [], 0, 32
while off + frame <= len(wal) and wal[off + 8:off + 16] == salts:
    page, size_after_commit = struct.unpack(">II", wal[off:off + 8])
    pages.append(page)
    commits += size_after_commit != 0
    off += frame

with tempfile.TemporaryDirectory() as d:
    copy = os.path.join(d, "w.db")
    shutil.copy(db, copy)
    shutil.copy(db + "-wal", copy + "-wal")
    out = subprocess.run(["sqlite3", copy, "SELECT pageno, name FROM dbstat"],
                         capture_output=True, text=True, check=True).stdout
owner = {}
for line in out.splitlines():
    page, _, name = line.partition("|")
    owner[int(page)] = name

print(f"{len(pages)} frames of {page_size} bytes in {commits} commits "
      f"({len(pages) / max(commits, 1):.0f} frames per commit)")
for name, n in collections.Counter(owner.get(p, "(free)") for p in pages).most_common(25):
    print(f"{n:8d} {100 * n / len(pages):5.1f} %  {name}")
