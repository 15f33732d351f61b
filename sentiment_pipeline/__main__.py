"""`python -m sentiment_pipeline ...`: see cli.py."""

import sys

from .cli import main

sys.exit(main())
