import sys

from gankit.cli.main import main

sys.exit(main())
