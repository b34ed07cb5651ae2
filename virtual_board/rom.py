"""The virtual board's ROM: the peripheral fakes (machine, network, ntptime,
vboard) and vboot, the virtual bootloader, as one ROMFS image, and the VM's
first code that maps it."""
import pathlib
import shutil
import tempfile

from toolchain.deploy import build_romfs
from toolchain.firmware import VIRTUAL
from toolchain.mpy import compile_tree

FAKES_IMAGE = "fakes.img"


def build_virtual_lib(dest, source=False):
    """The peripheral fakes as a folder (.mpy, or .py with source=True)."""
    dest = pathlib.Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    if source:
        shutil.copytree(VIRTUAL, dest, ignore=shutil.ignore_patterns("__pycache__"))
    else:
        compile_tree(VIRTUAL, dest, keep_source=())
    return dest


def build_fakes_image(image):
    """The peripheral fakes and vboot (the virtual ROM bootloader) as a ROMFS
    image: on a board they are C modules and ROM code that take no heap."""
    with tempfile.TemporaryDirectory(prefix="neoc-fakes-") as tmp:
        return build_romfs(build_virtual_lib(pathlib.Path(tmp) / "fakes"), image)


# The VM's first code (-c): map the fakes' image (the board's ROM), keep its
# buffer (vboard.rom: the code loaded from it runs in place) and run vboot
# from it. The buffer is one of those vm_heap() adds to the heap.
# Its first allocation reserves the firmware's heap at the bottom: a board's
# heap is one piece, so what the fakes and the image buffers take must sit
# above it, not strewn through it (vboot.py gives the reserve back).
BOOTSTRAP = ("_r=bytearray(%d)\n"
             "import os,sys,vfs\n"
             "_b=bytearray(os.stat(os.getenv('NEOC_VBOARD')+'/%s')[6])\n"
             "with open(os.getenv('NEOC_VBOARD')+'/%s','rb') as _f:_f.readinto(_b)\n"
             "vfs.mount(vfs.VfsRom(_b),'/vrom')\n"
             "sys.path[:0]=['/vrom']\n"
             "import vboard\n"
             "vboard.rom,vboard.reserve=_b,_r\n"
             "del _b,_f,_r,os,sys,vfs,vboard\n"
             "import vboot\n")

