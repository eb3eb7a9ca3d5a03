"""`make demo`: the main job end to end, as far as the stages exist."""

import sys


def main() -> int:
    print("spikefold demo: the models/compile/deploy/simulate stages are not built yet;"
          " nothing to run end to end (see the open issues).")
    return 0


if __name__ == "__main__":
    sys.exit(main())
