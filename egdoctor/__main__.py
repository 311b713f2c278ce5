"""`python -m egdoctor`: the same command line as the `egdoctor` console script."""

from egdoctor.entry import main

main()
