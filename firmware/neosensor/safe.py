# Safe mode: the board stops running the app and offers its set-up portal
# (access point and web form) and the REPL, so that it can be reconfigured or
# reflashed instead of crash-looping. Saving the form, or removing
# crash.count from the REPL, leaves it.
def run(crashes):
    from neosensor import portal
    portal.run("safe mode after %d failed boots in a row" % crashes)
