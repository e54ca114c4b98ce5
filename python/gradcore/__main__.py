"""``python -m gradcore`` runs the benchmark CLI (same as ``gradcore-bench``)."""
from gradcore.bench import main

raise SystemExit(main())
