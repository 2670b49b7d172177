import sys

from slimpipe.cli import main

sys.exit(main())
