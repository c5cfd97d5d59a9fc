import sys

from gunshot_bench.cli import main

sys.exit(main())
