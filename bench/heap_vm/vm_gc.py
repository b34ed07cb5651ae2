# Fake `gc` for the firmware in the in-VM scenario (see fakes.py): its
# collect() collects nothing, as gc.collect() does inside running code in
# the WebAssembly port (which collects only when control is back at its top
# level: bench/heap32.py's steps). The unix port gets the same, so both VMs
# collect at the same points and their figures compare like with like.
import gc as _gc

requests = 0
mem_alloc = _gc.mem_alloc
mem_free = _gc.mem_free
enable = _gc.enable
disable = _gc.disable
isenabled = _gc.isenabled
threshold = _gc.threshold


def collect():
    global requests
    requests += 1
