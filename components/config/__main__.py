"""Regenerates the files made from the declarations (tests fail when a committed one is stale):

.venv/bin/python -m components.config reference > docs/configuration.md
.venv/bin/python -m components.config schema > schema/stack.schema.json
"""

import sys

from .docs import render_reference
from .schema import render_schema

_OUTPUTS = {"reference": render_reference, "schema": render_schema}

if len(sys.argv) != 2 or sys.argv[1] not in _OUTPUTS:
    sys.exit(f"usage: python -m components.config {{{'|'.join(_OUTPUTS)}}}")
sys.stdout.write(_OUTPUTS[sys.argv[1]]())
