from formcoach.cli import main

main()
