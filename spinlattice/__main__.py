import sys

from spinlattice.cli.main import main

sys.exit(main())
