"""`python -m image_builder.firstboot`: what the first-boot systemd unit runs."""

import sys

from image_builder.firstboot.run import main

sys.exit(main())
