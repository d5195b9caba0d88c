"""``python -m numerics`` is ``poisoncurv`` (:mod:`numerics.cli`)."""

from numerics.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
