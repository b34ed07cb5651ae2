# Runs the test_* functions of one portable test module under MicroPython and
# reports each on stdout for tests/conftest.py. Runs under the unix port only.
import sys
import gc
import io

MARK = "\x01"


def main():
    modname = sys.argv[1]
    wanted = sys.argv[2:]
    mod = __import__(modname)
    names = wanted or sorted(n for n in dir(mod) if n.startswith("test_"))
    for name in names:
        gc.collect()
        fn = getattr(mod, name, None)
        status = "ok"
        buf = io.StringIO()
        if fn is None:
            status = "fail"
            buf.write("no function %s in %s under MicroPython\n" % (name, modname))
        else:
            try:
                fn()
            except Exception as e:
                status = "skip" if type(e).__name__ == "SkipTest" else "fail"
                sys.print_exception(e, buf)
        print(MARK + name + "\t" + status)
        print(buf.getvalue())
        print(MARK + "end")


main()
