#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
"""Sum the test cases of every build's last `meson test` run.

Each test binary ends with "N passed, N failed"; a test whose output has no
such line (it crashed, timed out, or is a plain script) counts as one case,
passed or failed by its meson verdict. Prints one line per build and a
closing "total: N passed, N failed"; exits 1 if anything failed or no test
ran at all.
"""
import json
import re
import sys

LINE = re.compile(r"^(\d+) passed, (\d+) failed", re.M)


def summarize(build):
    passed = failed = skipped = 0
    try:
        with open(f"{build}/meson-logs/testlog.json", encoding="utf-8") as f:
            records = [json.loads(line) for line in f if line.strip()]
    except FileNotFoundError:
        print(f"{build}: no test log")
        return 0, 1, 0
    for r in records:
        result = r.get("result")
        if result == "SKIP":
            skipped += 1
            continue
        ok = result in ("OK", "EXPECTEDFAIL")
        counts = LINE.findall(r.get("stdout") or "")
        if counts:
            p, f_ = (int(x) for x in counts[-1])
            passed += p
            failed += f_
            if not ok and f_ == 0:
                failed += 1  # exited non-zero after a clean count
        elif ok:
            passed += 1
        else:
            failed += 1
            print(f"{build}: {r.get('name')}: {result}")
    print(f"{build}: {passed} passed, {failed} failed, {skipped} skipped")
    return passed, failed, skipped


def main():
    total_p = total_f = 0
    for build in sys.argv[1:]:
        p, f, _ = summarize(build)
        total_p += p
        total_f += f
    print(f"total: {total_p} passed, {total_f} failed")
    return 0 if total_f == 0 and total_p > 0 else 1


if __name__ == "__main__":
    sys.exit(main())
