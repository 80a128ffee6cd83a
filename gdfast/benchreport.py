"""Placeholder: the benchmark report lands with bench/."""


def add_arguments(parser):
    pass


def run(args):
    print("gdfast bench: not available yet")
    return 1
