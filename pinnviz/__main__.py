from pinnviz.cli import main

main()
