"""neoc: the one command-line entry point of neocampus-devkit."""
