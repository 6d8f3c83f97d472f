from accomp.cli import main

raise SystemExit(main())
