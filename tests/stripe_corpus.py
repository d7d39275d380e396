"""Where the shared corpus of real Stripe event payloads lives: ../shared/stripe-events beside the
project (as on developer machines and CI), or STRIPE_EVENTS_DIR."""

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("STRIPE_EVENTS_DIR", PROJECT_ROOT.parent / "shared" / "stripe-events"))
