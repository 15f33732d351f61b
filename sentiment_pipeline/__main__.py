"""`python -m sentiment_pipeline ...`: see cli.py."""

import sys

from sentiment_pipeline.serving.cli import main

sys.exit(main())
