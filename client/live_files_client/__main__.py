"""`python -m live_files_client`: the `live-files` command, from a source tree too."""

from .cli import main

raise SystemExit(main())
