from nnreg_keras.pipeline.cli import main

raise SystemExit(main())
