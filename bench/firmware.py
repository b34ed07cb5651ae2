"""Benchmark of the neOSensor firmware's memory, size and boot time (issue 5).

Measures, in one run, for the full firmware and for a baseline (the plainest
script that connects umqtt.simple and publishes one reading):
  * the smallest `-X heapsize` at which the scenario still completes (bisection);
  * peak gc.mem_alloc during the scenario;
  * code size as .mpy compiled with mpy-cross for xtensa and xtensawin;
  * boot-to-first-publish time on the virtual board.
Prints figures and ratios (full firmware / baseline); the 24 KB heap target is
reported as PASS or MISS. Always exits 0: a benchmark, not a test.

Work in progress: sections are added as they become measurable.
"""
import sys


def main(argv=None):
    print("bench/firmware.py: skeleton, no section measurable yet")
    return 0


if __name__ == "__main__":
    sys.exit(main())
