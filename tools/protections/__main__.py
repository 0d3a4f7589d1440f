import sys

from tools.protections.runner import main

sys.exit(main())
