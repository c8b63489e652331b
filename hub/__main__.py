"""`python -m hub ...` is the `ardoise` command: how the agent starts its task processes
with the same interpreter (hardware/child.py)."""

from hub.cli import main

main(prog_name="ardoise")
