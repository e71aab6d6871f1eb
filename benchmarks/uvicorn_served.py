"""uvicorn's command line in a process paced as ``trellis serve`` paces its own.

``trellis serve`` sets the garbage collector's serving pace
(:mod:`services.common.collector`) before uvicorn starts; a benchmark that started
plain uvicorn would measure a service as it is never served (its full collections
stalling a request in a hundred, costing more CPU on pages that allocate). The
benchmarks start every process they serve, the references too, through this module.
"""

import sys

from uvicorn.main import main

from services.common.collector import pace_for_serving

if __name__ == "__main__":
    pace_for_serving()
    sys.argv[0] = "uvicorn"
    main()
