"""`python -m labelport` runs the command line."""

from labelport.cli import main

main()
