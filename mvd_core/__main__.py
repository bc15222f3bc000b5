from mvd_core.cli import main

main()
