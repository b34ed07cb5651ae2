# The board runs this after boot.py. Everything else is bytecode: compiling
# source on the board costs heap it does not have.
from neosensor import supervisor
supervisor.run()
