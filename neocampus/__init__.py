# The portable device core, shared by the MicroPython firmware and the
# CPython agent: it imports nothing MicroPython lacks, and hardware and
# network are passed in.
