from nnreg_keras.cli import main

raise SystemExit(main())
