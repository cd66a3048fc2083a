"""``python -m chainrule ...``: the ``chainrule`` command, for when its script is not on PATH."""

import sys

from chainrule.app.cli import main

if __name__ == "__main__":
    sys.exit(main())
