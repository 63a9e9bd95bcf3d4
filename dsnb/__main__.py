import sys

from dsnb.cli import main

sys.exit(main())
