from neoc.cli import main

main(prog_name="neoc")
