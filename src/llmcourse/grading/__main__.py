"""``python -m llmcourse.grading``: see :mod:`llmcourse.grading.cli`."""

import sys

from llmcourse.grading.cli import main

if __name__ == "__main__":
    sys.exit(main())
