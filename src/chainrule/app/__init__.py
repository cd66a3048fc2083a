"""The program behind the ``chainrule`` command, built on the library and never imported by it.

``cli`` reads the command line; ``training`` runs a training job, with ``runtime``'s
BLAS threads, Ctrl-C handling and progress bar around it and ``evaluation`` counting
its right answers; ``parallel`` spreads it over the ranks of an MPI job; ``builders``
makes the datasets, models and optimizers it names; ``runfiles`` writes what a
run leaves behind; ``allocator`` holds the one process-wide setting a program
may make.
"""
