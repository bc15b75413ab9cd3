# Copyright (c) 2026, tlsfleet.stapling contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
# SPDX-License-Identifier: GPL-3.0-or-later
"""Print the number of bad-input corpus cases: ``python3 tests/unit/corpus/count.py`` -> ``corpus: N cases``."""

from __future__ import annotations

import importlib.util
import os
import sys

spec = importlib.util.spec_from_file_location("corpus_cases", os.path.join(os.path.dirname(__file__), "cases.py"))
cases = importlib.util.module_from_spec(spec)
sys.modules["corpus_cases"] = cases
spec.loader.exec_module(cases)
print(f"corpus: {len(cases.CASES)} cases")
