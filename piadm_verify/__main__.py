"""``python -m piadm_verify``: the ``piadm-verify`` command line (:mod:`piadm_verify.cli`)."""

from .cli import main

raise SystemExit(main())
