"""Runners for the MicroPython VMs the project measures and tests in."""
