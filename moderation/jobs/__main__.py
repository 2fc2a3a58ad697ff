"""`python -m moderation.jobs JOB_ID`: the runner process the service starts."""

import sys

from moderation.jobs.runner import main

sys.exit(main())
