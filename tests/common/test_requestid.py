"""Request ids made here: the form of a random UUID, distinct across forked processes."""

import random
import re
import subprocess
import sys
from pathlib import Path

from services.common.requestid import accept_or_make

ROOT = Path(__file__).resolve().parents[2]
UUID4_HEX = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")


def test_a_made_id_is_a_version_4_uuid_and_a_sane_one_is_kept() -> None:
    made = {accept_or_make(None) for _ in range(1000)}
    assert len(made) == 1000 and all(UUID4_HEX.match(m) for m in made)
    assert accept_or_make(b"abc-123") == "abc-123"
    assert UUID4_HEX.match(accept_or_make(b"no spaces allowed"))


def test_making_an_id_leaves_the_shared_random_generator_alone() -> None:
    # Hypothesis watches the random module's state while it draws test cases.
    before = random.getstate()
    accept_or_make(None)
    assert random.getstate() == before


def test_a_forked_process_makes_other_ids_than_its_parent() -> None:
    # trellis up forks its services from one process: each must make its own ids.
    code = (
        "import os\n"
        "from services.common.requestid import accept_or_make\n"
        "read, write = os.pipe()\n"
        "pid = os.fork()\n"
        "if pid == 0:\n"
        "    os.write(write, accept_or_make(None).encode())\n"
        "    os._exit(0)\n"
        "os.waitpid(pid, 0)\n"
        "print(os.read(read, 64).decode(), accept_or_make(None))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    child, parent = done.stdout.split()
    assert UUID4_HEX.match(child) and UUID4_HEX.match(parent)
    assert child != parent
